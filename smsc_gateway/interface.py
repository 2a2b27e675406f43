"""The gateway interface campaigns talk to; nothing here knows about SMPP."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutboundSms:
    ref: int  # our message id, echoed in the result
    destination: str  # E.164, with the leading "+"
    text: str
    sender: str | None = None  # alphanumeric sender id or short code; None: the connection's source_addr
    flash: bool = False  # class 0: shown at once, not stored by the phone
    validity_minutes: int = 0  # 0: the connection's validity period
    possible_duplicate: bool = False  # an earlier attempt may have reached the SMSC


# SendResult.error of a message its job took back (campaign paused or cancelled) before any part went out.
WITHDRAWN = "WITHDRAWN"


@dataclass
class SendResult:
    ref: int
    accepted: bool
    smsc_message_ids: list[str] = field(default_factory=list)  # one per part, in part order
    parts: int = 0
    encoding: str = ""
    error: str | None = None  # SMPP status name, e.g. "ESME_RINVDSTADR"
    temporary: bool = False  # worth trying again later
    possible_duplicate: bool = False  # a part was re-sent after its response was lost
    smsc: str = ""  # the name of the SMSC connection that answered
    accepted_at: float = 0.0  # Unix time of the last part's submit_sm_resp (0: unknown, now is used)


@dataclass(frozen=True)
class DeliveryReceipt:
    smsc_message_id: str
    state: str  # DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD
    error_code: str | None = None
    done_at: datetime | None = None
    smsc: str = ""  # the name of the SMSC connection it came from (ids are unique per SMSC ...)
    # ... and only for a while: the part it belongs to, when the session that submitted it still remembers
    # the id (None: the database's rule, the most recent part with that id, decides).
    message_ref: int | None = None
    part_no: int | None = None


@dataclass(frozen=True)
class MobileOriginated:
    source: str  # E.164 when it looks international, else as received
    destination: str
    text: str
    data_coding: int = 0
    parts: int = 1  # a long MO arrives in parts and is joined before it is stored


class ReceiptSink(Protocol):
    """Takes the receipts read; an SmppSession with acknowledge_after_write also passes `done`, to be called
    once they are stored durably (e.g. BatchWriter.put_many)."""

    def __call__(self, batch: list[DeliveryReceipt], /, done: Callable[[], None] | None = None) -> None: ...


class MoSink(Protocol):
    """Takes the mobile-originated messages read; `done` as for ReceiptSink."""

    def __call__(self, batch: list[MobileOriginated], /, done: Callable[[], None] | None = None) -> None: ...


class PendingResults(Protocol):
    # read-only: the gateway's own bookkeeping (SmppSession's PendingSend reports them as properties)
    @property
    def done(self) -> bool: ...

    @property
    def waiting(self) -> int: ...

    def take(self, timeout: float, linger: float = 0.0, limit: int = 0) -> list[SendResult]:
        """Results that finished since the last call (at most `limit`); waits up to `timeout` for the first,
        then up to `linger` for more."""

    def confirm(self, results: Sequence[SendResult]) -> None:
        """These results are recorded durably (the gateway keeps at most a window of unrecorded ones)."""


class Gateway(Protocol):
    def send(self, batch: Sequence[OutboundSms]) -> list[SendResult]:
        """Submit a batch; return one result per message once the SMSC answered for every part."""

    def submit(self, batch: Sequence[OutboundSms], into: PendingResults | None = None) -> PendingResults:
        """Submit a batch; its results stream out as the SMSC answers (joining `into`'s when given)."""

    def rate(self) -> float:
        """Parts per second the gateway's bound links may send now, together (0: unknown or unlimited). Jobs
        keep about a second of that handed over, so the links never wait for the next claim."""


class GatewayUnavailable(RuntimeError):
    """No gateway runs in this process (RQ jobs that send must run in `flask worker`)."""


_active: Gateway | None = None


def set_active_gateway(gateway: Gateway | None) -> None:
    global _active
    _active = gateway


def active_gateway() -> Gateway:
    """The gateway of this worker process: RQ jobs reach the long-lived SMPP session through it."""
    if _active is None:
        raise GatewayUnavailable("no gateway is running in this process")
    return _active
