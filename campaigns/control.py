"""Controlling a campaign once it is under way: pause, resume, cancel, resend to the failed.

Each function checks the status contract (campaigns.models.CampaignStatus), changes the database in the
caller's transaction and records the action in the audit log. The caller commits and then calls
`enqueue_pending` where the function says work is to be queued (jobs must see committed rows). Running
jobs notice pause and cancel between slices (campaigns.jobs.CONTROL_EVERY) and withdraw what the session
has not yet written to the SMSC.
"""
from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from campaigns.exceptions import CampaignStateError
from campaigns.jobs import enqueue_chunks
from campaigns.models import Campaign, CampaignStatus
from campaigns.service import pending_chunks
from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.db import utcnow

CANCELLABLE = (CampaignStatus.DRAFT.value, CampaignStatus.PENDING_APPROVAL.value, CampaignStatus.APPROVED.value,
               CampaignStatus.SCHEDULED.value, CampaignStatus.SENDING.value, CampaignStatus.PAUSED.value)

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


def _require(campaign: Campaign, allowed: tuple[str, ...], action: str) -> None:
    if campaign.status not in allowed:
        raise CampaignStateError(f"a {campaign.status} campaign cannot be {action}")


def pause(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    """Sending stops taking new messages; what is queued stays queued."""
    _require(_locked(session, campaign), (CampaignStatus.SENDING.value,), "paused")
    campaign.status = CampaignStatus.PAUSED.value
    record(session, "campaign.pause", actor, "campaign", campaign.id)
    return campaign


def resume(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    """Back to sending: the caller enqueues the queued messages again after the commit."""
    _require(_locked(session, campaign), (CampaignStatus.PAUSED.value,), "resumed")
    campaign.status = CampaignStatus.SENDING.value
    record(session, "campaign.resume", actor, "campaign", campaign.id)
    return campaign


def cancel(session: Session, campaign: Campaign, actor: User | None, reason: str | None = None) -> int:
    """Stop for good: every message not yet sent is cancelled; returns how many. Messages already at the
    SMSC keep their course (and their receipts)."""
    _require(_locked(session, campaign), CANCELLABLE, "cancelled")
    previous = campaign.status
    cancelled = session.execute(_CANCEL_UNSENT, {"cid": campaign.id}).rowcount
    campaign.status = CampaignStatus.CANCELLED.value
    campaign.completed_at = utcnow()
    record(session, "campaign.cancel", actor, "campaign", campaign.id,
           {"from": previous, "unsent_cancelled": cancelled}, note=reason or None)
    return cancelled


def resend_failed(session: Session, campaign: Campaign, actor: User | None) -> int:
    """A new attempt for every failed message (and only those); returns how many. The campaign is sending
    again; the caller enqueues its queued messages after the commit."""
    _require(_locked(session, campaign), (CampaignStatus.COMPLETED.value, CampaignStatus.SENDING.value,
                                          CampaignStatus.PAUSED.value), "resent")
    failed = session.execute(_COUNT_FAILED, {"cid": campaign.id}).scalar()
    if not failed:
        raise CampaignStateError("no message of this campaign has failed")
    session.execute(_RESEND_FAILED, {"cid": campaign.id})
    if campaign.status == CampaignStatus.COMPLETED.value:
        campaign.status = CampaignStatus.SENDING.value
        campaign.completed_at = None
    record(session, "campaign.resend_failed", actor, "campaign", campaign.id, {"messages": failed})
    return failed


def enqueue_pending(session: Session, campaign: Campaign, chunk_size: int, after_id: int = 0) -> int:
    """Queue jobs for the campaign's queued messages (with ids above `after_id`) after the commit, if it is
    sending; returns how many chunks."""
    if campaign.status != CampaignStatus.SENDING.value:
        return 0
    chunks = pending_chunks(session, campaign.id, chunk_size, after_id=after_id)
    enqueue_chunks(chunks, campaign.kind)
    return len(chunks)
