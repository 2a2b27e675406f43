"""What every API module shares: the blueprint's error shape, token auth, JSON parsing."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from app.auth import bearer_token
from app.database import db
from app.public import seconds_to_wait
from syrena_core.accounts import Role, role_allows

STAFF = (Role.OPERATOR, Role.APPROVER, Role.FINANCE)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: Any = None):
    return jsonify({"error": {"code": code, "message": message, "details": details}}), status


# Domain errors → status and code, registered by each API module for its own exceptions;
# nothing a client sends may become a 500. Order matters: subclasses before their bases.
_DOMAIN_ERRORS: list[tuple[type[Exception], int, str]] = []


def map_domain_error(kind: type[Exception], status: int, code: str) -> None:
    _DOMAIN_ERRORS.append((kind, status, code))


def register_error_handlers(bp) -> None:
    @bp.errorhandler(ApiError)
    def _api_error(e: ApiError):
        db().rollback()
        return error_response(e.status, e.code, e.message, e.details)

    @bp.errorhandler(ValueError)
    def _domain_error(e: ValueError):
        db().rollback()
        for kind, status, code in _DOMAIN_ERRORS:
            if isinstance(e, kind):
                # An error may say more (`details`), e.g. when to try again or what to do instead.
                details = getattr(e, "details", None)
                response, status = error_response(status, code, str(e), details)
                if isinstance(details, dict) and isinstance(details.get("retry_after"), int):
                    response.headers["Retry-After"] = str(details["retry_after"])
                return response, status
        return _unexpected(e)

    @bp.errorhandler(Exception)
    def _unexpected(e: Exception):
        # A bug or an outage (database, Redis), not the client's fault: logged with its trace, answered in JSON.
        current_app.logger.exception("API request failed: %s %s", request.method, request.path)
        db().rollback()
        return error_response(500, "internal_error", "the request could not be completed; it has been logged")

    @bp.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        return error_response(e.code or 500, (e.name or "error").lower().replace(" ", "_"), e.description)


def _over_rate_limit(token_id: int) -> int | None:
    """Seconds to wait when this token used up its [security] api_limit, else None (per token, in Redis)."""
    return seconds_to_wait(
        current_app.config["SYRENA"].security.api_limit, "api-token", str(token_id), "API rate limit"
    )


def requires(*roles: Role) -> Callable:
    """Bearer-token auth: the token's role (an admin's token may be narrowed to another) must be one of `roles`;
    each token has its own request rate limit."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            token = bearer_token()
            if token is None:
                db().commit()
                return error_response(401, "unauthorized", "a valid bearer token is required")
            wait = _over_rate_limit(token.id)
            if wait is not None:
                db().rollback()
                response, status = error_response(
                    429, "rate_limited", "too many requests for this token", {"retry_after": wait}
                )
                response.headers["Retry-After"] = str(wait)
                return response, status
            role = token.effective_role()
            if role is None:
                db().commit()
                return error_response(
                    403,
                    "forbidden",
                    f"this token was narrowed to the {token.role} role, which "
                    f"its owner ({token.user.role}) no longer holds: issue a new token",
                )
            if not role_allows(role, *roles):
                db().commit()
                return error_response(403, "forbidden", f"the {role} role may not do this")
            g.api_user = token.user
            g.api_role = role  # the token's own (an admin's token narrowed to "approver" sees what approvers see)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def page_params(default: int = 100) -> tuple[int, int]:
    """`limit` and `offset` from the query string, capped by [security] max_page_size; 400 when not numbers."""
    cap = current_app.config["SYRENA"].security.max_page_size
    values = []
    for name, fallback, highest in (("limit", min(default, cap), cap), ("offset", 0, 10_000_000)):
        raw = request.args.get(name)
        if raw is None or raw == "":
            values.append(fallback)
            continue
        if not raw.isdigit() or len(raw) > 9:
            raise ApiError(400, "invalid_parameter", f"{name} must be a whole number from 0", {"parameter": name})
        values.append(min(int(raw), highest))
    limit, offset = values
    return max(limit, 1), offset


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "malformed_json", "the request body must be valid JSON (Content-Type: application/json)")
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    return body
