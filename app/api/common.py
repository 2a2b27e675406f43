"""What every API module shares: the blueprint's error shape, token auth, JSON parsing."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from app.auth import bearer_user
from app.database import db
from syrena_core.accounts import Role

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
                return error_response(status, code, str(e))
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


def requires(*roles: Role) -> Callable:
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = bearer_user()
            if user is None:
                db().commit()
                return error_response(401, "unauthorized", "a valid bearer token is required")
            if not user.has_role(*roles):
                return error_response(403, "forbidden", f"the {user.role} role may not do this")
            g.api_user = user
            return view(*args, **kwargs)
        return wrapped
    return decorator


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "malformed_json", "the request body must be valid JSON (Content-Type: application/json)")
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    return body
