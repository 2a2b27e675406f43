"""The public alert pages on the night everyone opens them: rendered once per change, served from Redis.

Every copy (the page per language, the Atom feed, each alert's CAP) is rendered once per version of the alerts
in force (campaigns.publication: replaced after every commit that changes them) and kept in Redis, which every
web process shares; each process also keeps the last copy it served and asks Redis for the version at most
once every CHECK_EVERY seconds per copy, so a request usually costs neither a Redis round trip nor a database
query (a change shows within that second in every other process, and at once in the one that made it). A
copy showing alerts lives no longer than the first of them stays in force (campaigns.publication.next_expiry):
expiries need no one to replace the version. Each answer carries an ETag,
Last-Modified (when that content first appeared) and `Cache-Control: public, max-age=[public] cache_max_age`,
and a conditional request that matches gets 304. When Redis does not answer, pages are rendered per request.

`[public] static_dir`: the workers' heartbeat (app/worker.py) calls `write_static_files`, which rewrites
alerts.html (the default language), alerts.atom and alerts/<id>.xml there — each written to a temporary
file and renamed — whenever the version moved or an alert shown has expired, for nginx to serve when the
app is down (docs/deployment.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Flask, Response, current_app, has_request_context, request
from redis import Redis
from redis.exceptions import RedisError
from werkzeug.http import is_resource_modified, parse_cookie

from campaigns import publication
from syrena_core import metrics
from syrena_core.db import utcnow
from syrena_core.queues import redis_connection

log = logging.getLogger(__name__)

PREFIX = "syrena:public-alerts"
# A copy stays in Redis at most this long, whatever its version: data written around the workflow (a restore,
# `flask demo load --force`) shows within this time, or at once after `flask alerts publish`; every change
# through the workflow replaces the version at once.
STORE_FOR = 300
STATIC_LOCK_FOR = 60
CHECKED = "syrena.public_copy_checked"  # the WSGI environ keys `cached` and `respond` leave for FastPath
COPY = "syrena.public_copy"
# A process serves its last copy this long without asking Redis whether the version moved (monotonic seconds).
CHECK_EVERY = 1.0


@dataclass(frozen=True)
class Rendered:
    """What a page's renderer returns: the bytes, and until when they are right (None: until a change)."""

    body: bytes
    mimetype: str
    valid_until: datetime | None = None


@dataclass(frozen=True)
class Copy:
    body: bytes
    mimetype: str
    etag: str
    modified: datetime  # when this content first appeared (kept while renders give the same bytes)
    valid_until: datetime | None

    def fresh(self, now: datetime) -> bool:
        return self.valid_until is None or now < self.valid_until

    def dumps(self) -> bytes:
        head = {
            "mimetype": self.mimetype,
            "etag": self.etag,
            "modified": self.modified.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
        }
        return json.dumps(head).encode() + b"\n" + self.body

    @classmethod
    def loads(cls, raw: bytes) -> Copy:
        head, body = raw.split(b"\n", 1)
        fields = json.loads(head)
        until = fields["valid_until"]
        return cls(
            body,
            fields["mimetype"],
            fields["etag"],
            datetime.fromisoformat(fields["modified"]),
            datetime.fromisoformat(until) if until else None,
        )


# The last copy this process served, per (Redis, what, variant), with its version and when that was last
# checked (monotonic time, campaigns.publication.changes_here): reused without asking while recent and this
# process changed nothing, and while the version is the same.
_served: dict[tuple[str, str, str], tuple[str, Copy, tuple[float, int]]] = {}
_served_lock = threading.Lock()
_fast_paths: weakref.WeakSet[FastPath] = weakref.WeakSet()  # every app's, for forget_served


def forget_served() -> None:
    """Drop this process's copies and answers (tests: a database emptied behind the app's back)."""
    with _served_lock:
        _served.clear()
    for fast_path in list(_fast_paths):
        fast_path.answers.clear()


def clock() -> datetime:
    return current_app.config.get("SYRENA_CLOCK", utcnow)()


def _redis_url() -> str:
    return current_app.config["SYRENA"].redis.url


def _new_copy(redis: Redis | None, what: str, variant: str, rendered: Rendered, now: datetime) -> Copy:
    etag = hashlib.sha256(rendered.body).hexdigest()[:32]
    modified = now.replace(microsecond=0)
    if redis is not None:
        last_key = f"{PREFIX}:last:{what}:{variant}"
        last = redis.get(last_key)
        if last is not None:
            previous_etag, _sep, previous = last.decode().partition(" ")
            if previous_etag == etag:
                modified = datetime.fromisoformat(previous)
        redis.set(last_key, f"{etag} {modified.isoformat()}", ex=7 * 24 * 3600)
    return Copy(rendered.body, rendered.mimetype, etag, modified, rendered.valid_until)


def _store_seconds(copy: Copy) -> int:
    if copy.valid_until is None:
        return STORE_FOR
    left = (copy.valid_until - utcnow()).total_seconds()
    return max(1, min(STORE_FOR, int(left) + 1))


def cached(what: str, variant: str, render: Callable[[], Rendered]) -> Copy:
    """The current copy of `what` (page, feed, cap) in `variant` (a language, an id): this process's, else
    Redis', else rendered now and stored for every process."""
    now = clock()
    url = _redis_url()
    mine = (url, what, variant)
    served = _served.get(mine)
    checked = (time.monotonic(), publication.changes_here())
    if (
        served is not None
        and checked[0] - served[2][0] < CHECK_EVERY
        and checked[1] == served[2][1]  # this process changed nothing since
        and served[1].fresh(now)
    ):
        _checked(served[2])
        return served[1]
    try:
        redis = redis_connection(url)
        version = publication.version(redis)
    except RedisError:
        log.warning("Redis does not answer: the public alert pages are rendered per request")
        return _new_copy(None, what, variant, render(), now)
    if served is not None and served[0] == version and served[1].fresh(now):
        with _served_lock:
            _served[mine] = (version, served[1], checked)
        _checked(checked)
        return served[1]
    key = f"{PREFIX}:{version}:{what}:{variant}"
    try:
        raw = redis.get(key)
        copy = Copy.loads(raw) if raw is not None else None
        if copy is None or not copy.fresh(now):
            copy = _new_copy(redis, what, variant, render(), now)
            redis.set(key, copy.dumps(), ex=_store_seconds(copy))
    except RedisError:
        log.warning("Redis does not answer: the public alert pages are rendered per request")
        return _new_copy(None, what, variant, render(), now)
    with _served_lock:
        _served[mine] = (version, copy, checked)
    _checked(checked)
    return copy


def _checked(stamp: tuple[float, int]) -> None:
    """Tell FastPath when the copy this request gets was last found current (it may reuse the answer)."""
    if has_request_context():
        request.environ[CHECKED] = stamp


def respond(copy: Copy, vary: str | None = None) -> Response:
    """The copy with its validators and caching headers; 304 to a conditional request it matches."""
    request.environ[COPY] = (copy, request.endpoint or "")
    response = Response(copy.body, mimetype=copy.mimetype)
    response.set_etag(copy.etag)
    response.last_modified = copy.modified
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["SYRENA"].public.cache_max_age
    if vary:
        response.vary.update(v.strip() for v in vary.split(","))
    return response.make_conditional(request)


# ------------------------------------------------------------------------------------------------ static files
def _write(path: Path, body: bytes) -> None:
    """Atomically: a reader (nginx) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.chmod(temporary, 0o644)  # for the web server's user
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_static_files(
    app: Flask,
    page: Callable[[], Copy],
    feed: Callable[[], Copy],
    caps: Callable[[], dict[int, Copy]],
    force: bool = False,
) -> bool:
    """Rewrite [public] static_dir when the version moved or a copy shown has expired (or `force`); True when
    written. The copies are the ones the app serves, rendered in a request context for the public URL in
    the default language. Workers of one host share the work through a lock in Redis (per host and directory:
    each host serving static files keeps its own copy)."""
    settings = app.config["SYRENA"]
    if not settings.public.static_dir:
        return False
    directory = Path(settings.public.static_dir).resolve()
    redis = redis_connection(settings.redis.url)
    state_key = f"{PREFIX}:static:{socket.gethostname()}:{directory}"
    lock_key = f"{state_key}:lock"
    language = settings.app.default_language
    with app.test_request_context("/alerts", base_url=settings.app.public_url, headers={"Accept-Language": language}):
        version = publication.version(redis)
        now = clock()
        state = redis.get(state_key)
        if state is not None and not force:
            written_version, _sep, until = state.decode().partition(" ")
            if written_version == version and (not until or now < datetime.fromisoformat(until)):
                return False
        if not redis.set(lock_key, "1", nx=True, ex=STATIC_LOCK_FOR):
            return False  # another worker of this host is writing them
        try:
            html, atom = page(), feed()
            for campaign_id, cap in caps().items():
                _write(directory / "alerts" / f"{campaign_id}.xml", cap.body)
            _write(directory / "alerts.atom", atom.body)
            _write(directory / "alerts.html", html.body)
            until = min((c.valid_until for c in (html, atom) if c.valid_until), default=None)
            redis.set(state_key, f"{version} {until.isoformat() if until else ''}", ex=7 * 24 * 3600)
        finally:
            redis.delete(lock_key)
    log.info("public alert pages written to %s", directory)
    return True


# ------------------------------------------------------------------------------------------------ the fast path
class FastPath:
    """WSGI middleware in front of the Flask app: a GET or HEAD of /alerts, /alerts.atom or /alerts/<id>.xml
    that asks for exactly what an answer of the last second was for (the same path, `lang` cookie and
    Accept-Language) gets that answer again — its headers (security headers, Vary, validators) and bytes as
    Flask made them, or a 304 when the client has it — without a request context, hooks or a view: on the
    night of an alert that is most requests. It reuses an answer under the same rule as `cached`: for at most
    CHECK_EVERY seconds, while this process changed nothing and no alert on it has expired; then the next
    request goes through Flask, which asks Redis again. Answers that set a cookie are never reused."""

    PATHS = re.compile(r"/alerts(\.atom|/[0-9]+\.xml)?")
    MAX_ANSWERS = 512  # distinct Accept-Language headers are many: forget them all rather than grow

    def __init__(self, app: Flask, wsgi_app: Callable):
        self.app, self.wsgi_app = app, wsgi_app
        self.answers: dict[tuple[str, str, str], _Answer] = {}
        _fast_paths.add(self)

    def __call__(self, environ: dict, start_response: Callable):
        path = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or environ.get("QUERY_STRING")
            or not self.PATHS.fullmatch(path)
        ):
            return self.wsgi_app(environ, start_response)
        key = (path, _lang_cookie(environ.get("HTTP_COOKIE", "")), environ.get("HTTP_ACCEPT_LANGUAGE", ""))
        answer = self.answers.get(key)
        if answer is not None and answer.current(self.app.config.get("SYRENA_CLOCK", utcnow)()):
            return answer.serve(environ, start_response)
        return self._remember(key, environ, start_response)

    def _remember(self, key: tuple[str, str, str], environ: dict, start_response: Callable):
        """Through Flask as a plain GET (its full answer is what may be reused), then answered — 304 included —
        from that answer; one that may not be reused is passed on (a 200 where a 304 would do: still right)."""
        inner = {k: v for k, v in environ.items() if k not in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")}
        inner["REQUEST_METHOD"] = "GET"
        started: list = []

        def capture(status: str, headers: list, exc_info=None):
            started[:] = [status, headers]
            return lambda data: None  # the legacy write(): Flask never calls it

        body = self.wsgi_app(inner, capture)
        try:
            content = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        status, headers = started
        stamp, served = inner.get(CHECKED), inner.get(COPY)
        if (
            stamp is not None
            and served is not None
            and status.startswith("200")
            and not any(name.lower() == "set-cookie" for name, _value in headers)
        ):
            answer = _Answer(headers, content, served[0], served[1], stamp)
            if len(self.answers) >= self.MAX_ANSWERS:
                self.answers.clear()
            self.answers[key] = answer
            return answer.serve(environ, start_response, count=False)  # Flask counted this one
        start_response(status, headers)
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [content]


@dataclass(frozen=True)
class _Answer:
    headers: list[tuple[str, str]]
    body: bytes
    copy: Copy
    endpoint: str
    checked: tuple[float, int]

    def current(self, now: datetime) -> bool:
        return (
            time.monotonic() - self.checked[0] < CHECK_EVERY
            and publication.changes_here() == self.checked[1]
            and self.copy.fresh(now)
        )

    def serve(self, environ: dict, start_response: Callable, count: bool = True):
        method = environ.get("REQUEST_METHOD", "GET")
        modified = is_resource_modified(environ, etag=self.copy.etag, last_modified=self.copy.modified)
        if count:
            metrics.HTTP_REQUESTS.labels(method, self.endpoint, "200" if modified else "304").inc()
        if not modified:
            start_response("304 NOT MODIFIED", [h for h in self.headers if h[0].lower() != "content-length"])
            return [b""]
        start_response("200 OK", self.headers)
        return [b""] if method == "HEAD" else [self.body]


def _lang_cookie(cookies: str) -> str:
    """The `lang` cookie's value, without parsing the rest (a session cookie differs per visitor)."""
    if "lang=" not in cookies:
        return ""
    return parse_cookie(cookies).get("lang", "")
