"""The MO batch job under a backlog: each job takes the next waiting messages after its own, so batches grow
when messages wait (one transaction, one send and one charge for many) and nothing is answered twice."""

from __future__ import annotations

from sqlalchemy import func, select, text

from smsc_gateway.interface import SendResult, set_active_gateway
from smsc_gateway.models import InboundMessage
from subscribers.jobs import handle_inbound_batch


class _Gateway:
    def __init__(self):
        self.sent: list[str] = []

    def send(self, batch):
        self.sent += [m.destination for m in batch]
        return [SendResult(m.ref, True, [f"id-{m.ref}"], 1, "gsm7") for m in batch]


def test_a_job_takes_the_next_waiting_messages_and_none_is_answered_twice(db, settings):
    gateway = _Gateway()
    set_active_gateway(gateway)
    try:
        ids = list(
            db.scalars(
                text("""
                INSERT INTO inbound_message (received_at, source_addr, destination_addr, text, data_coding)
                SELECT now(), '48601' || lpad(n::text, 6, '0'), '4800', 'POMOC', 0 FROM generate_series(1, 300) n
                RETURNING id""")
            )
        )
        db.commit()
        # The jobs of a backlog, each with the few ids the MO writer stored together, run one after another.
        first = handle_inbound_batch(ids[:10], take_ahead=100)
        second = handle_inbound_batch(ids[10:20], take_ahead=100)  # its own were taken by the first job
        assert len(first) == 110 and len(second) == 100  # the next 100 waiting, not just ids 21..120
        for n in range(20, 300, 10):
            handle_inbound_batch(ids[n : n + 10], take_ahead=100)
        assert db.scalar(select(func.count()).where(InboundMessage.handled_at.is_(None))) == 0
        assert sorted(gateway.sent) == sorted(set(gateway.sent)) and len(gateway.sent) == 300
    finally:
        set_active_gateway(None)
