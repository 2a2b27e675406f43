"""What the gateway workers tell the rest of the system about themselves, through Redis.

Each `flask worker` publishes, with every heartbeat, one JSON document (its binds and their state, window
occupancy, messages per second, counters, its last error) under a key that expires when the heartbeat stops:
a worker that died simply disappears. /readyz, the admin status panel and /metrics read these documents and
RQ's own queue registries; nothing here needs the database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, cast

from syrena_core.logging import mask_phones
from syrena_core.queues import PRIORITY_ORDER, queue, redis_connection

STATE_PREFIX = "syrena:worker-state:"

# Set when the worker process was asked to stop (SIGTERM): a running chunk job stops taking new messages,
# lets its window drain, puts the rest of its chunk back in the queue and returns.
SHUTDOWN = threading.Event()


def shutting_down() -> bool:
    return SHUTDOWN.is_set()


def publish(redis, owner: str, state: dict[str, Any], ttl: int) -> None:
    redis.set(f"{STATE_PREFIX}{owner}", json.dumps({**state, "owner": owner, "ts": time.time()}), ex=ttl)


def withdraw(redis, owner: str) -> None:
    redis.delete(f"{STATE_PREFIX}{owner}")


def read_workers(redis_url: str) -> list[dict[str, Any]]:
    """Every worker whose heartbeat is fresh, by owner id."""
    redis = redis_connection(redis_url)
    keys = sorted(redis.scan_iter(match=f"{STATE_PREFIX}*", count=500))
    docs = []
    # redis-py types a reply of the sync and the async client as one union; this client is the sync one
    for raw in cast("list[bytes | None]", redis.mget(keys)) if keys else []:
        if raw:
            try:
                docs.append(json.loads(raw))
            except ValueError:
                continue
    return sorted(docs, key=lambda d: d.get("owner", ""))


def queue_depths(redis_url: str) -> dict[str, dict[str, int]]:
    """Per RQ queue, highest priority first: waiting, running and failed jobs."""
    out = {}
    for name in PRIORITY_ORDER:
        q = queue(name, redis_url)
        out[name] = {"queued": q.count, "started": q.started_job_registry.count, "failed": q.failed_job_registry.count}
    return out


class LastError(logging.Handler):
    """Keeps the latest WARNING-or-worse record of this process, for the status panel."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: dict[str, Any] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        self.last = {
            "at": record.created,
            "level": record.levelname,
            "logger": record.name,
            "message": mask_phones(message)[:500],
        }  # shown to every operator: no personal data
