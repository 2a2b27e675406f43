"""An SMSC that answers nonsense (issue 14): an unknown command_status, an empty or 65-character message id, a
duplicate id, a receipt for an id never sent, a receipt twice. Each is logged once with the link's name and
counted in syrena_smsc_bad_answers_total; the bind survives; what is recorded settles nothing wrongly.

The SMSC here is a raw socket speaking SMPP from a script, since no well-behaved server (ours or npm's)
can be made to say these things."""

from __future__ import annotations

import logging
import socket
import threading

import pytest
from sqlalchemy import text

from campaigns.delivery import match_receipts, record_send_results, store_receipts
from smsc_gateway.interface import OutboundSms
from smsc_gateway.pdu import (
    BIND_TRANSCEIVER,
    DELIVER_SM,
    ENQUIRE_LINK,
    ESM_CLASS_DELIVERY_RECEIPT,
    HEADER,
    RESPONSE_BIT,
    SUBMIT_SM,
    TAG_MESSAGE_STATE,
    TAG_RECEIPTED_MESSAGE_ID,
    UNBIND,
    encode_deliver_sm,
    encode_pdu,
    encode_tlv,
    parse_submit_sm,
)
from smsc_gateway.session import SmppSession
from syrena_core import metrics
from syrena_core.config import SmscSettings
from tests.factories import make_campaign, message_ids
from tests.helpers import Sink, wait_until

UNKNOWN_STATUS = 0x000000AB
LONG_ID = "9" * 65


class ScriptedSmsc:
    """One connection; answers each submit_sm by the last two digits of its destination."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sequence = 1000
        self.conn: socket.socket | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _send(self, data: bytes) -> None:
        with self.lock:
            self.conn.sendall(data)

    def receipt(self, smsc_id: str, stat: str = "DELIVRD") -> None:
        self.sequence += 1
        body = encode_deliver_sm(
            source_addr="48601000000",
            source_addr_ton=1,
            source_addr_npi=1,
            destination_addr="4800",
            dest_addr_ton=3,
            dest_addr_npi=0,
            esm_class=ESM_CLASS_DELIVERY_RECEIPT,
            data_coding=0,
            short_message=f"id:{smsc_id} sub:001 dlvrd:001 stat:{stat} err:000 text:".encode(),
            tlvs=encode_tlv(TAG_RECEIPTED_MESSAGE_ID, smsc_id.encode() + b"\0")
            + encode_tlv(TAG_MESSAGE_STATE, bytes((2 if stat == "DELIVRD" else 5,))),
        )
        self._send(encode_pdu(DELIVER_SM, 0, self.sequence, body))

    def _answer(self, destination: str, sequence: int) -> bytes:
        case = destination[-2:]
        if case == "01":
            return encode_pdu(SUBMIT_SM | RESPONSE_BIT, 0, sequence, b"\0")  # accepted, empty id
        if case == "02":
            return encode_pdu(SUBMIT_SM | RESPONSE_BIT, 0, sequence, LONG_ID.encode() + b"\0")
        if case == "03":
            return encode_pdu(SUBMIT_SM | RESPONSE_BIT, UNKNOWN_STATUS, sequence, b"\0")
        if case in ("04", "05"):
            return encode_pdu(SUBMIT_SM | RESPONSE_BIT, 0, sequence, b"DUP1\0")  # one id for two messages
        return encode_pdu(SUBMIT_SM | RESPONSE_BIT, 0, sequence, f"OK{destination[-4:]}".encode() + b"\0")

    def _run(self) -> None:
        self.conn, _ = self.server.accept()
        buf = b""
        while True:
            try:
                chunk = self.conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 16:
                length, command_id, _status, sequence = HEADER.unpack_from(buf)
                if len(buf) < length:
                    break
                pdu, buf = buf[:length], buf[length:]
                if command_id == BIND_TRANSCEIVER:
                    self._send(encode_pdu(command_id | RESPONSE_BIT, 0, sequence, b"SCRIPTED\0"))
                elif command_id == SUBMIT_SM:
                    submit = parse_submit_sm(pdu[16:])
                    self._send(self._answer(submit.destination_addr, sequence))
                elif command_id == ENQUIRE_LINK:
                    self._send(encode_pdu(command_id | RESPONSE_BIT, 0, sequence))
                elif command_id == UNBIND:
                    self._send(encode_pdu(command_id | RESPONSE_BIT, 0, sequence))
                    self.conn.close()
                    return

    def close(self) -> None:
        self.server.close()
        if self.conn is not None:
            self.conn.close()


@pytest.fixture
def scripted():
    smsc = ScriptedSmsc()
    receipts = Sink()
    session = SmppSession(
        SmscSettings(name="scripted", port=smsc.port, unknown_status_retries=0, enquire_link_interval=5),
        None,
        receipts,
        Sink(),
    )
    session.start()
    assert session.wait_bound(10)
    yield smsc, session, receipts
    session.stop()
    smsc.close()


def _count(kind: str) -> float:
    return metrics.BAD_ANSWERS.labels("scripted", kind)._value.get()


def _sms(ref: int, case: str) -> OutboundSms:
    return OutboundSms(ref=ref, destination=f"+486010099{case}", text="Test")


def test_nonsense_from_the_smsc_is_logged_once_counted_and_survived(scripted, caplog, db, settings):
    smsc, session, receipts = scripted
    before = {
        kind: _count(kind)
        for kind in ("empty_id", "long_id", "unknown_status", "duplicate_id", "receipt_unknown_id", "receipt_repeated")
    }
    caplog.set_level(logging.WARNING, logger="syrena.smsc.session")
    results = session.send(
        [_sms(1, "01"), _sms(2, "01"), _sms(3, "02"), _sms(4, "03"), _sms(5, "04"), _sms(6, "05"), _sms(7, "06")]
    )
    by_ref = {r.ref: r for r in results}
    # Accepted without a usable id: accepted (the operator charges it), with "" for the id no receipt can name.
    assert [(by_ref[n].accepted, by_ref[n].smsc_message_ids) for n in (1, 2, 3)] == [(True, [""])] * 3
    assert (by_ref[4].accepted, by_ref[4].error) == (False, f"ESME_0x{UNKNOWN_STATUS:08X}")
    assert by_ref[5].smsc_message_ids == by_ref[6].smsc_message_ids == ["dup1"]
    assert by_ref[7].smsc_message_ids == ["ok9906"]

    smsc.receipt("NEVERSENT")
    smsc.receipt("OK9906")
    smsc.receipt("OK9906", "UNDELIV")
    wait_until(lambda: len(receipts.items) == 3, 10, "three receipts read")
    never, first, again = receipts.items
    assert never.message_ref is None  # kept for the database's rule; it finds nothing
    assert (first.message_ref, first.part_no) == (7, 1)  # the session named the part
    assert again.message_ref is None  # a repeat is left to the database's rule, where the first one counts

    after = {kind: _count(kind) - n for kind, n in before.items()}
    assert after == {
        "empty_id": 2,
        "long_id": 1,
        "unknown_status": 1,
        "duplicate_id": 1,
        "receipt_unknown_id": 1,
        "receipt_repeated": 1,
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("empty message id" in w for w in warnings) == 1  # twice seen, logged once
    for kind in after:
        assert sum(f"({kind};" in w for w in warnings) == 1, kind
    assert all("scripted" in w for w in warnings)
    assert session.is_bound  # nothing cost the bind

    # What is recorded settles nothing wrongly: the id-less messages are charged and wait for nothing; the
    # repeated receipt does not undo the first; the stray one touches nobody.
    campaign_id, _phones = make_campaign(
        db, phones=[f"+4860100990{n}" for n in (1, 2, 3)], body="Test", sent_ago=None, message_status="submitting"
    )
    ids = message_ids(db, campaign_id)
    refs = dict(zip((1, 3, 7), ids))
    for r in results:
        r.ref = refs.get(r.ref, 0)
    record_send_results(db, [r for r in results if r.ref], settings.billing)
    store_receipts(
        db, [r.__class__(**{**r.__dict__, "message_ref": refs[7] if r.message_ref else None}) for r in receipts.items]
    )  # in one batch: the first final receipt must win
    db.commit()
    match_receipts(db)
    db.commit()
    rows = dict(db.execute(text("SELECT id, status FROM message WHERE campaign_id = :c"), {"c": campaign_id}).all())
    assert rows == {refs[1]: "submitted", refs[3]: "submitted", refs[7]: "delivered"}
    assert db.execute(text("SELECT status FROM campaign WHERE id = :c"), {"c": campaign_id}).scalar() == "completed"
