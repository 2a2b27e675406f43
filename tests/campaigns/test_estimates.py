"""Time to warn (issue 14): the estimate of when the last SMS part leaves, from the parts to send, the TPS of the
links the workers have bound now and the alerts queued ahead; a live `eta` while sending. No timing asserts:
the estimate is checked against its inputs, and against a real worker only within a wide factor."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from campaigns import estimates
from campaigns.jobs import QUEUES_ALIVE
from campaigns.models import Campaign
from syrena_core.config import SmscSettings, replace
from syrena_core.queues import redis_connection
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone, make_campaign
from tests.helpers import enqueue, statuses

LINKS = SmscSettings(
    name="orange",
    tps=100.0,
    connections=(
        SmscSettings(name="play", tps=50.0),
        SmscSettings(name="plus", tps=30.0),
        SmscSettings(name="backup", tps=10.0, role="failover"),
    ),
)


def _worker(*binds: tuple[str, bool]) -> dict:
    """A worker's published document (syrena_core.ops_state), as `flask worker` writes it."""
    return {
        "owner": "w",
        "binds": [
            {"name": name, "bound": bound, "role": "failover" if name == "backup" else "primary"}
            for name, bound in binds
        ],
    }


def test_each_bound_link_counts_once_however_many_workers_share_it():
    workers = [
        _worker(("orange", True), ("play", True), ("plus", False)),
        _worker(("orange", True), ("play", False), ("plus", False)),
    ]
    links = estimates.links_up(workers, LINKS)
    assert (links.tps, links.names, links.assumed) == (150.0, ("orange", "play"), False)


def test_failover_links_count_only_when_no_primary_is_up_and_none_up_is_flagged():
    links = estimates.links_up([_worker(("orange", False), ("backup", True))], LINKS)
    assert (links.tps, links.role) == (10.0, "failover")
    links = estimates.links_up([_worker(("orange", False))], LINKS)
    assert (links.tps, links.role, links.assumed) == (180.0, "configured", True)
    assert estimates.links_up([], LINKS).assumed


def _sending(db, kind: str, count: int, sent_ago: float, body: str = "Test") -> int:
    return make_campaign(db, count, kind, prefix="+4870", body=body, sent_ago=sent_ago, parts_per_message=1)[0]


def _no_recovery(settings) -> None:
    # The campaigns written straight into the database below are not for a session worker to send: tell its
    # recovery loop that Redis has its queues (it re-enqueues sending campaigns only when this key is gone).
    redis_connection(settings.redis.url).set(QUEUES_ALIVE, "1")


def test_the_preview_counts_parts_over_the_links_and_the_alerts_queued_ahead(api, db, settings):
    _no_recovery(settings)
    zone = create_zone(api, "Wilda", ZONE_A)
    for n in range(3):
        create_subscriber(api, f"+4860100000{n}", IN_A)
    two_parts = "Uwaga! Pożar hali magazynowej przy ul. Głogowskiej. Zamknij okna, wyłącz wentylację i nie wychodź."
    draft = {"kind": "alert", "severity": "severe", "body": two_parts, "zone_ids": [zone]}
    status, alone = api.post("/api/v1/campaigns/preview", draft)
    assert status == 200, alone
    assert alone["total_parts"] == 6
    ttw = alone["time_to_warn"]
    assert ttw["parts_to_send"] == 6 and ttw["parts_ahead"] == 0 and ttw["tps"] > 0
    assert alone["time_to_warn_s"] == round(6 / ttw["tps"], 1)
    assert "eta" not in alone  # nothing is sending

    _sending(db, "alert", 900, sent_ago=60)  # an alert under way: 900 parts ahead of anything
    _sending(db, "info", 500, sent_ago=30)  # info: ahead of another info only
    status, behind = api.post("/api/v1/campaigns/preview", draft)
    assert behind["time_to_warn"]["parts_ahead"] == 900
    assert behind["time_to_warn_s"] == round(906 / behind["time_to_warn"]["tps"], 1)
    status, info = api.post("/api/v1/campaigns/preview", {**draft, "kind": "info", "topic": "water"})
    assert info["time_to_warn"]["parts_ahead"] == 1400


def test_a_sending_campaign_shows_a_live_eta_and_a_finished_one_none(api, db, settings):
    _no_recovery(settings)
    cid = _sending(db, "alert", 400, sent_ago=5)
    before = datetime.now(UTC)
    status, c = api.get(f"/api/v1/campaigns/{cid}")
    assert status == 200, c
    tps = c["time_to_warn"]["tps"]
    assert c["time_to_warn"]["parts_to_send"] == 400
    assert c["time_to_warn_s"] == round(400 / tps, 1)
    eta = datetime.fromisoformat(c["eta"])
    assert eta.tzinfo is not None and eta > before
    assert abs((eta - before).total_seconds() - 400 / tps) < 30
    assert c["rate_now"] == 0.0
    status, listed = api.get("/api/v1/campaigns")
    assert [x["time_to_warn_s"] for x in listed] == [c["time_to_warn_s"]]

    db.execute(text("UPDATE message SET status = 'delivered' WHERE campaign_id = :c"), {"c": cid})
    db.execute(text("UPDATE campaign SET status = 'completed', completed_at = now() WHERE id = :c"), {"c": cid})
    db.commit()
    status, done = api.get(f"/api/v1/campaigns/{cid}")
    assert done["time_to_warn_s"] == 0 and "eta" not in done


def test_a_draft_shows_its_estimate_and_no_eta(api):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    status, c = api.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Test", "zone_ids": [zone]}
    )
    assert status == 201, c
    assert c["time_to_warn"]["parts_to_send"] == 1 and c["time_to_warn_s"] is not None and "eta" not in c
    status, got = api.get(f"/api/v1/campaigns/{c['id']}")
    assert got["time_to_warn_s"] == c["time_to_warn_s"] and "eta" not in got
    status, listed = api.get("/api/v1/campaigns")
    assert listed[0]["time_to_warn_s"] is None  # lists do not count each draft's recipients


def test_the_estimate_follows_a_real_worker_sending_at_its_contracted_rate(
    db, settings, start_simulator, spawn_worker, gateway_redis_url, wait
):
    simulator = start_simulator()
    smsc = replace(settings.smsc, tps=40.0)
    spawn_worker(simulator, gateway_redis_url, smsc__tps=40)
    wait(
        lambda: not estimates.links_up(estimates.published_workers(gateway_redis_url), smsc).assumed,
        30,
        "the worker to bind and say so",
    )
    cid, _phones = make_campaign(db, 400, "alert")
    campaign = db.get(Campaign, cid)
    before = estimates.estimate(db, campaign, gateway_redis_url, smsc)
    assert before.links.tps == 40.0 and before.parts == 400 and before.seconds == 10.0

    enqueue(db, gateway_redis_url, cid, "alert")
    wait(
        lambda: statuses(db, cid).get("submitted", 0) + statuses(db, cid).get("delivered", 0) >= 120, 60, "a third sent"
    )
    db.rollback()
    now = datetime.now(UTC)
    during = estimates.estimate(db, db.get(Campaign, cid), gateway_redis_url, smsc, now=now)
    left = statuses(db, cid).get("queued", 0) + statuses(db, cid).get("submitting", 0)
    assert during.eta is not None and during.eta > now
    assert during.rate and during.rate > 0
    # The parts left at the links' 40/s, or at the rate measured now when that is slower: within a wide factor.
    assert 0.3 * left / 40 <= during.seconds <= 3 * max(left, 1) / 40 + 5
    assert abs((during.eta - now).total_seconds() - during.seconds) < 0.1


def test_the_campaign_page_shows_the_time_to_warn_while_sending(db, settings, page, login, make_user):
    _no_recovery(settings)
    cid = _sending(db, "alert", 3000, sent_ago=5)
    email, _token = make_user("operator")
    login(page, email)
    page.goto(f"/campaigns/{cid}")
    shown = page.locator("#time-to-warn").inner_text()
    assert shown.startswith("~") and "ostatni SMS około" in shown  # a duration, then the local time
    progress = page.request.get(f"/campaigns/{cid}/progress.json").json()
    assert progress["time_to_warn_s"] > 0 and progress["time_to_warn_display"] == shown

    db.execute(text("UPDATE campaign SET status = 'completed', completed_at = now() WHERE id = :c"), {"c": cid})
    db.commit()
    assert page.request.get(f"/campaigns/{cid}/progress.json").json()["time_to_warn_s"] is None
