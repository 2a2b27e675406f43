"""The operator's TPS limit of one link, shared by every worker through one schedule in Redis, and the
link's own adaptive rate under it.

Pacing (GCRA, "scheduled send times"): instead of tokens that a taker spends whenever it likes, the
schedule hands out time slots spaced 1/rate apart (a few at a time, never more than HORIZON ahead) and
the session writes each submit_sm at its slot. Slots of all takers are one sequence, so the sends of a
whole fleet are spaced evenly, and the SMSC — which counts arrivals in sliding 1-second windows — sees at
most rate × (1 + L) + 1 submits in any second, L being the spread between a slot and the moment its
submit reaches the SMSC (Redis round trip, a late session thread, the SMSC reading late). The rate is
MARGIN below the contract: T × (1 − MARGIN) × (1 + L) < T for every T while L < MARGIN / (1 − MARGIN),
i.e. ~31 ms at 3 %. A session drops a slot it reaches more than LATE_MAX after its time instead of
sending late (two late sends would bunch with the next ones): the rest of the 31 ms is left for Redis and
the SMSC side. At T = 10 the busiest second then holds 10, never 11, and the ceiling is 97 % of T.
A taker that comes back for slots a little late (its thread woken a few ms late on a busy machine) still
gets the slots it missed, up to CATCH_UP (< LATE_MAX) in the past, and sends them at once: each is still
within LATE_MAX of its time, so the bound above holds. Restarting the schedule from "now" instead lost each
take's lateness: measured at 4 × 500 TPS, ~850 restarts per link and 2.8 s of a 29-s send (~10 %). LATE_MAX
and CATCH_UP were set at 4 × 500 TPS on 2 cores shared with PostgreSQL and the simulators: 12 / 6 ms dropped
~2 % of the slots (0.935 of T); 20 / 10 ms let a worker stalled 40 ms send a burst that made 501 in a second
at the SMSC; 16 / 8 ms: 0.965 of T, busiest second 493–495, 0.3 % of slots dropped.
Each submit_sm also goes out at once (TCP_NODELAY, see session.py): Nagle held every other one ~35 ms.

Adaptive rate (AIMD): the SMSC may refuse with ESME_RTHROTTLED / ESME_RMSGQFUL below the contract (its
real limit is lower, or it is busy). Sessions report their accepted and refused submits; once per epoch
(~40 submits, 0.25–1 s) the schedule decides, atomically in Redis for every worker of the link:
- refused share above what is usual for this SMSC (`noise`) → multiplicative decrease (then 0.5 s of
  answers are ignored: an SMSC counting a sliding second still sees our faster past) to at most
  MD × rate and at most what the SMSC accepted in the epoch (an SMSC limiting at L accepts L: one step
  reaches it), but never below half the rate in one epoch (a short burst of refusals is not a limit);
  what the SMSC accepted then is remembered as its limit `w`;
- if the previous epoch was already a decrease by MD (the SMSC accepted most of what we sent), the
  refused share did not fall with it and what the SMSC accepted fell in proportion to our rate, the
  refusals do not depend on our rate (an SMSC refusing a random share): the decreases are undone and
  that share becomes the link's `noise` (forgotten slowly while refusals stay below it), so random
  refusals are retried at full speed instead of strangling the link — but only a share up to 30 %: an SMSC
  refusing more is a limit or a fault, and misreading it as random (timing on a loaded machine can make a
  limit's numbers look so) would hold the link at full speed, mostly refused; for the same reason a run of
  decreases that saw more than 30 % refused at any step is never undone;
- otherwise additive increase by AI × contract per epoch, up to the contract (less the margin): quickly
  (half the gap per epoch) up to 95 % of `w`, slowly (AI / 4) from there to 110 %, then AI again — near the
  SMSC's limit the link probes gently, so it holds ~95 % of that limit with a few % refused.
The schedule's rate is thus never above the contract: the bucket stays the hard ceiling."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from syrena_core import metrics

# Slots: KEYS[1] is the link's hash. ARGV: ceiling rate, slots wanted, horizon (s), catch-up (s).
# Returns {granted, seconds from now to the first slot (or to the next try when none), interval, rate}.
_TAKE = """
local ceiling = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local catch_up = tonumber(ARGV[4])
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tat', 'rate')
local rate = tonumber(state[2]) or ceiling
if rate > ceiling then rate = ceiling end
local tat = tonumber(state[1]) or t
if tat < t - catch_up then tat = t - catch_up end
if tat - t > horizon then
  return {0, tostring(tat - horizon - t), tostring(1 / rate), tostring(rate)}
end
local n = math.min(want, math.floor((t + horizon - tat) * rate) + 1)
redis.call('HSET', KEYS[1], 'tat', tostring(tat + n / rate), 'rate', tostring(rate))
redis.call('EXPIRE', KEYS[1], 300)
return {n, tostring(tat - t), tostring(1 / rate), tostring(rate)}
"""

# The AIMD controller. ARGV: accepted, refused, ceiling, floor, md, ai (per epoch), epoch submits.
# Returns the rate now.
_REPORT = """
local ceiling = tonumber(ARGV[3])
local floor = tonumber(ARGV[4])
local md = tonumber(ARGV[5])
local ai = tonumber(ARGV[6])
local per_epoch = tonumber(ARGV[7])
local MAX_NOISE = 0.3  -- the largest refused share still read as random (see below)
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local k = KEYS[1]
local s = redis.call('HMGET', k, 'rate', 'ep', 'acc', 'ref', 'last', 'prev_rate', 'prev_acc', 'noise', 'prev_p',
                    'w', 'top', 'by_md', 'pmax')
local rate = tonumber(s[1]) or ceiling
local ep = tonumber(s[2]) or t
local acc = (tonumber(s[3]) or 0) + tonumber(ARGV[1])
local ref = (tonumber(s[4]) or 0) + tonumber(ARGV[2])
local last = s[5] or 'up'
local prev_rate = tonumber(s[6]) or rate
local prev_acc = tonumber(s[7]) or 0
local noise = tonumber(s[8]) or 0
local prev_p = tonumber(s[9]) or 0
local top = tonumber(s[11]) or rate  -- the rate before a run of decreases (what an undo goes back to)
local w = tonumber(s[10]) or 0  -- what the SMSC accepted when it last throttled us: its limit, as we know it
local by_md = s[12] == '1'       -- the last decrease was MD's, not "what it accepted": refusals may be random
local pmax = tonumber(s[13]) or 0  -- the largest refused share since this run of decreases began
local settle = 0
local epoch = math.max(0.25, math.min(1.0, per_epoch / rate))
local elapsed = t - ep
if elapsed < 0 then
  -- settling after a decrease: the SMSC still counts our faster past second; what it says now is not news
  acc = 0
  ref = 0
elseif elapsed > 3 * epoch then
  -- the link was idle: what it sent last says nothing about its rate now
  ep = t - epoch / 2
  elapsed = epoch / 2
end
if elapsed >= epoch then
  local total = acc + ref
  local acc_rate = acc / elapsed
  if total > 0 then
    local p = ref / total
    local allowed = noise + 0.02
    if noise > 0 then allowed = allowed + 2 * math.sqrt(noise * (1 - noise) / total) end
    if p > allowed then
      local fell, slowed = acc_rate / math.max(prev_acc, 0.001), rate / prev_rate
      -- an SMSC refusing a share at random accepts in proportion to what we send: `fell` ~ `slowed`
      -- (an SMSC limiting at L accepts L whatever we send: `fell` ~ 1; its first, empty second lets a
      -- burst through: `fell` far below `slowed`)
      -- Only a small share passes for random: an SMSC refusing a third or more of what we send is a limit (or
      -- a fault) however its numbers fell, and a misread one would keep the link at full speed, mostly refused.
      -- Nor is a run of decreases that began above MAX_NOISE: a sliding-second limit just below our rate
      -- refuses in bursts, and one epoch of ~30 answers read it as random 1 time in ~13 (the link then jumped
      -- back to the contract, mostly refused); an SMSC refusing at random refuses the same share throughout.
      if last == 'down' and by_md and p <= MAX_NOISE and pmax <= MAX_NOISE and p >= 0.6 * prev_p
         and fell < (1 + slowed) / 2 and fell > slowed / 2 then
        noise = p
        rate = top
        w = 0
        last = 'undo'
      else
        if last ~= 'down' then top = rate; pmax = 0 end
        pmax = math.max(pmax, p)
        prev_rate = rate
        prev_acc = acc_rate
        prev_p = p
        local cut = math.min(rate * md, acc_rate * 0.98)
        by_md = acc_rate * 0.98 >= rate * md
        if noise > 0.01 then w = 0  -- refusals at random: what it accepted says nothing of a limit
        elseif cut >= rate * 0.5 then w = acc_rate else w = rate * 0.9 end  -- a short burst: come back fast
        rate = math.max(floor, rate * 0.5, cut)
        last = 'down'
        settle = 0.5
      end
    else
      noise = math.min(noise, noise * 0.8 + p * 0.2)  -- learnt only from an undone decrease, forgotten slowly
      if rate < 0.95 * w then rate = rate + math.max(ai, (0.95 * w - rate) / 2)
      elseif rate < 1.1 * w then rate = rate + ai / 4
      else rate = rate + ai end
      rate = math.min(ceiling, rate)
      last = 'up'
    end
  else
    rate = math.min(ceiling, rate + ai)
    last = 'up'
  end
  ep = t + settle
  acc = 0
  ref = 0
end
redis.call('HSET', k, 'rate', tostring(rate), 'ep', tostring(ep), 'acc', tostring(acc), 'ref', tostring(ref),
           'last', last, 'prev_rate', tostring(prev_rate), 'prev_acc', tostring(prev_acc), 'noise', tostring(noise),
           'prev_p', tostring(prev_p), 'w', tostring(w), 'top', tostring(top), 'by_md', by_md and '1' or '0',
           'pmax', tostring(pmax))
redis.call('EXPIRE', k, 300)
return tostring(rate)
"""


@dataclass(frozen=True)
class Slots:
    """`count` send times, the first `first_in` seconds from the call, then every `interval` seconds."""

    count: int
    first_in: float
    interval: float
    rate: float


class TokenBucket:
    """The shared schedule of one link (see the module's docstring): in no 1-second window do all its
    takers together send more than `tps`, and the link's rate adapts to the SMSC's refusals below it."""

    MARGIN = 0.03  # the schedule runs this share below the contract (lateness budget, see above)
    HORIZON = 0.02  # seconds of slots a taker may hold ahead (one Redis call per batch of submits)
    LATE_MAX = 0.016  # a slot reached later than this is dropped, not sent late
    CATCH_UP = 0.008  # a taker coming back this late still gets the slots it missed (sent at once)
    MD = 0.85  # multiplicative decrease on throttling
    AI = 0.04  # additive increase per epoch, as a share of the contract
    EPOCH_SUBMITS = 40  # an epoch lasts ~this many submits (0.25–1 s): enough to tell 1 refusal in 10

    def __init__(self, redis: Redis, key: str, tps: float):
        if tps <= 0:
            raise ValueError("tps must be positive")
        self.tps = tps
        self.ceiling = tps * (1 - self.MARGIN)
        self.floor = max(min(0.5, self.ceiling), tps * 0.05)
        self.key = key
        self.label = key.removeprefix("syrena:tps:")
        self.rate = self.ceiling  # the last rate Redis told us (for the status panel)
        self._take = redis.register_script(_TAKE)
        self._report = redis.register_script(_REPORT)

    def take(self, want: int) -> Slots:
        if want <= 0:
            return Slots(0, 0.0, 1 / self.rate, self.rate)
        granted, first_in, interval, rate = self._take(
            keys=[self.key], args=[self.ceiling, want, self.HORIZON, self.CATCH_UP]
        )
        self.rate = float(rate)
        if not int(granted):  # the schedule is taken up to the horizon: the limit, not the SMSC, sets the pace
            metrics.THROTTLE_WAITS.labels(self.label).inc()
        return Slots(int(granted), float(first_in), float(interval), self.rate)

    def report(self, accepted: int, refused: int) -> float:
        """What the SMSC answered since the last report; returns the link's (maybe adapted) rate."""
        self.rate = float(
            self._report(
                keys=[self.key],
                args=[accepted, refused, self.ceiling, self.floor, self.MD, self.AI * self.tps, self.EPOCH_SUBMITS],
            )
        )
        return self.rate
