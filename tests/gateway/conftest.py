"""Fixtures of the gateway tests: simulators with fault modes, `flask worker` processes of the tests' own
and campaigns written straight into the database.

The workers use a Redis server of this test run alone (a few engineers and CI may run the suite at the same
time on one machine, and a worker of another run would happily take these tests' jobs from a shared one)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from rq import Queue, Worker
from rq.worker import WorkerStatus
from sqlalchemy import text

from smsc_gateway.rate import TokenBucket
from smsc_gateway.session import SmppSession
from smsc_simulator import SimulatorOptions, SmscSimulator
from syrena_core.config import SmscSettings
from syrena_core.queues import redis_connection

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Alarm: awaria wodociagu, nie pij wody z kranu do odwolania."


@pytest.fixture
def gateway_redis_url(settings, private_redis):
    # Database 1 of the run's own Redis: flushed per test without touching the session worker's database 0.
    url = private_redis.rsplit("/", 1)[0] + "/1"
    redis_connection(url).flushdb()
    yield url


@pytest.fixture
def start_simulator():
    """start_simulator(**options) → a running SmscSimulator on free ports (stopped after the test)."""
    started = []

    def start(**options) -> SmscSimulator:
        options = {"receipt_delay": 0.05, **options}
        sim = SmscSimulator(SimulatorOptions(port=0, control_port=0, system_id="syrena", password="secret",
                                             **options))
        sim.start()
        started.append(sim)
        return sim
    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def paced_session(gateway_redis_url):
    """paced_session(simulator, tps, name=..., **smsc) → a bound SmppSession paced by a real Redis schedule."""
    sessions = []

    def connect(simulator, tps: float, name: str = "primary", **settings) -> SmppSession:
        s = SmscSettings(name=name, port=simulator.smpp_port, tps=tps, **settings)
        bucket = TokenBucket(redis_connection(gateway_redis_url), f"syrena:tps:{name}:{simulator.smpp_port}", tps)
        session = SmppSession(s, bucket, lambda batch: None, lambda batch: None)
        session.start()
        assert session.wait_bound(10)
        sessions.append(session)
        return session
    yield connect
    for session in sessions:
        session.stop()


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
    proc = subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env,
                            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
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


@pytest.fixture
def start_worker(settings, gateway_redis_url, tmp_path):
    """start_worker(simulator, **smsc_overrides) → a real `flask worker` process bound to that simulator."""
    started: list[WorkerProcess] = []

    def start(simulator: SmscSimulator | None = None, config: Path | None = None, **smsc) -> WorkerProcess:
        env = dict(os.environ, SYRENA_REDIS__URL=gateway_redis_url)
        if simulator is not None:
            env["SYRENA_SMSC__PORT"] = str(simulator.smpp_port)
        if config is not None:
            env["SYRENA_CONFIG"] = str(config)
        env.update({f"SYRENA_SMSC__{k.upper()}": str(v) for k, v in smsc.items()})
        worker = launch_worker(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker
    yield start
    stop_workers(started)


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


def make_campaign(db, count: int, body: str = TEXT, kind: str = "alert") -> tuple[int, list[str]]:
    """A campaign in `sending` with `count` queued messages (no zones needed: the gateway only sees messages)."""
    campaign_id = db.execute(text("""
        INSERT INTO campaign (kind, severity, body, status, created_at)
        VALUES (:kind, 'severe', :body, 'sending', now()) RETURNING id"""), {"kind": kind, "body": body}).scalar()
    phones = [f"+4869{n:07d}" for n in range(1, count + 1)]
    db.execute(text("""
        INSERT INTO message (campaign_id, phone, status, attempts, queued_at, possible_duplicate)
        SELECT :cid, p, 'queued', 0, now(), false FROM unnest(CAST(:phones AS text[])) p"""),
               {"cid": campaign_id, "phones": phones})
    db.commit()
    return campaign_id, phones


def enqueue_campaign(db, redis_url: str, campaign_id: int, chunk_size: int = 500) -> None:
    from campaigns.dispatch import JOB_TIMEOUT, pending_chunks
    from campaigns.jobs import deliver_chunk
    q = Queue("alerts", connection=redis_connection(redis_url))
    for chunk in pending_chunks(db, campaign_id, chunk_size):
        q.enqueue(deliver_chunk, chunk.campaign_id, chunk.first_id, chunk.last_id, job_timeout=JOB_TIMEOUT)


def statuses(db, campaign_id: int) -> dict[str, int]:
    db.rollback()
    return dict(db.execute(text("SELECT status, count(*) FROM message WHERE campaign_id = :c GROUP BY status"),
                           {"c": campaign_id}).all())


def control(simulator: SmscSimulator, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{simulator.control_port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
