"""Small helpers for tests: an HTTP JSON client, bounded waiting, the simulator's control port, `flask worker`
processes of a test's own, jobs enqueued straight into a Redis of the test's choosing, message counts."""

from __future__ import annotations

import bisect
import faulthandler
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rq import Queue, Worker
from rq.worker import WorkerStatus
from sqlalchemy import text

from app.extensions import limiter
from app.public_cache import forget_served
from campaigns.dispatch import JOB_TIMEOUT, pending_chunks, queue_name_for
from campaigns.jobs import deliver_chunk
from syrena_core.queues import redis_connection
from tests.harness import ROOT


class ApiClient:
    def __init__(self, base: str, token: str | None):
        self.base, self.token = base, token

    def with_token(self, token: str | None) -> ApiClient:
        return ApiClient(self.base, token)

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, payload = r.status, r.read()
        except urllib.error.HTTPError as e:
            with e:  # an unclosed error response is a ResourceWarning (an error in this suite) when collected
                status, payload = e.code, e.read()
        try:
            return status, json.loads(payload or b"null")
        except json.JSONDecodeError:
            return status, payload.decode(errors="replace")

    def get(self, path: str) -> tuple[int, Any]:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        return self.call("POST", path, body, raw)

    def patch(self, path: str, body: Any = None) -> tuple[int, Any]:
        return self.call("PATCH", path, body)


def run_flask(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """`flask <args>` in a process of its own, as an operator or a script runs it, in this process's environment
    (the test's database and Redis); stdin from `input`, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=dict(os.environ),
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_until(predicate: Callable[[], Any], seconds: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    # What every thread of this process (the live server's among them) was doing: a hang shows where.
    faulthandler.dump_traceback(all_threads=True)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


@contextmanager
def running_simulator(receipt_delay: float = 0.2) -> Iterator[Any]:
    """The SMSC simulator on free ports, with the credentials the test settings use."""
    from smsc_simulator import SimulatorOptions, SmscSimulator

    sim = SmscSimulator(
        SimulatorOptions(port=0, control_port=0, system_id="syrena", password="secret", receipt_delay=receipt_delay)
    )
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


class Collected:
    """What an SmppSession hands over (receipts, MO), gathered from its reader thread."""

    def __init__(self):
        self.receipts, self.mo = [], []
        self.lock = threading.Lock()

    def on_receipts(self, batch):
        with self.lock:
            self.receipts.extend(batch)

    def on_mo(self, batch):
        with self.lock:
            self.mo.extend(batch)


class Sink:
    """A callback that keeps every batch it is handed (an SmppSession's receipts or MO)."""

    def __init__(self):
        self.items, self.lock = [], threading.Lock()

    def __call__(self, batch):
        with self.lock:
            self.items.extend(batch)


# ---------------------------------------------------------------- the simulator's control port
def control(simulator, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{simulator.control_port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def submitted_per_phone(simulator) -> Counter:
    """Every submit_sm the simulator accepted, from its control port's log."""
    return Counter("+" + m["destination_addr"] for m in control(simulator, "GET", "/messages"))


def submitted_in_order(simulator) -> list[str]:
    return ["+" + m["destination_addr"] for m in control(simulator, "GET", "/messages")]


def busiest_second(times: list[float]) -> int:
    """The most submissions in any sliding one-second window."""
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


# ---------------------------------------------------------------- campaigns' jobs and messages
def enqueue(db, redis_url: str, campaign_id: int, kind: str = "alert", chunk_size: int = 500) -> int:
    """The campaign's pending chunks as deliver_chunk jobs on its kind's queue in that Redis; how many."""
    q = Queue(queue_name_for(kind), connection=redis_connection(redis_url))
    chunks = pending_chunks(db, campaign_id, chunk_size)
    for chunk in chunks:
        q.enqueue(deliver_chunk, chunk.campaign_id, chunk.first_id, chunk.last_id, job_timeout=JOB_TIMEOUT)
    return len(chunks)


def empty_rate_limits(redis_url: str) -> None:
    """Forget every rate-limit counter (flask-limiter's, and the verification SMS per phone) in that Redis, and the
    cached public alert pages (each test's database starts empty, with ids counted from 1 again)."""
    redis = redis_connection(redis_url)
    forget_served()  # and this process's own copies of them
    # The limiter is one object for every app a test makes, and each init_app points it at that app's storage:
    # after a test's own app (another Redis, memory://) the session app counts there, out of reach of the keys
    # below, and one test's requests count against the next (a 429 came early once, after tests/security). Before
    # any app has been made (a file of tests without one, run alone) it has no storage and nothing to forget.
    if limiter.initialized:
        limiter.reset()
    for pattern in ("LIMITS:*", "syrena:verification-sms:*", "syrena:public-alerts:*", "syrena:reports:*"):
        keys = list(redis.scan_iter(pattern))
        if keys:
            redis.delete(*keys)


def statuses(db, campaign_id: int) -> dict[str, int]:
    db.rollback()
    return dict(
        db.execute(
            text("SELECT status, count(*) FROM message WHERE campaign_id = :c GROUP BY status"), {"c": campaign_id}
        ).all()
    )


# ---------------------------------------------------------------- `flask worker` processes of a test's own
class WorkerProcess:
    def __init__(self, proc: subprocess.Popen, log: Path, log_file):
        self.proc, self.log_path, self.log_file = proc, log, log_file

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def launch_worker(env: dict[str, str], log: Path) -> WorkerProcess:
    """A `flask worker` process with this environment, in its own process group, logging to `log`."""
    log_file = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return WorkerProcess(proc, log, log_file)


def stop_workers(workers: list[WorkerProcess]) -> None:
    """SIGTERM (a worker drains its window and unbinds), SIGKILL after 20 s."""
    for worker in workers:
        if worker.proc.poll() is None:
            worker.proc.terminate()
            try:
                worker.proc.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill9()
        worker.log_file.close()


def listening_workers(redis_url: str) -> int:
    """How many RQ workers of this Redis wait for a job now: registered, idle and blocked reading their queues.

    A worker binds its SMSC before it starts listening (app.worker.run_worker), so "bound" is not "listening":
    jobs enqueued in between all go to the workers already listening, and a chunk job adopts the next chunks
    of its campaign that nobody has popped yet (campaigns.jobs._adopt_next_chunk). Jobs enqueued once the
    workers wait here are handed out by Redis, one to each waiting worker in turn."""
    redis = redis_connection(redis_url)
    idle = sum(w.get_state() == WorkerStatus.IDLE for w in Worker.all(connection=redis))
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    blocked = sum(c["cmd"] == "blpop" and int(c["db"]) == db for c in redis.client_list())
    return min(idle, blocked)


# ------------------------------------------------------------------ the composer in a browser


def open_composer(page, body: str, zone: int) -> None:
    """The composer, ready (its script has run), with `body` typed and `zone` ticked (a logged-in page)."""
    from playwright.sync_api import expect

    page.goto("/campaigns/new")
    expect(page.locator("#composer")).to_have_attribute("data-ready", "true")
    page.locator("#body").fill(body)
    page.locator(f'input[name="zone_ids"][value="{zone}"]').check()


def save_to_review(page) -> int:
    """Save the composed campaign; the id of the campaign whose review page opens."""
    import re

    page.locator("#save-button").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/review$"))
    return int(re.search(r"/campaigns/(\d+)/review", page.url).group(1))
