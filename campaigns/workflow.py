"""What a person (or the scheduler) does to a campaign, each step one transaction and then the queue.

A view parses the request, calls one function here and responds; the page (app/campaigns_ui.py, app/admin.py)
and the API (app/api/campaigns.py, app/api/campaign_control.py) call the same ones, so approve → send,
override → send and a follow-up go the same way whichever button or endpoint started them. The rules
themselves live where they were: campaigns.service (composing, the four-eyes rule, the snapshot, sending or
scheduling) and campaigns.control (pause, resume, cancel, resend), working in the caller's transaction. Here
each step commits and only then enqueues (campaigns.dispatch): a worker must find the rows it is given.

The send path: view → campaigns.workflow → campaigns.dispatch → RQ → campaigns.jobs.deliver_chunk →
smsc_gateway → SMSC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import control, dispatch, exercises, overrides, publication, service
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Severity
from syrena_core.accounts import Role, User
from syrena_core.config import CampaignSettings, Settings, get_settings
from syrena_core.db import utcnow


def _published(campaign: Campaign) -> None:
    """After the commit: an alert started or stopped, so the public pages (campaigns.publication) change."""
    if campaign.kind == CampaignKind.ALERT.value:
        publication.changed()


# ------------------------------------------------------------------------------------------- composing to sending
def submit(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    """For a second person's approval (its target frozen as the approver will see it)."""
    service.submit(session, campaign, actor)
    session.commit()
    return campaign


def reject(session: Session, campaign: Campaign, actor: User | None, reason: Any) -> Campaign:
    service.reject(session, campaign, actor, reason)
    session.commit()
    return campaign


def send(
    session: Session, campaign: Campaign, actor: User | None, settings: Settings, now: datetime | None = None
) -> bool:
    """Send now or schedule (its time, or the end of quiet hours for info); commits, then enqueues the first
    recipients at once and the rest of a large target after them. True when sending started."""
    chunk_size = settings.campaigns.chunk_size
    started = service.send(session, campaign, actor, settings.campaigns, now, first=chunk_size)
    session.commit()
    if started:
        _published(campaign)
        dispatch.enqueue_started(session, campaign, chunk_size)
    return started


def approve(
    session: Session, campaign: Campaign, actor: User | None, settings: Settings, now: datetime | None = None
) -> bool:
    """Approval sends at once (or at its scheduled time): an alert must not wait for a third click."""
    service.approve(session, campaign, actor)
    return send(session, campaign, actor, settings, now)


def override(
    session: Session,
    campaign: Campaign,
    actor: User | None,
    reason: Any,
    settings: Settings,
    now: datetime | None = None,
) -> bool:
    """The emergency override, then the send; after the commit every approver is texted about it."""
    service.override(session, campaign, actor, reason)
    started = send(session, campaign, actor, settings, now)
    overrides.enqueue_notice(campaign.id, settings.redis.url)
    return started


def send_test(
    session: Session, draft: Campaign, actor: User | None, test_group_id: Any, settings: Settings
) -> Campaign:
    """A draft's exact texts to a test group (campaigns.exercises.send_test), sent at once; the draft stays as it
    was. Returns the test campaign."""
    test = exercises.send_test(session, draft, actor, test_group_id)
    service.start_sending(session, test, actor, require_approval=False)
    session.commit()
    dispatch.enqueue_started(session, test, settings.campaigns.chunk_size)
    return test


@dataclass(frozen=True)
class FollowUp:
    campaign: Campaign
    started: bool  # sending started
    awaiting_approval: bool  # submitted: a second person must approve it first


def follow_up(
    session: Session,
    original: Campaign,
    actor: User | None,
    msg_type: str,
    data: dict[str, Any],
    settings: Settings,
    now: datetime | None = None,
) -> FollowUp:
    """An update (msg_type "Update") or the all-clear ("Cancel") to exactly the original's recipients: submitted
    for approval when the four-eyes rule asks for it, else sent (or scheduled) at once."""
    campaign = service.follow_up(session, original, actor, msg_type, data, settings.campaigns, now)
    if service.needs_approval(campaign, settings.campaigns):
        return FollowUp(submit(session, campaign, actor), started=False, awaiting_approval=True)
    return FollowUp(campaign, started=send(session, campaign, actor, settings, now), awaiting_approval=False)


def follow_up_slice(
    session: Session,
    original: Campaign,
    actor: User | None,
    to: Any,
    data: dict[str, Any],
    settings: Settings,
    now: datetime | None = None,
) -> Campaign:
    """A follow-up to a slice of the original's recipients (issue 15: `to` is "answer:<key>", "no_reply" or
    "failed"): a draft, committed, that the operator previews (the slice counted as it stands) and then submits,
    sends or has approved like any campaign — the slice is taken when it is sent."""
    campaign = service.follow_up(
        session, original, actor, "Update", data, settings.campaigns, now, to="" if to is None else to
    )
    session.commit()
    return campaign


def review_actions(campaign: Campaign, user: User, settings: CampaignSettings) -> dict[str, bool]:
    """Which of the steps above `user` may take on the campaign now (the review page shows those buttons);
    the functions themselves check again."""
    pending = campaign.status == CampaignStatus.PENDING_APPROVAL.value
    editable = campaign.status in service.EDITABLE
    needs = service.needs_approval(campaign, settings)
    return {
        "edit": user.has_role(Role.OPERATOR) and editable,
        "submit": user.has_role(Role.OPERATOR) and editable,
        "approve": user.has_role(Role.APPROVER) and pending and user.id not in service.editors(campaign),
        "send": user.has_role(Role.OPERATOR)
        and (
            (campaign.status == CampaignStatus.DRAFT.value and not needs)
            or campaign.status == CampaignStatus.APPROVED.value
        ),
        "override": user.has_role(Role.OPERATOR, Role.APPROVER)
        and campaign.severity == Severity.EXTREME.value
        and campaign.kind == CampaignKind.ALERT.value
        and campaign.msg_type != "Cancel"
        and (editable or pending),
        "follow_up": user.has_role(Role.OPERATOR) and campaign.sent_at is not None and campaign.msg_type != "Cancel",
    }


# ------------------------------------------------------------------------------------------- under way
def pause(session: Session, campaign: Campaign, actor: User | None) -> Campaign:
    control.pause(session, campaign, actor)
    session.commit()
    return campaign


def resume(session: Session, campaign: Campaign, actor: User | None, settings: Settings) -> Campaign:
    """Sending again: its queued messages are enqueued after the commit."""
    control.resume(session, campaign, actor)
    session.commit()
    dispatch.enqueue_queued(session, campaign, settings.campaigns.chunk_size)
    return campaign


def cancel(session: Session, campaign: Campaign, actor: User | None, reason: str | None = None) -> int:
    """Stop for good; returns how many unsent messages were cancelled."""
    cancelled = control.cancel(session, campaign, actor, reason)
    session.commit()
    _published(campaign)
    return cancelled


def resend_failed(session: Session, campaign: Campaign, actor: User | None, settings: Settings) -> int:
    """A new attempt for every failed message, enqueued after the commit; returns how many."""
    failed = control.resend_failed(session, campaign, actor)
    session.commit()
    dispatch.enqueue_queued(session, campaign, settings.campaigns.chunk_size)
    return failed


# ------------------------------------------------------------------------------------------- the schedule
def start_due_campaigns(
    session: Session, now: datetime | None = None, settings: CampaignSettings | None = None
) -> list[int]:
    """Start every scheduled campaign whose time has come (info ones still wait out quiet hours); commits,
    then enqueues. Called on every worker heartbeat: the schedule lives in PostgreSQL, not in Redis."""
    settings = settings or get_settings().campaigns
    now = now or utcnow()
    due = session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.SCHEDULED.value, Campaign.scheduled_for <= now)
        .order_by(Campaign.scheduled_for)
        .with_for_update(skip_locked=True)
    ).all()
    started = []
    for campaign in due:
        end = service.quiet_until(now, settings) if campaign.kind == CampaignKind.INFO.value else None
        if end is not None:
            campaign.scheduled_for = end
            continue
        service.start_sending(session, campaign, None, settings.require_approval, first=settings.chunk_size)
        started.append(campaign)
    session.commit()
    for campaign in started:
        _published(campaign)
        dispatch.enqueue_started(session, campaign, settings.chunk_size)
    dispatch.finish_abandoned_snapshots(session, settings.chunk_size, now)
    return [c.id for c in started]
