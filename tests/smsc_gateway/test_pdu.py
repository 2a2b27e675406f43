"""The one SMPP codec (smsc_gateway/pdu.py) shared by the gateway's session and the simulator: its framing reader
and its numbers, which are smpplib's. No services: pure functions (and one subprocess for the import path)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import smpplib.command_codes
from smpplib import consts

from smsc_gateway import pdu
from smsc_gateway.pdu import HEADER_SIZE, MAX_PDU_SIZE, FramingLost, encode_pdu, take_pdus


def test_take_pdus_cuts_whole_pdus_and_keeps_a_partial_one_for_the_next_read():
    first = encode_pdu(pdu.ENQUIRE_LINK, 0, 1)
    second = encode_pdu(pdu.SUBMIT_SM_RESP, 0, 2, b"12345\0")
    third = encode_pdu(pdu.DELIVER_SM, 0, 3, b"x" * 40)
    buffer = bytearray(first + second + third[:20])
    assert take_pdus(buffer) == [first, second]
    assert buffer == third[:20]
    assert take_pdus(buffer) == []  # still incomplete: nothing taken, nothing lost
    buffer += third[20:]
    assert take_pdus(buffer) == [third] and buffer == b""


@pytest.mark.parametrize("length", [0, 7, HEADER_SIZE - 1, MAX_PDU_SIZE + 1, 0xFFFFFFFF])
def test_a_length_no_pdu_can_have_loses_the_framing_after_the_whole_pdus_before_it(length):
    good = encode_pdu(pdu.ENQUIRE_LINK, 0, 1)
    bad = length.to_bytes(4, "big") + pdu.DELIVER_SM.to_bytes(4, "big") + bytes(4) + (77).to_bytes(4, "big")
    buffer = bytearray(good + bad + b"garbage")
    with pytest.raises(FramingLost) as lost:
        take_pdus(buffer)
    assert (lost.value.length, lost.value.sequence, lost.value.before) == (length, 77, [good])


def test_the_smallest_and_the_largest_pdu_are_framed():
    smallest, largest = encode_pdu(pdu.ENQUIRE_LINK, 0, 1), encode_pdu(pdu.DELIVER_SM, 0, 2, bytes(MAX_PDU_SIZE - 16))
    assert take_pdus(bytearray(smallest + largest)) == [smallest, largest]


def test_the_numbers_are_smpplibs():
    for name in (
        "generic_nack",
        "bind_receiver",
        "bind_transmitter",
        "bind_transceiver",
        "submit_sm",
        "submit_sm_resp",
        "deliver_sm",
        "deliver_sm_resp",
        "unbind",
        "unbind_resp",
        "enquire_link",
        "enquire_link_resp",
    ):
        assert getattr(pdu, name.upper()) == smpplib.command_codes.get_command_code(name)
    for name in (
        "receipted_message_id",
        "sar_msg_ref_num",
        "sar_total_segments",
        "sar_segment_seqnum",
        "message_payload",
        "message_state",
    ):
        assert getattr(pdu, f"TAG_{name.upper()}") == consts.OPTIONAL_PARAMS[name]
    assert pdu.SUBMIT_SM | pdu.RESPONSE_BIT == pdu.SUBMIT_SM_RESP


@pytest.mark.service  # a fresh interpreter: what it imports is not hidden by this run's modules
def test_the_production_code_never_imports_the_simulator():
    """The simulator is no part of what runs in production: the worker, the web app and the domain packages load
    without it (`flask smsc simulate` imports it when asked)."""
    code = (
        "import sys, app, app.worker, app.cli, campaigns.jobs, subscribers.jobs, smsc_gateway.session, "
        "smsc_gateway.router, smsc_gateway.receipts, smsc_gateway.inbound\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'smsc_simulator')\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
