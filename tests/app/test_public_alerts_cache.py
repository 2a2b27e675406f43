"""The public alert pages on the night everyone opens them (issue 17): cached copies with ETag, Last-Modified
and Cache-Control, 304 to conditional requests, a new copy after every change (a new alert, an all-clear, a
cancel) and after an expiry, and the same bytes written to [public] static_dir for nginx."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from sqlalchemy import text

from app import public_alerts
from campaigns import publication
from syrena_core.config import replace
from syrena_core.queues import redis_connection
from tests.factories import ZONE_A, create_zone

PATHS = ("/alerts", "/alerts.atom")
FLOOD, HEAT = "Powódź".encode(), "Upał".encode()
ATOM = {"atom": "http://www.w3.org/2005/Atom"}
_ZONE_NUMBERS = itertools.count(1)


@pytest.fixture
def client(app):
    return app.test_client()


def _alert(api, title: str, **fields) -> int:
    # The zone is not named after the alert: /alerts shows every zone's name on its map, alerts or none.
    zone = create_zone(api, f"Strefa {next(_ZONE_NUMBERS)}", ZONE_A)
    body = {
        "kind": "alert",
        "severity": "severe",
        "title": title,
        "body": f"{title}: zostań w domu.",
        "zone_ids": [zone],
    }
    status, alert = api.post("/api/v1/campaigns", {**body, **fields})
    assert status == 201, alert
    return alert["id"]


def _send(api, title: str, **fields) -> int:
    """An alert sent through the workflow (no resident in its zone: it completes at once)."""
    campaign_id = _alert(api, title, **fields)
    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/send")
    assert status == 202, body
    return campaign_id


def test_every_public_alert_page_carries_validators_and_may_be_cached_for_30_seconds(client, api):
    campaign_id = _send(api, "Powódź")
    for path in (*PATHS, f"/alerts/{campaign_id}.xml"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["ETag"].startswith('"'), path
        assert r.headers["Last-Modified"].endswith("GMT"), path
        assert r.cache_control.public and r.cache_control.max_age == 30, path
        assert "no-store" not in r.headers["Cache-Control"]
    assert FLOOD in client.get("/alerts").data


def test_the_page_varies_by_language_and_the_feed_and_cap_do_not(client, api):
    campaign_id = _send(api, "Powódź")
    page = client.get("/alerts")
    assert {v.strip() for v in page.headers["Vary"].split(",")} >= {"Accept-Language", "Cookie"}
    client.set_cookie("lang", "en")  # the language a resident chose (the browser's, once the helper "uk" lands)
    english = client.get("/alerts", headers={"Accept-Language": "en"})
    assert english.headers["ETag"] != page.headers["ETag"]  # each language its own copy
    assert b'lang="en"' in english.data and b'lang="pl"' in page.data
    for path in ("/alerts.atom", f"/alerts/{campaign_id}.xml"):
        assert "Accept-Language" not in client.get(path).headers.get("Vary", "")


@pytest.mark.parametrize("path", [*PATHS, "cap"])
def test_a_client_that_has_the_current_copy_gets_304_without_a_body(client, api, path):
    campaign_id = _send(api, "Powódź")
    path = f"/alerts/{campaign_id}.xml" if path == "cap" else path
    first = client.get(path)
    by_etag = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert by_etag.status_code == 304 and by_etag.data == b""
    assert by_etag.headers["ETag"] == first.headers["ETag"]
    by_date = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert by_date.status_code == 304 and by_date.data == b""
    stale = client.get(path, headers={"If-None-Match": '"something-older"'})
    assert stale.status_code == 200 and stale.data == first.data
    earlier = client.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert earlier.status_code == 200
    # Answers served again before Flask (app.public_cache.FastPath) keep every header Flask set.
    for again in (by_etag, stale):
        assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
        assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    head = client.head(path)
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == first.headers["ETag"]


def test_an_alert_that_is_not_published_stays_404_however_often_asked(client, api):
    draft = _alert(api, "Powódź")
    for _ in range(3):
        assert client.get(f"/alerts/{draft}.xml").status_code == 404
        assert client.get("/alerts/999.xml", headers={"If-None-Match": "*"}).status_code == 404
    assert client.get("/alerts?x=1").status_code == 200  # a query string goes through Flask


def test_a_new_alert_and_an_all_clear_make_a_new_copy_at_once(client, api):
    first = _send(api, "Powódź")
    page, feed = client.get("/alerts"), client.get("/alerts.atom")
    assert FLOOD in page.data

    second = _send(api, "Wyciek chloru")
    new_page = client.get("/alerts", headers={"If-None-Match": page.headers["ETag"]})
    assert new_page.status_code == 200  # not "304: nothing changed"
    assert b"Wyciek chloru" in new_page.data and FLOOD in new_page.data
    new_feed = client.get("/alerts.atom", headers={"If-None-Match": feed.headers["ETag"]})
    assert new_feed.status_code == 200
    assert len(etree.fromstring(new_feed.data).findall("atom:entry", ATOM)) == 2

    status, body = api.post(f"/api/v1/campaigns/{first}/all-clear", {"body": "Odwołanie: woda opadła."})
    assert status == 202, body
    after = client.get("/alerts", headers={"If-None-Match": new_page.headers["ETag"]})
    assert after.status_code == 200
    assert FLOOD not in after.data and b"Wyciek chloru" in after.data
    entries = etree.fromstring(client.get("/alerts.atom").data).findall("atom:entry", ATOM)
    assert [e.findtext("atom:title", namespaces=ATOM) for e in entries] == ["Wyciek chloru"]
    assert client.get(f"/alerts/{second}.xml").status_code == 200


def test_cancelling_an_alert_marks_the_public_pages_changed(app, api):
    campaign_id = _alert(api, "Powódź")
    redis = redis_connection(app.config["SYRENA"].redis.url)
    before = redis.get(publication.VERSION_KEY)
    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/cancel", {"reason": "pomyłka"})
    assert status == 200, body
    assert redis.get(publication.VERSION_KEY) != before


def test_an_alert_leaves_the_cached_page_when_it_expires_with_no_one_changing_anything(app, client, api):
    expires = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    _send(api, "Upał", expires_at=expires.isoformat())
    page = client.get("/alerts")
    assert HEAT in page.data
    assert client.get("/alerts", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    app.config["SYRENA_CLOCK"] = lambda: expires + timedelta(seconds=1)
    try:
        later = client.get("/alerts", headers={"If-None-Match": page.headers["ETag"]})
        assert later.status_code == 200
        assert HEAT not in later.data and b'id="no-alerts"' in later.data
        assert not etree.fromstring(client.get("/alerts.atom").data).findall("atom:entry", ATOM)
    finally:
        app.config.pop("SYRENA_CLOCK", None)


def test_a_copy_rendered_before_redis_lost_its_data_is_never_served_again(app, client, api, db):
    page = client.get("/alerts")
    assert b'id="no-alerts"' in page.data
    redis = redis_connection(app.config["SYRENA"].redis.url)
    _send(api, "Powódź")
    redis.delete(publication.VERSION_KEY)  # Redis restarted empty: the version is gone with the copies
    assert FLOOD in client.get("/alerts").data


@pytest.fixture
def static_dir(app, tmp_path):
    """The app with [public] static_dir = a temporary directory, for this test only."""
    settings = app.config["SYRENA"]
    app.config["SYRENA"] = replace(settings, public=replace(settings.public, static_dir=str(tmp_path / "www")))
    yield tmp_path / "www"
    app.config["SYRENA"] = settings


def test_the_static_files_hold_what_the_app_serves_and_follow_each_change(app, client, api, static_dir):
    public_alerts.write_static_files(app)  # what a worker's heartbeat does, every 3 s
    assert b'id="no-alerts"' in (static_dir / "alerts.html").read_bytes()

    campaign_id = _send(api, "Powódź")
    assert public_alerts.write_static_files(app)  # the version moved: written again
    assert not public_alerts.write_static_files(app)  # nothing changed since: left alone
    assert (static_dir / "alerts.html").read_bytes() == client.get("/alerts").data
    assert (static_dir / "alerts.atom").read_bytes() == client.get("/alerts.atom").data
    cap = static_dir / "alerts" / f"{campaign_id}.xml"
    assert cap.read_bytes() == client.get(f"/alerts/{campaign_id}.xml").data
    assert oct(cap.stat().st_mode & 0o777) == "0o644"
    assert not [p.name for p in static_dir.rglob(".*")]  # no temporary file left behind

    status, body = api.post(f"/api/v1/campaigns/{campaign_id}/all-clear", {"body": "Odwołanie: woda opadła."})
    assert status == 202, body
    assert public_alerts.write_static_files(app)
    html = (static_dir / "alerts.html").read_bytes()
    assert FLOOD not in html and html == client.get("/alerts").data
    assert not etree.fromstring((static_dir / "alerts.atom").read_bytes()).findall("atom:entry", ATOM)


def test_a_worker_writes_the_static_files_after_a_change_and_again_when_an_alert_expires(
    app, api, spawn_worker, start_simulator, gateway_redis_url, tmp_path, wait
):
    www = tmp_path / "www"
    worker = spawn_worker(start_simulator(), gateway_redis_url, PUBLIC__STATIC_DIR=str(www))
    page = www / "alerts.html"

    def written(text: str):
        def check():
            assert worker.proc.poll() is None, worker.log()[-3000:]
            return page.exists() and text in page.read_text()

        return check

    wait(written('id="no-alerts"'), 90, "the worker to write alerts.html")
    _send(api, "Upał", expires_at=(datetime.now(UTC) + timedelta(seconds=15)).isoformat())
    # The send marked the pages changed in the app's Redis; this worker (of the test's own Redis, see
    # gateway_redis_url) hears of it as every worker sharing the app's Redis does:
    publication.changed(gateway_redis_url)
    wait(written("Upał"), 60, "the worker to write the alert into alerts.html")
    # Nobody touches anything: the worker's heartbeat notices the expiry.
    wait(written('id="no-alerts"'), 60, "the expired alert to leave alerts.html")


def test_flask_alerts_publish_drops_the_copies_and_writes_the_files_after_a_change_behind_the_workflow(
    app, client, api, db, static_dir
):
    campaign_id = _send(api, "Powódź")
    assert b'<span lang="pl">Pow\xc3\xb3d\xc5\xba</span></h2>' in client.get("/alerts").data
    db.execute(text("UPDATE campaign SET title = 'Wichura' WHERE id = :id"), {"id": campaign_id})  # a restore, say
    db.commit()
    result = app.test_cli_runner().invoke(args=["alerts", "publish"])
    assert result.exit_code == 0, result.output
    assert str(static_dir) in result.output
    page = client.get("/alerts").data
    assert b'<span lang="pl">Wichura</span></h2>' in page
    assert (static_dir / "alerts.html").read_bytes() == page
