"""Several SMSC connections behind one gateway. Batches go into one queue that every bound link PULLS from
as its window and its pacing allow (session.WorkQueue): a link of 100/s takes twice what a link of 50/s
takes, so the links add up to the sum of their rates; a link that goes down stops taking and hands back
what it had not started; failover links take only while no primary is bound."""

from __future__ import annotations

from collections.abc import Sequence

from smsc_gateway.interface import OutboundSms, PendingResults, SendResult
from smsc_gateway.session import PendingSend, SmppSession, WorkQueue


class GatewayRouter:
    def __init__(self, sessions: Sequence[SmppSession]):
        if not sessions:
            raise ValueError("at least one SMSC connection is needed")
        self.sessions = list(sessions)
        self.work = WorkQueue()
        for session in self.sessions:
            session.attach(self.work)

    def submit(self, batch: Sequence[OutboundSms], into: PendingSend | None = None) -> PendingResults:
        # Any session encodes and queues: the queue is the router's, shared by all of them.
        return self.sessions[0].submit(batch, into=into)

    def rate(self) -> float:
        return self.work.rate()

    def send(self, batch: Sequence[OutboundSms]) -> list[SendResult]:
        return self.sessions[0].send(batch)
