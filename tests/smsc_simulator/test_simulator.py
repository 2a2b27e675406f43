"""The bundled SMSC simulator, driven over real sockets by smpplib and raw SMPP."""

from __future__ import annotations

import json
import socket
import struct
import time
import urllib.error
import urllib.request

import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions

from smsc_gateway.encoding import encode_sms, gsm_decode
from smsc_gateway.pdu import Segment, split_user_data
from smsc_simulator import SimulatorOptions, SmscSimulator
from syrena_core.config import Settings, SimulatorSettings, SmscSettings

SUBSCRIBER = "48601234567"
SHORT_CODE = "4800"
POLISH_TEXT = (
    "Uwaga! Ostrzeżenie hydrologiczne dla dzielnicy Wilda: rzeka Warta przekroczyła stan alarmowy. "
    "Mieszkańcy ulic przy nabrzeżu proszeni są o zabezpieczenie mienia i śledzenie komunikatów służb."
)


def start_simulator(**options) -> SmscSimulator:
    simulator = SmscSimulator(SimulatorOptions(port=0, control_port=0, receipt_delay=0.05, **options))
    simulator.start()
    return simulator


@pytest.fixture
def simulator():
    simulator = start_simulator()
    yield simulator
    simulator.stop()


class Esme:
    """An smpplib client that collects what the simulator sends it."""

    def __init__(
        self, simulator: SmscSimulator, bind: str = "transceiver", system_id: str = "syrena", password: str = "secret"
    ) -> None:
        self.client = smpplib.client.Client(
            "127.0.0.1", simulator.smpp_port, timeout=0.5, allow_unknown_opt_params=True
        )
        self.responses = []
        self.delivered = []
        self.client.set_message_sent_handler(lambda pdu: self.responses.append(pdu))
        self.client.set_message_received_handler(lambda pdu: self.delivered.append(pdu))
        self.client.connect()
        try:
            getattr(self.client, f"bind_{bind}")(system_id=system_id, password=password)
        except smpplib.exceptions.PDUError:
            self.client.disconnect()
            raise

    def send_text(self, text: str, destination: str = SUBSCRIBER, **extra) -> int:
        encoded = encode_sms(text)
        parts, data_coding, esm_class = encoded.parts, encoded.data_coding, encoded.esm_class
        for part in parts:
            self.client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_SBSCR,
                source_addr=SHORT_CODE,
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=destination,
                short_message=part,
                data_coding=data_coding,
                esm_class=esm_class,
                registered_delivery=True,
                **extra,
            )
        return len(parts)

    def wait_for(self, condition, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out waiting for the simulator"
            self.client.read_once()

    def close(self) -> None:
        try:
            self.client.unbind()
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
            pass
        self.client.disconnect()


@pytest.fixture
def esme(simulator):
    opened = []

    def connect(bind: str = "transceiver") -> Esme:
        opened.append(Esme(simulator, bind))
        return opened[-1]

    yield connect
    for client in opened:
        client.close()


def control(simulator: SmscSimulator, method: str, path: str, body: bytes | dict | None = None):
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{simulator.control_port}{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def raw_pdu(command_id: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack("!IIII", 16 + len(body), command_id, 0, sequence) + body


def read_raw_pdu(sock: socket.socket) -> tuple[int, int, int, bytes] | None:
    """Return (command_id, status, sequence, body), or None once the server closed the connection."""
    data = b""
    while len(data) < 16 or len(data) < struct.unpack("!I", data[:4])[0]:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        data += chunk
    length, command_id, status, sequence = struct.unpack("!IIII", data[:16])
    return command_id, status, sequence, data[16:length]


def raw_connection(simulator: SmscSimulator) -> socket.socket:
    return socket.create_connection(("127.0.0.1", simulator.smpp_port), timeout=2)


BIND_TRANSCEIVER_BODY = b"syrena\0secret\0\0\x34\0\0\0"


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [
        ("syrena", "wrong", 0x0E),
        ("intruder", "secret", 0x0F),
    ],
)
def test_bind_with_wrong_credentials_is_refused_and_closed(simulator, system_id, password, status):
    with pytest.raises(smpplib.exceptions.PDUError) as refused:
        Esme(simulator, system_id=system_id, password=password)
    assert refused.value.args[1] == status
    assert control(simulator, "GET", "/stats")[1]["binds"] == 0


def test_refused_bind_closes_the_connection(simulator):
    with raw_connection(simulator) as sock:
        sock.sendall(raw_pdu(0x00000009, 7, b"syrena\0wrong\0\0\x34\0\0\0"))
        command_id, status, sequence, _ = read_raw_pdu(sock)
        assert (command_id, status, sequence) == (0x80000009, 0x0E, 7)
        assert sock.recv(1) == b""


def test_gsm_message_is_recorded_and_receipted_with_the_same_id(simulator, esme):
    client = esme()
    text = "Alarm: ewakuacja {strefa A} 50€ @ 12:00"
    client.send_text(text)
    client.wait_for(lambda: client.responses and client.delivered)

    message_id = client.responses[0].message_id.decode()
    assert message_id.isdigit()
    [record] = simulator.messages()
    assert record["text"] == text
    assert record["destination_addr"] == SUBSCRIBER
    assert record["source_addr"] == SHORT_CODE
    assert record["data_coding"] == 0
    assert record["parts"] == 1
    assert record["message_ids"] == [message_id]
    assert record["system_id"] == "syrena"
    assert record["received_at"].endswith("Z")

    [receipt] = client.delivered
    assert receipt.esm_class == 0x04
    assert receipt.source_addr.decode() == SUBSCRIBER
    assert receipt.destination_addr.decode() == SHORT_CODE
    assert receipt.receipted_message_id.decode() == message_id
    assert receipt.message_state == 2
    receipt_text = receipt.short_message.decode("ascii")
    assert receipt_text.startswith(f"id:{message_id} sub:001 dlvrd:001 submit date:")
    assert " stat:DELIVRD err:000 text:Alarm: ewakuacja " in receipt_text


def test_long_polish_ucs2_message_becomes_one_record_with_a_receipt_per_part(simulator, esme):
    client = esme()
    assert client.send_text(POLISH_TEXT) == 3
    client.wait_for(lambda: len(client.responses) == 3 and len(client.delivered) == 3)

    part_ids = [response.message_id.decode() for response in client.responses]
    assert len(set(part_ids)) == 3
    [record] = simulator.messages()
    assert record["text"] == POLISH_TEXT
    assert record["parts"] == 3
    assert record["data_coding"] == 8
    assert record["message_ids"] == part_ids
    assert sorted(receipt.receipted_message_id.decode() for receipt in client.delivered) == sorted(part_ids)
    assert all(b"stat:DELIVRD" in receipt.short_message for receipt in client.delivered)
    # Kept as flat tuples the garbage collector untracks: a long run's records never stall the reading.
    import gc

    gc.collect()
    gc.collect()  # a tuple is untracked once the tuples inside it are: one collection each level
    assert not any(gc.is_tracked(r) for r in simulator._store._records)


def test_sar_segments_and_message_payload_are_recorded(simulator, esme):
    client = esme()
    encoded = POLISH_TEXT.encode("utf-16-be")
    segments = [encoded[i : i + 134] for i in range(0, len(encoded), 134)]
    for number, segment in enumerate(segments, start=1):
        client.client.send_message(
            source_addr=SHORT_CODE,
            destination_addr=SUBSCRIBER,
            short_message=segment,
            data_coding=8,
            sar_msg_ref_num=0x1234,
            sar_total_segments=len(segments),
            sar_segment_seqnum=number,
        )
    client.client.send_message(
        source_addr=SHORT_CODE,
        destination_addr=SUBSCRIBER,
        message_payload="Treść w message_payload".encode("utf-16-be"),
        data_coding=8,
    )
    client.wait_for(lambda: len(client.responses) == len(segments) + 1)

    sar_record, payload_record = simulator.messages()
    assert (sar_record["text"], sar_record["parts"]) == (POLISH_TEXT, len(segments))
    assert (payload_record["text"], payload_record["parts"]) == ("Treść w message_payload", 1)
    assert not client.delivered  # registered_delivery was not requested


def test_messages_can_be_listed_and_cleared_over_http(simulator, esme):
    client = esme()
    client.send_text("Pierwsza", destination="48601000001")
    client.send_text("Druga", destination="48601000002")
    client.wait_for(lambda: len(client.responses) == 2)

    status, records = control(simulator, "GET", "/messages")
    assert status == 200
    assert [(r["destination_addr"], r["text"]) for r in records] == [
        ("48601000001", "Pierwsza"),
        ("48601000002", "Druga"),
    ]
    assert control(simulator, "DELETE", "/messages") == (200, {"cleared": 2})
    assert control(simulator, "GET", "/messages") == (200, [])

    client.wait_for(lambda: len(client.delivered) == 2)
    assert control(simulator, "GET", "/stats") == (
        200,
        {"binds": 1, "unbinds": 0, "submit_sm": 2, "receipts_sent": 2, "mo_sent": 0},
    )


@pytest.mark.parametrize(("text", "data_coding"), [("START WILDA", 0), ("Zapisz Łazarz", 8)])
def test_mo_reaches_the_bound_client(simulator, esme, text, data_coding):
    client = esme()
    status, body = control(simulator, "POST", "/mo", {"from": "+" + SUBSCRIBER, "to": SHORT_CODE, "text": text})
    assert (status, body) == (202, {"sent": True})
    client.wait_for(lambda: client.delivered)

    [mo] = client.delivered
    assert mo.esm_class == 0
    assert mo.data_coding == data_coding
    assert mo.source_addr.decode() == SUBSCRIBER
    assert mo.source_addr_ton == smpplib.consts.SMPP_TON_INTL
    assert mo.destination_addr.decode() == SHORT_CODE
    decoded = gsm_decode(mo.short_message) if data_coding == 0 else mo.short_message.decode("utf-16-be")
    assert decoded == text
    assert simulator.stats()["mo_sent"] == 1


def test_long_mo_is_split_with_concatenation_headers(simulator, esme):
    client = esme()
    text = "Zgłoszenie: " + "woda na ulicy " * 7  # 110 UCS-2 characters: two parts of at most 67
    assert simulator.inject_mo(SUBSCRIBER, SHORT_CODE, text) == 1
    client.wait_for(lambda: len(client.delivered) == 2)

    headers = [mo.short_message[:6] for mo in client.delivered]
    assert all(mo.esm_class == 0x40 and mo.data_coding == 8 for mo in client.delivered)
    assert headers[0][:5] == headers[1][:5] and headers[0][:3] == b"\x05\x00\x03" and headers[0][4] == 2
    assert [header[5] for header in headers] == [1, 2]
    assert b"".join(mo.short_message[6:] for mo in client.delivered).decode("utf-16-be") == text


def test_mo_round_robins_over_receiver_sessions(simulator, esme):
    first, second = esme(), esme("receiver")
    esme("transmitter")  # cannot receive, so never chosen
    for _ in range(4):
        assert simulator.inject_mo(SUBSCRIBER, SHORT_CODE, "STOP") == 1
    first.wait_for(lambda: len(first.delivered) == 2)
    second.wait_for(lambda: len(second.delivered) == 2)


def test_mo_without_a_receiver_session_is_409(simulator, esme):
    esme("transmitter")
    status, body = control(simulator, "POST", "/mo", {"from": "+" + SUBSCRIBER, "to": SHORT_CODE, "text": "START"})
    assert status == 409
    assert "error" in body


@pytest.mark.parametrize("body", [b"{not json", b"[]", json.dumps({"from": "+48601234567", "text": "x"}).encode()])
def test_malformed_mo_requests_are_400(simulator, esme, body):
    esme()
    status, reply = control(simulator, "POST", "/mo", body)
    assert status == 400
    assert "error" in reply


def test_unknown_control_path_is_404(simulator):
    status, reply = control(simulator, "GET", "/nope")
    assert status == 404
    assert "error" in reply


def test_garbage_is_refused_and_the_server_keeps_serving(simulator, esme):
    with raw_connection(simulator) as sock:
        sock.sendall(b"this is definitely not an SMPP PDU")
        reply = read_raw_pdu(sock)
        assert reply is None or reply[:2] == (0x80000000, 0x02)
        assert sock.recv(1) == b""

    client = esme()
    client.send_text("Nadal działa?")
    client.wait_for(lambda: client.responses)
    assert simulator.messages()[0]["text"] == "Nadal działa?"


def test_raw_protocol_errors_get_the_right_status(simulator):
    with raw_connection(simulator) as sock:
        sock.sendall(raw_pdu(0x00000004, 1, b"\0\0\0" + b"4800\0"))  # submit_sm before bind
        assert read_raw_pdu(sock)[:3] == (0x80000004, 0x04, 1)

        sock.sendall(raw_pdu(0x00000009, 2, BIND_TRANSCEIVER_BODY))
        command_id, status, sequence, body = read_raw_pdu(sock)
        assert (command_id, status, sequence, body) == (0x80000009, 0, 2, b"SYRENASIM\0")

        sock.sendall(raw_pdu(0x00000004, 3, b"\0\0\0" + b"4800\0"))  # truncated submit_sm
        assert read_raw_pdu(sock)[:3] == (0x80000000, 0x02, 3)

        sock.sendall(raw_pdu(0x000000FF, 4))  # no such command
        assert read_raw_pdu(sock)[:3] == (0x80000000, 0x03, 4)

        sock.sendall(raw_pdu(0x00000015, 5))  # still alive: enquire_link
        assert read_raw_pdu(sock)[:3] == (0x80000015, 0, 5)

        sock.sendall(raw_pdu(0x00000006, 6))  # unbind, then the server closes
        assert read_raw_pdu(sock)[:3] == (0x80000006, 0, 6)
        assert sock.recv(1) == b""


def test_receipt_waits_for_a_receiver_of_the_same_account(simulator, esme):
    transmitter = esme("transmitter")
    transmitter.send_text("Czekam na raport")
    transmitter.wait_for(lambda: transmitter.responses)
    message_id = transmitter.responses[0].message_id.decode()
    time.sleep(0.15)  # the receipt is due, but nobody can take it yet

    receiver = esme("receiver")
    receiver.wait_for(lambda: receiver.delivered)
    assert receiver.delivered[0].receipted_message_id.decode() == message_id


@pytest.mark.service  # starts its own simulator, not through a fixture
def test_delivered_ratio_zero_gives_undeliverable_receipts():
    simulator = start_simulator(delivered_ratio=0.0)
    client = Esme(simulator)
    try:
        client.send_text("Nie dojdzie")
        client.wait_for(lambda: client.delivered)
        [receipt] = client.delivered
        assert receipt.message_state == 5
        text = receipt.short_message.decode("ascii")
        assert "dlvrd:000" in text and "stat:UNDELIV err:001" in text
    finally:
        client.close()
        simulator.stop()


@pytest.mark.service  # starts its own simulator, not through a fixture
def test_stop_closes_client_connections_promptly():
    simulator = start_simulator()
    client = Esme(simulator)
    started = time.monotonic()
    simulator.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(smpplib.exceptions.ConnectionError):
        client.client.read_pdu()
    client.client.disconnect()


def test_udh_with_a_16_bit_reference_is_understood():
    segment, payload = split_user_data(0x40, b"\x06\x08\x04\x12\x34\x03\x02hello", {})
    assert (segment, payload) == (Segment(0x1234, 3, 2), b"hello")


def test_gsm_decoder_handles_escapes_and_a_dangling_escape():
    assert gsm_decode(b"\x1b\x65 5\x1b\x28x\x1b\x29\x1b") == "€ 5{x}"


class _PduStream:
    """Reads PDUs one by one from a socket, keeping what arrives beyond the current one (read_raw_pdu drops it)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.data = sock, b""

    def next(self) -> tuple[int, int, int, bytes]:
        while len(self.data) < 16 or len(self.data) < struct.unpack("!I", self.data[:4])[0]:
            chunk = self.sock.recv(4096)
            assert chunk, "the simulator closed the connection"
            self.data += chunk
        length, command_id, status, sequence = struct.unpack("!IIII", self.data[:16])
        pdu, self.data = (command_id, status, sequence, self.data[16:length]), self.data[length:]
        return pdu


@pytest.mark.service  # starts its own simulator, not through a fixture
def test_deliver_window_holds_receipts_until_earlier_ones_are_answered():
    from smsc_gateway.pdu import encode_submit_sm

    simulator = start_simulator(deliver_window=2)
    sock = raw_connection(simulator)
    pdus = _PduStream(sock)
    try:
        sock.sendall(raw_pdu(0x09, 1, BIND_TRANSCEIVER_BODY))
        assert pdus.next()[:2] == (0x80000009, 0)
        for n in range(3):
            sock.sendall(
                encode_submit_sm(
                    10 + n,
                    source_addr_ton=5,
                    source_addr_npi=0,
                    source_addr="Syrena",
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    destination_addr=f"4860100000{n}",
                    esm_class=0,
                    registered_delivery=1,
                    data_coding=0,
                    short_message=b"Test okna",
                )
            )
        received = [pdus.next() for _ in range(5)]  # 3 submit_sm_resp, then the window's 2 receipts
        receipts = [pdu for pdu in received if pdu[0] == 0x05]
        assert [pdu[0] for pdu in received].count(0x80000004) == 3
        assert len(receipts) == 2
        sock.settimeout(0.5)  # the third receipt was due after 0.05 s: it waits for room in the window
        with pytest.raises(socket.timeout):
            pdus.next()

        sock.settimeout(2)
        sock.sendall(raw_pdu(0x80000005, receipts[0][2], b"\0"))  # deliver_sm_resp for the first one
        third = pdus.next()
        assert third[0] == 0x05 and third[2] not in {r[2] for r in receipts}
    finally:
        sock.close()
        simulator.stop()


def test_options_default_to_the_configuration_and_take_every_simulator_setting():
    """`flask smsc simulate` runs with SimulatorOptions.from_settings: no default is written twice, and a
    [simulator] key is never forgotten on the way (the CLI once copied 11 of them by hand)."""
    defaults, smsc = SimulatorSettings(), SmscSettings()
    plain = SimulatorOptions()
    assert (plain.port, plain.system_id, plain.password) == (smsc.port, smsc.system_id, smsc.password)
    assert (plain.control_port, plain.receipt_delay, plain.wrap_ids_at) == (
        defaults.control_port,
        defaults.receipt_delay,
        defaults.wrap_ids_at,
    )
    configured = SimulatorSettings(
        control_port=18025,
        receipt_delay=1.5,
        receipt_delay_max=2.5,
        delivered_ratio=0.5,
        expired_ratio=0.25,
        receipt_form="tlv",
        tps=7.0,
        error_ratio=0.1,
        throttle_ratio=0.2,
        disconnect_ratio=0.05,
        deliver_window=3,
        wrap_ids_at=1000,
    )
    settings = Settings(simulator=configured, smsc=SmscSettings(port=12775, system_id="city", password="pw"))
    options = SimulatorOptions.from_settings(settings, host="0.0.0.0", control_port=0)
    for name in (
        "receipt_delay",
        "receipt_delay_max",
        "delivered_ratio",
        "expired_ratio",
        "receipt_form",
        "tps",
        "error_ratio",
        "throttle_ratio",
        "disconnect_ratio",
        "deliver_window",
        "wrap_ids_at",
    ):
        assert getattr(options, name) == getattr(configured, name), name
    assert (options.port, options.system_id, options.password) == (12775, "city", "pw")
    assert (options.host, options.control_port) == ("0.0.0.0", 0)  # what the command line gives wins
    assert SimulatorOptions.from_settings(settings).control_port == 18025
