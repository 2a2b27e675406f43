"""Reading delivery receipts and mobile-originated SMS out of deliver_sm PDUs."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from smpplib import consts

from smsc_gateway.encoding import decode_text
from smsc_gateway.interface import DeliveryReceipt, MobileOriginated
from smsc_gateway.pdu import (
    ESM_CLASS_DELIVERY_RECEIPT,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    PduDecodeError,
    split_user_data,
)

_TEXT_FIELD = re.compile(rb"(id|stat|err|done date):([^ ]*)", re.IGNORECASE)
_HEX = re.compile(r"[0-9a-f]+")
MAX_MESSAGE_ID = 64  # SMPP 3.4: message_id is a C-octet string of at most 65 octets (64 + NUL)
# message_state TLV values (SMPP 3.4 §5.3.2.35) → the receipt's text states.
_STATE_NAMES = {
    consts.SMPP_MESSAGE_STATE_ENROUTE: "ENROUTE",
    consts.SMPP_MESSAGE_STATE_DELIVERED: "DELIVRD",
    consts.SMPP_MESSAGE_STATE_EXPIRED: "EXPIRED",
    consts.SMPP_MESSAGE_STATE_DELETED: "DELETED",
    consts.SMPP_MESSAGE_STATE_UNDELIVERABLE: "UNDELIV",
    consts.SMPP_MESSAGE_STATE_ACCEPTED: "ACCEPTD",
    consts.SMPP_MESSAGE_STATE_UNKNOWN: "UNKNOWN",
    consts.SMPP_MESSAGE_STATE_REJECTED: "REJECTD",
}
MO_ASSEMBLY_TIMEOUT = 600.0  # seconds a part waits for its siblings before the rest is given up


class ReceiptIdForm:
    """SMSCs write the same message id differently: zero-padded, upper-case hex, or in the receipt text in
    another base than in submit_sm_resp. Both sides are turned into one canonical form before matching."""

    def __init__(self, receipt_text_base: str = "same"):
        self.receipt_text_base = receipt_text_base

    @staticmethod
    def canonical(message_id: str) -> str:
        value = message_id.strip().strip("\x00").lower()
        if _HEX.fullmatch(value):
            value = value.lstrip("0") or "0"
        return value

    def from_receipt_text(self, text_id: str) -> str:
        value = text_id.strip()
        try:
            if self.receipt_text_base == "hex":  # the text holds the hex form of a decimal response id
                value = str(int(value, 16))
            elif self.receipt_text_base == "dec":  # the text holds the decimal form of a hex response id
                value = format(int(value, 10), "x")
        except ValueError:
            pass
        return self.canonical(value)


def is_receipt(pdu) -> bool:
    return bool((getattr(pdu, "esm_class", 0) or 0) & ESM_CLASS_DELIVERY_RECEIPT)


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _done_at(value: str | None) -> datetime | None:
    """YYMMDDhhmm[ss] (SMPP 3.4 Appendix B), read by hand: strptime costs as much as the rest of a receipt."""
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    try:
        return datetime(
            2000 + int(value[0:2]),
            int(value[2:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12] or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def parse_receipt(pdu, ids: ReceiptIdForm | None = None, smsc: str = "") -> DeliveryReceipt | None:
    """The TLVs win where present (they are unambiguous); the text fills what they lack."""
    ids = ids or ReceiptIdForm()
    body = pdu.short_message or getattr(pdu, "message_payload", None) or b""
    if isinstance(body, str):
        body = body.encode("latin-1", "replace")
    fields = {k.lower().decode(): v.decode("ascii", "replace") for k, v in _TEXT_FIELD.findall(body)}
    tlv_id = _text(getattr(pdu, "receipted_message_id", None)).strip("\x00").strip()
    smsc_id = ids.canonical(tlv_id) if tlv_id else ids.from_receipt_text(fields["id"]) if fields.get("id") else ""
    state = _STATE_NAMES.get(getattr(pdu, "message_state", None) or 0) or fields.get("stat", "").upper() or "UNKNOWN"
    # What a hostile or broken SMSC sends must still be storable (no NUL in PostgreSQL text, the columns'
    # lengths): one unstorable receipt would otherwise block its whole batch. No id we sent is that long.
    smsc_id = smsc_id.replace("\x00", "")
    if not smsc_id or len(smsc_id) > MAX_MESSAGE_ID:
        return None
    error_code = (fields.get("err") or "").replace("\x00", "")[:8] or None
    return DeliveryReceipt(
        smsc_message_id=smsc_id,
        state=state.replace("\x00", "")[:12] or "UNKNOWN",
        error_code=error_code,
        done_at=_done_at(fields.get("done date")),
        smsc=smsc,
    )


def _source(pdu) -> str:
    source = _text(pdu.source_addr)
    if source.isdigit() and (getattr(pdu, "source_addr_ton", 0) == consts.SMPP_TON_INTL or len(source) > 9):
        source = "+" + source
    return source


def _sar_tlvs(pdu) -> dict[int, bytes]:
    ref = getattr(pdu, "sar_msg_ref_num", None)
    total = getattr(pdu, "sar_total_segments", None)
    number = getattr(pdu, "sar_segment_seqnum", None)
    if ref is None or not total or not number:
        return {}
    return {
        TAG_SAR_MSG_REF_NUM: int(ref).to_bytes(2, "big"),
        TAG_SAR_TOTAL_SEGMENTS: bytes((int(total),)),
        TAG_SAR_SEGMENT_SEQNUM: bytes((int(number),)),
    }


class MoAssembler:
    """Joins the parts of a long MO (UDH or SAR TLVs) before it is decoded: a UCS-2 character or a GSM
    escape may be cut between two parts. Parts that never complete are handed on after a timeout."""

    def __init__(self, timeout: float = MO_ASSEMBLY_TIMEOUT):
        self.timeout = timeout
        self._partial: dict[tuple, dict] = {}

    def add(self, pdu) -> MobileOriginated | None:
        data_coding = getattr(pdu, "data_coding", 0) or 0
        body = pdu.short_message or getattr(pdu, "message_payload", None) or b""
        if isinstance(body, str):
            body = body.encode("latin-1", "replace")
        try:
            segment, payload = split_user_data(getattr(pdu, "esm_class", 0) or 0, body, _sar_tlvs(pdu))
        except PduDecodeError:
            segment, payload = None, body
        source, destination = _source(pdu), _text(pdu.destination_addr)
        if segment is None or segment.total == 1:
            return MobileOriginated(
                source=source, destination=destination, text=decode_text(data_coding, payload), data_coding=data_coding
            )
        key = (source, destination, segment.reference, segment.total)
        entry = self._partial.setdefault(key, {"parts": {}, "since": time.monotonic(), "data_coding": data_coding})
        entry["parts"][segment.number] = payload
        if len(entry["parts"]) < segment.total:
            return None
        del self._partial[key]
        return self._joined(key, entry)

    def expired(self) -> list[MobileOriginated]:
        if not self._partial:
            return []
        now = time.monotonic()
        late = [k for k, e in self._partial.items() if now - e["since"] > self.timeout]
        return [self._joined(k, self._partial.pop(k)) for k in late]

    @staticmethod
    def _joined(key: tuple, entry: dict) -> MobileOriginated:
        source, destination, _ref, _total = key
        parts = entry["parts"]
        payload = b"".join(parts[n] for n in sorted(parts))
        return MobileOriginated(
            source=source,
            destination=destination,
            text=decode_text(entry["data_coding"], payload),
            data_coding=entry["data_coding"],
            parts=len(parts),
        )
