"""The SMPP 3.4 codec of the gateway's session and of the SMSC simulator (smsc_simulator): the PDU header and
its framing, submit_sm / deliver_sm bodies, TLVs and the concatenation header (UDH or SAR TLVs).

The numbers are smpplib's (smpplib.consts, smpplib.command_codes): this module only names those the hot paths
compare against and smpplib keeps in tables, and the few smpplib lacks. The session still lets smpplib connect,
bind and handle the rare PDUs (enquire_link, unbind, generic_nack); what runs per message (every submit_sm
written, every submit_sm_resp and deliver_sm read) is hand-written here, since smpplib's generic codec costs
~130 µs per submit_sm (the whole budget at 3,000 messages/s). Its output is byte-for-byte smpplib's
(tests/gateway/test_session.py holds them side by side). The text inside a PDU (GSM 03.38, UCS-2, how a text
is split into parts) is smsc_gateway/encoding.py's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from smpplib import consts
from smpplib.command_codes import commands

HEADER = struct.Struct("!IIII")  # command_length, command_id, command_status, sequence_number
HEADER_SIZE = HEADER.size
# Generous upper bound: a submit_sm with a full message_payload is well below it.
MAX_PDU_SIZE = 64 * 1024

# Command ids: smpplib's table, by name, for the code that dispatches on them.
GENERIC_NACK = commands["generic_nack"]
BIND_RECEIVER = commands["bind_receiver"]
BIND_TRANSMITTER = commands["bind_transmitter"]
BIND_TRANSCEIVER = commands["bind_transceiver"]
SUBMIT_SM = commands["submit_sm"]
SUBMIT_SM_RESP = commands["submit_sm_resp"]
DELIVER_SM = commands["deliver_sm"]
DELIVER_SM_RESP = commands["deliver_sm_resp"]
UNBIND = commands["unbind"]
UNBIND_RESP = commands["unbind_resp"]
ENQUIRE_LINK = commands["enquire_link"]
ENQUIRE_LINK_RESP = commands["enquire_link_resp"]
# smpplib has no name for it: a response's command_id is its request's with this bit set (SMPP 3.4 §5.1.2.1).
RESPONSE_BIT = 0x80000000

# TLV tags: smpplib's table (consts.OPTIONAL_PARAMS), by name.
TAG_RECEIPTED_MESSAGE_ID = consts.OPTIONAL_PARAMS["receipted_message_id"]
TAG_SAR_MSG_REF_NUM = consts.OPTIONAL_PARAMS["sar_msg_ref_num"]
TAG_SAR_TOTAL_SEGMENTS = consts.OPTIONAL_PARAMS["sar_total_segments"]
TAG_SAR_SEGMENT_SEQNUM = consts.OPTIONAL_PARAMS["sar_segment_seqnum"]
TAG_MESSAGE_PAYLOAD = consts.OPTIONAL_PARAMS["message_payload"]
TAG_MESSAGE_STATE = consts.OPTIONAL_PARAMS["message_state"]

# esm_class "SMSC delivery receipt" (SMPP 3.4 §5.2.12, bits 5-2 = 0001). smpplib lacks it: its
# SMPP_MSGTYPE_DELIVERYACK (0x08) is the SME delivery acknowledgement, another thing.
ESM_CLASS_DELIVERY_RECEIPT = 0x04

_TLV_HEADER = struct.Struct("!HH")


class PduDecodeError(ValueError):
    """The PDU body does not match the layout its command_id requires."""


def encode_pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return HEADER.pack(HEADER_SIZE + len(body), command_id, status, sequence) + body


def encode_tlv(tag: int, value: bytes) -> bytes:
    return _TLV_HEADER.pack(tag, len(value)) + value


class FramingLost(ValueError):
    """A command_length no SMPP PDU can have: nothing after it in the stream can be trusted."""

    def __init__(self, length: int, sequence: int, before: list[bytes]):
        super().__init__(f"command_length {length}; framing lost")
        self.length, self.sequence = length, sequence
        self.before = before  # the whole PDUs that came ahead of it


def take_pdus(buffer: bytearray) -> list[bytes]:
    """Cut every complete PDU off the front of `buffer` (what a connection has received so far) and return them
    whole, header included, in order; an incomplete one stays for the next read. The one framing reader of the
    client session and the simulator: a 4-octet command_length, between HEADER_SIZE and MAX_PDU_SIZE, or
    FramingLost (the PDUs before it are in its `before`, the sequence number of its header for a generic_nack)."""
    pdus: list[bytes] = []
    offset, available = 0, len(buffer)
    while available - offset >= HEADER_SIZE:
        length = int.from_bytes(buffer[offset : offset + 4], "big")
        if not HEADER_SIZE <= length <= MAX_PDU_SIZE:
            sequence = int.from_bytes(buffer[offset + 12 : offset + 16], "big")
            del buffer[:offset]
            raise FramingLost(length, sequence, pdus)
        if available - offset < length:
            break
        pdus.append(bytes(buffer[offset : offset + length]))
        offset += length
    del buffer[:offset]
    return pdus


def _read_cstring(body: bytes, pos: int) -> tuple[bytes, int]:
    end = body.find(b"\0", pos)
    if end < 0:
        raise PduDecodeError("unterminated C-octet string")
    return body[pos:end], end + 1


def _read_byte(body: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(body):
        raise PduDecodeError("body too short")
    return body[pos], pos + 1


def parse_tlvs(body: bytes, pos: int) -> dict[int, bytes]:
    tlvs: dict[int, bytes] = {}
    end = len(body)
    while pos < end:
        if pos + 4 > end:
            raise PduDecodeError("truncated TLV header")
        tag, length = _TLV_HEADER.unpack_from(body, pos)
        pos += 4
        if pos + length > end:
            raise PduDecodeError("truncated TLV value")
        tlvs[tag] = body[pos : pos + length]
        pos += length
    return tlvs


@dataclass(slots=True)
class BindRequest:
    system_id: str
    password: str


def parse_bind(body: bytes) -> BindRequest:
    """Only the credentials matter to the simulator; the trailing fields are ignored."""
    system_id, pos = _read_cstring(body, 0)
    password, _ = _read_cstring(body, pos)
    return BindRequest(system_id.decode("latin-1"), password.decode("latin-1"))


@dataclass(slots=True)
class SubmitSm:
    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    esm_class: int
    registered_delivery: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]
    validity_period: str = ""


def parse_submit_sm(body: bytes) -> SubmitSm:
    _service_type, pos = _read_cstring(body, 0)
    source_ton, pos = _read_byte(body, pos)
    source_npi, pos = _read_byte(body, pos)
    source_addr, pos = _read_cstring(body, pos)
    dest_ton, pos = _read_byte(body, pos)
    dest_npi, pos = _read_byte(body, pos)
    destination_addr, pos = _read_cstring(body, pos)
    if pos + 3 > len(body):
        raise PduDecodeError("body too short")
    esm_class, _protocol_id, _priority_flag = body[pos], body[pos + 1], body[pos + 2]
    _schedule_delivery_time, pos = _read_cstring(body, pos + 3)
    validity_period, pos = _read_cstring(body, pos)
    if pos + 5 > len(body):
        raise PduDecodeError("body too short")
    registered_delivery, _replace, data_coding, _default_msg_id, sm_length = body[pos : pos + 5]
    pos += 5
    if pos + sm_length > len(body):
        raise PduDecodeError("short_message longer than the PDU")
    short_message = body[pos : pos + sm_length]
    tlvs = parse_tlvs(body, pos + sm_length)
    return SubmitSm(
        source_ton,
        source_npi,
        source_addr.decode("latin-1"),
        dest_ton,
        dest_npi,
        destination_addr.decode("latin-1"),
        esm_class,
        registered_delivery,
        data_coding,
        short_message,
        tlvs,
        validity_period.decode("latin-1"),
    )


def encode_deliver_sm(
    *,
    source_addr: str,
    source_addr_ton: int,
    source_addr_npi: int,
    destination_addr: str,
    dest_addr_ton: int,
    dest_addr_npi: int,
    esm_class: int,
    data_coding: int,
    short_message: bytes,
    tlvs: bytes = b"",
) -> bytes:
    """Body of a deliver_sm; the header is added at send time with the session's sequence."""
    return b"".join(
        (
            b"\0",  # service_type
            bytes((source_addr_ton, source_addr_npi)),
            source_addr.encode("latin-1"),
            b"\0",
            bytes((dest_addr_ton, dest_addr_npi)),
            destination_addr.encode("latin-1"),
            b"\0",
            bytes((esm_class, 0, 0)),  # esm_class, protocol_id, priority_flag
            b"\0\0",  # schedule_delivery_time, validity_period
            bytes((0, 0, data_coding, 0, len(short_message))),  # registered_delivery .. sm_length
            short_message,
            tlvs,
        )
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """Position of one part within a concatenated message."""

    reference: int
    total: int
    number: int


# The concatenation header a sender puts before each part's text: length 5, IEI 0x00 (8-bit reference), 3 octets.
_CONCAT_UDH_BODY = consts.MULTIPART_HEADER_SIZE - 1


def split_user_data(esm_class: int, short_message: bytes, tlvs: dict[int, bytes]) -> tuple[Segment | None, bytes]:
    """Return the concatenation info (from the UDH or the SAR TLVs) and the bare payload.

    The payload falls back to the message_payload TLV when short_message is empty.
    A segment claiming an impossible position is treated as a standalone message.
    """
    payload = short_message or tlvs.get(TAG_MESSAGE_PAYLOAD, b"")
    segment = None
    if esm_class & consts.SMPP_GSMFEAT_UDHI:
        if not payload or payload[0] + 1 > len(payload):
            raise PduDecodeError("user data header longer than the message")
        header_end = payload[0] + 1
        segment = _concatenation_from_udh(payload[1:header_end])
        payload = payload[header_end:]
    if segment is None and TAG_SAR_MSG_REF_NUM in tlvs:
        segment = _concatenation_from_sar(tlvs)
    if segment is not None and not 1 <= segment.number <= segment.total:
        segment = None
    return segment, payload


def _concatenation_from_udh(header: bytes) -> Segment | None:
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        data = header[pos + 2 : pos + 2 + length]
        if len(data) != length:
            raise PduDecodeError("truncated user data header element")
        if iei == consts.SMPP_UDHIEIE_CONCATENATED and length == 3:
            return Segment(data[0], data[1], data[2])
        if iei == consts.SMPP_UDHIEIE_CONCATENATED16 and length == 4:
            return Segment(int.from_bytes(data[:2], "big"), data[2], data[3])
        pos += 2 + length
    return None


def _concatenation_from_sar(tlvs: dict[int, bytes]) -> Segment | None:
    reference = tlvs[TAG_SAR_MSG_REF_NUM]
    total = tlvs.get(TAG_SAR_TOTAL_SEGMENTS)
    number = tlvs.get(TAG_SAR_SEGMENT_SEQNUM)
    if not total or not number:
        return None
    return Segment(int.from_bytes(reference, "big"), total[0], number[0])


def concatenation_udh(reference: int, total: int, number: int) -> bytes:
    """The user data header of part `number` of `total` (8-bit reference): what `split_user_data` reads back."""
    return bytes((_CONCAT_UDH_BODY, consts.SMPP_UDHIEIE_CONCATENATED, 3, reference & 0xFF, total, number))


# ---------------------------------------------------------------------------------------------- client hot path
# The gateway's session builds every submit_sm and reads every deliver_sm here rather than through smpplib's
# generic codec (~130 µs per submit_sm on these machines, the whole budget at 3,000 messages/s); the
# output is byte-for-byte what smpplib generates (tests/gateway/test_session.py holds them side by side).

_SUBMIT_FIXED = struct.Struct("!BBB")


def encode_submit_sm(
    sequence: int,
    *,
    source_addr_ton: int,
    source_addr_npi: int,
    source_addr: str,
    dest_addr_ton: int,
    dest_addr_npi: int,
    destination_addr: str,
    esm_class: int,
    registered_delivery: int,
    data_coding: int,
    short_message: bytes,
    validity_period: str | None = None,
) -> bytes:
    body = b"".join(
        (
            b"\0",  # service_type
            bytes((source_addr_ton, source_addr_npi)),
            source_addr.encode("ascii"),
            b"\0",
            bytes((dest_addr_ton, dest_addr_npi)),
            destination_addr.encode("ascii"),
            b"\0",
            _SUBMIT_FIXED.pack(esm_class, 0, 0),  # esm_class, protocol_id, priority_flag
            b"\0",  # schedule_delivery_time
            validity_period.encode("ascii") + b"\0" if validity_period else b"\0",
            bytes((registered_delivery, 0, data_coding, 0, len(short_message))),
            short_message,
        )
    )
    return HEADER.pack(HEADER_SIZE + len(body), SUBMIT_SM, consts.SMPP_ESME_ROK, sequence) + body


def encode_response(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return encode_pdu(command_id | RESPONSE_BIT, status, sequence, body)


class DeliverSm:
    """A received deliver_sm with the attribute names smpplib gives its PDUs (what receipts.py reads)."""

    __slots__ = (
        "data_coding",
        "dest_addr_npi",
        "dest_addr_ton",
        "destination_addr",
        "esm_class",
        "message_payload",
        "message_state",
        "receipted_message_id",
        "sar_msg_ref_num",
        "sar_segment_seqnum",
        "sar_total_segments",
        "short_message",
        "source_addr",
        "source_addr_npi",
        "source_addr_ton",
    )

    def __init__(self, body: bytes):
        submit = parse_submit_sm(body)  # deliver_sm has submit_sm's layout
        self.source_addr_ton, self.source_addr_npi = submit.source_addr_ton, submit.source_addr_npi
        self.source_addr = submit.source_addr
        self.dest_addr_ton, self.dest_addr_npi = submit.dest_addr_ton, submit.dest_addr_npi
        self.destination_addr = submit.destination_addr
        self.esm_class, self.data_coding = submit.esm_class, submit.data_coding
        self.short_message = submit.short_message
        tlvs = submit.tlvs
        self.receipted_message_id = tlvs.get(TAG_RECEIPTED_MESSAGE_ID)
        state = tlvs.get(TAG_MESSAGE_STATE)
        self.message_state = state[0] if state else None
        self.message_payload = tlvs.get(TAG_MESSAGE_PAYLOAD)
        ref, total, number = (
            tlvs.get(TAG_SAR_MSG_REF_NUM),
            tlvs.get(TAG_SAR_TOTAL_SEGMENTS),
            tlvs.get(TAG_SAR_SEGMENT_SEQNUM),
        )
        # SMPP 3.4 fixes their sizes (2, 1, 1 octets); other sizes are ignored: the part counts as a whole message.
        if ref is None or len(ref) != 2 or not total or len(total) != 1 or not number or len(number) != 1:
            ref = total = number = None
        self.sar_msg_ref_num = int.from_bytes(ref, "big") if ref else None
        self.sar_total_segments = total[0] if total else None
        self.sar_segment_seqnum = number[0] if number else None
