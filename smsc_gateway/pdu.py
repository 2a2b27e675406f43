"""Minimal SMPP 3.4 PDU codec for the few PDUs the SMSC simulator speaks.

Hand-written struct encoding keeps per-PDU cost small (the simulator has to
sustain thousands of submit_sm per second); smpplib's generic codec is far
slower and is only used by tests as an independent client.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass

HEADER = struct.Struct("!IIII")  # command_length, command_id, command_status, sequence_number
HEADER_SIZE = HEADER.size
# Generous upper bound: a submit_sm with a full message_payload is well below it.
MAX_PDU_SIZE = 64 * 1024

RESPONSE_BIT = 0x80000000
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015

ESME_ROK = 0x00
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58

TAG_SAR_MSG_REF_NUM = 0x020C
TAG_SAR_TOTAL_SEGMENTS = 0x020E
TAG_SAR_SEGMENT_SEQNUM = 0x020F
TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_MESSAGE_PAYLOAD = 0x0424
TAG_MESSAGE_STATE = 0x0427

MESSAGE_STATE_DELIVERED = 2
MESSAGE_STATE_EXPIRED = 3
MESSAGE_STATE_UNDELIVERABLE = 5

ESM_CLASS_DELIVERY_RECEIPT = 0x04
ESM_CLASS_UDHI = 0x40

DATA_CODING_GSM = 0
DATA_CODING_UCS2 = 8

TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_ALPHANUMERIC = 5
NPI_UNKNOWN = 0
NPI_ISDN = 1

_TLV_HEADER = struct.Struct("!HH")


class PduDecodeError(ValueError):
    """The PDU body does not match the layout its command_id requires."""


def encode_pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return HEADER.pack(HEADER_SIZE + len(body), command_id, status, sequence) + body


def encode_tlv(tag: int, value: bytes) -> bytes:
    return _TLV_HEADER.pack(tag, len(value)) + value


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
        tlvs[tag] = body[pos:pos + length]
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
    registered_delivery, _replace, data_coding, _default_msg_id, sm_length = body[pos:pos + 5]
    pos += 5
    if pos + sm_length > len(body):
        raise PduDecodeError("short_message longer than the PDU")
    short_message = body[pos:pos + sm_length]
    tlvs = parse_tlvs(body, pos + sm_length)
    return SubmitSm(
        source_ton, source_npi, source_addr.decode("latin-1"),
        dest_ton, dest_npi, destination_addr.decode("latin-1"),
        esm_class, registered_delivery, data_coding, short_message, tlvs, validity_period.decode("latin-1"),
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
    return b"".join((
        b"\0",  # service_type
        bytes((source_addr_ton, source_addr_npi)), source_addr.encode("latin-1"), b"\0",
        bytes((dest_addr_ton, dest_addr_npi)), destination_addr.encode("latin-1"), b"\0",
        bytes((esm_class, 0, 0)),  # esm_class, protocol_id, priority_flag
        b"\0\0",  # schedule_delivery_time, validity_period
        bytes((0, 0, data_coding, 0, len(short_message))),  # registered_delivery .. sm_length
        short_message,
        tlvs,
    ))


@dataclass(frozen=True, slots=True)
class Segment:
    """Position of one part within a concatenated message."""

    reference: int
    total: int
    number: int


_IEI_CONCAT_8BIT_REF = 0x00
_IEI_CONCAT_16BIT_REF = 0x08


def split_user_data(esm_class: int, short_message: bytes, tlvs: dict[int, bytes]) -> tuple[Segment | None, bytes]:
    """Return the concatenation info (from the UDH or the SAR TLVs) and the bare payload.

    The payload falls back to the message_payload TLV when short_message is empty.
    A segment claiming an impossible position is treated as a standalone message.
    """
    payload = short_message or tlvs.get(TAG_MESSAGE_PAYLOAD, b"")
    segment = None
    if esm_class & ESM_CLASS_UDHI:
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
        data = header[pos + 2:pos + 2 + length]
        if len(data) != length:
            raise PduDecodeError("truncated user data header element")
        if iei == _IEI_CONCAT_8BIT_REF and length == 3:
            return Segment(data[0], data[1], data[2])
        if iei == _IEI_CONCAT_16BIT_REF and length == 4:
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


# GSM 03.38 (3GPP TS 23.038 §6.2.1): the project's ONE table. The gateway's encoder and the composer's counter
# (smsc_gateway/encoding.py, campaigns/composition.py) and the simulator's decoder all use it, so the parts the
# composer counts are the parts the SMSC receives. Checked against the standard's code points and, character by
# character, against the independent `gsm0338` codec (tests/gateway/test_encoding.py).
# The default alphabet, one character per septet value (0x1B is the escape to the extension table, not a character).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters reached through the 0x1B escape (two septets each): form feed, ^ { } \\ [ ~ ] | €.
GSM_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}
_GSM_ESCAPE = 0x1B
_GSM_ENCODE = {char: bytes((code,)) for code, char in enumerate(GSM_BASIC) if code != _GSM_ESCAPE}
_GSM_ENCODE.update({char: bytes((_GSM_ESCAPE, code)) for code, char in GSM_EXTENSION.items()})
# Every character GSM 7-bit can carry; anything else (Polish letters, the backtick, emoji, U+001B itself) makes
# the whole message UCS-2.
GSM_CHARACTERS = frozenset(_GSM_ENCODE)
# Byte value -> character for the escape-free fast path; the eighth bit is ignored.
_GSM_CHARMAP = GSM_BASIC * 2


def gsm_decode(septets: bytes) -> str:
    """Decode unpacked GSM 03.38 (one septet per byte).

    Unknown escape sequences fall back to the basic character and 0x1B 0x1B shows as a space, as TS 23.038
    requires; a dangling escape at the end (a badly split part) is dropped (`part_problem` names it).
    """
    if _GSM_ESCAPE not in septets:
        return codecs.charmap_decode(septets, "strict", _GSM_CHARMAP)[0]
    chars = []
    escaped = False
    for septet in septets:
        septet &= 0x7F
        if escaped:
            chars.append(GSM_EXTENSION.get(septet, " " if septet == _GSM_ESCAPE else GSM_BASIC[septet]))
            escaped = False
        elif septet == _GSM_ESCAPE:
            escaped = True
        else:
            chars.append(GSM_BASIC[septet])
    return "".join(chars)


def gsm_encode_lossy(text: str) -> bytes:
    """Encode to unpacked GSM 03.38, with "?" for characters outside the alphabet."""
    return b"".join([_GSM_ENCODE.get(char, b"?") for char in text])


def _ucs2_alphabet(data_coding: int) -> int:
    """0x10-0x1F carry a message class (e.g. flash) and name the alphabet in bits 2-3."""
    if data_coding & 0xF0 == 0x10:
        return {0x00: DATA_CODING_GSM, 0x08: DATA_CODING_UCS2}.get(data_coding & 0x0C, 3)
    return data_coding


def decode_text(data_coding: int, payload: bytes) -> str:
    """GSM for 0, UCS-2 for 8, latin-1 for 3 and for anything else; 0x10-0x1F (a message class, e.g. flash)
    name the alphabet in bits 2-3."""
    data_coding = _ucs2_alphabet(data_coding)
    if data_coding == DATA_CODING_GSM:
        return gsm_decode(payload)
    if data_coding == DATA_CODING_UCS2:
        return payload.decode("utf-16-be", errors="replace")
    return payload.decode("latin-1")


def part_problem(data_coding: int, payload: bytes) -> str | None:
    """Why this one part of a message would show garbage on a phone that displays it alone (None: it would not).

    A phone may show a part before the next arrives, or never get the next one: each part must decode on its
    own, so a split must never leave an escape at the end of a GSM part or cut a UTF-16 surrogate pair."""
    data_coding = _ucs2_alphabet(data_coding)
    if data_coding == DATA_CODING_GSM:
        # Escapes pair up from the start of the run of them at the end (the octet before it ends any escape):
        # an odd run leaves the last one alone. C-speed, the simulator checks every part it receives.
        escapes = len(payload) - len(payload.rstrip(b"\x1b\x9b"))
        return "ends with a lone GSM escape (0x1B)" if escapes % 2 else None
    if data_coding == DATA_CODING_UCS2:
        try:
            payload.decode("utf-16-be")  # strict: refuses an odd length and any unpaired surrogate
        except UnicodeDecodeError:
            if len(payload) % 2:
                return "odd number of octets for UTF-16"
            return "a lone UTF-16 surrogate (a character cut in two)"
    return None


_SINGLE_PART_LIMIT = {DATA_CODING_GSM: 160, DATA_CODING_UCS2: 140}  # septets / octets
_CONCAT_UDH_SIZE = 6
_MULTI_PART_LIMIT = {DATA_CODING_GSM: 153, DATA_CODING_UCS2: 140 - _CONCAT_UDH_SIZE}
MAX_PARTS = 255
_REPLACEMENT_UCS2 = "\ufffd".encode("utf-16-be")


def _ucs2_units(text: str) -> list[bytes]:
    try:
        return [char.encode("utf-16-be") for char in text]  # an astral character: one 4-octet unit, never cut
    except UnicodeEncodeError:  # a lone surrogate (only broken input has one): sent as U+FFFD, counted alike
        return [char.encode("utf-16-be", errors="surrogatepass") if not "\ud800" <= char <= "\udfff"
                else _REPLACEMENT_UCS2 for char in text]


def split_text(text: str) -> tuple[int, list[bytes]]:
    """Choose GSM when every character is in GSM 03.38, otherwise UCS-2 (UTF-16BE), and split into part payloads
    (without UDH): one part up to 160 septets / 70 UTF-16 units, else parts of 153 septets / 67 units that never
    cut an escape sequence or a surrogate pair. No limit on the number of parts (the counter counts any text)."""
    try:
        data_coding = DATA_CODING_GSM
        units = [_GSM_ENCODE[char] for char in text]
    except KeyError:
        data_coding = DATA_CODING_UCS2
        units = _ucs2_units(text)
    if sum(map(len, units)) <= _SINGLE_PART_LIMIT[data_coding]:
        return data_coding, [b"".join(units)]
    limit = _MULTI_PART_LIMIT[data_coding]
    parts: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for unit in units:
        if size + len(unit) > limit:
            parts.append(b"".join(current))
            current, size = [], 0
        current.append(unit)
        size += len(unit)
    parts.append(b"".join(current))
    return data_coding, parts


def encode_for_delivery(text: str) -> tuple[int, list[bytes]]:
    """`split_text`, refusing a text of more parts than a concatenation header can number."""
    data_coding, parts = split_text(text)
    if len(parts) > MAX_PARTS:
        raise ValueError(f"text needs {len(parts)} parts, at most {MAX_PARTS} are possible")
    return data_coding, parts


def concatenation_udh(reference: int, total: int, number: int) -> bytes:
    return bytes((_CONCAT_UDH_SIZE - 1, _IEI_CONCAT_8BIT_REF, 3, reference & 0xFF, total, number))


# ---------------------------------------------------------------------------------------------- client hot path
# The gateway's session builds every submit_sm and reads every deliver_sm here rather than through smpplib's
# generic codec (~130 µs per submit_sm on these machines, the whole budget at 3,000 messages/s); the
# output is byte-for-byte what smpplib generates (tests/gateway/test_codec.py holds them side by side).

_SUBMIT_FIXED = struct.Struct("!BBB")


def encode_submit_sm(sequence: int, *, source_addr_ton: int, source_addr_npi: int, source_addr: str,
                     dest_addr_ton: int, dest_addr_npi: int, destination_addr: str, esm_class: int,
                     registered_delivery: int, data_coding: int, short_message: bytes,
                     validity_period: str | None = None) -> bytes:
    body = b"".join((
        b"\0",  # service_type
        bytes((source_addr_ton, source_addr_npi)), source_addr.encode("ascii"), b"\0",
        bytes((dest_addr_ton, dest_addr_npi)), destination_addr.encode("ascii"), b"\0",
        _SUBMIT_FIXED.pack(esm_class, 0, 0),  # esm_class, protocol_id, priority_flag
        b"\0",  # schedule_delivery_time
        validity_period.encode("ascii") + b"\0" if validity_period else b"\0",
        bytes((registered_delivery, 0, data_coding, 0, len(short_message))),
        short_message,
    ))
    return HEADER.pack(HEADER_SIZE + len(body), SUBMIT_SM, ESME_ROK, sequence) + body


def encode_response(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return encode_pdu(command_id | RESPONSE_BIT, status, sequence, body)


class DeliverSm:
    """A received deliver_sm with the attribute names smpplib gives its PDUs (what receipts.py reads)."""

    __slots__ = ("source_addr_ton", "source_addr_npi", "source_addr", "dest_addr_ton", "dest_addr_npi",
                 "destination_addr", "esm_class", "data_coding", "short_message", "receipted_message_id",
                 "message_state", "message_payload", "sar_msg_ref_num", "sar_total_segments", "sar_segment_seqnum")

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
        ref, total, number = (tlvs.get(TAG_SAR_MSG_REF_NUM), tlvs.get(TAG_SAR_TOTAL_SEGMENTS),
                              tlvs.get(TAG_SAR_SEGMENT_SEQNUM))
        # SMPP 3.4 fixes their sizes (2, 1, 1 octets); other sizes are ignored: the part counts as a whole message.
        if ref is None or len(ref) != 2 or not total or len(total) != 1 or not number or len(number) != 1:
            ref = total = number = None
        self.sar_msg_ref_num = int.from_bytes(ref, "big") if ref else None
        self.sar_total_segments = total[0] if total else None
        self.sar_segment_seqnum = number[0] if number else None
