"""Hand items from the SMPP session thread to a writer thread that stores them in batches, so a slow
database never stalls the session; `done` callbacks run once their items are stored."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("syrena.smsc.batching")


class BatchWriter(Generic[T]):
    """A batch is written when `max_batch` items are in, `max_delay` after its first item, or, while it
    holds fewer than `small`, as soon as no item has come for `idle_gap`. An SMSC that sends a few deliver_sm
    and then waits for their deliver_sm_resp (its window, rarely above a few dozen) so hears back at once
    instead of after `max_delay`; a steady stream soon passes `small` and fills large batches (fewer,
    larger statements)."""

    def __init__(
        self,
        name: str,
        write: Callable[[list[T]], None],
        max_batch: int = 1000,
        max_delay: float = 0.1,
        idle_gap: float = 0.002,
        small: int = 64,
        then: Callable[[], None] | None = None,
    ):
        self.write = write
        self.then = then  # after a batch is stored and its `done` callbacks ran: work that can follow
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.idle_gap = idle_gap
        self.small = small
        # (item, its `done`), or None: stop() waking the writer (items always come as tuples)
        self._queue: queue.Queue[tuple[T, Callable[[], None] | None] | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put_many(self, items: Iterable[T], done: Callable[[], None] | None = None) -> None:
        """Queue items for writing; `done` runs after the last of them is stored."""
        items = list(items)
        for n, item in enumerate(items, start=1):
            self._queue.put((item, done if n == len(items) else None))

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._queue.put(None)  # not to sit out max_delay in get()
        self._thread.join(timeout)

    def _get(self, timeout: float) -> tuple[T, Callable[[], None] | None]:
        item = self._queue.get(timeout=timeout)
        if item is None:
            raise queue.Empty
        return item

    def _run(self) -> None:
        pending: list[tuple[T, Callable[[], None] | None]] = []
        while not (self._stop.is_set() and self._queue.empty() and not pending):
            if not pending:
                try:
                    pending.append(self._get(self.max_delay))
                except queue.Empty:
                    continue
            deadline = time.monotonic() + self.max_delay
            while len(pending) < self.max_batch:
                wait = deadline - time.monotonic()
                if len(pending) < self.small:
                    wait = min(wait, self.idle_gap)
                try:
                    pending.append(self._get(max(0.0, wait)))
                except queue.Empty:
                    break
            try:
                self.write([item for item, _done in pending])
                for _item, done in pending:
                    if done is not None:
                        done()
                pending = []
            except Exception:
                log.exception("writing a batch of %d failed; retrying", len(pending))
                self._stop.wait(1.0)
                continue
            if self.then is not None:
                try:
                    self.then()
                except Exception:
                    log.exception("after writing a batch")
