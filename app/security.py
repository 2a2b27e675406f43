"""Web hardening in one place: refuse an unsafe start, cookie flags, session timeout, security headers,
and the request's origin for the audit log."""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest, UnprocessableEntity

from syrena_core.audit import request_origin
from syrena_core.config import ROOT, ConfigError, Settings
from syrena_core.text import UnsafeText, check_all, check_characters

DEVELOPMENT = "development"
# Keys that were published with Syrena's source (config.toml once held the first): anyone can sign a session
# cookie with them and open /admin/users/ as an admin. Refused in every environment (issue 19).
PUBLISHED_SECRET_KEYS = frozenset({"dev-only-change-me"})
MIN_SECRET_KEY_LENGTH = 32


class InsecureConfiguration(ConfigError):
    """The app would run outside development with settings only fit for a developer's machine."""


def check_settings(settings: Settings) -> None:
    key = settings.app.secret_key
    if key in PUBLISHED_SECRET_KEYS:
        raise InsecureConfiguration(
            "[app] secret_key is a key published with Syrena's source: anyone could forge a login with it. "
            "Remove it from the configuration (in development a key is then generated into "
            f"{settings.app.secret_key_file}) or set SYRENA_APP__SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    if settings.app.environment == DEVELOPMENT:
        return
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise InsecureConfiguration(
            f"[app] environment is {settings.app.environment!r} but secret_key is unset or shorter than "
            f"{MIN_SECRET_KEY_LENGTH} characters: set SYRENA_APP__SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_hex(32))'), the same on every web server"
        )


def secret_key(settings: Settings) -> str:
    """The key that signs session cookies: the configured one, or (development only, none configured) the one
    kept in [app] secret_key_file, generated there on first use."""
    check_settings(settings)
    if settings.app.secret_key:
        return settings.app.secret_key
    path = Path(settings.app.secret_key_file)
    return stored_secret_key(path if path.is_absolute() else ROOT / path)


def stored_secret_key(path: Path) -> str:
    """The key in `path`, generated when the file does not exist yet. Several processes (web, workers, CLI)
    may start at once: the new key is written to a private temporary file and linked into place, so exactly
    one key wins and nobody reads a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_SECRET_KEY_LENGTH or key in PUBLISHED_SECRET_KEYS:
        raise InsecureConfiguration(
            f"{path} holds no usable secret key (at least {MIN_SECRET_KEY_LENGTH} "
            "characters): delete the file and a new one is generated"
        )
    return key


def totp_required(settings: Settings) -> bool:
    """Approvers and admins need a TOTP second factor: when [security] totp_required says so, and always
    outside development — a stolen password alone must never approve an alert in production."""
    return settings.security.totp_required or settings.app.environment != DEVELOPMENT


def _tile_origin(tile_url: str) -> str | None:
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc.replace("{s}", "*")  # Leaflet's a/b/c subdomains
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: Settings) -> str:
    """Scripts and styles from our own origin only: no inline code, so injected markup cannot run."""
    images = ["'self'", "data:"]
    tiles = _tile_origin(settings.map.tile_url)
    if tiles:
        images.append(tiles)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_app(app: Flask, settings: Settings) -> None:
    check_settings(settings)
    security = settings.security
    production = settings.app.environment != DEVELOPMENT
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Over HTTPS only outside development (make run and the tests speak plain HTTP on 127.0.0.1).
        SESSION_COOKIE_SECURE=production,
        REMEMBER_COOKIE_SECURE=production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # A staff session ends after this long without a request: the signed cookie carries its time and is
        # refreshed by every request, and Flask refuses an older one.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=security.session_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=security.max_body_mb * 1024 * 1024,
    )
    csp = content_security_policy(settings)

    @app.before_request
    def _larger_body_where_allowed():
        # First of all hooks: the ones below read the form, which reads the body against this limit. An endpoint
        # that takes larger uploads names itself in BODY_LIMITS (e.g. the registry import, subscribers_ui).
        limit = app.config.get(BODY_LIMITS, {}).get(request.endpoint)
        if limit:
            request.max_content_length = limit

    @app.before_request
    def _remember_origin():
        request_origin.set(request.remote_addr)

    @app.before_request
    def _refuse_nul():
        # PostgreSQL text cannot hold NUL: refused here, once, instead of failing deep in a query as a 500.
        if (
            any("\x00" in v for v in request.args.values())
            or any("\x00" in v for v in request.form.values())
            or (request.is_json and b"\\u0000" in request.get_data(cache=True))
        ):
            raise BadRequest("the request contains a NUL character")

    @app.before_request
    def _refuse_unsafe_json():
        # Every JSON body, on every endpoint (the unauthenticated public API included), before any view reads
        # it: nesting that would exhaust the parser's recursion, and invisible characters in any string
        # (control characters, lone surrogates), are refused naming the problem instead of ending in a 500.
        if not request.is_json or not request.content_length:
            return None
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            return _input_error(
                400,
                "too_deeply_nested",
                f"the JSON body is nested too deeply: at most {MAX_JSON_DEPTH} levels of objects and lists",
            )
        if json_depth(body) > MAX_JSON_DEPTH:
            return _input_error(
                400,
                "too_deeply_nested",
                f"the JSON body is nested too deeply: at most {MAX_JSON_DEPTH} levels of objects and lists",
            )
        odd = odd_number(body)
        if odd is not None:
            return _input_error(
                422,
                "number_out_of_range",
                f"the request body holds the number {odd}, outside "
                "what any field takes (integers within ±9223372036854775807)",
            )
        try:
            check_all(body, "the request body")
        except UnsafeText as e:
            return _input_error(
                422, "unsafe_text", str(e), {"character": f"U+{ord(e.character):04X}", "position": e.position}
            )
        return None

    @app.before_request
    def _refuse_unsafe_form():
        # The same rule for the staff pages' forms (passwords aside: they are hashed, never shown).
        for name, value in request.form.items(multi=True):
            if name in SECRET_FIELDS:
                continue
            try:
                check_characters(value, f"the field {name}")
            except UnsafeText as e:
                if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
                    return _input_error(422, "unsafe_text", str(e))
                raise UnprocessableEntity(str(e)) from None
        return None

    @app.teardown_request
    def _forget_origin(_exc=None):
        request_origin.set(None)

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", csp)
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure and security.hsts_seconds:
            h.setdefault("Strict-Transport-Security", f"max-age={security.hsts_seconds}; includeSubDomains")
        if request.blueprint == "api" or (response.mimetype == "text/html" and _logged_in()):
            # Personal data and staff pages must not stay in shared caches or the browser's back button.
            h.setdefault("Cache-Control", "no-store")
        return response


BODY_LIMITS = "SYRENA_BODY_LIMITS"  # app.config key: {endpoint: the largest request body it takes, in bytes}
SECRET_FIELDS = frozenset({"password", "current", "new", "repeat", "csrf_token"})
# GeoJSON, the deepest body any endpoint takes, needs 8 (a FeatureCollection of MultiPolygons).
MAX_JSON_DEPTH = 32


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


BIGGEST_INTEGER = 2**63 - 1  # PostgreSQL's bigint; beyond it no id, count or coordinate makes sense


def odd_number(value: Any) -> str | None:
    """The first integer in a parsed JSON value that no field takes: too large for a bigint or even a float
    (10**400 made float() raise), shortened for a message. Infinite and NaN floats are each field's to refuse
    ("coordinates must be finite"), as they say more there."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and abs(item) > BIGGEST_INTEGER:
            digits = len(str(abs(item)))
            return f"{'-' if item < 0 else ''}{str(abs(item))[:6]}… ({digits} digits)"
    return None


def _input_error(status: int, code: str, message: str, details: Any = None):
    return jsonify({"error": {"code": code, "message": message, "details": details}}), status


def _logged_in() -> bool:
    return bool(getattr(current_user, "is_authenticated", False))
