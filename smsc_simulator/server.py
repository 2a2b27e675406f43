"""The SMSC simulator's servers: a real SMPP 3.4 server plus a small HTTP control port.

The SMPP side runs on an asyncio loop in a background thread; the control
side (inspect recorded messages, inject mobile-originated SMS) is a
ThreadingHTTPServer in another thread. Only the loop thread touches sessions;
the control thread reaches them through ``asyncio.run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import math
import random
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, TypedDict
from urllib.parse import urlsplit

from smpplib import consts

from smsc_gateway.encoding import (
    decode_text,
    deliverable,
    gsm_encode_lossy,
    part_problem,
)
from smsc_gateway.pdu import (
    BIND_RECEIVER,
    BIND_TRANSCEIVER,
    BIND_TRANSMITTER,
    DELIVER_SM,
    DELIVER_SM_RESP,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    ESM_CLASS_DELIVERY_RECEIPT,
    GENERIC_NACK,
    HEADER,
    HEADER_SIZE,
    RESPONSE_BIT,
    SUBMIT_SM,
    SUBMIT_SM_RESP,
    TAG_MESSAGE_STATE,
    TAG_RECEIPTED_MESSAGE_ID,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    UNBIND,
    UNBIND_RESP,
    FramingLost,
    PduDecodeError,
    Segment,
    SubmitSm,
    concatenation_udh,
    encode_deliver_sm,
    encode_pdu,
    encode_tlv,
    parse_bind,
    parse_submit_sm,
    split_user_data,
    take_pdus,
)
from smsc_simulator.options import SimulatorOptions
from syrena_core.heap import settle_after_startup

logger = logging.getLogger("syrena.smsc.simulator")

SIMULATOR_SYSTEM_ID = "SYRENASIM"
_RECEIVER_BINDS = (BIND_RECEIVER, BIND_TRANSCEIVER)
_TRANSMITTER_BINDS = (BIND_TRANSMITTER, BIND_TRANSCEIVER)
_MAX_SEQUENCE = 0x7FFFFFFF
_MAX_ADDRESS_LENGTH = 20  # source_addr / destination_addr are C-octet strings of at most 21 octets
_MAX_CONTROL_BODY = 64 * 1024
_CONTROL_CALL_TIMEOUT = 5.0


def _utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bare_number(address: str) -> str:
    """'+48 601 000 001' and '48601000001' name the same phone in fault settings."""
    return "".join(c for c in str(address) if c.isdigit())


def _receipt_date() -> str:
    return time.strftime("%y%m%d%H%M", time.gmtime())


class _MessageStore:
    """Received messages, one record per (possibly concatenated) message. Thread-safe.

    Parts are held back until all have arrived, then joined as raw payload bytes and decoded ("text": what a
    phone that reassembles the message shows), and each part is also decoded on its own ("parts_text": what a
    phone shows of a part it cannot join), with "part_problems" naming a part that is invalid alone (a lone
    escape at its end, a cut surrogate pair; None for a good part), so a sender's bad split cannot hide.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[tuple] = []  # in the order of _RECORD_FIELDS
        self._partial: dict[tuple, dict[int, tuple[bytes, str, int]]] = {}

    def add(self, submit: SubmitSm, system_id: str, message_id: str, segment: Segment | None, payload: bytes) -> None:
        if segment is None or segment.total == 1:
            self._append(submit, system_id, [(payload, message_id, submit.data_coding)])
            return
        key = (system_id, submit.source_addr, submit.destination_addr, segment.reference, segment.total)
        with self._lock:
            parts = self._partial.setdefault(key, {})
            parts[segment.number] = (payload, message_id, submit.data_coding)
            if len(parts) < segment.total:
                return
            del self._partial[key]
        self._append(submit, system_id, [parts[number] for number in sorted(parts)])

    def _append(self, submit: SubmitSm, system_id: str, parts: list[tuple[bytes, str, int]]) -> None:
        problems = [part_problem(data_coding, payload) for payload, _, data_coding in parts]
        for number, problem in enumerate(problems, start=1):
            if problem:
                logger.warning(
                    "part %d/%d to %s is invalid on its own: %s", number, len(parts), submit.destination_addr, problem
                )
        text = decode_text(submit.data_coding, b"".join(payload for payload, _, _ in parts))
        parts_text = [text] if len(parts) == 1 else [decode_text(coding, payload) for payload, _, coding in parts]
        # A flat tuple of strings and numbers: the collector untracks it, so a long campaign's records cost no
        # full collection anything (as dicts and lists, 50,000 of them made it stall the reading ~80 ms).
        record = (
            submit.source_addr,
            submit.source_addr_ton,
            submit.validity_period,
            submit.destination_addr,
            text,
            tuple(parts_text),
            tuple(problems),
            submit.data_coding,
            len(parts),
            _utc_timestamp(),
            tuple(message_id for _, message_id, _ in parts),
            system_id,
        )
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[dict]:
        with self._lock:
            records = list(self._records)
        return [
            {name: list(value) if type(value) is tuple else value for name, value in zip(_RECORD_FIELDS, record)}
            for record in records
        ]

    def clear(self) -> int:
        with self._lock:
            cleared = len(self._records)
            self._records.clear()
            self._partial.clear()
            return cleared


_RECORD_FIELDS = (
    "source_addr",
    "source_addr_ton",
    "validity_period",
    "destination_addr",
    "text",
    "parts_text",
    "part_problems",
    "data_coding",
    "parts",
    "received_at",
    "message_ids",
    "system_id",
)


@dataclass(slots=True)
class _Delivery:
    """A deliver_sm body waiting for, or sent to, a receiver session."""

    body: bytes
    system_id: str | None  # receipts belong to one ESME account; MO may go to any receiver
    is_receipt: bool


@dataclass(slots=True)
class _PendingReceipt:
    submitter: _SmppSession
    submit: SubmitSm
    message_id: str
    part_payload: bytes
    submit_date: str


def _arrived_at(transport: asyncio.BaseTransport | None) -> float:
    """When the kernel received the data now read from this connection, on the wall clock: what an SMSC counting
    submits per second counts. The loop thread reads late when the machine is busy (measured on 2 loaded cores:
    up to 78 ms), and stamping the reading moved on-time submits into the next second ("busiest second" above T
    while the senders' own send times kept it). Linux' TCP_INFO tells how long ago the connection's last data
    segment came (tcpi_last_data_recv, in ms, at the kernel's tick: a few ms); when more came after the submit
    and before the read (a deliver_sm_resp), that later time: never before the submit arrived, never after the
    read. Elsewhere, the time of reading."""
    now = time.time()
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return now
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (AttributeError, OSError):  # no TCP_INFO on this system
        return now
    return now - struct.unpack_from("I", info, _LAST_DATA_RECV)[0] / 1000


_TCP_INFO_SIZE = 104  # struct tcp_info up to tcpi_rcv_space and beyond (linux/tcp.h)
_LAST_DATA_RECV = 52  # offset of tcpi_last_data_recv: 8 bytes of u8 fields, then 11 u32 before it


class _SmppSession(asyncio.Protocol):
    """One ESME connection. Lives entirely on the simulator's event loop."""

    # Set by connection_made, which asyncio calls before anything else reaches the session.
    _transport: asyncio.Transport

    def __init__(self, simulator: SmscSimulator) -> None:
        self._simulator = simulator
        self._buffer = bytearray()
        self._closing = False
        self._last_sequence = 0
        # deliver_sm sent but not yet answered: re-dispatched if the connection drops.
        self._awaiting_resp: dict[int, _Delivery] = {}
        # ... and those waiting for room in the deliver_sm window (options.deliver_window).
        self._held: deque[_Delivery] = deque()
        self._outgoing: list[bytes] = []
        self.peer = "?"
        self.received_at = 0.0  # when the PDUs being handled arrived (see _arrived_at)
        self.bind_command: int | None = None
        self.system_id = ""

    @property
    def can_receive(self) -> bool:
        return self.bind_command in _RECEIVER_BINDS and not self._closing

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream server's connections are read-write
        self._transport = transport
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = f"{host}:{port}"
        self._simulator._session_opened(self)

    def connection_lost(self, _exc: Exception | None) -> None:
        self._closing = True
        unanswered = list(self._awaiting_resp.values()) + list(self._held)
        self._awaiting_resp.clear()
        self._held.clear()
        self._simulator._session_closed(self, unanswered)

    def abort(self) -> None:
        self._closing = True
        self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self.received_at = _arrived_at(self._transport)
        self._buffer += data
        lost = None
        try:
            pdus = take_pdus(self._buffer)
        except FramingLost as error:
            pdus, lost = error.before, error
        replies = []
        for raw in pdus:
            _length, command_id, status, sequence = HEADER.unpack_from(raw)
            reply = self._handle(command_id, status, sequence, raw[HEADER_SIZE:])
            if reply is not None:
                replies.append(reply)
            if self._closing:
                break
        if lost is not None and not self._closing:
            # Framing is lost: nothing after this can be trusted.
            logger.warning("closing connection from %s: invalid command_length %d", self.peer, lost.length)
            replies.append(encode_pdu(GENERIC_NACK, consts.SMPP_ESME_RINVCMDLEN, lost.sequence))
            self._closing = True
        if replies:
            self._transport.write(b"".join(replies))
        if self._closing:
            self._transport.close()

    def _handle(self, command_id: int, status: int, sequence: int, body: bytes) -> bytes | None:
        handler = self._HANDLERS.get(command_id)
        if handler is None:
            if command_id & RESPONSE_BIT:
                logger.debug("ignoring response 0x%08x (status 0x%x) from %s", command_id, status, self.peer)
                return None
            return encode_pdu(GENERIC_NACK, consts.SMPP_ESME_RINVCMDID, sequence)
        try:
            return handler(self, command_id, status, sequence, body)
        except PduDecodeError as error:
            logger.warning("undecodable PDU 0x%08x from %s: %s", command_id, self.peer, error)
            return encode_pdu(GENERIC_NACK, consts.SMPP_ESME_RINVCMDLEN, sequence)

    def _on_bind(self, command_id: int, _status: int, sequence: int, body: bytes) -> bytes:
        response_id = command_id | RESPONSE_BIT
        if self.bind_command is not None:
            return encode_pdu(response_id, consts.SMPP_ESME_RALYBND, sequence)
        request = parse_bind(body)
        status = self._simulator._check_credentials(request.system_id, request.password)
        if status != consts.SMPP_ESME_ROK:
            logger.info("refused bind from %s (status 0x%02x)", self.peer, status)
            self._closing = True
            return encode_pdu(response_id, status, sequence)
        self.bind_command = command_id
        self.system_id = request.system_id
        self._simulator._session_bound(self)
        return encode_pdu(response_id, consts.SMPP_ESME_ROK, sequence, SIMULATOR_SYSTEM_ID.encode("ascii") + b"\0")

    def _on_submit_sm(self, _command_id: int, _status: int, sequence: int, body: bytes) -> bytes | None:
        if self.bind_command not in _TRANSMITTER_BINDS:
            return encode_pdu(SUBMIT_SM_RESP, consts.SMPP_ESME_RINVBNDSTS, sequence)
        submit = parse_submit_sm(body)
        segment, payload = split_user_data(submit.esm_class, submit.short_message, submit.tlvs)
        refusal = self._simulator._refusal(submit.destination_addr, self.received_at)
        if refusal is not None:
            return encode_pdu(SUBMIT_SM_RESP, refusal, sequence)
        message_id = self._simulator._accept_submit(self, submit, segment, payload)
        if self._simulator._should_drop():
            # Accepted but never answered: the client cannot know, and must send it again.
            self._closing = True
            return None
        return encode_pdu(SUBMIT_SM_RESP, consts.SMPP_ESME_ROK, sequence, message_id.encode("ascii") + b"\0")

    def _on_enquire_link(self, _command_id: int, _status: int, sequence: int, _body: bytes) -> bytes | None:
        self._simulator._enquire_links += 1
        if self._simulator.faults["ignore_enquire_link"]:
            return None
        return encode_pdu(ENQUIRE_LINK_RESP, consts.SMPP_ESME_ROK, sequence)

    def _on_unbind(self, _command_id: int, _status: int, sequence: int, _body: bytes) -> bytes:
        self._closing = True
        self._simulator._unbinds += 1  # a client that unbinds left cleanly (graceful shutdown, see stats)
        self._simulator._session_unbound(self)
        return encode_pdu(UNBIND_RESP, consts.SMPP_ESME_ROK, sequence)

    def _on_delivery_answered(self, command_id: int, status: int, sequence: int, _body: bytes) -> None:
        """deliver_sm_resp or generic_nack for one of our deliver_sm: either way it is settled."""
        delivery = self._awaiting_resp.pop(sequence, None)
        if self._held and delivery is not None:
            self.send_delivery(self._held.popleft())
        if command_id == GENERIC_NACK:
            self._simulator._generic_nacks += 1
        if delivery is not None and status != consts.SMPP_ESME_ROK:
            logger.debug(
                "%s answered deliver_sm %d with 0x%08x status 0x%x; not retried",
                self.peer,
                sequence,
                command_id,
                status,
            )

    _HANDLERS: ClassVar[dict[int, Callable[[_SmppSession, int, int, int, bytes], bytes | None]]] = {
        BIND_RECEIVER: _on_bind,
        BIND_TRANSMITTER: _on_bind,
        BIND_TRANSCEIVER: _on_bind,
        SUBMIT_SM: _on_submit_sm,
        ENQUIRE_LINK: _on_enquire_link,
        UNBIND: _on_unbind,
        DELIVER_SM_RESP: _on_delivery_answered,
        GENERIC_NACK: _on_delivery_answered,
    }

    def send_delivery(self, delivery: _Delivery) -> None:
        window = self._simulator.options.deliver_window
        if window and len(self._awaiting_resp) >= window:
            self._held.append(delivery)
            return
        # Written on the next loop iteration: this batches a burst of receipts
        # into one send and keeps them behind the response being handled.
        self._last_sequence = self._last_sequence % _MAX_SEQUENCE + 1
        self._awaiting_resp[self._last_sequence] = delivery
        if not self._outgoing:
            loop = self._simulator._loop
            assert loop is not None  # sessions live on the running loop
            loop.call_soon(self._flush_outgoing)
        self._outgoing.append(encode_pdu(DELIVER_SM, consts.SMPP_ESME_ROK, self._last_sequence, delivery.body))

    def _flush_outgoing(self) -> None:
        if not self._transport.is_closing():
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are, bypassing the codec: for fault injection."""
        self._transport.write(data)


class _ControlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: SmscSimulator) -> None:
        self.simulator = simulator
        super().__init__(address, _ControlHandler)


class _ControlHandler(BaseHTTPRequestHandler):
    server: _ControlServer

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        methods = self._ROUTES.get(path)
        if methods is None:
            self._reply(404, {"error": f"no such path: {path or '/'}"})
        elif method not in methods:
            self._reply(405, {"error": f"{method} not allowed on {path}"})
        else:
            methods[method](self)

    def _get_messages(self) -> None:
        self._reply(200, self.server.simulator.messages())

    def _delete_messages(self) -> None:
        self._reply(200, {"cleared": self.server.simulator.clear_messages()})

    def _get_stats(self) -> None:
        self._reply(200, self.server.simulator.stats())

    def _get_submit_times(self) -> None:
        self._reply(200, {"times": self.server.simulator.submit_times()})

    def _get_throttle_times(self) -> None:
        self._reply(200, {"times": self.server.simulator.throttle_times()})

    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= _MAX_CONTROL_BODY:
            raise ValueError("a JSON body of at most 64 KiB is required")
        request = json.loads(self.rfile.read(length))
        if not isinstance(request, dict):
            raise ValueError("the body must be a JSON object")
        return request

    def _get_faults(self) -> None:
        self._reply(200, self.server.simulator.fault_stats())

    def _post_faults(self) -> None:
        try:
            self.server.simulator.inject_faults(**self._read_json())
            self._reply(200, self.server.simulator.fault_stats())
        except (ValueError, TypeError) as error:
            self._reply(400, {"error": str(error)})

    def _post_mo(self) -> None:
        try:
            request = self._read_json()
            source, destination, text = (request.get(name) for name in ("from", "to", "text"))
            if not (isinstance(source, str) and isinstance(destination, str) and isinstance(text, str)):
                raise ValueError('"from", "to" and "text" must be strings')
            sessions = self.server.simulator.inject_mo(source, destination, text, sar=bool(request.get("sar")))
        except ValueError as error:  # json.JSONDecodeError and UnicodeDecodeError included
            self._reply(400, {"error": str(error)})
            return
        if sessions == 0:
            self._reply(409, {"error": "no receiver-capable SMPP session is bound"})
        else:
            self._reply(202, {"sent": True})

    _ROUTES: ClassVar[dict[str, dict[str, Callable[[_ControlHandler], None]]]] = {
        "/messages": {"GET": _get_messages, "DELETE": _delete_messages},
        "/stats": {"GET": _get_stats},
        "/submit-times": {"GET": _get_submit_times},
        "/throttle-times": {"GET": _get_throttle_times},
        "/faults": {"GET": _get_faults, "POST": _post_faults},
        "/mo": {"POST": _post_mo},
    }

    def _reply(self, status: int, payload: object) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("control %s - " + format, self.address_string(), *args)


def _address_fields(address: str) -> tuple[str, int, int]:
    """Return (digits, TON, NPI) the way an SMSC delivers the address."""
    if address.startswith("+"):
        return address[1:], consts.SMPP_TON_INTL, consts.SMPP_NPI_ISDN
    if address.isdigit():
        return address, consts.SMPP_TON_UNK, consts.SMPP_NPI_ISDN
    return address, consts.SMPP_TON_ALNUM, consts.SMPP_NPI_UNK


class _Faults(TypedDict):
    """The faults in force (POST /faults sets them, GET /faults shows them)."""

    throttle: int  # the next N submit_sm are refused with ESME_RTHROTTLED
    drop_after: int | None  # connections close after N more accepted submit_sm
    ignore_enquire_link: bool
    reject: dict[str, int]  # bare destination number: command_status of its refusal
    undeliverable: list[str]  # bare destination numbers receipted UNDELIV
    throttle_ratio: float
    tps: float


class SmscSimulator:
    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self._store = _MessageStore()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._smpp_server: asyncio.Server | None = None
        self._control_server: _ControlServer | None = None
        self._control_thread: threading.Thread | None = None
        # Loop-thread state.
        self._sessions: set[_SmppSession] = set()
        self._bound: list[_SmppSession] = []
        self._queued: list[_Delivery] = []
        self._due_receipts: list[tuple[float, int, _PendingReceipt]] = []  # a heap: delays may vary
        self._receipt_order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._random = random.Random(options.seed)
        self.faults: _Faults = {
            "throttle": 0,
            "drop_after": None,
            "ignore_enquire_link": False,
            "reject": {},
            "undeliverable": [],
            "throttle_ratio": options.throttle_ratio,
            "tps": options.tps,
        }
        self._recent_submits: deque[float] = deque()
        self._submit_times: list[float] = []
        self._throttled = 0
        self._throttle_times: list[float] = []
        self._errors = 0
        self._drops = 0
        self._enquire_links = 0
        self._generic_nacks = 0
        self._next_receiver = 0
        # Decimal ids counting up from the wall clock in microseconds, so they stay unique across simulator
        # restarts against the same database — unless a fault asks for what real SMSCs do: numbering that
        # restarts (POST /faults {"restart_ids": true}) or wraps (wrap_ids_at), so ids are reused.
        self._id_start = time.time_ns() // 1_000
        self._ids_issued = 0
        self._id_restarts = 0
        self._receipts_decided = 0
        self._outcomes = {"DELIVRD": 0, "EXPIRED": 0, "UNDELIV": 0}
        self._mo_references = itertools.count(1)
        self._submit_count = 0
        self._unbinds = 0
        self._receipts_sent = 0
        self._mo_sent = 0

    @property
    def smpp_port(self) -> int:
        if self._smpp_server is None:
            raise RuntimeError("the simulator is not running")
        return self._smpp_server.sockets[0].getsockname()[1]

    @property
    def control_port(self) -> int:
        if self._control_server is None:
            raise RuntimeError("the simulator is not running")
        return self._control_server.server_address[1]

    def start(self) -> None:
        if self._loop is not None:
            raise RuntimeError("the simulator is already running")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="smsc-simulator-smpp", daemon=True)
        self._loop_thread.start()
        try:
            self._smpp_server = self._call_in_loop(
                self._loop.create_server(lambda: _SmppSession(self), self.options.host, self.options.port)
            )
            self._control_server = _ControlServer((self.options.control_host, self.options.control_port), self)
        except BaseException:
            self.stop()
            raise
        self._control_thread = threading.Thread(
            target=self._control_server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="smsc-simulator-control",
            daemon=True,
        )
        self._control_thread.start()
        logger.info(
            "SMSC simulator listening: SMPP %s:%d, control %s:%d",
            self.options.host,
            self.smpp_port,
            self.options.control_host,
            self.control_port,
        )

    def stop(self) -> None:
        if self._control_server is not None:
            if self._control_thread is not None:
                self._control_server.shutdown()
                self._control_thread.join()
            self._control_server.server_close()
            self._control_server = self._control_thread = None
        if self._loop is not None:
            assert self._loop_thread is not None  # start() sets both
            try:
                self._call_in_loop(self._close_connections())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop_thread.join()
                self._loop.close()
                self._loop = self._loop_thread = None
            logger.info("SMSC simulator stopped")

    async def _close_connections(self) -> None:
        if self._smpp_server is not None:
            self._smpp_server.close()
        for session in list(self._sessions):
            session.abort()
        await asyncio.sleep(0)  # let the aborted transports run connection_lost and close their sockets

    def _call_in_loop(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=_CONTROL_CALL_TIMEOUT)

    def messages(self) -> list[dict]:
        return self._store.snapshot()

    def clear_messages(self) -> int:
        return self._store.clear()

    def stats(self) -> dict[str, int]:
        return {
            "binds": len(self._bound),
            "unbinds": self._unbinds,
            "submit_sm": self._submit_count,
            "receipts_sent": self._receipts_sent,
            "mo_sent": self._mo_sent,
        }

    def fault_stats(self) -> dict:
        """The faults in force and what they did (GET /faults)."""
        return {
            **self.faults,
            "throttled": self._throttled,
            "errors": self._errors,
            "drops": self._drops,
            "enquire_link": self._enquire_links,
            "generic_nack_received": self._generic_nacks,
            "id_restarts": self._id_restarts,
            "wrap_ids_at": self.options.wrap_ids_at,
        }

    def throttle_times(self) -> list[float]:
        """Wall-clock time (Unix seconds) of every submit_sm refused with ESME_RTHROTTLED, in order."""
        return list(self._throttle_times)

    def submit_times(self) -> list[float]:
        """Wall-clock time (Unix seconds) of every accepted submit_sm, in order."""
        return list(self._submit_times)

    def inject_faults(
        self,
        throttle: int | None = None,
        drop_after: int | None = None,
        ignore_enquire_link: bool | None = None,
        drop_now: bool = False,
        garbage: str | None = None,
        raw_hex: str | None = None,
        reject: dict[str, int] | None = None,
        undeliverable: list[str] | None = None,
        restart_ids: bool = False,
        throttle_ratio: float | None = None,
        tps: float | None = None,
    ) -> dict:
        """throttle: answer the next N submit_sm with ESME_RTHROTTLED; drop_after: close every connection
        after N more accepted submit_sm (their responses unsent); ignore_enquire_link: stop (or resume)
        answering enquire_link; drop_now: close every connection; garbage: send bound receivers
        "unknown_command", "truncated", "bad_ucs2" or "bad_length"; raw_hex: send bound receivers these bytes
        as they are (hostile-input tests); reject: {destination: command_status} refuses every submit_sm to
        these numbers with that status (replaces the previous map; {} ends it); undeliverable: destinations
        whose parts are accepted but receipted UNDELIV (replaces the previous list); restart_ids: number the
        next message ids from the start again, as an SMSC does after a restart (ids already given are reused);
        throttle_ratio: refuse this share of submit_sm at random with ESME_RTHROTTLED (0 ends it); tps: the
        simulator's own limit from now on (a sliding 1-second window, what exceeds it is refused with
        ESME_RTHROTTLED; 0 = none)."""
        raw = bytes.fromhex(raw_hex) if raw_hex is not None else None
        if reject is not None:
            self.faults["reject"] = {_bare_number(d): int(status) for d, status in dict(reject).items()}
        if undeliverable is not None:
            self.faults["undeliverable"] = [_bare_number(d) for d in undeliverable]
        if restart_ids:
            self._call_in_loop(self._restart_ids())
        if throttle is not None:
            self.faults["throttle"] = int(throttle)
        if throttle_ratio is not None:
            if not 0 <= float(throttle_ratio) <= 1:
                raise ValueError("throttle_ratio must be between 0 and 1")
            self.faults["throttle_ratio"] = float(throttle_ratio)
        if tps is not None:
            if float(tps) < 0:
                raise ValueError("tps must be 0 (no limit) or positive")
            self.faults["tps"] = float(tps)
        if drop_after is not None:
            self.faults["drop_after"] = int(drop_after)
        if ignore_enquire_link is not None:
            self.faults["ignore_enquire_link"] = bool(ignore_enquire_link)
        if garbage is not None and garbage not in _GARBAGE:
            raise ValueError(f"garbage must be one of {sorted(_GARBAGE)}")
        if drop_now or garbage or raw:
            self._call_in_loop(self._disturb(drop_now, garbage, raw))
        return self.fault_stats()

    async def _restart_ids(self) -> None:
        self._ids_issued = 0
        self._id_restarts += 1

    def _next_message_id(self) -> str:
        n = self._ids_issued
        self._ids_issued += 1
        if self.options.wrap_ids_at > 0:
            n %= self.options.wrap_ids_at
        return str(self._id_start + n)

    async def _disturb(self, drop_now: bool, garbage: str | None, raw: bytes | None = None) -> None:
        for session in list(self._bound):
            if garbage and session.can_receive:
                session.send_raw(_GARBAGE[garbage](self))
            if raw and session.can_receive:
                session.send_raw(raw)
            if drop_now:
                self._drops += 1
                session.abort()

    def _refusal(self, destination: str = "", arrived: float | None = None) -> int | None:
        """Why the next submit_sm is refused, if it is."""
        rejected = self.faults["reject"].get(_bare_number(destination))
        if rejected is not None:
            self._errors += 1
            return rejected
        if self.faults["throttle"] > 0:
            self.faults["throttle"] -= 1
            self._throttled += 1
            self._throttle_times.append(time.time())
            return consts.SMPP_ESME_RTHROTTLED
        if self.faults["throttle_ratio"] and self._random.random() < self.faults["throttle_ratio"]:
            self._throttled += 1
            self._throttle_times.append(time.time())
            return consts.SMPP_ESME_RTHROTTLED
        if self.faults["tps"] > 0:
            # An operator's limit: in no sliding second does it accept more than tps; what exceeds is refused.
            # Counted on the PDUs' arrival times, the clock /submit-times reports: decided on the time of the
            # decision instead, a PDU held up by a busy loop let a 31st arrival into a second (test_pacing).
            now = time.time() if arrived is None else arrived
            recent = self._recent_submits
            while recent and now - recent[0] >= 1.0:
                recent.popleft()
            if len(recent) >= self.faults["tps"]:
                self._throttled += 1
                self._throttle_times.append(time.time())
                return consts.SMPP_ESME_RTHROTTLED
        if self.options.error_ratio and self._random.random() < self.options.error_ratio:
            self._errors += 1
            return self._random.choice(
                (consts.SMPP_ESME_RSYSERR, consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RINVDSTADR)
            )
        return None

    def _should_drop(self) -> bool:
        drop_after = self.faults["drop_after"]
        if drop_after is not None:
            if drop_after <= 1:
                self.faults["drop_after"] = None
                self._drops += 1
                return True
            self.faults["drop_after"] = drop_after - 1
        if self.options.disconnect_ratio and self._random.random() < self.options.disconnect_ratio:
            self._drops += 1
            return True
        return False

    def inject_mo(self, source: str, destination: str, text: str, sar: bool = False) -> int:
        """Send a mobile-originated SMS to one bound receiver (round-robin).

        Returns the number of sessions it was sent to (0 or 1). Raises
        ValueError for unusable addresses or a text too long to deliver.
        Blocks on the simulator's loop, so never call it from that loop.
        """
        if self._loop is None:
            raise RuntimeError("the simulator is not running")
        source_addr, source_ton, source_npi = _address_fields(source)
        destination_addr, dest_ton, dest_npi = _address_fields(destination)
        for name, address in (("from", source_addr), ("to", destination_addr)):
            if not address or len(address) > _MAX_ADDRESS_LENGTH or not address.isascii():
                raise ValueError(f'"{name}" must be 1-{_MAX_ADDRESS_LENGTH} ASCII characters')
        segmentation = deliverable(text)
        data_coding, payloads = segmentation.data_coding, list(segmentation.payloads)
        reference = next(self._mo_references)
        sar_tlvs = [b""] * len(payloads)
        if len(payloads) == 1:
            user_data, esm_class = payloads, 0
        elif sar:  # the SAR TLVs carry the position; the payload has no header
            user_data, esm_class = payloads, 0
            sar_tlvs = [
                encode_tlv(TAG_SAR_MSG_REF_NUM, (reference & 0xFFFF).to_bytes(2, "big"))
                + encode_tlv(TAG_SAR_TOTAL_SEGMENTS, bytes((len(payloads),)))
                + encode_tlv(TAG_SAR_SEGMENT_SEQNUM, bytes((number,)))
                for number in range(1, len(payloads) + 1)
            ]
        else:
            user_data = [
                concatenation_udh(reference, len(payloads), number) + payload
                for number, payload in enumerate(payloads, start=1)
            ]
            esm_class = consts.SMPP_GSMFEAT_UDHI
        deliveries = [
            _Delivery(
                encode_deliver_sm(
                    source_addr=source_addr,
                    source_addr_ton=source_ton,
                    source_addr_npi=source_npi,
                    destination_addr=destination_addr,
                    dest_addr_ton=dest_ton,
                    dest_addr_npi=dest_npi,
                    esm_class=esm_class,
                    data_coding=data_coding,
                    short_message=part,
                    tlvs=tlvs,
                ),
                system_id=None,
                is_receipt=False,
            )
            for part, tlvs in zip(user_data, sar_tlvs)
        ]
        return self._call_in_loop(self._send_mo(deliveries))

    async def _send_mo(self, deliveries: list[_Delivery]) -> int:
        receivers = [session for session in self._bound if session.can_receive]
        if not receivers:
            return 0
        session = receivers[self._next_receiver % len(receivers)]
        self._next_receiver += 1
        for delivery in deliveries:
            session.send_delivery(delivery)
        self._mo_sent += 1
        logger.debug("MO (%d parts) sent to %s", len(deliveries), session.peer)
        return 1

    # Called by sessions, on the loop thread.

    def _check_credentials(self, system_id: str, password: str) -> int:
        if system_id != self.options.system_id:
            return consts.SMPP_ESME_RINVSYSID
        if password != self.options.password:
            return consts.SMPP_ESME_RINVPASWD
        return consts.SMPP_ESME_ROK

    def _session_opened(self, session: _SmppSession) -> None:
        self._sessions.add(session)
        logger.debug("connection from %s", session.peer)

    def _session_bound(self, session: _SmppSession) -> None:
        self._bound.append(session)
        logger.info("%s bound as 0x%08x (system_id %s)", session.peer, session.bind_command, session.system_id)
        if session.can_receive and self._queued:
            self._deliver_queued(session)

    def _session_unbound(self, session: _SmppSession) -> None:
        if session in self._bound:
            self._bound.remove(session)

    def _session_closed(self, session: _SmppSession, unanswered: list[_Delivery]) -> None:
        self._sessions.discard(session)
        self._session_unbound(session)
        logger.info("connection from %s closed", session.peer)
        for delivery in unanswered:
            self._dispatch(delivery)

    def _deliver_queued(self, session: _SmppSession) -> None:
        still_queued = []
        for delivery in self._queued:
            if delivery.system_id in (None, session.system_id):
                self._send(session, delivery)
            else:
                still_queued.append(delivery)
        self._queued = still_queued

    def _accept_submit(self, session: _SmppSession, submit: SubmitSm, segment: Segment | None, payload: bytes) -> str:
        message_id = self._next_message_id()
        self._submit_count += 1
        self._submit_times.append(session.received_at)
        if self.faults["tps"] > 0:
            self._recent_submits.append(session.received_at)
        self._store.add(submit, session.system_id, message_id, segment, payload)
        if submit.registered_delivery & 1:
            loop = self._loop
            assert loop is not None  # called by a session, on the running loop
            delay = self.options.receipt_delay
            if self.options.receipt_delay_max > delay:
                delay = self._random.uniform(delay, self.options.receipt_delay_max)
            due_at = loop.time() + delay
            pending = _PendingReceipt(session, submit, message_id, payload, _receipt_date())
            heapq.heappush(self._due_receipts, (due_at, next(self._receipt_order), pending))
            # One timer for the earliest receipt replaces a timer per message.
            if self._timer is None or due_at < self._timer.when():
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = loop.call_at(due_at, self._send_due_receipts)
        return message_id

    def _send_due_receipts(self) -> None:
        self._timer = None
        loop = self._loop
        assert loop is not None  # a timer of the running loop calls this
        now = loop.time()
        due_receipts = self._due_receipts
        while due_receipts and due_receipts[0][0] <= now:
            receipt = heapq.heappop(due_receipts)[2]
            self._dispatch(
                _Delivery(self._receipt_body(receipt), receipt.submitter.system_id, is_receipt=True),
                preferred=receipt.submitter,
            )
        if due_receipts:
            self._timer = loop.call_at(due_receipts[0][0], self._send_due_receipts)

    def _dispatch(self, delivery: _Delivery, preferred: _SmppSession | None = None) -> None:
        if preferred is not None and preferred.can_receive:
            self._send(preferred, delivery)
            return
        for session in self._bound:
            if session.can_receive and delivery.system_id in (None, session.system_id):
                self._send(session, delivery)
                return
        self._queued.append(delivery)

    def _send(self, session: _SmppSession, delivery: _Delivery) -> None:
        session.send_delivery(delivery)
        if delivery.is_receipt:
            self._receipts_sent += 1

    def _next_outcome(self) -> str:
        """DELIVRD, EXPIRED or UNDELIV in the configured mix, spread evenly and deterministically: after n
        receipts, floor(n * delivered_ratio) were DELIVRD and floor(n * (delivered + expired)) DELIVRD or
        EXPIRED."""
        n = self._receipts_decided = self._receipts_decided + 1
        delivered, expired = self.options.delivered_ratio, self.options.expired_ratio
        if self._outcomes["DELIVRD"] < math.floor(n * delivered):
            stat = "DELIVRD"
        elif self._outcomes["DELIVRD"] + self._outcomes["EXPIRED"] < math.floor(n * (delivered + expired)):
            stat = "EXPIRED"
        else:
            stat = "UNDELIV"
        self._outcomes[stat] += 1
        return stat

    def _receipt_body(self, receipt: _PendingReceipt) -> bytes:
        submit = receipt.submit
        if _bare_number(submit.destination_addr) in self.faults["undeliverable"]:
            stat = "UNDELIV"
        else:
            stat = self._next_outcome()
        delivered, error, state = {
            "DELIVRD": ("001", "000", consts.SMPP_MESSAGE_STATE_DELIVERED),
            "EXPIRED": ("000", "000", consts.SMPP_MESSAGE_STATE_EXPIRED),
            "UNDELIV": ("000", "001", consts.SMPP_MESSAGE_STATE_UNDELIVERABLE),
        }[stat]
        form = self.options.receipt_form
        text_id = format(int(receipt.message_id), "X") if self.options.receipt_text_id == "hex" else receipt.message_id
        short_message = b""
        if form in ("both", "text"):
            excerpt = decode_text(submit.data_coding, receipt.part_payload)[:20]
            short_message = (
                f"id:{text_id} sub:001 dlvrd:{delivered} submit date:{receipt.submit_date} "
                f"done date:{_receipt_date()} stat:{stat} err:{error} text:"
            ).encode("ascii") + gsm_encode_lossy(excerpt)
        tlvs = b""
        if form in ("both", "tlv"):
            tlvs = encode_tlv(TAG_RECEIPTED_MESSAGE_ID, receipt.message_id.encode("ascii") + b"\0") + encode_tlv(
                TAG_MESSAGE_STATE, bytes((state,))
            )
        return encode_deliver_sm(
            source_addr=submit.destination_addr,
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            destination_addr=submit.source_addr,
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            esm_class=ESM_CLASS_DELIVERY_RECEIPT,
            data_coding=consts.SMPP_ENCODING_DEFAULT,
            short_message=short_message,
            tlvs=tlvs,
        )


def _garbage_unknown_command(simulator: SmscSimulator) -> bytes:
    return encode_pdu(0x00000777, consts.SMPP_ESME_ROK, 0x7FFFFF01, b"\x01\x02")


def _garbage_truncated(simulator: SmscSimulator) -> bytes:
    # A deliver_sm whose body stops inside its mandatory fields.
    return encode_pdu(DELIVER_SM, consts.SMPP_ESME_ROK, 0x7FFFFF02, b"\0\x01\x0148601")


def _garbage_bad_ucs2(simulator: SmscSimulator) -> bytes:
    # An MO claiming UCS-2 with an odd number of octets and a lone surrogate.
    body = encode_deliver_sm(
        source_addr="48601999999",
        source_addr_ton=consts.SMPP_TON_INTL,
        source_addr_npi=consts.SMPP_NPI_ISDN,
        destination_addr="4800",
        dest_addr_ton=consts.SMPP_TON_UNK,
        dest_addr_npi=consts.SMPP_NPI_ISDN,
        esm_class=0,
        data_coding=8,
        short_message=b"\x00S\xd8\x00\x00",
    )
    return encode_pdu(DELIVER_SM, consts.SMPP_ESME_ROK, 0x7FFFFF03, body)


def _garbage_bad_length(simulator: SmscSimulator) -> bytes:
    # A command_length no PDU can have: the stream's framing is lost.
    return struct.pack("!IIII", 7, DELIVER_SM, 0, 0x7FFFFF04) + b"garbage"


_GARBAGE = {
    "unknown_command": _garbage_unknown_command,
    "truncated": _garbage_truncated,
    "bad_ucs2": _garbage_bad_ucs2,
    "bad_length": _garbage_bad_length,
}


def serve_forever(options: SimulatorOptions) -> None:
    """Run the simulator until SIGINT or SIGTERM. Must be called from the main thread."""
    simulator = SmscSimulator(options)
    simulator.start()
    # A full collection stalled its reading up to 310 ms: a burst that never was (syrena_core/heap.py).
    settle_after_startup()
    stop_requested = threading.Event()
    previous_handlers = {
        signum: signal.signal(signum, lambda *_: stop_requested.set()) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        # One write, newline included: print() writes the end separately, and a log line from another thread
        # could land between the two (honcho then showed both on one line).
        print(
            f"SMSC simulator: SMPP on {options.host}:{simulator.smpp_port}, "
            f"control on http://{options.control_host}:{simulator.control_port}\n",
            end="",
            flush=True,
        )
        stop_requested.wait()
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        simulator.stop()
