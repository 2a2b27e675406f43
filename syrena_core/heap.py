"""The garbage collector of long-running processes that keep a pace (the worker, the SMSC simulator).

CPython's full (generation-2) collection stops every thread of the process while it walks every tracked
object. Measured in the 4 × 500 TPS benchmark (bench/bench_pacing.py, part (d)): the worker, holding ~100,000
objects after start-up (Flask, SQLAlchemy, RQ, smpplib) and ~200,000–290,000 while sending, paused 30–170 ms
per full collection every few seconds, all four links at once, and each simulator 50–310 ms: a link at
500/s loses its send slots for that long, and a simulator that reads late stamps the backlog as one burst
(the "busiest second" above T at the SMSC). So, once start-up is done:
- what start-up built is moved to the permanent generation (gc.freeze()): it lives as long as the process
  and no collection walks it again;
- young collections run every YOUNG allocations (CPython: 700); each full collection then walks only what
  was made since start-up (~30,000 objects: 11–27 ms). A much larger YOUNG (10,000) made the middle
  generation's collections themselves walk up to 100,000 objects: 20–50 ms, every few seconds.
Garbage cycles are still collected; memory stays bounded (the collector runs, just less often).
What a long send keeps must not be walked either: the simulator's records and the session's receipt-id map
are flat tuples of numbers and strings (which the collector untracks), and the session drops the parts it
has sent (smsc_gateway/session.py, COMPACT_AFTER). With all three, part (d) went from 0.85 to 0.95 of
2,000/s and no simulator saw a second above T (docs/benchmarks.md, 2026-12-06).
"""

from __future__ import annotations

import gc

YOUNG = 1_000  # allocations between generation-0 collections (CPython's default: 700)


def settle_after_startup() -> None:
    """Call once, when the process has imported and built what it keeps for its whole life."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
