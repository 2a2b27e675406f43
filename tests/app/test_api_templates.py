"""/api/v1/templates (issue 16): the library over the API, roles, 422s naming the problem, campaigns made from
a template with `template_id` and `values`, and pre-approval skipping the second approver."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.factories import ZONE_A, create_zone
from tests.helpers import ApiClient

MINE = {
    "name": "Awaria wodociagu",
    "hazard": "water_main",
    "texts": {"pl": "Awaria wodociagu: {zones}.", "en": "Water main burst: {zones}.", "uk": "Аварія: {zones}."},
    "cap": {"event": "Awaria wodociągu", "category": "Infra", "severity": "moderate"},
}


@pytest.fixture
def finance(live_server, make_user):
    return ApiClient(live_server, make_user("finance")[1])


@pytest.fixture
def operator(live_server, make_user):
    return ApiClient(live_server, make_user("operator")[1])


@pytest.fixture
def approver(live_server, make_user):
    return ApiClient(live_server, make_user("approver")[1])


def _by_hazard(client, hazard: str) -> dict:
    status, listed = client.get("/api/v1/templates")
    assert status == 200, listed
    return next(t for t in listed if t["hazard"] == hazard)


def test_staff_read_the_shipped_library(finance):
    status, listed = finance.get("/api/v1/templates")
    assert status == 200, listed
    assert {t["hazard"] for t in listed} >= {
        "flood", "storm", "heat", "frost", "gas", "water", "chemical", "outage", "evacuation", "missing", "all_clear"
    }  # fmt: skip
    flood = next(t for t in listed if t["hazard"] == "flood")
    assert set(flood) >= {"id", "name", "hazard", "texts", "cap", "version", "preapproved", "question", "area_kind"}
    assert set(flood["texts"]) == {"pl", "en", "uk"} and flood["version"] == 1 and flood["preapproved"] is False
    assert flood["question"]["answers"][1]["needs_help"] is True
    status, body = finance.post("/api/v1/templates", MINE)
    assert status == 403, body  # finance reads, operators write


def test_operators_create_edit_and_archive_templates_and_each_change_is_audited(operator, api, db):
    status, created = operator.post("/api/v1/templates", MINE)
    assert (status, created["version"], created["hazard"]) == (201, 1, "water_main"), created
    tid = created["id"]
    status, edited = operator.call("PUT", f"/api/v1/templates/{tid}", {"name": "Awaria sieci wodociagowej"})
    assert (status, edited["id"], edited["version"], edited["name"]) == (200, tid, 2, "Awaria sieci wodociagowej")
    assert edited["texts"] == MINE["texts"]  # the rest stays
    status, first = operator.get(f"/api/v1/templates/{tid}?version=1")
    assert (status, first["name"], first["version"]) == (200, "Awaria wodociagu", 1)

    assert operator.call("DELETE", f"/api/v1/templates/{tid}")[0] == 204
    assert tid not in [t["id"] for t in operator.get("/api/v1/templates")[1]]
    status, archived = operator.get("/api/v1/templates?include_archived=1")
    assert next(t for t in archived if t["id"] == tid)["archived"] is True
    actions = db.scalars(
        text("SELECT action FROM audit_log WHERE object_type = 'template' AND object_id = :id ORDER BY id"),
        {"id": str(tid)},
    ).all()
    assert actions == ["template.create", "template.update", "template.archive"]
    status, body = operator.get("/api/v1/templates/99999")
    assert (status, body["error"]["code"]) == (404, "template_not_found")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"texts": {"pl": "Alarm {ulica}", "en": "Alarm", "uk": "Alarm"}}, "{ulica}"),
        ({"texts": {"pl": "Alarm", "en": "Alarm"}}, "texts.uk"),
        ({"name": None}, "name"),
        ({"cap": {"urgency": "yesterday"}}, "cap.urgency"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_template_is_a_422_naming_the_problem(operator, change, named):
    status, body = operator.post("/api/v1/templates", {**MINE, **change})
    assert (status, body["error"]["code"]) == (422, "invalid_template"), body
    assert named in body["error"]["message"]


def test_only_admins_and_approvers_pre_approve(operator, approver):
    gas = _by_hazard(operator, "gas")
    status, body = operator.post(f"/api/v1/templates/{gas['id']}/preapprove")
    assert status == 403, body
    status, body = approver.post(f"/api/v1/templates/{gas['id']}/preapprove")
    assert (status, body["preapproved"], body["version"]) == (200, True, 1), body


def test_a_campaign_from_a_template_with_values(api, operator):
    zone = create_zone(api, "Wilda", ZONE_A)
    flood = _by_hazard(operator, "flood")
    request = {"template_id": flood["id"], "values": {"until": "18:00"}, "zone_ids": [zone], "severity": "extreme"}
    status, c = operator.post("/api/v1/campaigns", request)
    assert status == 201, c
    assert c["body"].startswith("UWAGA! Zagrozenie powodziowe: Wilda. Woda moze rosnac do 18:00.")
    assert c["variants"]["uk"].startswith("УВАГА! Загроза повені: Wilda.")
    assert (c["severity"], c["event"], c["category"]) == ("extreme", "Powódź", "Met")  # the request's severity wins
    assert (c["template_id"], c["template_version"], c["template_unchanged"]) == (flood["id"], 1, True)
    assert c["question"] == flood["question"]  # the template's question with numbered answers (issue 15)

    status, body = operator.post("/api/v1/campaigns", {**request, "values": {}})
    assert (status, body["error"]["code"]) == (422, "invalid_template"), body
    assert "{until}" in body["error"]["message"]
    status, body = operator.post("/api/v1/campaigns", {**request, "values": {"until": "1", "ulica": "Dluga"}})
    assert status == 422 and "{ulica}" in body["error"]["message"], body
    status, body = operator.post("/api/v1/campaigns/preview", request)
    assert status == 200 and body["texts"]["uk"]["parts"] == 3, body  # 2 for the text, 1 for the answer lines


def test_a_pre_approved_template_sends_without_a_second_approver_until_its_text_is_edited(
    app,
    api,
    operator,
    approver,
):
    from syrena_core.config import replace

    settings = app.config["SYRENA"]
    app.config["SYRENA"] = replace(
        settings,
        campaigns=replace(settings.campaigns, require_approval=True, preapproved_templates_skip_approval=True),
    )
    try:
        zone = create_zone(api, "Wilda", ZONE_A)
        gas = _by_hazard(operator, "gas")
        assert approver.post(f"/api/v1/templates/{gas['id']}/preapprove")[0] == 200
        status, c = operator.post("/api/v1/campaigns", {"template_id": gas["id"], "zone_ids": [zone]})
        assert status == 201 and c["template_preapproved"], c
        status, edited = operator.post("/api/v1/campaigns", {"template_id": gas["id"], "zone_ids": [zone]})
        status, edited = operator.call(
            "PATCH", f"/api/v1/campaigns/{edited['id']}", {"body": edited["body"] + " Nie palic."}
        )
        assert status == 200 and not edited["template_preapproved"], edited
        status, body = operator.post(f"/api/v1/campaigns/{edited['id']}/send")
        assert status == 409, body  # edited: it needs the second person again
        status, sent = operator.post(f"/api/v1/campaigns/{c['id']}/send")
        assert (status, sent["status"]) == (202, "completed"), sent  # nobody lives there: sent to nobody
    finally:
        app.config["SYRENA"] = settings
