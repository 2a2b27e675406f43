"""Hostile or broken SMSCs: malformed PDUs (wrong lengths, unknown command ids, truncated TLVs, invalid UTF-16
in MO) fed by hypothesis to the gateway's parser and, through the simulator, to a live bound session. The
session logs them, answers generic_nack where SMPP 3.4 says so, and keeps its bind."""

from __future__ import annotations

import socket
import struct
import types

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from smpplib.consts import SMPP_GSMFEAT_UDHI as ESM_CLASS_UDHI

from smsc_gateway.encoding import decode_text
from smsc_gateway.pdu import (
    DELIVER_SM,
    ESM_CLASS_DELIVERY_RECEIPT,
    TAG_MESSAGE_PAYLOAD,
    TAG_MESSAGE_STATE,
    TAG_RECEIPTED_MESSAGE_ID,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    DeliverSm,
    PduDecodeError,
    encode_deliver_sm,
    encode_pdu,
    encode_tlv,
)
from smsc_gateway.receipts import MoAssembler, ReceiptIdForm, is_receipt, parse_receipt
from smsc_gateway.session import SessionLost, _Link
from tests.helpers import Collected, running_simulator, wait_until

TAGS = [
    TAG_MESSAGE_PAYLOAD,
    TAG_MESSAGE_STATE,
    TAG_RECEIPTED_MESSAGE_ID,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    0x1400,
    0xFFFF,
]
ADDRESS = st.text(st.characters(codec="latin-1", exclude_characters="\x00"), max_size=30)


@st.composite
def tlvs(draw) -> bytes:
    out = b"".join(
        encode_tlv(draw(st.sampled_from(TAGS)), draw(st.binary(max_size=80))) for _ in range(draw(st.integers(0, 4)))
    )
    if draw(st.integers(0, 3)) == 0:  # a SAR trio, sizes right or wrong
        out += b"".join(
            encode_tlv(tag, draw(st.binary(min_size=1, max_size=4)))
            for tag in (TAG_SAR_MSG_REF_NUM, TAG_SAR_TOTAL_SEGMENTS, TAG_SAR_SEGMENT_SEQNUM)
        )
    if draw(st.booleans()):  # a TLV whose declared length runs past the PDU, or a half header
        out += draw(st.sampled_from([struct.pack("!HH", TAG_MESSAGE_PAYLOAD, 200) + b"abc", b"\x04", b"\x04\x24\x00"]))
    return out


RECEIPT_TEXT = st.builds(
    lambda i, s, e: (
        f"id:{i} sub:001 dlvrd:001 submit date:2611290000 done date:2611290001 stat:{s} err:{e} text:".encode("latin-1")
    ),
    st.text(st.characters(codec="latin-1"), max_size=90),
    st.sampled_from(["DELIVRD", "UNDELIV", "", "X" * 20, "\x00"]),
    st.text(st.characters(codec="latin-1"), max_size=12),
)


@st.composite
def deliver_sm_bodies(draw) -> bytes:
    """deliver_sm bodies, mostly well framed, with hostile content: odd UCS-2, lone surrogates, UDH lies,
    receipts with absurd ids, TLVs cut short, and some cut off anywhere."""
    esm = draw(
        st.sampled_from(
            [
                0,
                ESM_CLASS_UDHI,
                ESM_CLASS_DELIVERY_RECEIPT,
                ESM_CLASS_DELIVERY_RECEIPT | 0x40,
                draw(st.integers(0, 255)),
            ]
        )
    )
    coding = draw(st.sampled_from([0, 3, 4, 8, 0x18, 0xF0, draw(st.integers(0, 255))]))
    message = draw(
        st.one_of(
            st.binary(max_size=254),
            RECEIPT_TEXT,
            st.sampled_from(
                [
                    b"\xd8\x00",
                    b"\x00S\xd8\x00\x00",
                    b"\xdc\x00\xd8\x3d",
                    b"\x05\x00\x03\x01\x02\x09ab",
                    b"\xff" * 3,
                    b"\x00\x00\x00\x00",
                ]
            ),
        )
    )
    body = encode_deliver_sm(
        source_addr=draw(ADDRESS),
        source_addr_ton=draw(st.integers(0, 255)),
        source_addr_npi=draw(st.integers(0, 255)),
        destination_addr=draw(ADDRESS),
        dest_addr_ton=1,
        dest_addr_npi=1,
        esm_class=esm,
        data_coding=coding,
        short_message=message[:255],
        tlvs=draw(tlvs()),
    )
    if draw(st.integers(0, 4)) == 0:  # truncated anywhere, or sm_length lying
        cut = draw(st.integers(0, len(body)))
        body = body[:cut]
    return body


def _storable(value) -> bool:
    return value is None or "\x00" not in str(value)


@hypothesis_settings(max_examples=400, deadline=None, database=None)
@given(st.one_of(deliver_sm_bodies(), st.binary(max_size=300)))
def test_the_deliver_sm_parser_only_ever_refuses_with_a_decode_error(body):
    try:
        pdu = DeliverSm(body)
    except PduDecodeError:
        return
    if is_receipt(pdu):
        receipt = parse_receipt(pdu, ReceiptIdForm("hex"), "primary")
        if receipt is not None:  # what goes to the database fits it
            assert 0 < len(receipt.smsc_message_id) <= 64 and _storable(receipt.smsc_message_id)
            assert len(receipt.state) <= 12 and _storable(receipt.state)
            assert receipt.error_code is None or (len(receipt.error_code) <= 8 and _storable(receipt.error_code))
    else:
        assembler = MoAssembler(timeout=0)
        message = assembler.add(pdu)
        for mo in ([message] if message else []) + assembler.expired():
            assert isinstance(mo.text, str)


def test_sar_tlvs_of_the_wrong_size_make_a_whole_message_not_a_crash():
    """Found by the live fuzz run: a 3-octet sar_msg_ref_num crashed the session loop (and cost the bind)."""
    sar = (
        encode_tlv(TAG_SAR_MSG_REF_NUM, b"\x01\x02\x03")
        + encode_tlv(TAG_SAR_TOTAL_SEGMENTS, b"\x02")
        + encode_tlv(TAG_SAR_SEGMENT_SEQNUM, b"\x01")
    )
    body = encode_deliver_sm(
        source_addr="48601",
        source_addr_ton=1,
        source_addr_npi=1,
        destination_addr="4800",
        dest_addr_ton=0,
        dest_addr_npi=1,
        esm_class=0,
        data_coding=0,
        short_message=b"STOP",
        tlvs=sar,
    )
    mo = MoAssembler().add(DeliverSm(body))
    assert mo is not None and mo.text == "STOP"


@given(st.integers(0, 255), st.binary(max_size=200))
def test_any_bytes_decode_to_text_in_any_data_coding(coding, payload):
    assert isinstance(decode_text(coding, payload), str)


@hypothesis_settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(
            st.builds(lambda b: encode_pdu(DELIVER_SM, 0, 1, b), deliver_sm_bodies()),
            st.binary(min_size=0, max_size=40),
        ),
        max_size=6,
    ),
    st.integers(1, 64),
)
def test_the_framing_reader_yields_whole_pdus_or_declares_the_stream_lost(chunks, read_size):
    """Whatever arrives, in whatever pieces: complete PDUs come out whole, or the session is declared lost."""
    ours, theirs = socket.socketpair()
    try:
        link = _Link(types.SimpleNamespace(_socket=ours), submits=True, receives=True)
        data = b"".join(chunks)
        pdus = []
        try:
            for start in range(0, len(data), read_size):
                theirs.sendall(data[start : start + read_size])
                pdus.extend(link.read_pdus())
        except SessionLost:
            return
        for raw in pdus:
            assert len(raw) == int.from_bytes(raw[:4], "big") and 16 <= len(raw) <= 64 * 1024
    finally:
        ours.close()
        theirs.close()


# ------------------------------------------------------------------ a live session, through the simulator
@pytest.fixture(scope="module")
def live():
    """A simulator and a bound gateway session of this module's own; the bind must survive every example."""
    from smsc_gateway.session import SmppSession
    from syrena_core.config import SmscSettings

    with running_simulator(receipt_delay=0.05) as sim:
        collected = Collected()
        smsc = SmscSettings(
            host="127.0.0.1", port=sim.smpp_port, system_id="syrena", password="secret", enquire_link_interval=300
        )
        smpp = SmppSession(smsc, None, collected.on_receipts, collected.on_mo)
        smpp.start()
        assert smpp.wait_bound(10)
        yield sim, smpp, collected
        smpp.stop()


HOSTILE_IDS = st.one_of(
    st.just(DELIVER_SM),
    st.sampled_from([0x00000777, 0x0000000B, 0x00000103, 0x00000102, 0x80000004, 0x80000000, 0x80000015, 0x80000777]),
    st.integers(0, 0xFFFFFFFF).filter(lambda c: c & 0x7FFFFFFF not in (0x6, 0x9, 0x1, 0x2)),
)


@st.composite
def hostile_pdus(draw) -> tuple[bytes, bool]:
    """(a framed PDU, whether SMPP requires a generic_nack for it)."""
    command = draw(HOSTILE_IDS)
    body = draw(deliver_sm_bodies()) if command == DELIVER_SM else draw(st.binary(max_size=60))
    sequence = draw(st.integers(0x70000000, 0x7FFFFFFF))
    if command == DELIVER_SM:
        try:
            DeliverSm(body)
            nack = False
        except PduDecodeError:
            nack = True
    else:
        import smpplib.command_codes
        import smpplib.exceptions

        try:
            smpplib.command_codes.get_command_name(command)
            known = True
        except (smpplib.exceptions.UnknownCommandError, KeyError):
            known = False
        nack = not known and not command & 0x80000000
    return encode_pdu(command, 0, sequence, body), nack


@hypothesis_settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(hostile_pdus(), min_size=1, max_size=5))
def test_a_live_session_answers_hostile_pdus_and_keeps_its_bind(live, pdus):
    sim, smpp, collected = live
    nacks_before = sim.fault_stats()["generic_nack_received"]
    reconnects = smpp.stats["reconnects"]
    sim.inject_faults(raw_hex=b"".join(raw for raw, _ in pdus).hex())

    # A normal MO behind them still arrives, on the same bind: nothing hostile stopped the reader.
    marker = f"STATUS {len(collected.mo)}"
    assert sim.inject_mo("+48601000111", "4800", marker) == 1
    wait_until(lambda: any(m.text == marker for m in collected.mo), 10, "the MO behind the hostile PDUs")
    assert smpp.is_bound and smpp.stats["reconnects"] == reconnects
    expected = sum(nack for _, nack in pdus)
    wait_until(
        lambda: sim.fault_stats()["generic_nack_received"] - nacks_before >= expected, 10, f"{expected} generic_nack"
    )


def test_invalid_utf16_in_an_mo_arrives_as_replacement_characters(live):
    sim, smpp, collected = live
    body = encode_deliver_sm(
        source_addr="48601999998",
        source_addr_ton=1,
        source_addr_npi=1,
        destination_addr="4800",
        dest_addr_ton=0,
        dest_addr_npi=1,
        esm_class=0,
        data_coding=8,
        short_message=b"\x00S\xd8\x00\x00T\x00O\x00P\xdc",
    )
    sim.inject_faults(raw_hex=encode_pdu(DELIVER_SM, 0, 0x7FFFFF10, body).hex())
    mo = wait_until(lambda: next((m for m in collected.mo if m.source.endswith("48601999998")), None), 10, "the MO")
    assert mo.text.startswith("S\ufffd") and "\ufffd" in mo.text
    assert smpp.is_bound


def test_a_command_length_no_pdu_can_have_costs_the_connection_but_not_the_session(live):
    """Framing is lost (SMPP has no way to resynchronise a byte stream): the session reconnects and binds again."""
    sim, smpp, collected = live
    reconnects = smpp.stats["reconnects"]
    sim.inject_faults(raw_hex=(struct.pack("!IIII", 7, DELIVER_SM, 0, 1) + b"garbage").hex())
    wait_until(lambda: smpp.stats["reconnects"] > reconnects and smpp.is_bound, 30, "a new bind")
    marker = "STATUS after-reconnect"
    wait_until(lambda: sim.inject_mo("+48601000112", "4800", marker) == 1, 10, "a bound receiver")
    wait_until(lambda: any(m.text == marker for m in collected.mo), 10, "an MO on the new bind")
