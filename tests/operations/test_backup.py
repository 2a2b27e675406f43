"""`flask backup` / `flask restore`: a campaign interrupted by a crash, restored into a new database on a new
(empty) Redis, is finished by a worker there; nobody is missed, and only messages flagged as possible
duplicates may have gone twice."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter

from sqlalchemy import text

from syrena_core.db import engine_for
from syrena_core.queues import redis_connection
from tests.factories import make_campaign
from tests.harness import ROOT
from tests.harness import with_database as _with_database
from tests.helpers import enqueue


def _flask(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_restored_database_resumes_an_interrupted_campaign(
    settings, db, start_simulator, start_worker, gateway_redis_url, tmp_path, monkeypatch, wait
):
    simulator = start_simulator()
    crashed = start_worker(simulator, tps=100, window=20)
    wait(lambda: simulator.stats()["binds"] == 1, 60, "a bind")
    campaign_id, phones = make_campaign(db, 600)
    enqueue(db, gateway_redis_url, campaign_id, chunk_size=200)
    wait(lambda: simulator.stats()["submit_sm"] >= 150, 60, "the campaign under way")
    crashed.kill9()  # the site is lost mid-campaign ...

    dump = tmp_path / "syrena.dump"
    made = _flask("backup", str(dump))
    assert made.returncode == 0, made.stderr
    assert dump.stat().st_size > 0 and f"backup written to {dump}" in made.stdout

    # ... and rebuilt elsewhere: a new, empty database restored from the backup, and a Redis without any data.
    name = f"syrena_restored_{uuid.uuid4().hex[:8]}"
    admin = engine_for(_with_database(settings.database.url, "postgres")).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    restored_url = _with_database(settings.database.url, name)
    try:
        env = dict(os.environ, SYRENA_DATABASE__URL=restored_url)
        refused = _flask("restore", str(tmp_path / "missing.dump"), "--yes", env=env)
        assert refused.returncode != 0
        done = _flask("restore", str(dump), "--yes", env=env)
        assert done.returncode == 0, done.stderr
        redis_connection(gateway_redis_url).flushdb()
        restored = engine_for(restored_url)

        def counts():
            with restored.connect() as c:
                return dict(
                    c.execute(
                        text("SELECT status, count(*) FROM message WHERE campaign_id = :c GROUP BY status"),
                        {"c": campaign_id},
                    ).all()
                )

        before = counts()
        # It was interrupted: some not yet sent (queued, or claimed ahead by the killed worker's job).
        assert sum(before.values()) == 600 and before.get("queued", 0) + before.get("submitting", 0) > 0

        monkeypatch.setenv("SYRENA_DATABASE__URL", restored_url)
        start_worker(simulator, tps=200, window=20)
        wait(lambda: counts().get("delivered") == 600, 120, "the campaign finished from the restored database")
        with restored.connect() as c:
            flagged = {
                p.lstrip("+")
                for (p,) in c.execute(
                    text("SELECT phone FROM message WHERE campaign_id = :c AND possible_duplicate"), {"c": campaign_id}
                )
            }
            status = c.execute(text("SELECT status FROM campaign WHERE id = :c"), {"c": campaign_id}).scalar()
        assert status == "completed"
        sent = Counter(m["destination_addr"] for m in simulator.messages())
        assert set(sent) == {p.lstrip("+") for p in phones}
        assert {p for p, n in sent.items() if n > 1} <= flagged
    finally:
        engine_for(restored_url).dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
