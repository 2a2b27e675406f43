from __future__ import annotations

import enum
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syrena_core.accounts import User
from syrena_core.db import Base, utcnow
from zones.models import Zone


class CampaignKind(str, enum.Enum):
    ALERT = "alert"
    INFO = "info"
    # A call-out's carrier (issue 20, campaigns.callouts): its SMS to staff, services or media go through the
    # campaigns' sending, receipts and ledger at alert priority; it is never listed or published as a campaign.
    CALLOUT = "callout"


class Severity(str, enum.Enum):
    EXTREME = "extreme"
    SEVERE = "severe"
    MODERATE = "moderate"
    MINOR = "minor"


class CampaignStatus(str, enum.Enum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class MessageStatus(str, enum.Enum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


FINAL_MESSAGE_STATUSES = (MessageStatus.DELIVERED.value, MessageStatus.FAILED.value, MessageStatus.EXPIRED.value)

campaign_zone = Table(
    "campaign_zone",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
    Column("zone_id", ForeignKey("zone.id", ondelete="RESTRICT"), primary_key=True),
)


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(10))
    title: Mapped[str | None] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=CampaignStatus.DRAFT.value, index=True)
    area = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[int | None] = mapped_column(Integer)
    encoding: Mapped[str | None] = mapped_column(String(8))
    parts_per_message: Mapped[int | None] = mapped_column(Integer)
    department: Mapped[str | None] = mapped_column(String(80))  # cost centre its SMS are charged to
    # Sending started with only the first chunk of recipients written; campaigns.service.finish_snapshot writes
    # the rest. Until then the campaign cannot be completed.
    snapshot_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Composition (issue 6): the body above is the Polish text; other languages in `variants`.
    variants: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    template: Mapped[str | None] = mapped_column(Text)  # the body before placeholders were filled
    topic: Mapped[str | None] = mapped_column(String(32))  # info campaigns reach this topic's subscribers
    urgency: Mapped[str] = mapped_column(String(12), default="immediate", server_default="immediate")
    certainty: Mapped[str] = mapped_column(String(12), default="observed", server_default="observed")
    category: Mapped[str] = mapped_column(String(12), default="Safety", server_default="Safety")  # CAP category
    event: Mapped[str | None] = mapped_column(String(120))  # CAP event ("Powódź", "Wyciek gazu")
    sender_id: Mapped[str | None] = mapped_column(String(16))  # alphanumeric sender id; None: the short number
    validity_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0: the SMSC's
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # CAP <expires>
    flash: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Ad-hoc areas as drawn ({"polygon"|"circle"|"line"...}); `area` holds their union for the snapshot.
    area_spec: Mapped[list | None] = mapped_column(JSONB)
    # Nearest the danger first (issue 14): the hazard point the operator set (optional), and what the snapshot
    # measures each recipient's distance from (that point, else the drawn circles' centres and lines; NULL: a
    # point inside the target, computed by the snapshot; campaigns.targeting.hazard_focus). Messages are
    # written nearest first.
    hazard = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
    hazard_focus = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=True)
    # The frozen target (issue 19): what the approver approves is what is sent. At submit (or at send/schedule
    # when no approval is needed) the target zones' geometry is copied (CampaignTargetZone) and the zones whose
    # SMS-code subscribers it reaches are listed; previews, the snapshot, CAP and the public map use the copy
    # from then on, so a later zone edit cannot change who is warned. NULL: not frozen (a draft).
    target_frozen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    target_code_zone_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list, server_default="{}")
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)  # emergency override of the approval step
    # Every approver sees a banner about an override until one of them acknowledges it (migration 0019).
    override_acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    override_acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    # Update / all-clear: a follow-up to `reference_id`, CAP msgType Update or Cancel.
    msg_type: Mapped[str] = mapped_column(String(8), default="Alert", server_default="Alert")
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    # Who wrote what: [{"user_id", "email", "fields", "at"}], the creation first, then every edit that changed
    # the text, target or severity. Nobody listed here may approve the campaign (the four-eyes rule).
    edits: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # Two-way alerts (issue 15, migration 0022): a question with numbered answers, {"answers": [{"key": "1",
    # "label": {"pl": …, "en": …}, "needs_help": false}, …], "reply_minutes": 720}; replies to it are tied to
    # this campaign until `replies_until` (set when sending starts). `follow_up_to` makes this campaign a
    # follow-up to a slice of `reference_id`'s recipients: "answer:<key>", "no_reply" or "failed".
    question: Mapped[dict | None] = mapped_column(JSONB)
    replies_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    follow_up_to: Mapped[str | None] = mapped_column(String(24))
    # Official warnings in (issue 16): the incoming CAP alert this draft was made from (feeds.models), its
    # "sender,identifier,sent" for our CAP's <references>, and "Update"/"Cancel" once the source followed it up.
    # use_alter: incoming_alert names its campaign too; the cycle is created by ALTER after both tables.
    source_alert_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "incoming_alert.id", ondelete="SET NULL", use_alter=True, name="fk_campaign_source_alert_id_incoming_alert"
        )
    )
    source_reference: Mapped[str | None] = mapped_column(Text)
    source_follow_up: Mapped[str | None] = mapped_column(String(8))
    # Exercises and tests (issue 16, campaigns.exercises): CAP <status> Actual, Exercise or Test. `status` above is
    # the workflow state, hence this name (the API accepts "status" for it on input, see exercises.normalise_input).
    # An exercise or test goes to `test_group_id`'s phones, or — only when `confirm_real_target` — to the real
    # target with the mandatory prefix. `test_of_id`: this campaign is a "send test" of that draft.
    cap_status: Mapped[str] = mapped_column(String(8), default="actual", server_default="actual")
    test_group_id: Mapped[int | None] = mapped_column(ForeignKey("contact_group.id"))
    confirm_real_target: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    test_of_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    # Made from a hazard template (issue 16): its version, and the texts as filled from it while nobody had changed
    # them (NULL once they differ from the template's): a pre-approved version's unchanged texts need no approver.
    template_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_template_version.id", ondelete="SET NULL")
    )
    template_texts: Mapped[dict[str, str] | None] = mapped_column(JSONB)

    zones: Mapped[list[Zone]] = relationship(secondary=campaign_zone, order_by=Zone.id)
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approver_id])
    reference: Mapped[Campaign | None] = relationship(remote_side=[id], foreign_keys=[reference_id])
    test_group: Mapped[ContactGroup | None] = relationship(foreign_keys=[test_group_id])
    template_version: Mapped[AlertTemplateVersion | None] = relationship()
    frozen_zones: Mapped[list[CampaignTargetZone]] = relationship(
        order_by="CampaignTargetZone.zone_id", cascade="all, delete-orphan", passive_deletes=True
    )


class CampaignTargetZone(Base):
    """A target zone as it was when the campaign's target was frozen (name and geometry copied: the zone itself
    may be edited or archived later). The drawn areas need no copy: they live in the campaign and cannot change
    once it is submitted."""

    __tablename__ = "campaign_target_zone"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no foreign key: the copy outlives the zone
    name: Mapped[str] = mapped_column(String(120))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)


class Message(Base):
    """One SMS to one subscriber for one campaign; the unique pair makes fan-out idempotent."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subscriber_id"),
        Index("ix_message_campaign_status", "campaign_id", "status"),
        # Workers look for claims whose owner died (see campaigns.jobs.recover_abandoned_claims).
        Index("ix_message_submitting_claim", "claimed_by", postgresql_where=text("status = 'submitting'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Not foreign keys: their per-row checks doubled the snapshot's insert time. Rows are only inserted from a
    # join with subscriber under a lock on the campaign; deletes of either parent are followed by statement
    # triggers (migration 0011).
    campaign_id: Mapped[int] = mapped_column(Integer)
    subscriber_id: Mapped[int | None] = mapped_column(Integer, index=True)
    phone: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.QUEUED.value)
    parts: Mapped[int | None] = mapped_column(Integer)
    encoding: Mapped[str | None] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Resends to the failed so far (0: the first send); each send is charged (billing's ledger key).
    send_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(String(80))
    smsc: Mapped[str | None] = mapped_column(String(32))  # the SMSC connection that accepted it
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the worker sending it (while "submitting")
    claim_job: Mapped[str | None] = mapped_column(String(64))  # ... and its RQ job (the sweeper's clue)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A temporary failure (throttled, SMSC down) waits until then before it is claimed again (issue 6 delivery).
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An earlier attempt may have reached the SMSC (its worker died, or the response was lost).
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The campaign's language variant this recipient gets (a key of campaign.variants); None: campaign.body.
    language: Mapped[str | None] = mapped_column(String(5))

    message_parts: Mapped[list[MessagePart]] = relationship(back_populates="message", order_by="MessagePart.part_no")


class MessagePart(Base):
    """One submitted SMS part: each has its own SMSC id and its own delivery receipt."""

    __tablename__ = "message_part"
    # SMSC ids are unique only for a while and per SMSC (they restart and wrap): looked up, newest first.
    __table_args__ = (Index("ix_message_part_smsc_id", "smsc", "smsc_message_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), index=True)
    part_no: Mapped[int] = mapped_column(Integer)
    smsc: Mapped[str] = mapped_column(String(32), default="", server_default="")
    smsc_message_id: Mapped[str] = mapped_column(String(64))  # "": the SMSC gave no usable id (no receipt)
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.SUBMITTED.value)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(String(40))

    message: Mapped[Message] = relationship(back_populates="message_parts")


class DeliveryReceipt(Base):
    """Every receipt as it came; kept unmatched until its submit_sm_resp has been recorded."""

    __tablename__ = "delivery_receipt"
    # Matching looks only at receipts still waiting for their submit_sm_resp to be recorded.
    __table_args__ = (
        Index("ix_delivery_receipt_unmatched", "smsc_message_id", postgresql_where=text("matched_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    smsc: Mapped[str] = mapped_column(String(32), default="", server_default="")
    smsc_message_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The part it belongs to, when the session that submitted it still knew (smsc_gateway.session's id map).
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    part_no: Mapped[int | None] = mapped_column(Integer)
    matched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ClaimRescue(Base):
    """Messages the sweeper (or their own failing job) put back from `submitting`, and why."""

    __tablename__ = "claim_rescue"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
    reason: Mapped[str] = mapped_column(String(40))
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    messages: Mapped[int] = mapped_column(Integer)


class CampaignReply(Base):
    """One SMS a recipient sent back while the campaign's question was open: every one is kept, recognised
    (`answer` is the key) or not (`answer` NULL: free text). At most one per inbound message."""

    __tablename__ = "campaign_reply"
    __table_args__ = (Index("ix_campaign_reply_campaign_phone", "campaign_id", "phone"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    inbound_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    phone: Mapped[str] = mapped_column(String(16))
    subscriber_id: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(String(2))
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CampaignRespondent(Base):
    """A phone that replied to a campaign's question, one row per phone: its answer is its latest recognised
    reply (NULL while it sent only unrecognised text), what the tallies count. `prompted_at`: when it was sent
    the list of answers after an unrecognised reply (once per phone and campaign)."""

    __tablename__ = "campaign_respondent"
    __table_args__ = (Index("ix_campaign_respondent_answer", "campaign_id", "answer"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(String(2))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_text: Mapped[str | None] = mapped_column(Text)
    last_reply_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    replies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    prompted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CapStatus(str, enum.Enum):
    """CAP 1.2 <status> of what is sent (System and Draft are not sent to anyone)."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class GroupKind(str, enum.Enum):
    """Kinds of contact group: `test` (staff phones for exercises and "send test", issue 16); and the call-outs'
    (issue 20) crisis team, services (fire brigade, OSP, the water company's duty engineer, schools) and media."""

    TEAM = "team"
    SERVICES = "services"
    MEDIA = "media"
    TEST = "test"


class ContactGroup(Base):
    """A named group of people who are not residents (campaigns.groups). Deleting one only marks it deleted:
    campaigns sent to it keep naming it."""

    __tablename__ = "contact_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default=GroupKind.TEST.value, index=True)
    needed: Mapped[int | None] = mapped_column(Integer)  # confirmations a call-out needs (issue 20); None: all
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    members: Mapped[list[ContactGroupMember]] = relationship(
        order_by="(ContactGroupMember.position, ContactGroupMember.id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ContactGroupMember(Base):
    __tablename__ = "contact_group_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("contact_group.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(16))  # E.164
    function: Mapped[str | None] = mapped_column(String(120))
    position: Mapped[int] = mapped_column("order", Integer, default=0, server_default="0")
    deputy_phone: Mapped[str | None] = mapped_column(String(16))


class AlertTemplate(Base):
    """A hazard template of the library (issue 16): a stable id whose versions hold the texts. Archived ones are
    kept (campaigns made from them point at their versions) but no longer offered in the composer."""

    __tablename__ = "alert_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard: Mapped[str] = mapped_column(String(32), index=True)
    # The hazard key of a template shipped with Syrena (campaigns.template_library), seeded once: NULL for staff's own.
    shipped: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))

    versions: Mapped[list[AlertTemplateVersion]] = relationship(
        back_populates="template", order_by="AlertTemplateVersion.version"
    )


class AlertTemplateVersion(Base):
    """One version of a template: never changed once written (an edit writes the next version), except that an
    admin or approver may mark it pre-approved."""

    __tablename__ = "alert_template_version"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("alert_template.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    texts: Mapped[dict[str, str]] = mapped_column(JSONB)  # language → text with placeholders
    cap: Mapped[dict[str, str]] = mapped_column(JSONB)  # event, category, severity, urgency, certainty, …
    question: Mapped[dict | None] = mapped_column(JSONB)  # issue 15's shape: {"answers": [...], "reply_minutes"}
    area_kind: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    preapproved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    preapproved_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))

    template: Mapped[AlertTemplate] = relationship(back_populates="versions")


class CalloutStatus(str, enum.Enum):
    OPEN = "open"  # replies are taken and escalation runs until the window ends or somebody closes it
    CLOSED = "closed"


class Callout(Base):
    """A call-out (issue 20, campaigns.callouts): a text to groups of staff, services or media — not to zones —
    sent at alert priority, with or without acknowledgement. Its SMS are the messages of its carrier campaign
    (`campaign_id`, kind callout): sending, receipts, retries and the ledger (kind internal) are the campaigns'."""

    __tablename__ = "callout"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), unique=True)
    body: Mapped[str] = mapped_column(Text)  # as written, without the reply instruction the SMS ends with
    ack: Mapped[bool] = mapped_column(Boolean, default=True)
    escalate_after_s: Mapped[int] = mapped_column(Integer, default=300)
    reply_minutes: Mapped[int] = mapped_column(Integer, default=120)
    status: Mapped[str] = mapped_column(String(8), default=CalloutStatus.OPEN.value, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    replies_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    # "Also to the media": the alert whose public text this call-out copies (no acknowledgement).
    media_of_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))

    campaign: Mapped[Campaign] = relationship(foreign_keys=[campaign_id])
    author: Mapped[User | None] = relationship(foreign_keys=[created_by])
    groups: Mapped[list[CalloutGroup]] = relationship(
        order_by="CalloutGroup.position", cascade="all, delete-orphan", passive_deletes=True
    )


class CalloutGroup(Base):
    """A target group of a call-out as it was when sent (its name; `needed`: the confirmations wanted, the
    group's own number or all of its members). `unreachable_at`: when the confirmations still possible fell
    below `needed` and the duty officer was told (once)."""

    __tablename__ = "callout_group"

    callout_id: Mapped[int] = mapped_column(ForeignKey("callout.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("contact_group.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    needed: Mapped[int] = mapped_column(Integer)
    unreachable_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The SMS to the duty officer who sent the call-out: queued → sending → sent | failed, or no_phone.
    officer_sms: Mapped[str | None] = mapped_column(String(10))


class CalloutMember(Base):
    """One person a call-out reached: a group member (depth 0) or a deputy (depth 1-3, `deputy_for_id` the row it
    stands in for; its groups are that row's). One row per phone and call-out: a person in several target groups is
    messaged once and counts in each. The state a board shows is derived (campaigns.callouts.member_state)."""

    __tablename__ = "callout_member"
    __table_args__ = (
        UniqueConstraint("callout_id", "phone"),
        # The clock looks only at rows that may still escalate (campaigns.callouts.ESCALATE_DUE).
        Index(
            "ix_callout_member_waiting",
            "callout_id",
            postgresql_where=text("escalated_at IS NULL AND no_answer_at IS NULL"),
        ),
        Index("ix_callout_member_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    callout_id: Mapped[int] = mapped_column(ForeignKey("callout.id", ondelete="CASCADE"))
    group_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    name: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(16))
    function: Mapped[str | None] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    deputy_for_id: Mapped[int | None] = mapped_column(ForeignKey("callout_member.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # its SMS (message of the carrier campaign)
    answer: Mapped[str | None] = mapped_column(String(10))  # "confirmed" | "declined"
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reply_text: Mapped[str | None] = mapped_column(Text)  # the last reply as written
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    prompted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # told how to reply (once)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_to: Mapped[str | None] = mapped_column(String(16))
    no_answer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # nobody left to escalate to
