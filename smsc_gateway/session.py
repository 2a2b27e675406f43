"""The SMPP session: one thread owns the bind(s) of one SMSC connection.

smpplib is blocking, not thread-safe and has no window, so this thread is the
only code that touches the sockets. smpplib connects and binds, and builds or
parses the rare PDUs (enquire_link, unbind, generic_nack, anything unexpected);
what goes by per message — every submit_sm written, every submit_sm_resp and
deliver_sm read — goes through the hand-written codec of pdu.py (smpplib's
costs ~130 µs per submit_sm; pdu.py's output is byte-for-byte smpplib's). The
thread adds what smpplib lacks: a window of outstanding submit_sm matched by
sequence number, a buffered reader (one recv for many PDUs, framed by
pdu.take_pdus; one send for many), the link's shared schedule (rate.py),
enquire_link on a timer and on silence, a table of command_status → action,
reconnect with back-off and jitter, and a clean unbind after draining.

RQ jobs hand batches over with `submit()` (streaming results) or `send()`
(all results at once). Results count against the window until the job
confirms it has recorded them: a worker killed at any moment has at most
`window` parts that reached the SMSC without the database knowing.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import logging
import math
import queue
import random
import select
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import smpplib.client
import smpplib.command_codes
import smpplib.exceptions
import smpplib.smpp
from redis.exceptions import RedisError
from smpplib import consts

from smsc_gateway.encoding import EncodedSms, encode_sms
from smsc_gateway.interface import (
    WITHDRAWN,
    DeliveryReceipt,
    MobileOriginated,
    MoSink,
    OutboundSms,
    ReceiptSink,
    SendResult,
)
from smsc_gateway.pdu import (
    DELIVER_SM,
    ENQUIRE_LINK_RESP,
    GENERIC_NACK,
    HEADER,
    HEADER_SIZE,
    RESPONSE_BIT,
    SUBMIT_SM_RESP,
    DeliverSm,
    FramingLost,
    PduDecodeError,
    encode_response,
    encode_submit_sm,
    take_pdus,
)
from smsc_gateway.rate import TokenBucket
from smsc_gateway.receipts import MAX_MESSAGE_ID, MoAssembler, ReceiptIdForm, is_receipt, parse_receipt
from syrena_core import metrics
from syrena_core.config import SmscSettings

log = logging.getLogger("syrena.smsc.session")

STATUS_NAMES = {v: k[len("SMPP_") :] for k, v in vars(consts).items() if k.startswith("SMPP_ESME_")}
STATUS_CODES = {name: code for code, name in STATUS_NAMES.items()}
SMSC_UNAVAILABLE = "SMSC_UNAVAILABLE"
MAX_RESENDS_AFTER_DISCONNECT = 3
# ESME_RTHROTTLED and ESME_RMSGQFUL concern the link, not the message: the link slows down (rate.py) and the
# refused part alone is sent again after THROTTLE_RETRY_DELAY, up to `[smsc] throttle_retries` times (an SMSC
# converging on its real limit refuses a few in a row; past that the job queues it again with its back-off);
# the bind keeps sending everything else meanwhile.
THROTTLE_STATUSES = frozenset({consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL})
THROTTLE_RETRY_DELAY = 0.05
# A session pulls from the shared work queue only what it can send in this many seconds at its rate (and
# no more than its window when unlimited): the rest stays for the other links, which is what splits traffic
# in proportion to each link's TPS, and a link going down holds little.
PULL_AHEAD = 0.05
REPORT_EVERY = 0.1  # seconds between reports of accepted/refused submits to the link's schedule
COMPACT_AFTER = 1024  # sent parts dropped from the head of the pending list once this many (see _submit_what_fits)


class SessionLost(ConnectionError):
    """The bind is gone (closed, unbound by the SMSC, framing lost or a response never came)."""


class StatusPolicy:
    """The per-SMSC table command_status → action: retry (temporary) or fail (permanent)."""

    def __init__(self, settings: SmscSettings):
        unknown = [n for n in settings.retry_statuses if n not in STATUS_CODES]
        if unknown:
            raise ValueError(f"[smsc {settings.name}] retry_statuses: unknown status names {unknown}")
        self.temporary = {STATUS_CODES[n] for n in settings.retry_statuses}
        self.max_retries = settings.max_retries
        self.unknown_retries = settings.unknown_status_retries
        self.delay = settings.retry_delay

    @staticmethod
    def name(status: int) -> str:
        return STATUS_NAMES.get(status, f"ESME_0x{status:08X}")

    def is_temporary(self, status: int) -> bool:
        return status in self.temporary or status not in STATUS_NAMES

    def should_retry(self, status: int, retries_so_far: int) -> bool:
        if status in self.temporary:
            return retries_so_far < self.max_retries
        return status not in STATUS_NAMES and retries_so_far < self.unknown_retries

    def backoff(self, retries_so_far: int) -> float:
        return min(self.delay * 2**retries_so_far, 30.0)


@dataclass(eq=False)
class _Submission:
    sms: OutboundSms
    encoded: EncodedSms
    pending: PendingSend
    smsc_ids: list[str | None] = field(default_factory=list)
    unanswered: int = 0
    error: str | None = None
    temporary: bool = False
    possible_duplicate: bool = False
    retries: int = 0
    throttled: int = 0
    resends: int = 0
    finished: bool = False
    started: bool = False  # a part has been written to the SMSC: it can no longer be withdrawn
    accepted_at: float = 0.0  # Unix time of the latest part's submit_sm_resp

    def result(self, smsc: str) -> SendResult:
        accepted = self.error is None
        return SendResult(
            ref=self.sms.ref,
            accepted=accepted,
            # "" for a part accepted without a usable id: part numbers stay those of the parts
            smsc_message_ids=[i or "" for i in self.smsc_ids] if accepted else [],
            parts=len(self.encoded.parts),
            encoding=self.encoded.encoding,
            error=self.error,
            temporary=self.temporary,
            possible_duplicate=self.possible_duplicate,
            smsc=smsc,
            accepted_at=self.accepted_at if accepted else 0.0,
        )


@dataclass(eq=False)
class _Part:
    submission: _Submission
    index: int
    sent_at: float = 0.0


_FINAL_STATES = frozenset({"DELIVRD", "EXPIRED", "UNDELIV", "REJECTD", "DELETED", "UNKNOWN"})


class _IdMap:
    """SMSC message id → (our message ref, part number) of the part last given that id, for `ttl` seconds and
    at most `size` entries (oldest forgotten first), as Jasmin keeps its mappings. The session thread sees a
    part's submit_sm_resp before its receipt on the same link, so a receipt it reads names its part even when
    the SMSC has reused the id (restart, wrap) and the part is not yet in the database."""

    def __init__(self, ttl: float, size: int):
        self.ttl, self.size = ttl, max(size, 1)
        # id → (ref, part_no, since, final receipt seen): tuples of numbers, which the collector untracks;
        # lists never are, and 200,000 of them would be walked by every full collection of the worker, every
        # link stopped meanwhile (see syrena_core/heap.py)
        self._map: OrderedDict[str, tuple[int, int, float, bool]] = OrderedDict()

    def remember(self, smsc_id: str, owner: tuple[int, int]) -> tuple[int, int] | None:
        """Map the id to this part; returns the part it named before if that one still awaited its receipt."""
        now = time.monotonic()
        before = self._map.pop(smsc_id, None)
        self._map[smsc_id] = (owner[0], owner[1], now, False)
        self._expire(now)
        if before is not None and not before[3] and now - before[2] <= self.ttl:
            return before[0], before[1]
        return None

    def receipt(self, smsc_id: str, final: bool) -> tuple[tuple[int, int] | None, bool]:
        """The part this receipt belongs to (None: unknown here), and whether it already had a final one."""
        entry = self._map.get(smsc_id)
        if entry is None or time.monotonic() - entry[2] > self.ttl:
            return None, False
        repeated = final and entry[3]
        if final and not entry[3]:
            self._map[smsc_id] = (*entry[:3], True)  # in place: the order (oldest first) stays
        return (entry[0], entry[1]), repeated

    def _expire(self, now: float) -> None:
        m = self._map
        while m and (len(m) > self.size or now - next(iter(m.values()))[2] > self.ttl):
            m.popitem(last=False)

    def __len__(self) -> int:
        return len(self._map)


class PendingSend:
    """Batches handed to session(s); their results stream out as the SMSC answers each message."""

    def __init__(self, confirm_automatically: bool = False):
        self._results: queue.SimpleQueue[SendResult] = queue.SimpleQueue()
        self._left = 0
        self._auto = confirm_automatically
        self._owner: dict[int, tuple[SmppSession, int]] = {}  # ref → (the session that took it, its parts)
        self._queues: set[WorkQueue] = set()
        self.withdrawn = False

    @property
    def done(self) -> bool:
        return self._left == 0

    @property
    def waiting(self) -> int:
        """Messages handed over whose result has not been taken yet."""
        return self._left

    def _add(self, work: WorkQueue, subs: list[_Submission]) -> None:
        self._left += len(subs)
        self._queues.add(work)

    def _taken(self, session: SmppSession, sub: _Submission) -> None:
        self._owner[sub.sms.ref] = (session, len(sub.encoded.parts))

    def take(self, timeout: float, linger: float = 0.0, limit: int = 0) -> list[SendResult]:
        """What finished since the last call (at most `limit` when given): waits up to `timeout` for the
        first result, then up to `linger` more for others (fewer, larger batches for the caller to record)."""
        if self._left == 0:
            return []
        out = []
        most = min(self._left, limit) if limit else self._left
        try:
            out.append(self._results.get(timeout=timeout))
            deadline = time.monotonic() + linger
            while len(out) < most:
                left = deadline - time.monotonic()
                out.append(self._results.get(timeout=left) if left > 0 else self._results.get_nowait())
        except queue.Empty:
            pass
        self._left -= len(out)
        return out

    def withdraw(self) -> None:
        """Messages not yet written to the SMSC come back at once, failed with WITHDRAWN (pause, cancel);
        those already under way finish as usual."""
        self.withdrawn = True
        for work in list(self._queues):
            work.withdraw(self)
        for session in {session for session, _parts in list(self._owner.values())}:
            session._withdraw_soon = True
            session._wake()

    def confirm(self, results: Sequence[SendResult]) -> None:
        """The caller has recorded these results durably: their parts leave the window."""
        if self._auto:
            return
        self._release(results)

    def abandon(self) -> None:
        """The caller records nothing more (its job failed, see campaigns.jobs._hand_back): results not taken
        yet, and every later one, leave the window at once rather than hold it for ever."""
        self._auto = True
        drained = []
        while True:
            try:
                drained.append(self._results.get_nowait())
            except queue.Empty:
                break
        self._left -= len(drained)
        self._release(drained)

    def _release(self, results: Sequence[SendResult]) -> None:
        by_session: dict[SmppSession, int] = {}
        for r in results:
            session, parts = self._owner.pop(r.ref, (None, 0))
            if session is not None:
                by_session[session] = by_session.get(session, 0) + parts
        for session, parts in by_session.items():
            session._confirmed(parts)

    def _finished(self, session: SmppSession | None, result: SendResult, parts: int) -> None:
        if self._auto and session is not None:
            session._confirmed(parts)
        self._results.put(result)

    def wait_all(self) -> list[SendResult]:
        results = []
        while not self.done:
            results.extend(self.take(1.0))
        return results


class WorkQueue:
    """Messages waiting for a link, shared by the sessions of one gateway: each session PULLS what it can
    send now (its window and its pacing allow), so faster links take more — traffic splits in proportion to
    each link's rate — and a link that is down simply stops taking. Failover links take only while no
    primary is bound. A session alone (no router) has a queue of its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: collections.deque[_Submission] = collections.deque()
        self.sessions: list[SmppSession] = []

    def __len__(self) -> int:
        return len(self._subs)

    def put(self, subs: list[_Submission], front: bool = False) -> None:
        with self._lock:
            if front:
                self._subs.extendleft(reversed(subs))
            else:
                self._subs.extend(subs)
        for session in self.sessions:
            if session.is_bound:
                session._wake()

    def may_take(self, session: SmppSession) -> bool:
        if session.settings.role == "primary":
            return True
        return not any(s.is_bound for s in self.sessions if s.settings.role == "primary")

    def pull(self, session: SmppSession, parts: int) -> list[_Submission]:
        """Up to `parts` parts' worth of messages (at least one message) for this session."""
        if not self._subs or not self.may_take(session):
            return []
        out = []
        with self._lock:
            subs = self._subs
            while subs and parts > 0:
                sub = subs.popleft()
                out.append(sub)
                parts -= len(sub.encoded.parts)
        for sub in out:
            sub.pending._taken(session, sub)
        return out

    def withdraw(self, pending: PendingSend) -> None:
        with self._lock:
            gone = [sub for sub in self._subs if sub.pending is pending]
            if not gone:
                return
            self._subs = collections.deque(sub for sub in self._subs if sub.pending is not pending)
        for sub in gone:
            sub.error, sub.temporary, sub.finished = WITHDRAWN, True, True
            pending._finished(None, sub.result(""), 0)

    def fail_all(self, error: str) -> None:
        """Nobody can send them (no link bound for failover_after): back to their jobs, temporarily failed."""
        with self._lock:
            gone, self._subs = list(self._subs), collections.deque()
        for sub in gone:
            sub.error, sub.temporary, sub.finished = error, True, True
            sub.pending._finished(None, sub.result(""), 0)

    def rate(self) -> float:
        """The links that may take work now, their rates added up (what the shared queue drains at)."""
        return sum(s.rate() for s in self.sessions if self.may_take(s))

    def anyone_bound(self) -> bool:
        return any(s.is_bound for s in self.sessions)


class _Link:
    """One TCP connection and its bind, with buffered reads and writes."""

    def __init__(self, client: smpplib.client.Client, submits: bool, receives: bool):
        self.client = client
        self.sock = client._socket
        self.submits = submits
        self.receives = receives
        self.inbuf = bytearray()
        self.outbuf: list[bytes] = []
        self.last_received = time.monotonic()
        self.enquire_sent_at: float | None = None
        self.last_enquire = time.monotonic()

    def queue_pdu(self, pdu) -> None:
        self.outbuf.append(pdu.generate())

    def flush(self) -> None:
        if self.outbuf:
            data = b"".join(self.outbuf)
            self.outbuf.clear()
            self.sock.sendall(data)

    def read_pdus(self) -> list[bytes]:
        """Every complete PDU now readable, raw. A length no SMPP PDU can have loses the framing."""
        chunk = self.sock.recv(262144)
        if not chunk:
            raise SessionLost("the SMSC closed the connection")
        self.last_received = time.monotonic()
        self.inbuf += chunk
        try:
            return take_pdus(self.inbuf)
        except FramingLost as e:
            raise SessionLost(f"garbage from the SMSC (command_length {e.length}); framing lost") from None


class SmppSession:
    """A gateway (see interface.Gateway) over one persistent SMPP connection."""

    def __init__(
        self,
        settings: SmscSettings,
        bucket: TokenBucket | None,
        on_receipts: ReceiptSink,
        on_mobile_originated: MoSink,
        acknowledge_after_write: bool = False,
    ):
        """With `acknowledge_after_write` the sinks are called as sink(batch, done=callback) and each
        deliver_sm_resp waits until its batch's callback ran (stored durably): a receipt or MO the worker
        dies holding is never acknowledged, so the SMSC delivers it again."""
        self.settings = settings
        self.acknowledge_after_write = acknowledge_after_write
        self._unacknowledged: list[tuple[_Link, int]] = []
        self._acks: queue.SimpleQueue[list[tuple[_Link, int]]] = queue.SimpleQueue()
        self.name = settings.name
        self.bucket = bucket
        self.on_receipts = on_receipts
        self.on_mobile_originated = on_mobile_originated
        self.policy = StatusPolicy(settings)
        self._receipt_ids = ReceiptIdForm(settings.receipt_id_base)
        self._assembler = MoAssembler()
        self._work = WorkQueue()  # replaced by the router's shared one (see attach)
        self._work.sessions.append(self)
        self._pending: list[_Part] = []  # to send, oldest first; retries go to the front
        self._retry: list[tuple[float, int, _Part]] = []  # a heap of parts refused for now: (when, order, part)
        self._retry_order = 0
        self._pending_pos = 0
        self._outstanding: dict[int, _Part] = {}  # by sequence number, in order sent
        self._unconfirmed = 0
        self._unconfirmed_lock = threading.Lock()
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=f"smpp-{settings.name}", daemon=True)
        self._links: list[_Link] = []
        self._tx: _Link | None = None
        self._receipts: list[DeliveryReceipt] = []
        self._mo: list[MobileOriginated] = []
        self._withdraw_soon = False
        self._slots = 0  # send times granted by the link's schedule (rate.py), not yet used
        self._slot_at = 0.0  # the first of them (monotonic)
        self._slot_interval = 0.0
        self._slot_doubt = 0.0  # how long the call that granted them took (their times are that uncertain)
        self._next_token_try = 0.0
        self._rate = bucket.ceiling if bucket is not None else 0.0  # the link's adaptive rate, as last heard
        self._answers = [0, 0]  # accepted, refused for throttling: not yet reported to the schedule
        self._reported_at = 0.0
        self._status_last = (time.monotonic(), 0)
        self._bucket_warned_at = 0.0
        self._down_since: float | None = None
        self.stats = {
            "submitted": 0,
            "retried": 0,
            "throttled": 0,
            "reconnects": 0,
            "receipts": 0,
            "mo": 0,
            "garbage": 0,
            "late_slots": 0,
            "bad_answers": 0,
        }
        self._ids = _IdMap(settings.receipt_id_ttl(), settings.receipt_id_map_size)
        self._bad_logged: set[str] = set()

    # ---------------------------------------------------------------- used by jobs and the worker
    def start(self) -> None:
        self._thread.start()

    def wait_bound(self, timeout: float) -> bool:
        return self._bound.wait(timeout)

    @property
    def is_bound(self) -> bool:
        return self._bound.is_set()

    def attach(self, work: WorkQueue) -> None:
        """Take messages from a queue shared with other sessions (GatewayRouter) instead of one's own."""
        self._work = work
        if self not in work.sessions:
            work.sessions.append(self)

    def status(self) -> dict:
        """A snapshot for the heartbeat (read from another thread: numbers may be a moment apart).
        `rate_now` is the link's adaptive rate under `tps` (None: no limit); `refusals_per_s` the SMSC's
        throttling answers per second since the previous snapshot."""
        s = self.settings
        now, throttled = time.monotonic(), self.stats["throttled"]
        then, before = self._status_last
        self._status_last = (now, throttled)
        return {
            "name": self.name,
            "host": s.host,
            "port": s.port,
            "role": s.role,
            "bound": self.is_bound,
            "down_for": round(time.monotonic() - self._down_since, 1) if self._down_since else None,
            "window": s.window,
            "outstanding": len(self._outstanding),
            "unrecorded": max(self._unconfirmed, 0),
            "tps": s.tps if self.bucket is not None else None,
            "rate_now": round(self._rate, 1) if self.bucket is not None else None,
            "refusals_per_s": round((throttled - before) / (now - then), 1) if now - then > 0.05 else 0.0,
            **self.stats,
        }

    def rate(self) -> float:
        """Parts per second this link may send now (its adaptive rate; 0: not bound, or no limit)."""
        if not self.is_bound or self.bucket is None:
            return 0.0
        return self._rate

    def submit(self, batch: Sequence[OutboundSms], into: PendingSend | None = None) -> PendingSend:
        """Hand a batch over; its results join `into` when given (one stream for a whole chunk)."""
        pending = into if into is not None else PendingSend()
        subs = []
        for sms in batch:
            encoded = encode_sms(sms.text, flash=sms.flash)
            sub = _Submission(sms=sms, encoded=encoded, pending=pending, possible_duplicate=sms.possible_duplicate)
            sub.smsc_ids = [None] * len(encoded.parts)
            subs.append(sub)
        if subs:
            pending._add(self._work, subs)
            self._work.put(subs)
            self._wake()
        return pending

    def send(self, batch: Sequence[OutboundSms]) -> list[SendResult]:
        results = {r.ref: r for r in self.submit(batch, into=PendingSend(confirm_automatically=True)).wait_all()}
        return [results[sms.ref] for sms in batch]

    def stop(self, timeout: float = 10.0) -> None:
        """Drain what was handed over, unbind, and end the thread."""
        self._stop.set()
        self._wake()
        self._thread.join(timeout)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # already awake: the pipe is full

    def _confirmed(self, parts: int) -> None:
        with self._unconfirmed_lock:
            self._unconfirmed -= parts
        self._wake()

    # ---------------------------------------------------------------- the session thread
    def _run(self) -> None:
        try:
            self._run_until_stopped()
        finally:
            self._wake_r.close()
            self._wake_w.close()

    def _run_until_stopped(self) -> None:
        backoff = 1.0
        while True:
            try:
                self._connect()
                backoff = 1.0
                self._down_since = None
                self._serve()
                return  # asked to stop, drained and unbound
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, SessionLost) as e:
                log.warning("SMPP %s (%s:%s) lost: %s", self.name, self.settings.host, self.settings.port, e)
            except Exception:
                log.exception("SMPP %s failed", self.name)
            finally:
                self._bound.clear()
                self._flush_inbound()
                self._disconnect()
            self.stats["reconnects"] += 1
            self._requeue_outstanding()
            self._give_back_unstarted()
            if self._down_since is None:
                self._down_since = time.monotonic()
            if self._stop.is_set():
                self._fail_unsent(SMSC_UNAVAILABLE)
                if not self._work.anyone_bound():
                    self._work.fail_all(SMSC_UNAVAILABLE)
                return
            if time.monotonic() - self._down_since >= self.settings.failover_after:
                self._fail_unsent(SMSC_UNAVAILABLE)  # the job sends them again, through another SMSC if one is up
                if not self._work.anyone_bound():
                    self._work.fail_all(SMSC_UNAVAILABLE)
            # Jitter keeps several workers from reconnecting in lock-step.
            self._stop.wait(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.settings.reconnect_max_delay)

    def _new_client(self) -> smpplib.client.Client:
        s = self.settings
        client = smpplib.client.Client(
            s.host,
            s.port,
            timeout=max(s.response_timeout, 1.0),
            allow_unknown_opt_params=True,
            logger_name=f"syrena.smsc.smpplib.{s.name}",
        )
        try:
            client.connect()
        except BaseException:
            client.disconnect()  # the socket smpplib made for the failed attempt
            raise
        return client

    def _connect(self) -> None:
        s = self.settings
        credentials = {
            "system_id": s.system_id,
            "password": s.password,
            "system_type": s.system_type,
            "addr_ton": s.source_ton,
            "addr_npi": s.source_npi,
        }
        if s.bind_mode == "transceiver":
            client = self._new_client()
            self._links = [_Link(client, submits=True, receives=True)]
            client.bind_transceiver(**credentials)
        else:
            tx_client = self._new_client()
            self._links = [_Link(tx_client, submits=True, receives=False)]
            tx_client.bind_transmitter(**credentials)
            rx_client = self._new_client()
            self._links.append(_Link(rx_client, submits=False, receives=True))
            rx_client.bind_receiver(**credentials)
        self._tx = self._links[0]
        for link in self._links:
            link.sock.settimeout(max(s.response_timeout, 1.0))
            # A submit must leave at its slot: Nagle would hold a small write until the previous one is
            # acknowledged (measured: every other submit ~35 ms late at T = 15, 16 in a second).
            link.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("SMPP %s bound to %s:%s as %s (%s)", s.name, s.host, s.port, s.system_id, s.bind_mode)
        self._bound.set()

    def _disconnect(self) -> None:
        for link in self._links:
            try:
                link.client.disconnect()
            except Exception:
                pass
        self._links, self._tx = [], None

    def _serve(self) -> None:
        sockets = [link.sock for link in self._links] + [self._wake_r]
        by_socket = {link.sock: link for link in self._links}
        while True:
            self._take_new_work()
            if self._withdraw_soon:
                self._sweep_withdrawn()
            self._send_acknowledgements()
            if (
                self._stop.is_set()
                and not self._has_unsent()
                and not self._outstanding
                and not (len(self._work) and self._work.may_take(self))
            ):
                self._unbind()
                return
            now = time.monotonic()
            wait = self._submit_what_fits(now)
            for link in self._links:
                link.flush()
            readable, _, _ = select.select(sockets, [], [], wait)
            for sock in readable:
                if sock is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                    except BlockingIOError:
                        pass
                    continue
                link = by_socket[sock]
                for raw in link.read_pdus():
                    self._dispatch(link, raw)
                link.flush()  # deliver_sm_resp and enquire_link_resp go out right after their PDUs
            self._flush_inbound()
            now = time.monotonic()
            self._report_answers(now)
            self._check_timers(now)

    # ---------------------------------------------------------------- sending
    def _has_unsent(self) -> bool:
        return self._pending_pos < len(self._pending) or bool(self._retry)

    def _unsent_parts(self) -> int:
        return len(self._pending) - self._pending_pos + len(self._retry)

    def _take_new_work(self) -> None:
        """Pull from the (maybe shared) work queue what this link can send soon."""
        if not self._bound.is_set():
            return
        if self.bucket is None:
            target = self.settings.window
        else:
            target = min(self.settings.window, max(1, math.ceil(self._rate * PULL_AHEAD)))
        want = target - self._unsent_parts()
        if want <= 0:
            return
        subs = self._work.pull(self, want)
        for sub in subs:
            sub.unanswered = len(sub.encoded.parts)
            self._pending.extend(_Part(sub, index) for index in range(len(sub.encoded.parts)))

    def _requeue_front(self, parts: list[_Part]) -> None:
        rest = self._pending[self._pending_pos :]
        self._pending = parts + rest
        self._pending_pos = 0

    def _retry_later(self, part: _Part, delay: float) -> None:
        self._retry_order += 1
        heapq.heappush(self._retry, (time.monotonic() + delay, self._retry_order, part))

    def _due_retries(self, now: float) -> float | None:
        """Parts whose retry time came go to the front; returns when the next one is due (None: none)."""
        due = []
        while self._retry and self._retry[0][0] <= now:
            due.append(heapq.heappop(self._retry)[2])
        if due:
            self._requeue_front(due)
        return self._retry[0][0] if self._retry else None

    def _submit_what_fits(self, now: float) -> float:
        """Send what the window and the link's schedule allow; return how long the loop may wait for input."""
        next_retry = self._due_retries(now) if self._retry else None
        if self._pending_pos >= len(self._pending):
            self._compact()
            idle = 1.0 if not self._outstanding else 0.2
            return min(idle, max(0.001, next_retry - now)) if next_retry is not None else idle
        # The window bounds what awaits the SMSC's answer; the unrecorded limit what a crash could send twice
        # (answered, not yet recorded by the job): recording then never stalls the window.
        outstanding = len(self._outstanding)
        room = min(
            self.settings.window - outstanding, self.settings.unrecorded_limit - outstanding - max(self._unconfirmed, 0)
        )
        if room <= 0:
            return 0.2  # a response, a confirmation or the wake pipe ends the wait
        room = min(room, len(self._pending) - self._pending_pos)
        allowed = self._take_slots(room, now)
        if allowed <= 0:
            wait = max(0.0005, (self._slot_at if self._slots else self._next_token_try) - now)
            return min(wait, max(0.0005, next_retry - now)) if next_retry is not None else wait
        s = self.settings
        tx = self._tx
        assert tx is not None  # _serve, which calls this, runs only between _connect and _disconnect
        next_sequence = tx.client.next_sequence  # smpplib's generator: binds and enquire_links share it
        pending, pos = self._pending, self._pending_pos
        sent = 0
        while sent < allowed and pos < len(pending):
            part = pending[pos]
            pos += 1
            sub = part.submission
            if sub.finished:  # a permanent error on a sibling part already settled it
                continue
            sequence = next_sequence()
            tx.outbuf.append(
                encode_submit_sm(
                    sequence,
                    **_source(sub.sms.sender, s),
                    dest_addr_ton=consts.SMPP_TON_INTL,
                    dest_addr_npi=consts.SMPP_NPI_ISDN,
                    destination_addr=sub.sms.destination.lstrip("+"),
                    short_message=sub.encoded.parts[part.index],
                    data_coding=sub.encoded.data_coding,
                    esm_class=sub.encoded.esm_class,
                    registered_delivery=1,
                    validity_period=_validity(sub.sms.validity_minutes or s.validity_minutes),
                )
            )
            part.sent_at = now
            sub.started = True
            self._outstanding[sequence] = part
            sent += 1
        self._pending_pos = pos
        if pos >= COMPACT_AFTER:
            # A job that keeps the links fed never lets the list run empty: without this, a 200,000-message
            # campaign kept every part it had sent (800,000 objects, a 0.5-s full collection at the end).
            self._compact()
        if self.bucket is not None and sent:
            self._slots -= sent
            self._slot_at += sent * self._slot_interval
        self.stats["submitted"] += sent
        metrics.SUBMITS.labels(self.name).inc(sent)
        if not self._has_unsent() or sent < allowed:
            return 0.2
        if self.bucket is None or not self._slots:
            return 0.0
        return max(0.0, self._slot_at - time.monotonic())

    def _take_slots(self, want: int, now: float) -> int:
        """How many submits may be written now: slots of the link's schedule whose time has come (rate.py).
        Slots are asked for a few at a time (at most HORIZON ahead); a slot this thread reaches more than
        LATE_MAX after its time is dropped rather than sent late, where it would bunch with the next ones."""
        bucket = self.bucket
        if bucket is None:
            return want
        if self._slots:
            late = now - TokenBucket.LATE_MAX + self._slot_doubt - self._slot_at
            if late > 0:
                dropped = min(self._slots, int(late / self._slot_interval) + 1)
                self._slots -= dropped
                self._slot_at += dropped * self._slot_interval
                self.stats["late_slots"] += dropped
        if not self._slots and now >= self._next_token_try:
            before = time.monotonic()
            try:
                slots = bucket.take(want)
            except RedisError as e:
                # No schedule, no sending: it waits for Redis (never faster than the contract), and the
                # bind and its window stay as they are — dropping them would send the window twice.
                if now - self._bucket_warned_at > 10:
                    self._bucket_warned_at = now
                    log.warning("SMPP %s: the shared TPS schedule is unreachable (%s); sending waits", self.name, e)
                self._next_token_try = now + 0.5
                return 0
            self._rate = slots.rate
            # Redis' clock said "first_in from now" somewhere during the call: counting from its end puts
            # every slot at or after its true time, never before; counting from its start, at or before. A
            # submit goes at the later and is dropped LATE_MAX after the earlier: a slow call costs slots,
            # never a bunched second.
            after = time.monotonic()
            if slots.count:
                self._slots, self._slot_at, self._slot_interval = slots.count, after + slots.first_in, slots.interval
                self._slot_doubt = after - before
            else:
                self._next_token_try = after + max(slots.first_in, 0.0005)
        if not self._slots or self._slot_at > now:
            return 0
        return min(want, self._slots, int((now - self._slot_at) / self._slot_interval) + 1)

    def _report_answers(self, now: float) -> None:
        """Accepted and throttled submits go to the link's schedule, which adapts the rate (rate.py)."""
        if self.bucket is None or now - self._reported_at < REPORT_EVERY or not any(self._answers):
            return
        accepted, refused = self._answers
        self._answers = [0, 0]
        self._reported_at = now
        try:
            self._rate = self.bucket.report(accepted, refused)
        except RedisError:
            pass  # the schedule is unreachable: sending waits anyway (see _take_slots)

    def _sweep_withdrawn(self) -> None:
        self._withdraw_soon = False
        keep = []
        for part in self._pending[self._pending_pos :]:  # retried parts were sent once: never withdrawn
            sub = part.submission
            if sub.pending.withdrawn and not sub.started and not sub.finished:
                sub.error, sub.temporary = WITHDRAWN, True
                self._finish(sub)
            if not sub.finished:
                keep.append(part)
        self._pending, self._pending_pos = keep, 0

    def _compact(self) -> None:
        if self._pending_pos:
            del self._pending[: self._pending_pos]
            self._pending_pos = 0

    # ---------------------------------------------------------------- receiving
    def _dispatch(self, link: _Link, raw: bytes) -> None:
        _length, command_id, status, sequence = HEADER.unpack_from(raw)
        if command_id == SUBMIT_SM_RESP:
            # The hot path, decoded here: message_id is the only field, a C-octet string.
            end = raw.find(b"\0", HEADER_SIZE)
            self._on_submit_resp(sequence, status, raw[HEADER_SIZE : end if end >= 0 else len(raw)])
            return
        if command_id == ENQUIRE_LINK_RESP:
            link.enquire_sent_at = None
            return
        if command_id == GENERIC_NACK:
            self._on_generic_nack(sequence, status)
            return
        if command_id == DELIVER_SM:
            try:
                pdu = DeliverSm(raw[HEADER_SIZE:])
            except PduDecodeError as e:
                self.stats["garbage"] += 1
                log.warning("SMPP %s: undecodable deliver_sm (sequence %d): %s", self.name, sequence, e)
                self._nack(link, sequence, consts.SMPP_ESME_RINVCMDLEN)
                return
            try:
                self._on_deliver_sm(pdu)
            except Exception:
                self.stats["garbage"] += 1
                log.exception("SMPP %s: deliver_sm (sequence %d) could not be handled; refused", self.name, sequence)
                # A permanent refusal: the SMSC must not deliver it again and again.
                link.outbuf.append(encode_response(DELIVER_SM, consts.SMPP_ESME_RX_P_APPN, sequence, b"\0"))
                return
            if self.acknowledge_after_write:
                self._unacknowledged.append((link, sequence))
            else:
                link.outbuf.append(encode_response(DELIVER_SM, consts.SMPP_ESME_ROK, sequence, b"\0"))
            return
        try:
            name = smpplib.command_codes.get_command_name(command_id)
        except (smpplib.exceptions.UnknownCommandError, KeyError):
            self.stats["garbage"] += 1
            log.warning("SMPP %s: unknown command_id 0x%08X (sequence %d)", self.name, command_id, sequence)
            if not command_id & RESPONSE_BIT:
                self._nack(link, sequence, consts.SMPP_ESME_RINVCMDID)
            return
        try:
            pdu = smpplib.smpp.parse_pdu(raw, client=link.client, allow_unknown_opt_params=True)
        except Exception as e:
            self.stats["garbage"] += 1
            log.warning("SMPP %s: undecodable %s (sequence %d): %s", self.name, name, sequence, e)
            if not command_id & RESPONSE_BIT:
                self._nack(link, sequence, consts.SMPP_ESME_RINVCMDLEN)
            return
        if name == "enquire_link":
            resp = smpplib.smpp.make_pdu("enquire_link_resp", client=link.client)
            resp.sequence = sequence
            link.queue_pdu(resp)
        elif name == "unbind":
            resp = smpplib.smpp.make_pdu("unbind_resp", client=link.client)
            resp.sequence = sequence
            link.queue_pdu(resp)
            link.flush()
            raise SessionLost("the SMSC unbound")
        elif not command_id & RESPONSE_BIT:
            log.info("SMPP %s: %s is not handled; answered with generic_nack", self.name, name)
            self._nack(link, sequence, consts.SMPP_ESME_RINVCMDID)

    def _nack(self, link: _Link, sequence: int, status: int) -> None:
        nack = smpplib.smpp.make_pdu("generic_nack", client=link.client, status=status)
        nack.sequence = sequence
        link.queue_pdu(nack)

    def _bad_answer(self, kind: str, detail: str) -> None:
        """An SMSC answer that makes no sense: counted every time, logged once per kind and link (an SMSC that
        does it once does it for every message; the metric tells how often)."""
        self.stats["bad_answers"] += 1
        metrics.BAD_ANSWERS.labels(self.name, kind).inc()
        if kind not in self._bad_logged:
            self._bad_logged.add(kind)
            log.warning(
                "SMPP %s: %s (%s; logged once per link, counted in syrena_smsc_bad_answers_total)",
                self.name,
                detail,
                kind,
            )

    def _on_submit_resp(self, sequence: int, status: int, message_id: bytes) -> None:
        part = self._outstanding.pop(sequence, None)
        if part is None:
            self._bad_answer("unknown_sequence", f"submit_sm_resp for unknown sequence {sequence}")
            return
        sub = part.submission
        metrics.RESPONSES.labels(self.name, self.policy.name(status)).inc()
        if status == consts.SMPP_ESME_ROK:
            self._answers[0] += 1
            smsc_id = self._receipt_ids.canonical(message_id.decode("ascii", "replace"))
            if not smsc_id or len(smsc_id) > MAX_MESSAGE_ID:
                # Accepted (and charged) but unnameable: no receipt can find it. It is recorded with an empty
                # id, its part as "no_receipt" (campaigns.delivery.NO_RECEIPT), and never blocks its campaign.
                self._bad_answer(
                    "empty_id" if not smsc_id else "long_id",
                    f"message {sub.sms.ref} part {part.index + 1} accepted with "
                    f"{'an empty' if not smsc_id else f'a {len(smsc_id)}-character'} message id",
                )
                smsc_id = ""
            else:
                owner = (sub.sms.ref, part.index + 1)
                earlier = self._ids.remember(smsc_id, owner)
                if earlier is not None and earlier != owner:
                    # An id reused while the part it named still awaits its receipt (an SMSC restart, a wrapped
                    # counter): receipts for it go to the newest part, as the database's rule does too.
                    self._bad_answer(
                        "duplicate_id",
                        f"message id {smsc_id} given again while message "
                        f"{earlier[0]} part {earlier[1]} still awaits its receipt",
                    )
            sub.smsc_ids[part.index] = smsc_id
            sub.accepted_at = time.time()
            sub.unanswered -= 1
            if sub.unanswered <= 0:
                self._finish(sub)
        else:
            if status not in STATUS_NAMES:
                self._bad_answer("unknown_status", f"submit_sm_resp with unknown command_status 0x{status:08X}")
            self._on_refused(part, status)

    def _on_refused(self, part: _Part, status: int) -> None:
        sub = part.submission
        if status in THROTTLE_STATUSES:
            self._answers[1] += 1
            self.stats["throttled"] += 1
            metrics.THROTTLED.labels(self.name).inc()
            if status in self.policy.temporary and sub.throttled < self.settings.throttle_retries:
                # The link slows down (its schedule hears of it); this part alone waits a moment.
                sub.throttled += 1
                self.stats["retried"] += 1
                self._retry_later(part, THROTTLE_RETRY_DELAY)
                return
        elif self.policy.should_retry(status, sub.retries):
            delay = self.policy.backoff(sub.retries)
            sub.retries += 1
            self.stats["retried"] += 1
            self._retry_later(part, delay)  # the message waits; the bind goes on with the others
            return
        sub.error = self.policy.name(status)
        sub.temporary = self.policy.is_temporary(status)
        self._finish(sub)

    def _on_generic_nack(self, sequence: int, status: int) -> None:
        part = self._outstanding.pop(sequence, None)
        if part is not None:
            metrics.RESPONSES.labels(self.name, "generic_nack").inc()
            self._on_refused(part, status or consts.SMPP_ESME_RINVCMDID)
        else:
            log.warning("SMPP %s: generic_nack 0x%X for sequence %d", self.name, status, sequence)

    def _finish(self, sub: _Submission) -> None:
        if sub.finished:
            return
        sub.finished = True
        parts = len(sub.encoded.parts)
        with self._unconfirmed_lock:
            self._unconfirmed += parts
        sub.pending._finished(self, sub.result(self.name), parts)

    def _on_deliver_sm(self, pdu) -> None:
        # Only collect here: writing to the database happens in the writers' threads.
        if is_receipt(pdu):
            receipt = parse_receipt(pdu, self._receipt_ids, self.name)
            if receipt is None:
                self._bad_answer("receipt_without_id", "a receipt without a usable message id was ignored")
                return
            owner, repeated = self._ids.receipt(receipt.smsc_message_id, receipt.state in _FINAL_STATES)
            if owner is None:
                # Not sent through this session (or so long ago it is forgotten): stored as it is; another
                # worker's part, or none, is found by the database's rule (campaigns.delivery).
                self._bad_answer(
                    "receipt_unknown_id",
                    f"receipt for message id {receipt.smsc_message_id}, "
                    f"which this session did not send (kept for matching)",
                )
            elif repeated:
                # A second final receipt for the part this session last gave the id to: the SMSC repeating
                # itself, or (with a separate receiver bind, read before the transmitter's submit_sm_resp) the
                # receipt of a newer part with the id reused. Not named: the database's rule decides.
                self._bad_answer(
                    "receipt_repeated",
                    f"a second final receipt for message id {receipt.smsc_message_id} (the first one counts)",
                )
            else:
                receipt = dataclasses.replace(receipt, message_ref=owner[0], part_no=owner[1])
            self._receipts.append(receipt)
        else:
            message = self._assembler.add(pdu)
            if message is not None:
                self._mo.append(message)

    def _flush_inbound(self) -> None:
        self._mo.extend(self._assembler.expired())
        receipts, self._receipts = self._receipts, []
        mo, self._mo = self._mo, []
        self.stats["receipts"] += len(receipts)
        self.stats["mo"] += len(mo)
        if not self.acknowledge_after_write:
            if receipts:
                self.on_receipts(receipts)
            if mo:
                self.on_mobile_originated(mo)
            return
        acks, self._unacknowledged = self._unacknowledged, []
        if not acks:
            return
        # Both writers must have stored their share before the SMSC hears back about any of it.
        waiting = [bool(receipts), bool(mo)]
        lock = threading.Lock()

        def written(index: int) -> None:
            with lock:
                waiting[index] = False
                if any(waiting):
                    return
            self._acks.put(acks)
            self._wake()

        if receipts:
            self.on_receipts(receipts, done=lambda: written(0))
        if mo:
            self.on_mobile_originated(mo, done=lambda: written(1))
        if not receipts and not mo:  # PDUs that carried nothing to store (e.g. a part of a long MO)
            self._acks.put(acks)

    def _send_acknowledgements(self) -> None:
        while True:
            try:
                acks = self._acks.get_nowait()
            except queue.Empty:
                return
            for link, sequence in acks:
                if link in self._links:  # after a reconnect the SMSC sends the old ones again anyway
                    link.outbuf.append(encode_response(DELIVER_SM, consts.SMPP_ESME_ROK, sequence, b"\0"))

    # ---------------------------------------------------------------- timers and failures
    def _check_timers(self, now: float) -> None:
        s = self.settings
        if self._outstanding:
            oldest = next(iter(self._outstanding.values()))  # dicts keep insertion (= sending) order
            if now - oldest.sent_at > s.response_timeout:
                raise SessionLost(f"no submit_sm_resp within {s.response_timeout}s")
        for link in self._links:
            if link.enquire_sent_at is not None:
                if now - link.enquire_sent_at > s.response_timeout:
                    raise SessionLost(f"no enquire_link_resp within {s.response_timeout}s")
            elif (
                now - link.last_enquire >= s.enquire_link_interval
                or now - link.last_received >= s.enquire_link_interval
            ):
                link.queue_pdu(smpplib.smpp.make_pdu("enquire_link", client=link.client))
                link.enquire_sent_at = link.last_enquire = now
                link.flush()

    def _unbind(self) -> None:
        for link in self._links:
            try:
                link.flush()
                link.client.unbind()
            except Exception:
                pass

    def _requeue_outstanding(self) -> None:
        """Parts sent without an answer may or may not have reached the SMSC: send them again after
        reconnecting (at least once beats never for an alert) and flag the message as a possible duplicate."""
        again = []
        for part in self._outstanding.values():
            sub = part.submission
            sub.resends += 1
            sub.possible_duplicate = True
            if sub.resends > MAX_RESENDS_AFTER_DISCONNECT:
                sub.error, sub.temporary = SMSC_UNAVAILABLE, True
                self._finish(sub)
            else:
                again.append(part)
        self._outstanding.clear()
        self._slots = 0
        self._requeue_front(again)

    def _give_back_unstarted(self) -> None:
        """Messages of which no part went out return to the shared queue at once: another bound link
        takes them now (this one takes them again when it is back and nobody did)."""
        keep, back, seen = [], [], set()
        for part in self._pending[self._pending_pos :]:
            sub = part.submission
            if sub.started or sub.finished:
                if not sub.finished:
                    keep.append(part)
            elif id(sub) not in seen:
                seen.add(id(sub))
                back.append(sub)
        self._pending, self._pending_pos = keep, 0
        if back:
            for sub in back:
                sub.pending._owner.pop(sub.sms.ref, None)
            self._work.put(back, front=True)

    def _fail_unsent(self, error: str) -> None:
        """Hand never-answered work this session holds back to the jobs as temporarily failed."""
        self._retry, retried = [], [entry[2] for entry in self._retry]
        for part in retried + self._pending[self._pending_pos :]:
            sub = part.submission
            if not sub.finished:
                sub.error, sub.temporary = error, True
                self._finish(sub)
        self._pending, self._pending_pos = [], 0


def _source(sender: str | None, s: SmscSettings) -> dict:
    """An alphanumeric sender id is TON 5 / NPI 0; digits keep the connection's TON/NPI (short code)."""
    address = sender or s.source_addr
    if address.isdigit():
        return {"source_addr_ton": s.source_ton, "source_addr_npi": s.source_npi, "source_addr": address}
    return {
        "source_addr_ton": consts.SMPP_TON_ALNUM,
        "source_addr_npi": consts.SMPP_NPI_UNK,
        "source_addr": address[:11],
    }


def _validity(minutes: int) -> str | None:
    """A relative validity period (SMPP 3.4 §7.1.1): YYMMDDhhmmss000R."""
    if not minutes:
        return None
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{mins:02d}00000R"
