"""The way out to the operator's SMSC: one small interface, an SMPP session
behind it (smpplib), the Redis-shared rate limit, receipts and MO, and the
bundled SMSC simulator."""
