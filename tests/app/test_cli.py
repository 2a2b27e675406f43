"""The `flask` commands, run as operators and scripts run them: real processes on the test database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import ROOT
from tests.helpers import run_flask

SHARED_DATA = ROOT.parent / "shared" / "data"


def shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.fail(f"reference data {path} is missing: the tests expect ../shared/data beside the checkout")
    return path


def test_a_user_created_from_stdin_gets_a_token_that_opens_the_api(settings, live_server):
    from tests.helpers import ApiClient

    created = run_flask("users", "create", "ops@city.test", "--role", "operator", input="Long-Enough-Pass1\n")
    assert created.returncode == 0, created.stderr
    assert "Long-Enough-Pass1" not in created.stdout
    issued = run_flask("users", "token", "ops@city.test")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    assert ApiClient(live_server, token).get("/api/v1/zones")[0] == 200


def test_creating_a_user_twice_or_with_a_short_password_fails_clearly(settings):
    assert run_flask("users", "create", "a@city.test", "--role", "finance", input="Long-Enough-Pass1\n").returncode == 0
    again = run_flask("users", "create", "a@city.test", "--role", "finance", input="Long-Enough-Pass1\n")
    assert again.returncode != 0 and "exists" in again.stderr
    short = run_flask("users", "create", "b@city.test", "--role", "finance", input="short\n")
    assert short.returncode != 0 and "at least" in short.stderr


def test_token_for_an_unknown_user_fails(settings):
    result = run_flask("users", "token", "nobody@city.test")
    assert result.returncode != 0
    assert "no user" in result.stderr


def test_importing_poznan_refuses_the_invalid_ring_then_repairs_it(settings, api):
    osiedla = shared("poznan_osiedla.geojson")
    refused = run_flask("zones", "import", str(osiedla), "--name-property", "name")
    assert refused.returncode != 0
    assert "Winogrady" in refused.stderr and "--repair" in refused.stderr
    assert api.get("/api/v1/zones")[1]["features"] == []  # all or nothing

    repaired = run_flask("zones", "import", str(osiedla), "--name-property", "name", "--repair")
    assert repaired.returncode == 0, repaired.stderr
    features = api.get("/api/v1/zones")[1]["features"]
    assert len(features) == 42
    assert len({f["properties"]["code"] for f in features}) == 42


def test_importing_addresses_fills_the_gazetteer(settings, db):
    from sqlalchemy import func, select

    from subscribers.models import AddressPoint

    result = run_flask("addresses", "import", str(shared("poznan_adresy_punkty.csv")))
    assert result.returncode == 0, result.stderr
    assert db.scalar(select(func.count()).select_from(AddressPoint)) == 1186


def test_the_worker_refuses_a_database_behind_the_migrations(settings):
    from sqlalchemy import text

    from syrena_core.db import engine_for

    engine = engine_for(settings.database.url)
    with engine.begin() as c:
        revision = c.execute(text("SELECT version_num FROM alembic_version")).scalar()
        c.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        result = run_flask("worker", "--burst")
        assert result.returncode != 0
        assert "flask db upgrade" in result.stderr
    finally:
        with engine.begin() as c:
            c.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
