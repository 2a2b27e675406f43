"""The way out to the operator's SMSC: one small interface (interface.py), SMPP sessions behind it (session.py,
router.py; smpplib binds, pdu.py encodes what goes by per message), the Redis-shared rate limit (rate.py), the
one text codec (encoding.py), receipts and MO (receipts.py, inbound.py). The SMSC simulator is a package of its
own (smsc_simulator), outside the production import path."""
