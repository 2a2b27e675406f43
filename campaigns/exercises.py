"""Exercises and tests (issue 16): campaigns whose CAP <status> is Exercise or Test.

The rules, all here:
- An exercise or test goes to a test group (campaigns.groups, kind `test`): the group's phones are its recipients,
  not the subscribers in its target. Or — only with the second, explicit confirmation (`confirm_real_target`) — to
  the real target. With neither it is refused (ExerciseTargetUnconfirmed, HTTP 422).
- Every text of an exercise or test (the Polish body and each language's variant) starts with the mandatory
  prefix of its language (PREFIXES), part of the stored text: the preview counts its parts and cost, the approver
  sees it, and what is approved is what is sent. Ć and the dash are not in GSM 03.38: the Polish and Ukrainian
  prefixes make their texts UCS-2 (70/67 characters per part); the English one keeps to GSM 7-bit ASCII.
- It never reaches the public: campaigns.service.current_alerts and published take only `actual` campaigns, so
  /alerts, the Atom feed, the public CAP and the public cache never show it.
- Its SMS are charged to their own ledger kind, `exercise` (billing.ledger), and the finance report shows them
  apart from the real totals (billing.reports).
- "Send test": a draft's exact texts, each language's variant as its residents would get it, to a test group,
  as a separate campaign of CAP status Test linked to the draft (`test_of_id`); the draft itself stays as it was.

`status` is the campaign's workflow state everywhere (API answers, lists); the CAP status is `cap_status`.
The API's POST/PATCH also take it as `"status": "actual" | "exercise" | "test"` (normalise_input).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from campaigns import composition, groups
from campaigns.exceptions import CampaignStateError, ExerciseTargetUnconfirmed, GroupNotFound, InvalidCampaign
from campaigns.models import Campaign, CampaignStatus, CapStatus, ContactGroup, ContactGroupMember, GroupKind
from syrena_core.accounts import User
from syrena_core.audit import record

CAP_STATUSES = tuple(s.value for s in CapStatus)

# The mandatory first line of an exercise's (or test's) every text, by language; languages without their own
# prefix get the English one. The Polish one is the crisis-management plan's wording.
PREFIXES: dict[str, dict[str, str]] = {
    CapStatus.EXERCISE.value: {
        "pl": "ĆWICZENIA – TO NIE JEST PRAWDZIWY ALARM",
        "en": "EXERCISE - THIS IS NOT A REAL ALERT",
        "uk": "НАВЧАННЯ – ЦЕ НЕ СПРАВЖНЯ ТРИВОГА",
        "de": "ÜBUNG - DIES IST KEIN ECHTER ALARM",
    },
    CapStatus.TEST.value: {
        "pl": "TEST – TO NIE JEST PRAWDZIWY ALARM",
        "en": "TEST - THIS IS NOT A REAL ALERT",
        "uk": "ТЕСТ – ЦЕ НЕ СПРАВЖНЯ ТРИВОГА",
        "de": "TEST - DIES IST KEIN ECHTER ALARM",
    },
}
SEPARATOR = "\n"


def normalise_input(data: dict[str, Any]) -> dict[str, Any]:
    """A client's campaign fields with `"status": "actual"|"exercise"|"test"` read as `cap_status` (the issue's
    contract names it `status`; a campaign's own `status`, its workflow state, is never set by a client)."""
    if "status" not in data:
        return data
    out = dict(data)
    value = out.pop("status")
    if "cap_status" in out and out["cap_status"] != value:
        raise InvalidCampaign('status and cap_status disagree: send one of them ("actual", "exercise" or "test")')
    if value not in CAP_STATUSES:
        raise InvalidCampaign(
            f"status (the CAP status) must be one of {', '.join(CAP_STATUSES)}; "
            "a campaign's workflow state is changed by its actions (submit, approve, send)"
        )
    out["cap_status"] = value
    return out


def is_exercise(campaign: Campaign) -> bool:
    return (campaign.cap_status or CapStatus.ACTUAL.value) != CapStatus.ACTUAL.value


def prefix(cap_status: str, language: str) -> str | None:
    by_language = PREFIXES.get(cap_status)
    if by_language is None:
        return None
    return by_language.get(language) or by_language["en"]


def _known_prefixes() -> list[str]:
    every = [p for by_language in PREFIXES.values() for p in by_language.values()]
    return sorted({*every, *(composition.transliterate(p) for p in every)}, key=len, reverse=True)


def _without_prefix(body: str) -> str:
    for known in _known_prefixes():
        if body.startswith(known):
            return body[len(known) :].lstrip("\n :")
    return body


def with_prefix(body: Any, cap_status: str, language: str) -> Any:
    """The text as sent: an exercise's or test's with its language's prefix first (once; a transliterated prefix
    counts as there), an actual campaign's without any (switching an exercise back to actual drops it). What is
    no text (None, blank, not a string) is left as it came, for campaigns.service.check_body to judge."""
    if not isinstance(body, str) or not body.strip():
        return body
    wanted = prefix(cap_status, language)
    if wanted is None:
        return _without_prefix(body)
    if body.startswith(wanted) or body.startswith(composition.transliterate(wanted)):
        return body
    return f"{wanted}{SEPARATOR}{_without_prefix(body)}"


def check_target(session: Session, cap_status: str, test_group_id: Any, confirm_real_target: bool) -> None:
    """The rule of who an exercise or test may reach (see the module's docstring)."""
    if cap_status == CapStatus.ACTUAL.value:
        if test_group_id is not None:
            raise InvalidCampaign(
                'test_group_id is only for an exercise or test: set "status" to "exercise" or "test", '
                "or leave the test group out"
            )
        if confirm_real_target:
            raise InvalidCampaign("confirm_real_target is only for an exercise or test")
        return
    if test_group_id is not None:
        if confirm_real_target:
            raise InvalidCampaign("choose either a test group or the real target (confirm_real_target), not both")
        try:
            group = groups.get_group(session, test_group_id, GroupKind.TEST.value)
        except GroupNotFound as e:
            raise InvalidCampaign(f"test_group_id: {e}") from None
        if not group.members:
            raise InvalidCampaign(f"test group {group.name!r} has no members")
        return
    if not confirm_real_target:
        raise ExerciseTargetUnconfirmed(
            f"an {cap_status} needs a test group (test_group_id) — or, to reach the real target's residents with "
            'the prefix "' + (prefix(cap_status, "pl") or "") + '", the second confirmation '
            "confirm_real_target: true"
        )


def check_sendable(session: Session, campaign: Campaign) -> None:
    """At the send: the rule again (its test group may have been deleted or emptied since it was composed)."""
    check_target(session, campaign.cap_status, campaign.test_group_id, campaign.confirm_real_target)


# The test group's phones are the recipients (no subscriber: subscriber_id NULL, which the unique (campaign,
# subscriber) pair does not deduplicate — DISTINCT does, under the campaign's row lock taken by start_sending).
# Members get the Polish text (language NULL); "send test" writes one message per member and language instead.
_SNAPSHOT_GROUP = text("""
INSERT INTO message (campaign_id, subscriber_id, phone, status, attempts, queued_at, language)
SELECT :cid, NULL, g.phone, 'queued', 0, now(), CAST(:language AS text)
FROM (SELECT DISTINCT ON (m.phone) m.phone, m."order", m.id FROM contact_group_member m
      WHERE m.group_id = :group_id ORDER BY m.phone, m."order", m.id) g
WHERE NOT EXISTS (SELECT 1 FROM message x WHERE x.campaign_id = :cid AND x.phone = g.phone
                  AND x.language IS NOT DISTINCT FROM CAST(:language AS text))
ORDER BY g."order", g.id
""")


def snapshot_group(session: Session, campaign: Campaign, languages: list[str | None] | None = None) -> None:
    """Write the test group's members as the campaign's messages: one each, or one per language in `languages`
    (None: the Polish body)."""
    for language in languages or [None]:
        session.execute(_SNAPSHOT_GROUP, {"cid": campaign.id, "group_id": campaign.test_group_id, "language": language})


def group_size(session: Session, group_id: int) -> int:
    return (
        session.scalar(
            select(func.count(func.distinct(ContactGroupMember.phone))).where(ContactGroupMember.group_id == group_id)
        )
        or 0
    )


def send_test(session: Session, draft: Campaign, actor: User | None, test_group_id: Any) -> Campaign:
    """Send the draft's exact texts — the Polish body and each language's variant, as residents would get them —
    to a test group: a new campaign of CAP status Test (`test_of_id` the draft), sent at once (no approval: it
    reaches only staff). The draft is not changed. The caller commits and enqueues (campaigns.workflow)."""
    if draft.status not in (
        CampaignStatus.DRAFT.value,
        CampaignStatus.REJECTED.value,
        CampaignStatus.PENDING_APPROVAL.value,
        CampaignStatus.APPROVED.value,
        CampaignStatus.SCHEDULED.value,
    ):
        raise CampaignStateError(f"a {draft.status} campaign has been sent already: send a test of a draft")
    if test_group_id is None:
        raise InvalidCampaign("test_group_id: choose the test group to send the test to")
    try:
        group: ContactGroup = groups.get_group(session, test_group_id, GroupKind.TEST.value)
    except GroupNotFound as e:
        raise InvalidCampaign(f"test_group_id: {e}") from None
    if not group.members:
        raise InvalidCampaign(f"test group {group.name!r} has no members")
    test = Campaign(
        author_id=actor.id if actor else None,
        kind=draft.kind,
        severity=draft.severity,
        title=draft.title,
        body=draft.body,
        variants=dict(draft.variants or {}),
        template=draft.template,
        topic=draft.topic,
        urgency=draft.urgency,
        certainty=draft.certainty,
        category=draft.category,
        event=draft.event,
        sender_id=draft.sender_id,
        validity_minutes=draft.validity_minutes,
        expires_at=draft.expires_at,
        flash=draft.flash,
        department=draft.department,
        encoding=draft.encoding,
        parts_per_message=draft.parts_per_message,
        area=draft.area,
        area_spec=draft.area_spec,
        hazard=draft.hazard,
        hazard_focus=draft.hazard_focus,
        zones=list(draft.zones),
        msg_type="Alert",
        cap_status=CapStatus.TEST.value,
        test_group_id=group.id,
        test_of_id=draft.id,
        status=CampaignStatus.APPROVED.value,
        edits=[],
    )
    session.add(test)
    session.flush()
    record(
        session,
        "campaign.send_test",
        actor,
        "campaign",
        draft.id,
        {"test_campaign": test.id, "test_group_id": group.id, "languages": ["pl", *sorted(draft.variants or {})]},
    )
    return test


def test_languages(campaign: Campaign) -> list[str | None] | None:
    """The languages a "send test" campaign sends each member: the Polish body (None) and every variant."""
    if campaign.test_of_id is None:
        return None
    return [None, *sorted(campaign.variants or {})]
