"""Several SMSC connections: weighted primaries, a failover one, traffic moving when one is down."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import make_campaign
from tests.helpers import enqueue, statuses


def _config(tmp_path, primary, backup, **extra) -> object:
    path = tmp_path / "config.toml"
    lines = [
        "[smsc]",
        'name = "operator-a"',
        f"port = {primary.smpp_port}",
        "failover_after = 2",
        "[[smsc.connections]]",
        'name = "operator-b"',
        f"port = {backup.smpp_port}",
        'role = "failover"',
        "failover_after = 2",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _smsc_counts(db, campaign_id: int) -> dict[str, int]:
    db.rollback()
    return dict(
        db.execute(
            text("SELECT smsc, count(*) FROM message WHERE campaign_id = :c GROUP BY smsc"), {"c": campaign_id}
        ).all()
    )


def test_the_failover_smsc_takes_over_when_the_primary_is_down(
    db, start_simulator, start_worker, gateway_redis_url, tmp_path, wait, monkeypatch
):
    primary, backup = start_simulator(), start_simulator()
    for key in ("SYRENA_SMSC__PORT",):
        monkeypatch.delenv(key, raising=False)
    start_worker(config=_config(tmp_path, primary, backup))
    wait(lambda: primary.stats()["binds"] == 1 and backup.stats()["binds"] == 1, 30, "both connections bound")

    first, _ = make_campaign(db, 100)
    enqueue(db, gateway_redis_url, first)
    wait(lambda: statuses(db, first).get("delivered") == 100, 60, "the first campaign")
    assert _smsc_counts(db, first) == {"operator-a": 100}  # the failover SMSC idles while the primary is up

    primary.stop()
    second, _ = make_campaign(db, 100)
    enqueue(db, gateway_redis_url, second)
    wait(lambda: statuses(db, second).get("delivered") == 100, 60, "the second campaign, through operator-b")
    assert _smsc_counts(db, second) == {"operator-b": 100}
    assert len(backup.messages()) == 100
