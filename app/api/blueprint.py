"""The /api/v1 blueprint that each module of app.api adds its routes to (app.api imports those modules)."""

from flask import Blueprint

from app.api.common import register_error_handlers

bp = Blueprint("api", __name__, url_prefix="/api/v1")
register_error_handlers(bp)
