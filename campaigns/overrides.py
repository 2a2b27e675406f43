"""After an emergency override: every approver is told at once — an SMS to the phone an admin set for them
(through the transactional queue and the one gateway, like verification codes) and a banner on every staff
page until one of them acknowledges the override (audited).

The override itself (an extreme alert sent without a second person) is `campaigns.service.override`; an
evacuation must not wait, but nobody may use it unnoticed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.ledger import accepted_charge, record_transactional_charges
from campaigns.exceptions import ApprovalForbidden, CampaignStateError
from campaigns.models import Campaign
from smsc_gateway.interface import OutboundSms, active_gateway
from syrena_core.accounts import Role, User
from syrena_core.audit import record
from syrena_core.config import get_settings
from syrena_core.db import session_scope, utcnow
from syrena_core.queues import TRANSACTIONAL, queue

log = logging.getLogger("syrena.campaigns.overrides")

JOB_TIMEOUT = 60
RESULT_TTL = 600
REASON_IN_SMS = 120  # characters of the reason quoted in the SMS; the banner and the audit log hold all of it


def notice_text(campaign: Campaign, actor_email: str | None) -> str:
    reason = campaign.override_reason or ""
    if len(reason) > REASON_IN_SMS:
        reason = reason[: REASON_IN_SMS - 1] + "…"
    return (
        f"Syrena: emergency override of alert #{campaign.id} by {actor_email or 'unknown'}, sent without a "
        f"second approval. Reason: {reason}. Acknowledge it in Syrena."
    )


def approvers_to_notify(session: Session, except_user_id: int | None) -> list[User]:
    """Active users who may approve (approvers and admins) with a phone; not the one who overrode."""
    users = session.scalars(
        select(User)
        .where(User.active, User.phone.is_not(None), User.role.in_([Role.APPROVER.value, Role.ADMIN.value]))
        .order_by(User.id)
    ).all()
    return [u for u in users if u.id != except_user_id]


def notify_approvers(campaign_id: int) -> int:
    """RQ job (transactional queue): text every approver about the override; how many the SMSC accepted.
    Each SMS is charged as transactional and the notice is audited (who was texted, ids only)."""
    settings = get_settings()
    url = settings.database.url
    with session_scope(url) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or not campaign.override_reason:
            return 0
        actor = session.get(User, campaign.approver_id) if campaign.approver_id else None
        text = notice_text(campaign, actor.email if actor else None)
        # all have a phone (approvers_to_notify selects those); said again for the type
        targets = [(u.id, u.phone) for u in approvers_to_notify(session, campaign.approver_id) if u.phone is not None]
    if not targets:
        log.warning("override of campaign %s: no approver has a phone to text", campaign_id)
        return 0
    results = active_gateway().send(
        [OutboundSms(ref=user_id, destination=phone, text=text) for user_id, phone in targets]
    )
    by_ref = {r.ref: r for r in results}
    accepted = [accepted_charge(phone, by_ref[uid]) for uid, phone in targets if by_ref[uid].accepted]
    for uid, _phone in targets:
        if not by_ref[uid].accepted:
            log.warning(
                "override notice for campaign %s to user %s refused by the SMSC: %s",
                campaign_id,
                uid,
                by_ref[uid].error,
            )
    with session_scope(url) as session:
        if accepted:
            record_transactional_charges(session, accepted, at=utcnow())
        record(
            session,
            "campaign.override_notice",
            None,
            "campaign",
            campaign_id,
            {
                "texted_user_ids": [uid for uid, _ in targets if by_ref[uid].accepted],
                "refused_user_ids": [uid for uid, _ in targets if not by_ref[uid].accepted],
            },
        )
    return len(accepted)


def enqueue_notice(campaign_id: int, redis_url: str) -> None:
    """After the commit of an override: the SMS to the approvers go out ahead of info campaigns."""
    queue(TRANSACTIONAL, redis_url).enqueue(
        notify_approvers,
        campaign_id,
        job_timeout=JOB_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=RESULT_TTL,
        description=f"override notice for campaign {campaign_id}",
    )


def unacknowledged(session: Session, limit: int = 20) -> Sequence[Campaign]:
    """Overridden campaigns no approver has acknowledged yet, newest first (the banner)."""
    return session.scalars(
        select(Campaign)
        .where(Campaign.override_reason.is_not(None), Campaign.override_acknowledged_at.is_(None))
        .order_by(Campaign.approved_at.desc().nulls_last(), Campaign.id.desc())
        .limit(limit)
    ).all()


def acknowledge(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    """An approver saw the override: the banner goes away for everyone. Audited."""
    if actor is None or not actor.has_role(Role.APPROVER):
        raise ApprovalForbidden("only an approver may acknowledge an emergency override")
    if not campaign.override_reason:
        raise CampaignStateError("this campaign was not sent by an emergency override: nothing to acknowledge")
    if campaign.override_acknowledged_at is not None:
        raise CampaignStateError("this emergency override was acknowledged already")
    campaign.override_acknowledged_at = utcnow()
    campaign.override_acknowledged_by = actor.id
    record(
        session,
        "campaign.override_acknowledge",
        actor,
        "campaign",
        campaign.id,
        {"overridden_by": campaign.approver_id},
    )
    return campaign
