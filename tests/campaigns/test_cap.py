"""CAP 1.2: an alert, its update and its all-clear, validated against the official OASIS schema; the
follow-ups reach exactly the original's recipients; the public Atom feed and page list what is in force."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from tests.campaigns.conftest import received, settled
from tests.factories import IN_A, IN_B, OUTSIDE, ZONE_A, ZONE_B, create_subscriber, create_zone

# The official schema (a copy of ../shared/data/CAP-v1.2.xsd, kept with the tests so CI has it).
XSD = Path(__file__).parent / "data" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2", "atom": "http://www.w3.org/2005/Atom"}
BODY = "Uwaga! Wyciek chloru w zakładach przy ul. Średzkiej. Zamknij okna i nie wychodź z domu."
RIVER = {"type": "LineString", "coordinates": [[16.90, 52.39], [16.93, 52.39]]}


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def _cap(client, campaign_id: int, schema) -> etree._Element:
    status, payload = client.get(f"/api/v1/campaigns/{campaign_id}/cap.xml")
    assert status == 200, payload
    doc = etree.fromstring(payload.encode("utf-8") if isinstance(payload, str) else payload)
    schema.assertValid(doc)
    return doc


def _public(live_server, path: str, language: str | None = None) -> bytes:
    import urllib.request

    headers = {"Accept-Language": language} if language else {}
    with urllib.request.urlopen(urllib.request.Request(live_server + path, headers=headers), timeout=10) as r:
        return r.read()


def test_alert_update_and_all_clear_as_valid_cap_to_exactly_the_original_recipients(
    api, operator, live_server, schema, worker, simulator, wait, settings
):
    a = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    create_subscriber(api, "+48601000002", IN_B)  # in the circle around IN_B
    create_subscriber(api, "+48601000003", OUTSIDE)
    status, alert = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "extreme",
            "urgency": "immediate",
            "certainty": "observed",
            "title": "Wyciek chloru",
            "event": "Skażenie chemiczne",
            "category": "CBRNE",
            "body": BODY,
            "variants": {"en": "Warning! Chlorine leak. Close the windows and stay indoors."},
            "zone_ids": [a],
            "area": [
                {"circle": {"lat": IN_B["lat"], "lon": IN_B["lon"], "radius_m": 500}},
                {"line": RIVER, "buffer_m": 100},
            ],
        },
    )
    assert status == 201, alert
    draft = _cap(operator, alert["id"], schema)
    assert draft.findtext("cap:status", namespaces=NS) == "Draft"  # not sent: not published as Actual
    operator.post(f"/api/v1/campaigns/{alert['id']}/send")
    wait(settled(operator, alert["id"]), 60, "the alert to complete")
    assert sorted(received(simulator)) == ["48601000001", "48601000002"]

    doc = _cap(operator, alert["id"], schema)
    assert doc.findtext("cap:status", namespaces=NS) == "Actual"
    assert doc.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert doc.findtext("cap:scope", namespaces=NS) == "Public"
    assert doc.findtext("cap:sent", namespaces=NS).endswith("-00:00")  # CAP 1.2 §3.3.2: UTC is "-00:00"
    assert doc.find("cap:references", NS) is None
    infos = doc.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["pl-PL", "en-GB"]
    pl = infos[0]
    assert pl.findtext("cap:description", namespaces=NS) == BODY  # Polish letters intact
    assert pl.findtext("cap:headline", namespaces=NS) == "Wyciek chloru"
    assert [
        pl.findtext(f"cap:{k}", namespaces=NS) for k in ("category", "event", "urgency", "severity", "certainty")
    ] == ["CBRNE", "Skażenie chemiczne", "Immediate", "Extreme", "Observed"]
    areas = pl.findall("cap:area", NS)
    assert next(ar.findtext("cap:areaDesc", namespaces=NS) for ar in areas) == "Wilda"
    assert len(areas) == 3  # one per target
    zone_polygon = areas[0].findtext("cap:polygon", namespaces=NS).split()
    assert zone_polygon[0] == zone_polygon[-1] and len(zone_polygon) == 5
    assert set(zone_polygon) == {
        "52.380000,16.900000",
        "52.380000,16.930000",
        "52.400000,16.930000",
        "52.400000,16.900000",
    }  # "lat,lon", not GeoJSON's order
    assert areas[1].findtext("cap:circle", namespaces=NS) == "52.390000,16.950000 0.5"
    band = areas[2].findtext("cap:polygon", namespaces=NS).split()
    lats = [float(p.split(",")[0]) for p in band]
    assert 52.3890 < min(lats) < 52.3892 and 52.3908 < max(lats) < 52.3910  # ±100 m of latitude 52.39

    # A new resident moves in after the alert: follow-ups still go to exactly the original recipients.
    create_subscriber(api, "+48601000004", IN_A)
    simulator.clear_messages()
    status, update = operator.post(
        f"/api/v1/campaigns/{alert['id']}/update",
        {"body": "Aktualizacja: chmura przesuwa się na wschód. Nie wychodź z domu."},
    )
    assert status == 202, update
    assert (update["msg_type"], update["reference_id"]) == ("Update", alert["id"])
    wait(settled(operator, update["id"]), 60, "the update to complete")
    assert sorted(received(simulator)) == ["48601000001", "48601000002"]
    up = _cap(operator, update["id"], schema)
    assert up.findtext("cap:msgType", namespaces=NS) == "Update"
    sender, identifier, sent = up.findtext("cap:references", namespaces=NS).split(",")
    assert sender == doc.findtext("cap:sender", namespaces=NS)
    assert identifier == doc.findtext("cap:identifier", namespaces=NS)
    assert sent == doc.findtext("cap:sent", namespaces=NS)

    feed = etree.fromstring(_public(live_server, "/alerts.atom"))
    entries = feed.findall("atom:entry", NS)
    assert [e.findtext("atom:title", namespaces=NS) for e in entries] == ["Wyciek chloru"]  # the update, in force
    link = entries[0].find("atom:link", NS).get("href")
    assert "Aktualizacja: chmura przesuwa się na wschód." in _public(live_server, "/alerts").decode()
    # The feed links to [app] public_url (never the request's host: issue 19 #11); the test server is elsewhere.
    assert link.startswith(settings.app.public_url.rstrip("/") + "/alerts/")
    schema.assertValid(etree.fromstring(_public(live_server, urlsplit(link).path)))

    simulator.clear_messages()
    status, clear = operator.post(
        f"/api/v1/campaigns/{alert['id']}/all-clear", {"body": "Odwołanie alarmu: zagrożenie minęło."}
    )
    assert status == 202, clear
    wait(settled(operator, clear["id"]), 60, "the all-clear to complete")
    assert received(simulator) == {
        "48601000001": "Odwołanie alarmu: zagrożenie minęło.",
        "48601000002": "Odwołanie alarmu: zagrożenie minęło.",
    }
    cancel = _cap(operator, clear["id"], schema)
    assert cancel.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert cancel.findtext("cap:references", namespaces=NS).split(",")[1] == identifier
    assert cancel.findtext("cap:info/cap:responseType", namespaces=NS) == "AllClear"

    feed = etree.fromstring(_public(live_server, "/alerts.atom"))
    assert feed.findall("atom:entry", NS) == []  # called off: nothing in force
    page = _public(live_server, "/alerts").decode()
    assert "Wyciek chloru" not in page


def test_follow_ups_need_a_sent_original_and_a_text(api, operator):
    a = create_zone(api, "Rataje", ZONE_B)
    status, draft = operator.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "x", "zone_ids": [a]}
    )
    status, body = operator.post(f"/api/v1/campaigns/{draft['id']}/all-clear", {"body": "Koniec"})
    assert status == 409, body
    assert operator.get("/api/v1/campaigns")[1][0]["id"] == draft["id"]  # nothing new was created


def test_unpublished_campaigns_are_not_public(api, operator, live_server):
    import urllib.error

    a = create_zone(api, "Rataje", ZONE_B)
    _status, draft = operator.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "x", "zone_ids": [a]}
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        _public(live_server, f"/alerts/{draft['id']}.xml")
    assert e.value.code == 404
    e.value.close()


def test_a_ukrainian_variant_is_published_in_cap_and_shown_to_ukrainian_browsers(
    api, operator, live_server, schema, worker, wait
):
    a = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    uk = "Увага! Витік хлору на вул. Średzka. Зачиніть вікна та не виходьте з дому."
    status, alert = operator.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "body": BODY, "variants": {"uk": uk}, "zone_ids": [a]},
    )
    assert status == 201, alert
    operator.post(f"/api/v1/campaigns/{alert['id']}/send")
    wait(settled(operator, alert["id"]), 60, "the alert to complete")

    infos = _cap(operator, alert["id"], schema).findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["pl-PL", "uk-UA"]
    assert infos[1].findtext("cap:description", namespaces=NS) == uk
    ukrainian = _public(live_server, "/alerts", "uk-UA,uk;q=0.9,ru;q=0.8").decode()
    assert '<html lang="uk">' in ukrainian and f'<p class="sms-text" lang="uk">{uk}</p>' in ukrainian
    assert BODY not in ukrainian
    polish = _public(live_server, "/alerts", "pl").decode()
    assert BODY in polish and uk not in polish
    # An English reader gets the Polish body (there is no en variant), marked as Polish for screen readers.
    assert f'<p class="sms-text" lang="pl">{BODY}</p>' in _public(live_server, "/alerts", "en").decode()
