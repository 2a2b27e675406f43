"""Mobile-originated SMS: stored first, acted on after."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from smsc_gateway.interface import MobileOriginated
from smsc_gateway.models import InboundMessage


def store_mobile_originated(session: Session, messages: Iterable[MobileOriginated]) -> None:
    rows = [{"source_addr": m.source[:21], "destination_addr": m.destination[:21], "text": m.text,
             "data_coding": m.data_coding} for m in messages]
    if rows:
        session.execute(insert(InboundMessage), rows)
