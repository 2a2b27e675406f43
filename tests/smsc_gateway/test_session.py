"""The SMPP session against the simulator over TCP: encoding choices, sender ids, flash, validity, the
status table, receipts in every form, transmitter + receiver binds."""

from __future__ import annotations

import threading

import pytest
import smpplib.client
import smpplib.smpp

from smsc_gateway.interface import OutboundSms
from smsc_gateway.pdu import DeliverSm, encode_submit_sm
from smsc_gateway.receipts import ReceiptIdForm
from smsc_gateway.session import SmppSession
from syrena_core.config import SmscSettings
from tests.helpers import Sink, wait_until


@pytest.fixture
def connect(start_simulator):
    sessions = []

    def connect(simulator=None, **settings):
        simulator = simulator or start_simulator()
        receipts, mo = Sink(), Sink()
        session = SmppSession(SmscSettings(port=simulator.smpp_port, **settings), None, receipts, mo)
        session.start()
        assert session.wait_bound(10)
        sessions.append(session)
        return simulator, session, receipts

    yield connect
    for session in sessions:
        session.stop()


def test_alphanumeric_sender_flash_and_validity_reach_the_smsc(connect):
    simulator, session, _ = connect(validity_minutes=90)
    [result] = session.send(
        [OutboundSms(ref=1, destination="+48601000001", text="Ewakuacja!", sender="Syrena", flash=True)]
    )
    assert result.accepted and result.smsc == "primary"
    [record] = simulator.messages()
    assert (record["source_addr"], record["source_addr_ton"]) == ("Syrena", 5)
    assert record["data_coding"] == 0x10 and record["text"] == "Ewakuacja!"
    assert record["validity_period"] == "000000013000000R"


def test_gsm_extension_characters_count_twice_and_polish_letters_make_ucs2(connect):
    _sim, session, _ = connect()
    euro, polish = session.send(
        [
            OutboundSms(ref=1, destination="+48601000001", text="€" * 81),
            OutboundSms(ref=2, destination="+48601000002", text="ż" * 71),
        ]
    )
    assert (euro.encoding, euro.parts) == ("gsm7", 2)  # 162 septets: over 160 with the escapes
    assert (polish.encoding, polish.parts) == ("ucs2", 2)


@pytest.mark.parametrize("form", ["tlv", "text", "both"])
def test_receipts_in_every_form_carry_the_submitted_ids(connect, start_simulator, form):
    simulator = start_simulator(receipt_form=form, delivered_ratio=0.5, expired_ratio=0.25)
    _sim, session, receipts = connect(simulator)
    results = session.send([OutboundSms(ref=n, destination=f"+4860100{n:04d}", text=f"x{n}") for n in range(8)])
    ids = {i for r in results for i in r.smsc_message_ids}
    wait_until(lambda: len(receipts.items) == 8, 10, "eight receipts")
    assert {r.smsc_message_id for r in receipts.items} == ids
    assert sorted(r.state for r in receipts.items) == ["DELIVRD"] * 4 + ["EXPIRED"] * 2 + ["UNDELIV"] * 2


def test_receipt_text_ids_in_hex_are_matched_when_configured(connect, start_simulator):
    simulator = start_simulator(receipt_form="text", receipt_text_id="hex")
    _sim, session, receipts = connect(simulator, receipt_id_base="hex")
    [result] = session.send([OutboundSms(ref=1, destination="+48601000001", text="x")])
    wait_until(lambda: receipts.items, 10, "the receipt")
    assert receipts.items[0].smsc_message_id == result.smsc_message_ids[0]


def test_a_permanent_error_fails_at_once_and_temporary_ones_are_retried(connect, start_simulator):
    simulator = start_simulator(error_ratio=0.3, seed=7)
    _sim, session, _ = connect(simulator, retry_delay=0.01, max_retries=10)
    results = session.send([OutboundSms(ref=n, destination=f"+4860100{n:04d}", text="x") for n in range(60)])
    failed = [r for r in results if not r.accepted]
    assert failed and {r.error for r in failed} == {"ESME_RINVDSTADR"}
    assert not any(r.temporary for r in failed)
    assert session.stats["retried"] >= 1  # ESME_RSYSERR / ESME_RMSGQFUL were sent again


def test_transmitter_and_receiver_binds_work_as_a_pair(connect):
    simulator, session, receipts = connect(bind_mode="transmitter_receiver")
    assert simulator.stats()["binds"] == 2
    [result] = session.send([OutboundSms(ref=1, destination="+48601000001", text="x")])
    wait_until(lambda: receipts.items, 10, "the receipt on the receiver bind")
    assert receipts.items[0].smsc_message_id == result.smsc_message_ids[0]


def test_the_fast_submit_sm_is_byte_for_byte_what_smpplib_builds():
    client = smpplib.client.Client("127.0.0.1", 1)
    for fields in (
        {
            "source_addr_ton": 3,
            "source_addr_npi": 0,
            "source_addr": "4800",
            "esm_class": 0x40,
            "data_coding": 8,
            "short_message": b"\x05\x00\x03\x01\x02\x01" + "żółw".encode("utf-16-be"),
            "validity_period": "000001000000000R",
        },
        {
            "source_addr_ton": 5,
            "source_addr_npi": 0,
            "source_addr": "Syrena",
            "esm_class": 0,
            "data_coding": 0x10,
            "short_message": b"Alarm",
            "validity_period": None,
        },
    ):
        reference = smpplib.smpp.make_pdu(
            "submit_sm",
            client=client,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="48601000001",
            registered_delivery=True,
            **fields,
        )
        ours = encode_submit_sm(
            reference.sequence,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="48601000001",
            registered_delivery=1,
            **fields,
        )
        assert ours == reference.generate()
    client._socket = None


def test_the_fast_deliver_sm_reader_agrees_with_smpplib():
    client = smpplib.client.Client("127.0.0.1", 1)
    pdu = smpplib.smpp.make_pdu(
        "deliver_sm",
        client=client,
        source_addr_ton=1,
        source_addr="48601000001",
        destination_addr="4800",
        esm_class=4,
        short_message=b"id:0A1b stat:DELIVRD err:000",
        receipted_message_id="0A1B",
        message_state=2,
    )
    raw = pdu.generate()
    parsed = smpplib.smpp.parse_pdu(raw, client=client, allow_unknown_opt_params=True)
    ours = DeliverSm(raw[16:])
    for name in ("esm_class", "source_addr_ton", "data_coding", "short_message", "message_state"):
        assert getattr(ours, name) == getattr(parsed, name), name
    assert ours.source_addr == parsed.source_addr.decode()
    assert ours.receipted_message_id.rstrip(b"\0") == parsed.receipted_message_id.rstrip(b"\0")
    assert ReceiptIdForm().canonical("0A1B\0") == ReceiptIdForm().canonical("a1b")
    client._socket = None


def test_a_link_kept_fed_does_not_keep_what_it_sent(start_simulator, paced_session):
    """A long campaign keeps the link's list of parts to send from ever running empty (the job tops it up);
    the sent head is dropped as it goes, or a 200,000-message alert kept 800,000 objects alive and the
    worker's full garbage collections stopped every link for half a second."""
    from smsc_gateway.session import COMPACT_AFTER

    simulator = start_simulator()
    session = paced_session(simulator, tps=1000)
    longest, stop = [0], threading.Event()

    def watch():
        while not stop.wait(0.005):
            longest[0] = max(longest[0], len(session._pending))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        count = 3 * COMPACT_AFTER
        results = session.send([OutboundSms(ref=n, destination=f"+4860{n:07d}", text="x") for n in range(count)])
    finally:
        stop.set()
        watcher.join()
    assert len(results) == count and all(r.accepted for r in results)
    assert longest[0] <= COMPACT_AFTER + session.settings.window


def test_the_receipt_id_map_costs_the_garbage_collector_nothing():
    """200,000 remembered SMSC ids must not be walked by every full collection (see syrena_core/heap.py)."""
    import gc

    from smsc_gateway.session import _IdMap

    ids = _IdMap(ttl=3600, size=1000)
    for n in range(100):
        ids.remember(f"id{n}", (n, 1))
    ids.receipt("id7", final=True)
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in ids._map.values())
    assert ids.receipt("id7", final=True) == ((7, 1), True)  # the final receipt is still remembered
