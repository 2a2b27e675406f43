from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from syrena_core.db import Base, utcnow


class InboundMessage(Base):
    """A mobile-originated SMS, stored before anything acts on it."""

    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source_addr: Mapped[str] = mapped_column(String(21))
    destination_addr: Mapped[str] = mapped_column(String(21))
    text: Mapped[str] = mapped_column(Text)
    data_coding: Mapped[int] = mapped_column(Integer, default=0)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reply: Mapped[str | None] = mapped_column(Text)
