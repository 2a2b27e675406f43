"""Official warnings as they came in, and each source's last poll."""

from __future__ import annotations

import enum
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from syrena_core.db import Base, utcnow


class AlertState(str, enum.Enum):
    DRAFTED = "drafted"  # a draft campaign was made from it (campaign_id)
    OUTSIDE = "outside"  # its area does not touch any live zone: kept, no draft
    NO_AREA = "no_area"  # neither polygons, circles nor mapped geocodes
    FOLLOW_UP = "follow_up"  # an Update/Cancel of an alert we know: its campaign was flagged
    IGNORED = "ignored"  # not Actual (Exercise, Test, System, Draft), or an Ack/Error


class IncomingAlert(Base):
    """One CAP alert from a source, kept whole (raw_xml) with what the drafts and the staff page need."""

    __tablename__ = "incoming_alert"
    # CAP 1.2 §3.2.1: sender and identifier together name an alert (a feed lists it again on every poll).
    __table_args__ = (UniqueConstraint("sender", "identifier", name="uq_incoming_alert_sender_identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    identifier: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(Text)
    sent: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10))  # CAP status: Actual, Exercise, ...
    msg_type: Mapped[str] = mapped_column(String(8))  # Alert, Update, Cancel, Ack, Error
    event: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(10))
    urgency: Mapped[str | None] = mapped_column(String(10))
    certainty: Mapped[str | None] = mapped_column(String(10))
    headline: Mapped[str | None] = mapped_column(Text)
    instruction: Mapped[str | None] = mapped_column(Text)
    onset: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    area_desc: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)  # CAP <references>: "sender,identifier,sent ..."
    raw_xml: Mapped[str] = mapped_column(Text)
    area = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True)
    zone_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list, server_default="{}")
    state: Mapped[str] = mapped_column(String(10), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    # An Update/Cancel: the alert of ours it follows up (the one its <references> name).
    follows_id: Mapped[int | None] = mapped_column(ForeignKey("incoming_alert.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class FeedStatus(Base):
    """A source's last poll, for its status line and conditional requests (ETag / Last-Modified)."""

    __tablename__ = "feed_status"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_kind: Mapped[str | None] = mapped_column(String(20))
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    alerts_new: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # in the last poll
    documents_refused: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # in the last poll
