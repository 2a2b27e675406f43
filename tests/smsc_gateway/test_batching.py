"""The writer between the SMPP session and the database: receipts and MO are stored in batches, and each
deliver_sm is answered only once its batch is stored. An SMSC that waits for those answers after a few
deliver_sm (its window) must hear back as soon as they are stored, not after the writer's longest delay."""

from __future__ import annotations

import functools
import operator
import threading
import time

from smsc_gateway.batching import BatchWriter


def _writer(**options) -> tuple[BatchWriter, list[list[int]]]:
    batches: list[list[int]] = []
    writer = BatchWriter("test-writer", lambda batch: batches.append(list(batch)), **options)
    writer.start()
    return writer, batches


def test_a_batch_is_written_as_soon_as_its_stream_pauses():
    writer, batches = _writer(max_delay=60.0)
    try:
        stored = threading.Event()
        writer.put_many([1, 2, 3], done=stored.set)
        assert stored.wait(10), "the batch waited for max_delay although nothing more came"
        assert batches == [[1, 2, 3]]
    finally:
        writer.stop()


def test_a_steady_stream_still_fills_large_batches():
    writer, batches = _writer(max_delay=1.0, idle_gap=0.02)
    try:
        stored = threading.Event()
        for n in range(300):
            writer.put_many([n], done=stored.set if n == 299 else None)
            time.sleep(0.001)
        assert stored.wait(10)
        assert sorted(functools.reduce(operator.iadd, batches, [])) == list(range(300))
        assert len(batches) <= 3, f"300 items a millisecond apart went out in {len(batches)} batches"
    finally:
        writer.stop()


def test_a_failed_write_is_retried_with_the_same_items():
    attempts: list[list[int]] = []

    def flaky(batch: list[int]) -> None:
        attempts.append(list(batch))
        if len(attempts) == 1:
            raise RuntimeError("database gone for a moment")

    writer = BatchWriter("test-writer", flaky, max_delay=60.0)
    writer.start()
    try:
        stored = threading.Event()
        writer.put_many([7, 8], done=stored.set)
        assert stored.wait(10)
        assert attempts == [[7, 8], [7, 8]]
    finally:
        writer.stop()
