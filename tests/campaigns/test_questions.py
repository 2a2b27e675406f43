"""A campaign's question (issue 15, the campaign side): validation naming the field, the answer lines sent and
counted, the reply window, the tallies and replies (contract, roles), the exports (audited, 409 without one)."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from campaigns.exceptions import InvalidCampaign
from campaigns.questions import InvalidQuestion, answer_lines, sms_text, validate_question
from tests.factories import IN_A, IN_A_2, IN_B, ZONE_A, create_subscriber, create_zone
from tests.helpers import ApiClient


def _answers(*labels: dict, help_at: int | None = None) -> list[dict]:
    return [{"key": str(i + 1), "label": label, "needs_help": i == help_at} for i, label in enumerate(labels)]


SAFE = {"pl": "jestem bezpieczny", "en": "I am safe", "uk": "я в безпеці"}
HELP = {"pl": "potrzebuję pomocy", "en": "I need help", "uk": "потрібна допомога"}
QUESTION = {"answers": _answers(SAFE, HELP, help_at=1), "reply_minutes": 720}


# ------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "raw, languages, field",
    [
        ({"answers": _answers(SAFE)}, (), "question.answers"),  # 1 answer
        ({"answers": _answers(*[{"pl": f"odp {i}"} for i in range(6)])}, (), "question.answers"),  # 6 answers
        ({"answers": []}, (), "question.answers"),
        ({}, (), "question.answers"),
        ({"answers": [{"key": "1", "label": SAFE}, {"key": "1", "label": HELP}]}, (), "question.answers[1].key"),
        ({"answers": [{"key": "6", "label": SAFE}, {"key": "1", "label": HELP}]}, (), "question.answers[0].key"),
        (
            {"answers": [{"key": "1", "label": SAFE}, {"key": "2", "label": {"pl": "  "}}]},
            (),
            "question.answers[1].label.pl",
        ),
        (
            {"answers": [{"key": "1", "label": SAFE}, {"key": "2", "label": {"en": "help"}}]},
            (),
            "question.answers[1].label.pl",
        ),
        (
            {"answers": [{"key": "1", "label": SAFE}, {"key": "2", "label": {"pl": "pomoc"}}]},
            ("en",),
            "question.answers[1].label.en",
        ),
        (
            {"answers": [{"key": "1", "label": SAFE}, {"key": "2", "label": {"pl": "x", "fr": "y"}}]},
            (),
            "question.answers[1].label.fr",
        ),
        (
            {"answers": [{"key": "1", "label": SAFE}, {"key": "2", "label": {"pl": "x" * 41}}]},
            (),
            "question.answers[1].label.pl",
        ),
        (
            {"answers": [{"key": "1", "label": SAFE}, {"key": "2", "label": {"pl": "JESTEM  bezpieczny"}}]},
            (),
            "question.answers[1].label.pl",
        ),
        (
            {"answers": [{"key": "1", "label": SAFE}, {"key": "2", "label": HELP, "needs_help": "yes"}]},
            (),
            "question.answers[1].needs_help",
        ),
        (
            {"answers": [{"key": "1", "label": SAFE}, {"key": "2", "label": HELP, "colour": "red"}]},
            (),
            "question.answers[1]",
        ),
        ({"answers": _answers(SAFE, HELP), "reply_minutes": 5}, (), "question.reply_minutes"),
        ({"answers": _answers(SAFE, HELP), "reply_minutes": 99999}, (), "question.reply_minutes"),
        ({"answers": _answers(SAFE, HELP), "reply_minutes": True}, (), "question.reply_minutes"),
        ({"answers": _answers(SAFE, HELP), "when": "now"}, (), "question"),
        ("yes", (), "question"),
    ],
)
def test_a_bad_question_is_refused_naming_the_field(raw, languages, field):
    with pytest.raises(InvalidQuestion) as e:
        validate_question(raw, languages)
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")
    assert isinstance(e.value, InvalidCampaign)  # HTTP 422 like every other campaign field


def test_a_good_question_is_normalised():
    q = validate_question({"answers": [{"key": 1, "label": {"pl": " jestem   cały "}}, {"label": {"pl": "pomoc"}}]})
    assert q == {
        "answers": [
            {"key": "1", "label": {"pl": "jestem cały"}, "needs_help": False},
            {"key": "2", "label": {"pl": "pomoc"}, "needs_help": False},
        ],
        "reply_minutes": 720,
    }
    assert validate_question(None) is None


def test_answer_lines_in_each_language_and_dash_only_when_ucs2_anyway():
    q = validate_question(QUESTION, ["en", "uk"])
    assert answer_lines(q, "pl") == "Odpowiedz 1 – jestem bezpieczny, 2 – potrzebuję pomocy"
    assert answer_lines(q, "en") == "Reply 1 - I am safe, 2 - I need help"  # GSM 7-bit kept: a hyphen
    assert answer_lines(q, "uk") == "Відповідайте 1 – я в безпеці, 2 – потрібна допомога"
    assert answer_lines(q, "de") == "Antworten Sie 1 – jestem bezpieczny, 2 – potrzebuję pomocy"  # Polish labels
    assert sms_text("Powódź.", q, None) == "Powódź.\nOdpowiedz 1 – jestem bezpieczny, 2 – potrzebuję pomocy"
    assert sms_text("Powódź.", None, None) == "Powódź."


# ------------------------------------------------------------------------------------------- API: compose
def _alert(zone_ids, **extra):
    return {"kind": "alert", "severity": "severe", "body": "Powodz: zostan w domu.", "zone_ids": zone_ids, **extra}


def test_the_question_is_stored_returned_and_counted_in_parts_and_cost(api, operator):
    a = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    plain = "Powodz: zostan w domu. " * 6  # GSM 7-bit, 138 characters: one part alone
    status, c = operator.post("/api/v1/campaigns", _alert([a], body=plain, question=QUESTION))
    assert status == 201, c
    assert c["question"]["answers"][1] == {"key": "2", "label": HELP, "needs_help": True}
    assert c["question"]["reply_minutes"] == 720
    # The Polish answer lines bring "ę" (UCS-2) and 54 characters: 2 parts as sent
    assert (c["encoding"], c["parts_per_message"]) == ("ucs2", 3)
    status, p = operator.get(f"/api/v1/campaigns/{c['id']}/preview")
    assert p["texts"]["pl"]["parts"] == 3 and p["total_parts"] == 3
    assert p["cost"] == "0.5400"  # 3 parts × 0.18
    status, same = operator.post("/api/v1/campaigns", _alert([a], body=plain))
    assert (same["encoding"], same["parts_per_message"]) == ("gsm7", 1)

    status, got = operator.get(f"/api/v1/campaigns/{c['id']}")
    assert got["question"] == c["question"] and got["replies_until"] is None
    status, edited = operator.call("PATCH", f"/api/v1/campaigns/{c['id']}", {"question": None})
    assert status == 200, edited
    assert edited["question"] is None and edited["parts_per_message"] == 1


def test_the_unsaved_preview_shows_the_answer_lines_cost(api, operator):
    a = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    status, p = operator.post("/api/v1/campaigns/preview", _alert([a], question=QUESTION))
    assert status == 200, p
    assert p["texts"]["pl"]["characters"] == len("Powodz: zostan w domu.\n" + answer_lines(QUESTION, "pl"))


@pytest.mark.parametrize(
    "question, variants, field",
    [
        ({"answers": _answers(SAFE)}, {}, "question.answers"),
        ({"answers": _answers(*[{"pl": f"odp {i}"} for i in range(6)])}, {}, "question.answers"),
        ({"answers": [{"key": "2", "label": SAFE}, {"key": "2", "label": HELP}]}, {}, "question.answers[1].key"),
        ({"answers": _answers(SAFE, {"pl": ""})}, {}, "question.answers[1].label.pl"),
        ({"answers": _answers(SAFE, {"pl": "pomoc"})}, {"en": "Flood: stay home."}, "question.answers[1].label.en"),
    ],
)
def test_bad_questions_get_422_naming_the_field(api, operator, question, variants, field):
    a = create_zone(api, "Wilda", ZONE_A)
    status, e = operator.post("/api/v1/campaigns", _alert([a], question=question, variants=variants))
    assert status == 422, e
    assert e["error"]["code"] == "invalid_question"
    assert e["error"]["details"] == {"field": field}
    assert e["error"]["message"].startswith(field)


def test_answers_pushing_the_text_over_max_parts_get_422(api, operator):
    a = create_zone(api, "Wilda", ZONE_A)
    body = "Powódź: zostań w domu. " * 13  # UCS-2, 299 characters: 5 parts, at most 6 allowed by default
    assert operator.post("/api/v1/campaigns", _alert([a], body=body))[0] == 201
    long = {"pl": "x" * 40}
    question = {"answers": [{"key": str(k), "label": {"pl": f"{k}{long['pl'][:38]}"}} for k in range(1, 6)]}
    status, e = operator.post("/api/v1/campaigns", _alert([a], body=body, question=question))
    assert status == 422, e
    assert e["error"]["details"] == {"field": "question.answers"}
    assert "SMS parts" in e["error"]["message"]


# ------------------------------------------------------------------------------------------- sending
def test_recipients_get_the_answer_lines_in_their_language_and_the_window_opens(
    api, operator, worker, simulator, wait, db
):
    a = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    english = create_subscriber(api, "+48601000002", IN_A_2)
    db.execute(text("UPDATE subscriber SET language = 'en' WHERE id = :id"), {"id": english})
    db.commit()
    status, c = operator.post("/api/v1/campaigns", _alert([a], variants={"en": "Flood: stay home."}, question=QUESTION))
    assert status == 201, c
    status, sent = operator.post(f"/api/v1/campaigns/{c['id']}/send")
    assert status == 202, sent
    done = wait(lambda: (r := operator.get(f"/api/v1/campaigns/{c['id']}")[1])["status"] == "completed" and r, 60)
    texts = {m["destination_addr"].lstrip("+"): m["text"] for m in simulator.messages()}
    assert texts == {
        "48601000001": "Powodz: zostan w domu.\nOdpowiedz 1 – jestem bezpieczny, 2 – potrzebuję pomocy",
        "48601000002": "Flood: stay home.\nReply 1 - I am safe, 2 - I need help",
    }
    until = datetime.fromisoformat(done["replies_until"])
    assert until - datetime.fromisoformat(done["sent_at"]) == timedelta(minutes=720)


# ------------------------------------------------------------------------------ replies (the `asked` fixture: conftest)
def test_the_tally_per_answer_and_zone_with_shares_of_delivered(api, operator, asked):
    status, r = operator.get(f"/api/v1/campaigns/{asked['id']}/replies")
    assert status == 200, r
    assert r["tally"] == {"1": 1, "2": 1, "unrecognised": 1, "no_reply": 1}
    assert r["delivered"] == 4
    assert r["share"] == {"1": 0.25, "2": 0.25, "unrecognised": 0.25, "no_reply": 0.25}
    zones = {z["name"]: z for z in r["by_zone"]}
    assert zones["Wilda"]["tally"] == {"1": 1, "2": 1, "unrecognised": 0, "no_reply": 1}
    assert zones["Wilda"]["delivered"] == 3
    assert zones["Rataje"]["tally"] == {"1": 0, "2": 1, "unrecognised": 1, "no_reply": 0}  # 005 failed: not silent
    assert zones["Rataje"]["share"]["2"] == 0.5
    # One item per respondent and registered place: the needs-help resident is at both homes.
    assert r["total"] == 4 and len(r["replies"]) == 4
    helpers = [x for x in r["replies"] if x["answer"] == "2"]
    assert {(x["lat"], x["lon"]) for x in helpers} == {(IN_A_2["lat"], IN_A_2["lon"]), (IN_B["lat"], IN_B["lon"])}
    assert all(
        x["needs_help"] and x["phone"] == "+48601000002" and x["text"] == "POMOC 2 woda w piwnicy" for x in helpers
    )
    status, page = operator.get(f"/api/v1/campaigns/{asked['id']}/replies?limit=1&offset=1")
    assert len(page["replies"]) == 1 and page["total"] == 4


def test_roles_approvers_see_tallies_only_finance_nothing(api, asked, live_server, make_user):
    approver = ApiClient(live_server, make_user("approver")[1])
    status, r = approver.get(f"/api/v1/campaigns/{asked['id']}/replies")
    assert status == 200, r
    assert r["tally"]["2"] == 1 and "replies" not in r and "+48601000002" not in json.dumps(r)
    finance = ApiClient(live_server, make_user("finance")[1])
    for path in ("replies", "replies.csv", "replies.geojson"):
        assert finance.get(f"/api/v1/campaigns/{asked['id']}/{path}")[0] == 403
    for path in ("replies.csv", "replies.geojson"):
        assert approver.get(f"/api/v1/campaigns/{asked['id']}/{path}")[0] == 403
    status, r = api.get(f"/api/v1/campaigns/{asked['id']}/replies")  # admin
    assert status == 200 and len(r["replies"]) == 4


def _download(live_server, token, path):
    request = urllib.request.Request(live_server + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers.get_content_type(), response.read().decode("utf-8-sig")


def test_exports_are_audited_personal_data(api, asked, live_server, make_user, db):
    _email, token = make_user("operator")
    kind, body = _download(live_server, token, f"/api/v1/campaigns/{asked['id']}/replies.geojson")
    assert kind == "application/geo+json"
    document = json.loads(body)
    assert document["type"] == "FeatureCollection"
    kinds = sorted(f["properties"]["kind"] for f in document["features"])
    assert kinds == ["answered", "needs_help", "needs_help", "unrecognised"]
    _kind, with_silent = _download(live_server, token, f"/api/v1/campaigns/{asked['id']}/replies.geojson?silent=1")
    silent = [f for f in json.loads(with_silent)["features"] if f["properties"]["kind"] == "silent"]
    assert [f["properties"]["phone"] for f in silent] == ["+48601000004"]
    kind, body = _download(live_server, token, f"/api/v1/campaigns/{asked['id']}/replies.csv")
    assert kind == "text/csv"
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 4 and {r["label"] for r in rows if r["answer"] == "2"} == {"potrzebuję pomocy"}
    audited = (
        db.execute(
            text(
                "SELECT details FROM audit_log WHERE action = 'campaign.replies_export' AND object_id = :id ORDER BY id"
            ),
            {"id": str(asked["id"])},
        )
        .scalars()
        .all()
    )
    assert [(d["format"], d["personal_data"]) for d in audited] == [("geojson", True), ("geojson", True), ("csv", True)]


def test_a_campaign_without_a_question_has_no_replies_409(api, operator):
    a = create_zone(api, "Wilda", ZONE_A)
    status, c = operator.post("/api/v1/campaigns", _alert([a]))
    for path in ("replies", "replies.csv", "replies.geojson"):
        status, e = operator.get(f"/api/v1/campaigns/{c['id']}/{path}")
        assert status == 409, e
        assert e["error"]["code"] == "no_question" and "asked no question" in e["error"]["message"]
    assert operator.get("/api/v1/campaigns/999999/replies")[0] == 404
