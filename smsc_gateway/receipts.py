"""Reading delivery receipts and mobile-originated SMS out of deliver_sm PDUs."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from smpplib import consts

from smsc_gateway.interface import DeliveryReceipt, MobileOriginated
from smsc_gateway.pdu import decode_text

RECEIPT_FLAG = 0x04
_TEXT_FIELD = re.compile(rb"(id|stat|err|done date):([^ ]*)", re.IGNORECASE)
# message_state TLV values (SMPP 3.4 §5.3.2.35) → the receipt's text states.
_STATE_NAMES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                7: "UNKNOWN", 8: "REJECTD"}


def is_receipt(pdu) -> bool:
    return bool((getattr(pdu, "esm_class", 0) or 0) & RECEIPT_FLAG)


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def parse_receipt(pdu) -> DeliveryReceipt | None:
    """The TLVs win where present (they are unambiguous); the text fills what they lack."""
    fields = {k.lower().decode(): v.decode("ascii", "replace") for k, v in _TEXT_FIELD.findall(pdu.short_message or b"")}
    smsc_id = _text(getattr(pdu, "receipted_message_id", None)).strip("\x00") or fields.get("id", "")
    state = _STATE_NAMES.get(getattr(pdu, "message_state", None) or 0) or fields.get("stat", "").upper() or "UNKNOWN"
    if not smsc_id:
        return None
    done_at = None
    if fields.get("done date"):
        try:
            done_at = datetime.strptime(fields["done date"][:10], "%y%m%d%H%M").replace(tzinfo=timezone.utc)
        except ValueError:
            done_at = None
    return DeliveryReceipt(smsc_message_id=smsc_id, state=state, error_code=fields.get("err"), done_at=done_at)


def parse_mobile_originated(pdu) -> MobileOriginated:
    data_coding = getattr(pdu, "data_coding", 0) or 0
    body = pdu.short_message or getattr(pdu, "message_payload", None) or b""
    if isinstance(body, str):
        body = body.encode("latin-1", "replace")
    if (getattr(pdu, "esm_class", 0) or 0) & consts.SMPP_GSMFEAT_UDHI and body:
        body = body[1 + body[0]:]  # drop the user data header
    source = _text(pdu.source_addr)
    if source.isdigit() and (getattr(pdu, "source_addr_ton", 0) == consts.SMPP_TON_INTL or len(source) > 9):
        source = "+" + source
    return MobileOriginated(source=source, destination=_text(pdu.destination_addr),
                            text=decode_text(data_coding, body), data_coding=data_coding)
