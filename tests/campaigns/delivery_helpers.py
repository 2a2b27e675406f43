"""Helpers of the send-and-watch tests: real `flask worker` processes on a Redis of the test's choosing, jobs
enqueued straight into it, and what the simulator's control port says was submitted."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from rq import Queue

from campaigns.dispatch import JOB_TIMEOUT, pending_chunks, queue_name_for
from campaigns.jobs import deliver_chunk
from syrena_core.queues import redis_connection
from tests.gateway.conftest import WorkerProcess, control, launch_worker, stop_workers


def enqueue(db, redis_url: str, campaign_id: int, kind: str, chunk_size: int = 500) -> int:
    q = Queue(queue_name_for(kind), connection=redis_connection(redis_url))
    chunks = pending_chunks(db, campaign_id, chunk_size)
    for chunk in chunks:
        q.enqueue(deliver_chunk, chunk.campaign_id, chunk.first_id, chunk.last_id, job_timeout=JOB_TIMEOUT)
    return len(chunks)


def submitted_per_phone(simulator) -> Counter:
    """Every submit_sm the simulator accepted, from its control port's log."""
    return Counter("+" + m["destination_addr"] for m in control(simulator, "GET", "/messages"))


def submitted_in_order(simulator) -> list[str]:
    return ["+" + m["destination_addr"] for m in control(simulator, "GET", "/messages")]


class RedisServer:
    """A redis-server without persistence: restarting it loses every queue, as a crashed one would."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        from redis import Redis
        client = Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def spawn_worker(settings, tmp_path):
    """spawn_worker(simulator, redis_url, **env) → a `flask worker` process; env keys like SMSC__TPS."""
    started: list[WorkerProcess] = []

    def start(simulator, redis_url: str, **env_overrides) -> WorkerProcess:
        env = dict(os.environ, SYRENA_REDIS__URL=redis_url, SYRENA_SMSC__PORT=str(simulator.smpp_port))
        env.update({f"SYRENA_{k.upper()}": str(v) for k, v in env_overrides.items()})
        worker = launch_worker(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker
    yield start
    stop_workers(started)


def make_campaign(db, count: int, kind: str, prefix: str = "+4869") -> tuple[int, list[str]]:
    """A `sending` campaign of `count` queued messages to phones `prefix` + 7 digits (no zones needed)."""
    from sqlalchemy import text
    campaign_id = db.execute(text("""
        INSERT INTO campaign (kind, severity, body, status, created_at, sent_at)
        VALUES (:kind, 'severe', :body, 'sending', now(), now()) RETURNING id"""),
                             {"kind": kind, "body": f"Test {kind}: komunikat testowy."}).scalar()
    phones = [f"{prefix}{n:07d}" for n in range(1, count + 1)]
    db.execute(text("""
        INSERT INTO message (campaign_id, phone, status, attempts, queued_at, possible_duplicate)
        SELECT :cid, p, 'queued', 0, now(), false FROM unnest(CAST(:phones AS text[])) p"""),
               {"cid": campaign_id, "phones": phones})
    db.commit()
    return campaign_id, phones
