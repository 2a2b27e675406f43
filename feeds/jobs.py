"""The feed poll as an RQ job, enqueued by the workers' heartbeat when a source is due (exactly once across the
fleet: a Redis key per source that lives for its poll_seconds)."""

from __future__ import annotations

import logging

from feeds.service import poll_source
from syrena_core.config import Settings, get_settings
from syrena_core.queues import INFO, queue, redis_connection

log = logging.getLogger("syrena.feeds.jobs")

DUE_KEY = "syrena:feeds:due:{name}"
RESULT_TTL = 600


def enqueue_feed_polls_when_due(settings: Settings) -> list[str]:
    """Called by every worker's heartbeat every few seconds: enqueues a poll of each source whose key expired
    (one worker wins the SET NX). On the info queue: alerts and verification codes go first."""
    redis = redis_connection(settings.redis.url)
    enqueued = []
    for source in settings.feeds.sources:
        if not redis.set(DUE_KEY.format(name=source.name), "1", nx=True, ex=source.poll_seconds):
            continue
        queue(INFO, settings.redis.url).enqueue(
            poll_feed,
            source.name,
            # Every document of a feed may take its timeout: a feed of many linked documents needs minutes.
            job_timeout=max(120, int(settings.feeds.timeout_seconds * 4 * min(settings.feeds.max_entries, 50))),
            result_ttl=RESULT_TTL,
            description=f"poll the official warning source {source.name}",
        )
        enqueued.append(source.name)
    return enqueued


def poll_feed(name: str) -> str:
    """Poll one source (by name: the configuration is read again, so a removed source is simply skipped)."""
    settings = get_settings()
    source = settings.feeds.source(name)
    if source is None:
        return f"{name}: no longer configured"
    return poll_source(settings.database.url, source, settings).summary()
