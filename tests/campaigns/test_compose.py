"""Composing: the SMS counter, transliteration, templates, the preview, and bad input refused unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from campaigns.composition import analyse, offer_transliteration, render_template, transliterate
from campaigns.exceptions import InvalidCampaign
from tests.factories import IN_A, IN_A_2, IN_B, OUTSIDE, ZONE_A, ZONE_B, create_subscriber, create_zone


@pytest.mark.parametrize(
    "body, encoding, parts",
    [
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        ("{" * 80, "gsm7", 1),
        ("{" * 81, "gsm7", 2),  # extension characters take two septets
        ("ł" + "a" * 69, "ucs2", 1),
        ("ł" + "a" * 70, "ucs2", 2),
        ("ł" + "a" * 133, "ucs2", 2),
        ("ł" + "a" * 134, "ucs2", 3),
    ],
)
def test_the_counter_matches_gsm_and_ucs2_part_sizes(body, encoding, parts):
    result = analyse(body)
    assert (result.encoding, result.parts, result.characters) == (encoding, parts, len(body))


def test_the_characters_forcing_ucs2_are_named_once_each_in_order():
    assert analyse("Zażółć gęślą jaźń, Zażółć").ucs2_characters == ["ż", "ó", "ł", "ć", "ę", "ś", "ą", "ź", "ń"]
    assert analyse("Plain text [ok] €5").ucs2_characters == []


def test_transliteration_of_polish_saves_parts():
    body = (
        "Uwaga! Pożar hali magazynowej przy ul. Głogowskiej. Zamknij okna, wyłącz wentylację "
        "i nie wychodź z domu. Śledź komunikaty służb."
    )
    offer = offer_transliteration(body)
    assert (offer.before.encoding, offer.before.parts) == ("ucs2", 2)
    assert (offer.after.encoding, offer.after.parts) == ("gsm7", 1)
    assert offer.text.startswith("Uwaga! Pozar hali magazynowej przy ul. Glogowskiej.")
    assert transliteration_is_lossless_for_ascii("Nothing to change here.")


def transliteration_is_lossless_for_ascii(value: str) -> bool:
    return transliterate(value) == value


def test_templates_fill_known_placeholders_and_refuse_unknown_ones():
    assert render_template("Alarm: {zone} o {time}", {"zone": "Wilda", "time": "03:10"}) == "Alarm: Wilda o 03:10"
    with pytest.raises(InvalidCampaign, match="unknown placeholder"):
        render_template("Alarm: {street}", {})
    with pytest.raises(InvalidCampaign, match="malformed"):
        render_template("Alarm: {zone", {})


def _alert(**extra):
    return {"kind": "alert", "severity": "severe", "body": "Awaria wodociagu.", **extra}


def test_preview_counts_each_resident_once_and_prices_the_parts(api, operator):
    a = create_zone(api, "Wilda", ZONE_A)
    b = create_zone(api, "Rataje", ZONE_B)
    create_subscriber(api, "+48601000001", IN_A)
    create_subscriber(api, "+48601000002", IN_A_2, IN_B)  # two homes in two target zones
    create_subscriber(api, "+48601000003", OUTSIDE)
    body = "Pożar: zamknij okna. " * 4  # diacritics → UCS-2, 84 characters → 2 parts
    status, c = operator.post("/api/v1/campaigns", _alert(body=body, zone_ids=[a, b]))
    assert status == 201, c
    assert (c["encoding"], c["parts_per_message"], c["warnings"]) == ("ucs2", 2, [])
    status, p = operator.get(f"/api/v1/campaigns/{c['id']}/preview")
    assert status == 200, p
    assert p["recipients"] == 2
    assert p["total_parts"] == 4
    assert (p["cost"], p["currency"]) == ("0.7200", "PLN")
    assert p["transliteration"]["parts_after"] == 1
    assert p["transliteration"]["saving"] == "0.3600"
    # The unsaved preview answers the same.
    status, q = operator.post("/api/v1/campaigns/preview", _alert(body=body, zone_ids=[a, b]))
    assert (status, q["recipients"], q["total_parts"]) == (200, 2, 4)


def test_a_template_is_filled_with_the_target_zones(api, operator):
    a = create_zone(api, "Wilda", ZONE_A)
    status, c = operator.post("/api/v1/campaigns", _alert(body=None, template="Ewakuacja: {zone}.", zone_ids=[a]))
    assert status == 201, c
    assert (c["body"], c["template"]) == ("Ewakuacja: Wilda.", "Ewakuacja: {zone}.")


def test_an_empty_target_is_allowed_with_a_warning(api, operator):
    a = create_zone(api, "Pusta", ZONE_B)
    status, c = operator.post("/api/v1/campaigns", _alert(zone_ids=[a]))
    assert status == 201, c
    assert c["warnings"] and "nobody" in c["warnings"][0]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"body": "   "}, "empty"),
        ({"body": "a" * (153 * 6 + 1)}, "7 SMS parts"),
        ({"body": "a" * 153 * 300}, "300 SMS parts"),  # beyond what a concatenation header numbers
        ({"zone_ids": []}, "at least one target"),
        ({"zone_ids": [999999]}, "999999"),
        ({"scheduled_for": "2001-01-01T00:00:00+01:00"}, "past"),
        ({"scheduled_for": "tomorrow"}, "ISO 8601"),
        ({"kind": "info"}, "topic"),
        ({"flash": True}, "extreme"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"template": "Alarm {ulica}", "body": None}, "placeholder"),
        ({"variants": {"fr": "Alerte"}}, "variant language"),
        ({"area": {"circle": {"lat": 16.9, "lon": 52.4, "radius_m": 100}}}, "outside the service area"),
        ({"urgency": "now"}, "urgency"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_created(api, operator, db, change, message):
    a = create_zone(api, "Wilda", ZONE_A)
    status, body = operator.post("/api/v1/campaigns", {**_alert(zone_ids=[a]), **change})
    assert status == 422, body
    assert body["error"]["code"] == "invalid_campaign"
    assert message in body["error"]["message"]
    assert db.execute(text("SELECT count(*) FROM campaign")).scalar() == 0


def test_a_lone_surrogate_is_refused_naming_the_broken_character(api, operator, db):
    # JSON can carry half of a UTF-16 pair; no phone can show it and PostgreSQL cannot store it. The request's
    # own text check (syrena_core.text, for every JSON body) names it before the campaign rules run.
    a = create_zone(api, "Wilda", ZONE_A)
    status, body = operator.post("/api/v1/campaigns", {**_alert(zone_ids=[a]), "body": "Fala \ud83c nadchodzi"})
    assert status == 422, body
    assert "half of a UTF-16 pair" in body["error"]["message"] and "position 6" in body["error"]["message"]
    assert db.execute(text("SELECT count(*) FROM campaign")).scalar() == 0


def test_editing_a_draft_checks_like_creating_and_sent_campaigns_cannot_be_edited(api, operator, worker, wait):
    from tests.campaigns.conftest import settled

    a = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    status, c = operator.post("/api/v1/campaigns", _alert(zone_ids=[a]))
    status, bad = operator.call("PATCH", f"/api/v1/campaigns/{c['id']}", {"body": ""})
    assert status == 422, bad
    status, edited = operator.call("PATCH", f"/api/v1/campaigns/{c['id']}", {"body": "Nowa treść"})
    assert (status, edited["body"], edited["encoding"]) == (200, "Nowa treść", "ucs2")
    assert operator.post(f"/api/v1/campaigns/{c['id']}/send")[0] == 202
    wait(settled(operator, c["id"]), 60, "the campaign to complete")
    status, body = operator.call("PATCH", f"/api/v1/campaigns/{c['id']}", {"body": "Za późno"})
    assert status == 409, body
    status, body = operator.call("DELETE", f"/api/v1/campaigns/{c['id']}")
    assert status == 409, body


def test_creating_is_audited(api, operator, db):
    a = create_zone(api, "Wilda", ZONE_A)
    status, c = operator.post("/api/v1/campaigns", _alert(zone_ids=[a]))
    assert status == 201
    actions = (
        db.execute(
            text("SELECT action FROM audit_log WHERE object_type = 'campaign' AND object_id = :id"),
            {"id": str(c["id"])},
        )
        .scalars()
        .all()
    )
    assert actions == ["campaign.create"]


def test_the_list_filters_by_status_and_kind(api, operator):
    a = create_zone(api, "Wilda", ZONE_A)
    operator.post("/api/v1/campaigns", _alert(zone_ids=[a]))
    operator.post("/api/v1/campaigns", {**_alert(zone_ids=[a]), "kind": "info", "topic": "water"})
    assert [c["kind"] for c in operator.get("/api/v1/campaigns?kind=info")[1]] == ["info"]
    assert len(operator.get("/api/v1/campaigns?status=draft")[1]) == 2
    assert operator.get("/api/v1/campaigns?status=completed")[1] == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert operator.get(f"/api/v1/campaigns?since={tomorrow}")[1] == []
    assert operator.get("/api/v1/campaigns?status=nonsense")[0] == 422


@pytest.mark.parametrize(
    "template",
    [
        "Alarm {zone:>5}",
        "Alarm {zone:>1000000000}",
        "Alarm {zone!r}",
        "Alarm {zone.__class__}",
        "Alarm {zone[0]}",
        "Alarm {0}",
    ],
)
def test_templates_have_placeholders_only_no_format_language(api, operator, template):
    """Issue 19 #2: `{zone:>1000000000}` went to str.format and ate the web server's memory."""
    a = create_zone(api, "Wilda", ZONE_A)
    for path in ("/api/v1/campaigns", "/api/v1/campaigns/preview"):
        status, body = operator.post(path, _alert(body=None, template=template, zone_ids=[a]))
        assert (status, body["error"]["code"]) == (422, "invalid_campaign"), body
        assert "placeholder" in body["error"]["message"]
    assert api.get("/api/v1/campaigns")[1] == []


def test_literal_braces_and_repeated_placeholders_are_substituted(api, operator):
    a = create_zone(api, "Wilda", ZONE_A)
    status, c = operator.post(
        "/api/v1/campaigns", _alert(body=None, template="{{Test}} {zone}/{zone} {title}", title="Próba", zone_ids=[a])
    )
    assert status == 201, c
    assert c["body"] == "{Test} Wilda/Wilda Próba"


def test_a_body_beyond_255_parts_is_refused_before_it_is_encoded(api, operator):
    """Issue 19 #10: a body over 255 parts reached smpplib, whose MessageTooLong became a 500."""
    a = create_zone(api, "Wilda", ZONE_A)
    status, body = operator.post("/api/v1/campaigns", _alert(body="ż" * 20_000, zone_ids=[a]))
    assert (status, body["error"]["code"]) == (422, "invalid_campaign"), body
    assert "20000 characters" in body["error"]["message"]
    status, body = operator.post(
        "/api/v1/campaigns", _alert(body="Alarm.", variants={"en": "x" * 50_000}, zone_ids=[a])
    )
    assert (status, body["error"]["code"]) == (422, "invalid_campaign"), body
    assert "en text" in body["error"]["message"]
