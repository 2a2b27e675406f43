"""Mobile-originated SMS: stored first, acted on after (by the subscribers' keyword handler, reached
through an RQ job named by its dotted path, so this package never imports subscribers)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from smsc_gateway.interface import MobileOriginated
from smsc_gateway.models import InboundMessage

KEYWORD_HANDLER = "subscribers.jobs.handle_inbound_batch"
# The MO that arrived together are answered together (one transaction, one batch of replies): at 100 MO/s
# the writer stores ~10 per flush; a cap keeps one job's work (and a retried failure) small.
HANDLER_BATCH = 50
HANDLER_TIMEOUT = 120
# The replies are kept in inbound_message.reply; RQ's copy of them only needs to outlive a look at the job.
HANDLER_RESULT_TTL = 600
# PostgreSQL text cannot hold NUL: a binary MO (8-bit data_coding, read as Latin-1) may contain it.
_NUL_STAND_IN = "\ufffd"


def store_mobile_originated(session: Session, messages: Iterable[MobileOriginated]) -> list[int]:
    """Insert the messages; returns their inbound_message ids in order."""
    rows = [
        {
            "source_addr": m.source[:21].replace("\x00", ""),
            "destination_addr": m.destination[:21].replace("\x00", ""),
            "text": m.text.replace("\x00", _NUL_STAND_IN),
            "data_coding": m.data_coding,
        }
        for m in messages
    ]
    if not rows:
        return []
    return list(
        session.execute(
            insert(InboundMessage).returning(InboundMessage.id, sort_by_parameter_order=True), rows
        ).scalars()
    )


def hand_to_keyword_handler(queue, inbound_ids: Iterable[int]) -> None:
    """One RQ job per batch of up to HANDLER_BATCH stored MO, on the given (transactional) queue."""
    ids = list(inbound_ids)
    for start in range(0, len(ids), HANDLER_BATCH):
        chunk = ids[start : start + HANDLER_BATCH]
        queue.enqueue(
            KEYWORD_HANDLER,
            chunk,
            job_timeout=HANDLER_TIMEOUT,
            result_ttl=HANDLER_RESULT_TTL,
            description=f"inbound SMS {chunk[0]}" + (f"-{chunk[-1]}" if len(chunk) > 1 else ""),
        )
