"""The four-eyes rule (campaigns.require_approval on): an alert goes out only when another user with the
approver role approves it; rejection with a reason; the audited emergency override for extreme alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.campaigns.conftest import received, settled
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone

pytestmark = pytest.mark.usefixtures("approval_required")


def _draft(api, client, severity="severe", kind="alert", **extra) -> dict:
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    status, c = client.post(
        "/api/v1/campaigns",
        {"kind": kind, "severity": severity, "body": "Alarm powodziowy.", "zone_ids": [zone], **extra},
    )
    assert status == 201, c
    return c


def _audit(db, campaign_id: int) -> list[tuple[str, int | None]]:
    return [
        tuple(r)
        for r in db.execute(
            text(
                "SELECT action, actor_id FROM audit_log WHERE object_type = 'campaign' AND object_id = :id ORDER BY id"
            ),
            {"id": str(campaign_id)},
        )
    ]


def test_a_second_user_approves_and_the_alert_is_delivered(api, operator, approver, db, worker, simulator, wait):
    c = _draft(api, operator)
    status, body = operator.post(f"/api/v1/campaigns/{c['id']}/send")
    assert (status, body["error"]["code"]) == (409, "invalid_state")  # not approved yet
    assert "approved" in body["error"]["message"]
    status, body = operator.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert status == 403, body  # an operator is no approver
    status, body = approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert status == 409, body  # not submitted yet
    status, submitted = operator.post(f"/api/v1/campaigns/{c['id']}/submit")
    assert (status, submitted["status"]) == (200, "pending_approval")

    status, approved = approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert status == 202, approved
    assert approved["status"] == "sending"
    assert approved["approver_id"] != approved["author_id"]
    done = wait(settled(operator, c["id"]), 60, "the campaign to complete")
    assert done["counts"]["delivered"] == 1
    assert list(received(simulator)) == ["48601000001"]
    assert [a for a, _ in _audit(db, c["id"])] == [
        "campaign.create",
        "campaign.submit",
        "campaign.approve",
        "campaign.send",
    ]
    status, body = approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert status == 409, body  # approving twice
    status, body = operator.post(f"/api/v1/campaigns/{c['id']}/send")
    assert status == 409, body  # sending twice


def test_nobody_approves_their_own_alert(api, db, simulator):
    c = _draft(api, api)  # the admin may both write and approve — but not both for one campaign
    api.post(f"/api/v1/campaigns/{c['id']}/submit")
    status, body = api.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert (status, body["error"]["code"]) == (403, "approval_forbidden")
    assert api.get(f"/api/v1/campaigns/{c['id']}")[1]["status"] == "pending_approval"
    assert simulator.messages() == []


def test_rejection_needs_a_reason_and_sends_the_campaign_back_for_editing(api, operator, approver):
    c = _draft(api, operator)
    operator.post(f"/api/v1/campaigns/{c['id']}/submit")
    status, body = approver.post(f"/api/v1/campaigns/{c['id']}/reject", {"reason": ""})
    assert status == 422, body
    status, rejected = approver.post(f"/api/v1/campaigns/{c['id']}/reject", {"reason": "Zły obszar, popraw."})
    assert (status, rejected["status"], rejected["rejection_reason"]) == (200, "rejected", "Zły obszar, popraw.")
    status, body = operator.post(f"/api/v1/campaigns/{c['id']}/send")
    assert status == 409, body
    status, edited = operator.call("PATCH", f"/api/v1/campaigns/{c['id']}", {"body": "Alarm powodziowy, Wilda."})
    assert (status, edited["status"]) == (200, "draft")


def test_the_emergency_override_is_for_extreme_alerts_with_a_reason_and_is_audited(
    api, operator, db, worker, simulator, wait
):
    severe = _draft(api, operator)
    status, body = operator.post(f"/api/v1/campaigns/{severe['id']}/override", {"reason": "Nie ma kto zatwierdzić"})
    assert status == 422 and "extreme" in body["error"]["message"]
    status, extreme = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "extreme",
            "flash": True,
            "body": "Wyciek chloru! Zamknij okna.",
            "zone_ids": severe["zone_ids"],
        },
    )
    status, body = operator.post(f"/api/v1/campaigns/{extreme['id']}/override", {"reason": "  "})
    assert status == 422, body
    assert operator.get(f"/api/v1/campaigns/{extreme['id']}")[1]["status"] == "draft"
    status, sent = operator.post(
        f"/api/v1/campaigns/{extreme['id']}/override",
        {"reason": "Dyżurny zatwierdzający nieosiągalny, zagrożenie życia"},
    )
    assert (status, sent["status"]) == (202, "sending"), sent
    assert sent["override_reason"].startswith("Dyżurny")
    wait(settled(operator, extreme["id"]), 60, "the campaign to complete")
    assert list(received(simulator)) == ["48601000001"]
    actions = _audit(db, extreme["id"])
    assert ("campaign.override", sent["author_id"]) in actions
    note = db.execute(text("SELECT note FROM audit_log WHERE action = 'campaign.override'")).scalar()
    assert note.startswith("Dyżurny")


def test_info_campaigns_need_approval_by_default(api, operator, approver, db, clock, worker, wait):
    """[campaigns] require_approval_info defaults to true: an info campaign waits for the second person too."""
    clock(datetime(2030, 1, 15, 11, 0, tzinfo=UTC))  # midday: no quiet hours
    c = _draft(api, operator, kind="info", severity="minor", topic="water")
    db.execute(text("UPDATE subscriber SET topics = '{water}'"))
    db.commit()
    status, body = operator.post(f"/api/v1/campaigns/{c['id']}/send")
    assert (status, body["error"]["code"]) == (409, "invalid_state"), body
    assert "approved" in body["error"]["message"]
    assert operator.post(f"/api/v1/campaigns/{c['id']}/submit")[0] == 200
    status, sent = approver.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert (status, sent["status"]) == (202, "sending"), sent
    wait(settled(operator, c["id"]), 60, "the campaign to complete")


def test_info_campaigns_need_no_approval_when_require_approval_info_is_off(api, operator, app, db, clock, worker, wait):
    from syrena_core.config import replace

    settings = app.config["SYRENA"]
    app.config["SYRENA"] = replace(settings, campaigns=replace(settings.campaigns, require_approval_info=False))
    try:
        clock(datetime(2030, 1, 15, 11, 0, tzinfo=UTC))  # midday: no quiet hours
        c = _draft(api, operator, kind="info", severity="minor", topic="water")
        db.execute(text("UPDATE subscriber SET topics = '{water}'"))
        db.commit()
        status, sent = operator.post(f"/api/v1/campaigns/{c['id']}/send")
        assert status == 202, sent
        assert sent["status"] == "sending"
        wait(settled(operator, c["id"]), 60, "the campaign to complete")
        # Alerts still need the second person.
        alert = operator.post(
            "/api/v1/campaigns", {"kind": "alert", "severity": "severe", "body": "Alarm.", "zone_ids": c["zone_ids"]}
        )[1]
        status, body = operator.post(f"/api/v1/campaigns/{alert['id']}/send")
        assert (status, body["error"]["code"]) == (409, "invalid_state"), body
    finally:
        app.config["SYRENA"] = settings


def test_an_admin_who_rewrote_a_draft_cannot_approve_it_and_the_review_page_names_the_writers(
    api, operator, approver, live_server, make_user, simulator
):
    """Issue 19 #4: an admin PATCHes an operator's draft, submits and approves it himself — the four-eyes rule
    compared only author_id. Every writer of text, target or severity is now excluded from approving."""
    from tests.security.conftest import Web

    admin_email, admin_token = make_user("admin")
    admin = api.with_token(admin_token)
    c = _draft(api, operator)
    status, edited = admin.call("PATCH", f"/api/v1/campaigns/{c['id']}", {"body": "EWAKUACJA NATYCHMIAST."})
    assert status == 200, edited
    assert len(edited["editor_ids"]) == 2 and edited["author_id"] in edited["editor_ids"]
    assert [e["fields"] for e in edited["edits"]][-1] == ["body"]
    assert admin.post(f"/api/v1/campaigns/{c['id']}/submit")[0] == 200
    status, body = admin.post(f"/api/v1/campaigns/{c['id']}/approve")
    assert (status, body["error"]["code"]) == (403, "approval_forbidden"), body
    assert "body" in body["error"]["message"]
    assert admin.get(f"/api/v1/campaigns/{c['id']}")[1]["status"] == "pending_approval"
    assert simulator.messages() == []

    browser = Web(live_server)
    assert browser.login(admin_email).status_code == 302
    page = browser.get(f"/campaigns/{c['id']}/review").text
    assert 'id="own-campaign-note"' in page  # no approve button for him, and he is told why
    assert f"/campaigns/{c['id']}/approve" not in page
    writers = page.split('id="review-writers"')[1].split("</ul>")[0]
    assert admin_email in writers and "body" in writers

    status, approved = approver.post(f"/api/v1/campaigns/{c['id']}/approve")  # a third person: allowed
    assert status == 202, approved


def test_saving_a_draft_without_changing_what_is_approved_keeps_the_approver_free(api, operator):
    c = _draft(api, operator, department="Wydział Zarządzania Kryzysowego")
    status, edited = api.call(
        "PATCH", f"/api/v1/campaigns/{c['id']}", {"department": "Straż Miejska", "body": "Alarm powodziowy."}
    )
    assert status == 200, edited
    assert edited["editor_ids"] == [c["author_id"]]  # same body, only the cost centre changed
    operator.post(f"/api/v1/campaigns/{c['id']}/submit")
    assert api.post(f"/api/v1/campaigns/{c['id']}/approve")[0] == 202
