"""Several SMSC connections behind one gateway: weighted among the primaries that are bound, the
failover ones only when no primary is; a batch goes out through one of them."""
from __future__ import annotations

import random
import time
from typing import Sequence

from smsc_gateway.interface import OutboundSms, PendingResults, SendResult
from smsc_gateway.session import PendingSend, SmppSession

BIND_WAIT = 5.0  # seconds a batch waits for some connection to be bound before it is queued on one anyway


class GatewayRouter:
    def __init__(self, sessions: Sequence[SmppSession]):
        if not sessions:
            raise ValueError("at least one SMSC connection is needed")
        self.sessions = list(sessions)
        self._random = random.Random()

    def choose(self) -> SmppSession:
        deadline = time.monotonic() + BIND_WAIT
        while True:
            for role in ("primary", "failover"):
                bound = [s for s in self.sessions if s.settings.role == role and s.is_bound]
                if bound:
                    return self._random.choices(bound, weights=[max(s.settings.weight, 0) or 1 for s in bound])[0]
            if time.monotonic() >= deadline:
                # None is up: the first primary keeps the batch until it reconnects (or hands it back).
                return self.sessions[0]
            time.sleep(0.05)

    def submit(self, batch: Sequence[OutboundSms], into: PendingSend | None = None) -> PendingResults:
        return self.choose().submit(batch, into=into)

    def send(self, batch: Sequence[OutboundSms]) -> list[SendResult]:
        return self.choose().send(batch)
