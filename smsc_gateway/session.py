"""The SMPP session: one thread owns one smpplib transceiver bind.

smpplib is blocking, not thread-safe and has no window, so this thread is the
only code that touches the socket. It writes submit_sm while the window has
room and the shared token bucket allows, matches submit_sm_resp by sequence
number, reads receipts and MO continuously (also while no job runs), sends
enquire_link on a timer and reconnects with back-off. RQ jobs hand batches to
it through `send()` and wait for the per-message results.
"""
from __future__ import annotations

import collections
import logging
import queue
import random
import select
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import smpplib.client
import smpplib.exceptions
from smpplib import consts

from syrena_core.config import SmscSettings
from smsc_gateway.encoding import EncodedSms, encode_sms
from smsc_gateway.interface import (DeliveryReceipt, MobileOriginated, MoSink, OutboundSms, ReceiptSink,
                                    SendResult)
from smsc_gateway.rate import TokenBucket
from smsc_gateway.receipts import is_receipt, parse_mobile_originated, parse_receipt

log = logging.getLogger("syrena.smsc.session")

STATUS_NAMES = {v: k[len("SMPP_"):] for k, v in vars(consts).items() if k.startswith("SMPP_ESME_")}
# The SMSC is busy, not refusing the message: pause and send the same part again.
TEMPORARY_STATUSES = {consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RSYSERR}
MAX_TEMPORARY_RETRIES = 5
MAX_RESENDS_AFTER_DISCONNECT = 3


class SessionLost(ConnectionError):
    """The bind is gone (closed, unbound by the SMSC or a response never came)."""


@dataclass
class _Batch:
    remaining: int
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Submission:
    sms: OutboundSms
    encoded: EncodedSms
    batch: _Batch
    smsc_ids: list[str | None] = field(default_factory=list)
    unanswered: int = 0
    error: str | None = None
    temporary: bool = False
    possible_duplicate: bool = False
    temporary_retries: int = 0
    resends: int = 0
    finished: bool = False

    def result(self) -> SendResult:
        accepted = self.error is None
        return SendResult(ref=self.sms.ref, accepted=accepted,
                          smsc_message_ids=[i for i in self.smsc_ids if i] if accepted else [],
                          parts=len(self.encoded.parts), encoding=self.encoded.encoding, error=self.error,
                          temporary=self.temporary, possible_duplicate=self.possible_duplicate)


@dataclass
class _Part:
    submission: _Submission
    index: int
    sent_at: float = 0.0


class SmppSession:
    """A gateway (see interface.Gateway) over one persistent transceiver bind."""

    def __init__(self, settings: SmscSettings, bucket: TokenBucket | None,
                 on_receipts: ReceiptSink, on_mobile_originated: MoSink):
        self.settings = settings
        self.bucket = bucket
        self.on_receipts = on_receipts
        self.on_mobile_originated = on_mobile_originated
        self._incoming: queue.Queue[_Submission] = queue.Queue()
        self._pending: collections.deque[_Part] = collections.deque()
        self._outstanding: dict[int, _Part] = {}
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smpp-session", daemon=True)
        self._client: smpplib.client.Client | None = None
        self._receipts: list[DeliveryReceipt] = []
        self._mo: list[MobileOriginated] = []
        self._pause_until = 0.0

    # ---------------------------------------------------------------- used by jobs
    def start(self) -> None:
        self._thread.start()

    def wait_bound(self, timeout: float) -> bool:
        return self._bound.wait(timeout)

    def send(self, batch: Sequence[OutboundSms]) -> list[SendResult]:
        if not batch:
            return []
        group = _Batch(remaining=len(batch))
        submissions = []
        for sms in batch:
            sub = _Submission(sms=sms, encoded=encode_sms(sms.text), batch=group)
            sub.smsc_ids = [None] * len(sub.encoded.parts)
            submissions.append(sub)
            self._incoming.put(sub)
        group.done.wait()
        return [s.result() for s in submissions]

    def stop(self, timeout: float = 10.0) -> None:
        """Drain what was handed over, unbind, and end the thread."""
        self._stop.set()
        self._thread.join(timeout)

    # ---------------------------------------------------------------- the session thread
    def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                self._connect()
                backoff = 1.0
                self._serve()
                return  # asked to stop, drained and unbound
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, SessionLost) as e:
                log.warning("SMPP session to %s:%s lost: %s", self.settings.host, self.settings.port, e)
            except Exception:  # noqa: BLE001 - the session must outlive any single bad PDU
                log.exception("SMPP session failed")
            finally:
                self._bound.clear()
                self._flush_inbound()
                self._disconnect()
            self._requeue_outstanding()
            if self._stop.is_set():
                self._fail_everything("ESME_RSYSERR", temporary=True)
                return
            # Jitter keeps several workers from reconnecting in lock-step.
            self._stop.wait(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, 60.0)

    def _connect(self) -> None:
        s = self.settings
        client = smpplib.client.Client(s.host, s.port, timeout=max(s.response_timeout, 1.0),
                                       allow_unknown_opt_params=True)
        client.set_message_sent_handler(self._on_submit_resp)
        client.set_message_received_handler(self._on_deliver_sm)
        client.set_error_pdu_handler(lambda pdu: None)  # statuses are handled per command, not raised
        client.connect()
        self._client = client
        client.bind_transceiver(system_id=s.system_id, password=s.password, system_type=s.system_type)
        log.info("SMPP bound to %s:%s as %s", s.host, s.port, s.system_id)
        self._bound.set()

    def _disconnect(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001 - closing a broken socket may fail in many ways
                pass
            self._client = None

    def _serve(self) -> None:
        client = self._client
        last_activity = time.monotonic()
        while True:
            self._take_new_work()
            if self._stop.is_set() and not self._pending and not self._outstanding and self._incoming.empty():
                self._unbind()
                return
            sent = self._submit_what_fits()
            if sent:
                last_activity = time.monotonic()
            wait = 0.0 if (sent and self._pending) else 0.02 if (self._pending or self._outstanding) else 0.2
            readable, _, _ = select.select([client._socket], [], [], wait)
            if readable:
                self._read_available()
                last_activity = time.monotonic()
            self._flush_inbound()
            now = time.monotonic()
            self._check_response_timeouts(now)
            if now - last_activity > self.settings.enquire_link_interval:
                client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
                last_activity = now

    def _read_available(self) -> None:
        client = self._client
        while True:
            pdu = client.read_pdu()
            if pdu.command == "unbind":
                resp = smpplib.smpp.make_pdu("unbind_resp", client=client)
                resp.sequence = pdu.sequence
                client.send_pdu(resp)
                raise SessionLost("the SMSC unbound")
            if pdu.command == "submit_sm_resp":
                self._on_submit_resp(pdu)
            elif pdu.command == "deliver_sm":
                client._message_received(pdu)
            elif pdu.command == "enquire_link":
                client._enquire_link_received(pdu)
            elif pdu.command == "generic_nack":
                self._on_generic_nack(pdu)
            readable, _, _ = select.select([client._socket], [], [], 0)
            if not readable:
                return

    def _unbind(self) -> None:
        try:
            self._client.unbind()
        except Exception:  # noqa: BLE001 - we leave either way
            pass

    def _take_new_work(self) -> None:
        while True:
            try:
                sub = self._incoming.get_nowait()
            except queue.Empty:
                return
            for index in range(len(sub.encoded.parts)):
                self._pending.append(_Part(sub, index))
            sub.unanswered = len(sub.encoded.parts)

    def _submit_what_fits(self) -> int:
        now = time.monotonic()
        if now < self._pause_until or not self._pending:
            return 0
        room = min(self.settings.window - len(self._outstanding), len(self._pending))
        if room <= 0:
            return 0
        allowed = self.bucket.take(room) if self.bucket else room
        s = self.settings
        for _ in range(allowed):
            part = self._pending.popleft()
            sub = part.submission
            if sub.finished:  # a permanent error on a sibling part already settled it
                continue
            pdu = self._client.send_message(
                source_addr_ton=s.source_ton, source_addr_npi=s.source_npi, source_addr=s.source_addr,
                dest_addr_ton=consts.SMPP_TON_INTL, dest_addr_npi=consts.SMPP_NPI_ISDN,
                destination_addr=sub.sms.destination.lstrip("+"),
                short_message=sub.encoded.parts[part.index], data_coding=sub.encoded.data_coding,
                esm_class=sub.encoded.esm_class, registered_delivery=True)
            part.sent_at = now
            self._outstanding[pdu.sequence] = part
        return allowed

    def _on_submit_resp(self, pdu) -> None:
        part = self._outstanding.pop(pdu.sequence, None)
        if part is None:
            log.warning("submit_sm_resp for unknown sequence %s", pdu.sequence)
            return
        sub = part.submission
        if pdu.status == consts.SMPP_ESME_ROK:
            message_id = pdu.message_id
            sub.smsc_ids[part.index] = message_id.decode() if isinstance(message_id, bytes) else str(message_id)
            self._part_answered(sub)
        elif pdu.status in TEMPORARY_STATUSES and sub.temporary_retries < MAX_TEMPORARY_RETRIES:
            sub.temporary_retries += 1
            self._pause_until = time.monotonic() + 0.5 * sub.temporary_retries
            self._pending.appendleft(part)
        else:
            sub.error = STATUS_NAMES.get(pdu.status, f"ESME_0x{pdu.status:08X}")
            sub.temporary = pdu.status in TEMPORARY_STATUSES
            self._part_answered(sub)

    def _on_generic_nack(self, pdu) -> None:
        part = self._outstanding.pop(pdu.sequence, None)
        if part is not None:
            part.submission.error = STATUS_NAMES.get(pdu.status, "ESME_RINVCMDID")
            self._part_answered(part.submission)

    def _part_answered(self, sub: _Submission) -> None:
        sub.unanswered -= 1
        if sub.unanswered <= 0 or sub.error is not None:
            self._finish(sub)

    def _finish(self, sub: _Submission) -> None:
        if sub.finished:
            return
        sub.finished = True
        sub.batch.remaining -= 1
        if sub.batch.remaining == 0:
            sub.batch.done.set()

    def _on_deliver_sm(self, pdu) -> None:
        # Only collect here: deliver_sm_resp goes out when this returns, so no I/O.
        if is_receipt(pdu):
            receipt = parse_receipt(pdu)
            if receipt is not None:
                self._receipts.append(receipt)
            else:
                log.warning("a receipt without a message id was ignored")
        else:
            self._mo.append(parse_mobile_originated(pdu))

    def _flush_inbound(self) -> None:
        if self._receipts:
            batch, self._receipts = self._receipts, []
            self.on_receipts(batch)
        if self._mo:
            batch, self._mo = self._mo, []
            self.on_mobile_originated(batch)

    def _check_response_timeouts(self, now: float) -> None:
        limit = self.settings.response_timeout
        if any(now - p.sent_at > limit for p in self._outstanding.values()):
            raise SessionLost(f"no submit_sm_resp within {limit}s")

    def _requeue_outstanding(self) -> None:
        """Parts sent without an answer may or may not have reached the SMSC: send them again after
        reconnecting (at least once beats never for an alert) and flag the message as a possible duplicate."""
        for part in sorted(self._outstanding.values(), key=lambda p: p.sent_at, reverse=True):
            sub = part.submission
            sub.resends += 1
            sub.possible_duplicate = True
            if sub.resends > MAX_RESENDS_AFTER_DISCONNECT:
                sub.error, sub.temporary = "ESME_RSYSERR", True
                self._finish(sub)
            else:
                self._pending.appendleft(part)
        self._outstanding.clear()

    def _fail_everything(self, error: str, temporary: bool) -> None:
        self._take_new_work()
        for part in self._pending:
            part.submission.error, part.submission.temporary = error, temporary
            self._finish(part.submission)
        self._pending.clear()
