"""The RQ queues, highest priority first: workers always drain alerts before anything else."""

from __future__ import annotations

from functools import lru_cache

from redis import Redis
from rq import Queue

ALERTS = "alerts"
TRANSACTIONAL = "transactional"
INFO = "info"
PRIORITY_ORDER = (ALERTS, TRANSACTIONAL, INFO)


@lru_cache(maxsize=4)
def redis_connection(url: str) -> Redis:
    return Redis.from_url(url)


def queue(name: str, url: str) -> Queue:
    return Queue(name, connection=redis_connection(url))
