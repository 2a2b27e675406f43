"""Issue 19, risk "one-person override": an extreme alert may still skip the second person, but every approver
is told at once — an SMS to the phone an admin set for them and a banner on their pages until one of them
acknowledges it (audited). Never for info campaigns or all-clears."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.campaigns.conftest import settled
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone
from tests.helpers import ApiClient
from tests.security.conftest import Web, audit_rows  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("approval_required")

RESIDENT = "+48601000001"
APPROVER_PHONES = ["+48601900001", "+48601900002"]


def _set_phone(admin_web: Web, user_id: int, phone: str) -> None:
    r = admin_web.post(f"/admin/users/{user_id}/phone", {"phone": phone}, csrf_from="/admin/users/")
    assert r.status_code == 302, r.text[:300]


def _user_id(db, email: str) -> int:
    return db.execute(text("SELECT id FROM app_user WHERE email = :e"), {"e": email}).scalar_one()


def _banner_ids(web: Web) -> list[str]:
    page = web.get("/").text
    return [
        chunk.split('"')[0]
        for chunk in page.split('class="flash flash-error override-banner" role="alert" data-campaign-id="')[1:]
    ]


def test_an_override_texts_every_approver_and_shows_a_banner_until_one_acknowledges(
    api, live_server, make_user, db, worker, simulator, wait, audit_rows
):
    admin_email, _ = make_user("admin")
    admin_web = Web(live_server)
    assert admin_web.login(admin_email).status_code == 302
    approvers = []
    for phone in APPROVER_PHONES:
        email, token = make_user("approver")
        _set_phone(admin_web, _user_id(db, email), phone.replace("+48", "+48 "))  # typed with a space
        web = Web(live_server)
        assert web.login(email).status_code == 302
        approvers.append((email, ApiClient(live_server, token), web))
    assert (
        db.execute(text("SELECT phone FROM app_user WHERE phone IS NOT NULL ORDER BY phone")).scalars().all()
        == APPROVER_PHONES
    )
    operator_email, operator_token = make_user("operator")
    operator = ApiClient(live_server, operator_token)

    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, RESIDENT, IN_A)
    status, c = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "extreme",
            "flash": True,
            "body": "Wyciek chloru! Zamknij okna.",
            "zone_ids": [zone],
        },
    )
    assert status == 201, c
    assert all(_banner_ids(web) == [] for _e, _a, web in approvers)
    status, sent = operator.post(f"/api/v1/campaigns/{c['id']}/override", {"reason": "Zagrożenie życia, brak czasu"})
    assert (status, sent["status"]) == (202, "sending"), sent
    wait(settled(operator, c["id"]), 60, "the alert to complete")

    def texted():
        got = {m["destination_addr"].lstrip("+"): m["text"] for m in simulator.messages()}
        return got if all(p.lstrip("+") in got for p in APPROVER_PHONES) else None

    got = wait(texted, 60, "the approvers' SMS")
    for phone in APPROVER_PHONES:
        assert f"#{c['id']}" in got[phone.lstrip("+")] and operator_email in got[phone.lstrip("+")]
    assert RESIDENT.lstrip("+") in got  # the alert itself went out too

    # Every approver sees the banner on any page, with the reason, until one acknowledges.
    for _email, _api, web in approvers:
        assert _banner_ids(web) == [str(c["id"])]
        assert "Zagrożenie życia" in web.get("/campaigns/").text
    assert api.get("/api/v1/campaigns/overrides")[1]["items"][0]["id"] == c["id"]
    status, body = operator.post(f"/api/v1/campaigns/{c['id']}/acknowledge-override")
    assert status == 403, body  # an operator is no approver

    first_email, _first_api, first_web = approvers[0]
    r = first_web.post(f"/campaigns/{c['id']}/acknowledge-override", csrf_from="/")
    assert r.status_code == 302, r.text[:300]
    for _email, _api, web in approvers:
        assert _banner_ids(web) == []
    assert api.get("/api/v1/campaigns/overrides")[1]["items"] == []
    acked = [a for a in audit_rows("campaign.override_acknowledge") if a["object_id"] == str(c["id"])]
    assert [a["actor"] for a in acked] == [first_email]
    status, body = approvers[1][1].post(f"/api/v1/campaigns/{c['id']}/acknowledge-override")
    assert status == 409, body  # already acknowledged


def test_an_override_needs_a_reason_and_is_refused_for_info_campaigns_and_all_clears(
    api, operator, db, worker, simulator, wait
):
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, RESIDENT, IN_A)
    status, info = operator.post(
        "/api/v1/campaigns",
        {"kind": "info", "severity": "extreme", "topic": "water", "body": "Brak wody.", "zone_ids": [zone]},
    )
    assert status == 201, info
    status, body = operator.post(f"/api/v1/campaigns/{info['id']}/override", {"reason": "Pilne, brak czasu"})
    assert (status, body["error"]["code"]) == (422, "invalid_campaign"), body
    assert operator.get(f"/api/v1/campaigns/{info['id']}")[1]["status"] == "draft"

    status, alert = operator.post(
        "/api/v1/campaigns", {"kind": "alert", "severity": "extreme", "body": "Ewakuacja!", "zone_ids": [zone]}
    )
    status, body = operator.post(f"/api/v1/campaigns/{alert['id']}/override", {})
    assert status == 422 and "reason" in body["error"]["message"], body
    status, sent = operator.post(f"/api/v1/campaigns/{alert['id']}/override", {"reason": "Zagrożenie życia"})
    assert status == 202, sent
    wait(settled(operator, alert["id"]), 60, "the alert to complete")
    status, clear = operator.post(f"/api/v1/campaigns/{alert['id']}/all-clear", {"body": "Odwołanie alarmu."})
    assert (status, clear["status"]) == (201, "pending_approval"), clear
    status, body = operator.post(f"/api/v1/campaigns/{clear['id']}/override", {"reason": "Zagrożenie minęło"})
    assert (status, body["error"]["code"]) == (422, "invalid_campaign"), body
    assert "all-clear" in body["error"]["message"]
    assert operator.get(f"/api/v1/campaigns/{clear['id']}")[1]["status"] == "pending_approval"
