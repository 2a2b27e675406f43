"""HTTP for official warning sources: conditional requests (ETag / If-Modified-Since), a timeout on connecting
and on every read, a deadline for the whole body, and a size limit checked while reading (a server that lies in
Content-Length, or sends none, is cut off at the limit)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from feeds.exceptions import FeedDown, FeedSlow, FeedTooLarge
from syrena_core.config import FeedSettings

ACCEPT = "application/atom+xml, application/rss+xml, application/cap+xml, application/xml;q=0.9, text/xml;q=0.8"
CHUNK = 64 * 1024
# A body trickling in one byte at a time never trips the per-read timeout: the whole download gets this many
# timeouts' time at most.
BODY_DEADLINE_FACTOR = 3


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes | None  # None: 304 Not Modified
    etag: str | None
    last_modified: str | None
    duration_ms: int


def fetch(url: str, settings: FeedSettings, etag: str | None = None, last_modified: str | None = None) -> Fetched:
    headers = {"User-Agent": settings.user_agent, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    timeout = settings.timeout_seconds
    try:
        with requests.get(url, headers=headers, timeout=(timeout, timeout), stream=True) as response:
            if response.status_code == 304:
                return Fetched(304, None, etag, last_modified, _ms(started))
            if response.status_code >= 400:
                raise FeedDown(f"the source answered HTTP {response.status_code} {response.reason or ''}".strip())
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > settings.max_bytes:
                raise FeedTooLarge(f"refused: {int(declared):,} bytes announced; at most {settings.max_bytes:,}")
            body = bytearray()
            deadline = started + timeout * BODY_DEADLINE_FACTOR
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > settings.max_bytes:
                    raise FeedTooLarge(f"refused: more than {settings.max_bytes:,} bytes ([feeds] max_bytes)")
                if time.monotonic() > deadline:
                    raise FeedSlow(f"too slow: the body took longer than {timeout * BODY_DEADLINE_FACTOR:g} s")
            return Fetched(
                response.status_code,
                bytes(body),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                _ms(started),
            )
    except requests.Timeout:
        raise FeedSlow(f"no answer within {timeout:g} s ([feeds] timeout_seconds)") from None
    except requests.ConnectionError as e:
        if "timed out" in str(e).lower():
            raise FeedSlow(f"no answer within {timeout:g} s ([feeds] timeout_seconds)") from None
        raise FeedDown(f"cannot connect: {type(e).__name__}") from None
    except requests.RequestException as e:
        raise FeedDown(f"the request failed: {type(e).__name__}") from None


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
