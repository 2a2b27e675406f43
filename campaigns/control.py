"""Controlling a campaign once it is under way: pause, resume, cancel, resend to the failed.

Which of them a campaign allows is decided here once (ALLOWED, `actions`): the functions below refuse
what it refuses, and the campaign page, the API and the status pages show what it offers. Each function
changes the database in the caller's transaction and records the action in the audit log;
campaigns.workflow commits and then enqueues what is to be queued (campaigns.dispatch: jobs must see
committed rows). Running jobs notice pause and cancel between slices (campaigns.jobs.CONTROL_EVERY) and
withdraw what the session has not yet written to the SMSC.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, text
from sqlalchemy.orm import Session

from campaigns.exceptions import CampaignStateError
from campaigns.models import Campaign, CampaignStatus
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.db import utcnow

CANCELLABLE = (
    CampaignStatus.DRAFT.value,
    CampaignStatus.PENDING_APPROVAL.value,
    CampaignStatus.APPROVED.value,
    CampaignStatus.SCHEDULED.value,
    CampaignStatus.SENDING.value,
    CampaignStatus.PAUSED.value,
)
# The statuses each control action is allowed in; resending also needs a failed message.
ALLOWED = {
    "pause": (CampaignStatus.SENDING.value,),
    "resume": (CampaignStatus.PAUSED.value,),
    "cancel": CANCELLABLE,
    "resend-failed": (CampaignStatus.COMPLETED.value, CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value),
}

_CANCEL_UNSENT = text("""
UPDATE message SET status = 'cancelled', finished_at = now(), retry_at = NULL, claimed_by = NULL
WHERE campaign_id = :cid AND status = 'queued'
""")
_RESEND_FAILED = text("""
WITH failed AS (
    UPDATE message SET status = 'queued', attempts = 0, send_round = send_round + 1, error = NULL, retry_at = NULL,
                       claimed_by = NULL,
                       finished_at = NULL, submitted_at = NULL, possible_duplicate = false, queued_at = now()
    WHERE campaign_id = :cid AND status = 'failed'
    RETURNING id
)
UPDATE message_part p SET status = 'superseded' FROM failed WHERE p.message_id = failed.id
""")
_COUNT_FAILED = text("SELECT count(*) FROM message WHERE campaign_id = :cid AND status = 'failed'")


def _locked(session: Session, campaign: Campaign) -> Campaign:
    """The campaign row locked for this transaction (a job's completion or another click may race us)."""
    session.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    session.refresh(campaign)
    return campaign


def actions(campaign: Campaign, failed: int) -> list[str]:
    """The control actions the campaign allows now, in the order the buttons show them; `failed`: how many of
    its messages failed (its progress counts)."""
    return [
        action
        for action, allowed in ALLOWED.items()
        if campaign.status in allowed and (action != "resend-failed" or failed)
    ]


def _require(campaign: Campaign, action: str, done: str) -> None:
    if campaign.status not in ALLOWED[action]:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be {done}")


def pause(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    """Sending stops taking new messages; what is queued stays queued."""
    _require(_locked(session, campaign), "pause", "paused")
    campaign.status = CampaignStatus.PAUSED.value
    record(session, "campaign.pause", actor, "campaign", campaign.id)
    return campaign


def resume(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    """Back to sending: the queued messages are enqueued again after the commit (campaigns.workflow)."""
    _require(_locked(session, campaign), "resume", "resumed")
    campaign.status = CampaignStatus.SENDING.value
    record(session, "campaign.resume", actor, "campaign", campaign.id)
    return campaign


def cancel(session: Session, campaign: Campaign, actor: User | None, reason: str | None = None) -> int:
    """Stop for good: every message not yet sent is cancelled; returns how many. Messages already at the
    SMSC keep their course (and their receipts)."""
    _require(_locked(session, campaign), "cancel", "cancelled")
    previous = campaign.status
    # an UPDATE's result is a CursorResult (with its rowcount): Session.execute is typed for any statement
    cancelled = cast(CursorResult[Any], session.execute(_CANCEL_UNSENT, {"cid": campaign.id})).rowcount
    campaign.status = CampaignStatus.CANCELLED.value
    campaign.completed_at = utcnow()
    record(
        session,
        "campaign.cancel",
        actor,
        "campaign",
        campaign.id,
        {"from": previous, "unsent_cancelled": cancelled},
        note=reason or None,
    )
    return cancelled


def resend_failed(session: Session, campaign: Campaign, actor: User | None) -> int:
    """A new attempt for every failed message (and only those); returns how many. The campaign is sending
    again; its queued messages are enqueued after the commit (campaigns.workflow)."""
    _require(_locked(session, campaign), "resend-failed", "resent")
    failed = session.execute(_COUNT_FAILED, {"cid": campaign.id}).scalar()
    if not failed:
        raise CampaignStateError("no message of this campaign has failed")
    session.execute(_RESEND_FAILED, {"cid": campaign.id})
    if campaign.status == CampaignStatus.COMPLETED.value:
        campaign.status = CampaignStatus.SENDING.value
        campaign.completed_at = None
    record(session, "campaign.resend_failed", actor, "campaign", campaign.id, {"messages": failed})
    return failed
