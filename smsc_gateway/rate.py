"""The operator's TPS limit, shared by every worker through one token bucket in Redis."""
from __future__ import annotations

import math

from redis import Redis

# Atomic refill-and-take: grants up to ARGV[3] tokens; Redis' own clock keeps workers consistent.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or t
tokens = math.min(burst, tokens + math.max(0, t - ts) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(t))
redis.call('EXPIRE', KEYS[1], 60)
return granted
"""


class TokenBucket:
    """Tokens refill at `tps` minus the burst, so that no 1-second window ever sees more than `tps`
    (refill + burst <= tps) while the average stays within a few percent of it."""

    def __init__(self, redis: Redis, key: str, tps: float):
        if tps <= 0:
            raise ValueError("tps must be positive")
        self.burst = max(1, math.floor(tps * 0.03))
        self.rate = max(tps - self.burst, tps * 0.5)
        self.key = key
        self._take = redis.register_script(_TAKE)

    def take(self, want: int) -> int:
        if want <= 0:
            return 0
        return int(self._take(keys=[self.key], args=[self.rate, self.burst, want]))

    @property
    def refill_interval(self) -> float:
        return 1.0 / self.rate
