"""What the public sees changed: one version in Redis, replaced after every commit that changes the alerts in
force (a send, an update, an all-clear, a cancel), read by whoever publishes them. A version is a random token,
never a counter: after Redis lost its data a counter would start again at 1 and let a web process take a copy
it rendered long ago, under the same number, for current.

The public pages (/alerts, /alerts.atom, /alerts/<id>.xml) are rendered once per version and served from Redis
to every web process (app/public_cache.py); the workers' heartbeat rewrites the static copies for nginx when the
version moves (app/public_cache.py, run by app/worker.py). This package only counts: it knows nothing of pages,
templates or files, and the web app never needs to be told who changed what. What the clock ends (an expiry)
needs no bump: a published copy lives no longer than `in_force_until` of the alerts it shows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

from campaigns.models import Campaign
from campaigns.service import CURRENT_FOR
from syrena_core.config import get_settings
from syrena_core.queues import redis_connection

log = logging.getLogger(__name__)

VERSION_KEY = "syrena:public-alerts:version"
# Changes made by this process: a web process that may skip asking Redis for a second (app/public_cache.py)
# still shows its own changes at once.
_changes_here = [0]


def changed(redis_url: str | None = None) -> None:
    """After the commit: the alerts in force may differ; every published copy is out of date."""
    _changes_here[0] += 1
    try:
        redis_connection(redis_url or get_settings().redis.url).set(VERSION_KEY, new_version())
    except RedisError:
        # The alert itself is committed (and its chunks need Redis anyway): never fail the send for a page.
        # The cached copies expire on their own within minutes (app/public_cache.py STORE_FOR).
        log.exception("could not mark the public alert pages as changed")


def changes_here() -> int:
    """How many changes this process has made (see `changed`)."""
    return _changes_here[0]


def new_version() -> str:
    return uuid.uuid4().hex


def version(redis: Redis) -> str:
    """The current version; a Redis without one (new, or it lost its data) gets a new one, never one used
    before, so no copy rendered earlier passes for current."""
    value = redis.get(VERSION_KEY)
    if value is None:
        redis.set(VERSION_KEY, new_version(), nx=True)
        value = redis.get(VERSION_KEY)
    return value.decode() if isinstance(value, bytes) else str(value)


def in_force_until(alert: Campaign) -> datetime:
    """When the alert stops being in force by itself (campaigns.service.current_alerts' rule)."""
    if alert.expires_at is not None:
        return alert.expires_at
    assert alert.sent_at is not None, "only sent alerts are in force"
    return alert.sent_at + CURRENT_FOR


def next_expiry(alerts: Iterable[Campaign]) -> datetime | None:
    """The first moment at which one of these alerts ends by itself: no copy of a page showing them may be
    served after it. None: nothing ends (no alert shown)."""
    return min((in_force_until(a) for a in alerts), default=None)
