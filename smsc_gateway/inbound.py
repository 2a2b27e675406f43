"""Mobile-originated SMS: stored first, acted on after (by the subscribers' keyword handler, reached
through an RQ job named by its dotted path, so this package never imports subscribers)."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from smsc_gateway.interface import MobileOriginated
from smsc_gateway.models import InboundMessage

KEYWORD_HANDLER = "subscribers.jobs.handle_inbound_sms"
HANDLER_TIMEOUT = 120
HANDLER_RESULT_TTL = 86400


def store_mobile_originated(session: Session, messages: Iterable[MobileOriginated]) -> list[int]:
    """Insert the messages; returns their inbound_message ids in order."""
    rows = [{"source_addr": m.source[:21], "destination_addr": m.destination[:21], "text": m.text,
             "data_coding": m.data_coding} for m in messages]
    if not rows:
        return []
    return list(session.execute(insert(InboundMessage).returning(InboundMessage.id, sort_by_parameter_order=True), rows).scalars())


def hand_to_keyword_handler(queue, inbound_ids: Iterable[int]) -> None:
    """One RQ job per stored MO on the given (transactional) queue."""
    for inbound_id in inbound_ids:
        queue.enqueue(KEYWORD_HANDLER, inbound_id, job_timeout=HANDLER_TIMEOUT, result_ttl=HANDLER_RESULT_TTL,
                      description=f"inbound SMS {inbound_id}")
