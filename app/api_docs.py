"""The API documentation page at /api/docs: Swagger UI (npm swagger-ui-dist, served from node_modules like
Leaflet and Chart.js: no CDN, crisis rooms may be offline) over /api/v1/openapi.json, readable without a token.

The OpenAPI document is public: it describes routes and shapes, holds no data and no secret, and every route it
lists still needs a bearer token. Swagger UI is started by app/static/js/api-docs.js, so the page keeps the
app's Content-Security-Policy (no inline script; its styles come from its own stylesheet, and what it sets
through the DOM's style properties is not inline markup CSP governs)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory

SWAGGER_DIR = Path(__file__).resolve().parent.parent / "node_modules" / "swagger-ui-dist"
# Only what the page loads: the package also holds an index.html with an inline script, source maps and an
# OAuth redirect page that must not be served from our origin.
SWAGGER_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})

bp = Blueprint("api_docs", __name__)


@bp.get("/api/docs")
def api_docs():
    return render_template("api_docs.html")


@bp.get("/api/docs/vendor/<filename>")
def swagger_asset(filename: str):
    if filename not in SWAGGER_FILES:
        abort(404)
    return send_from_directory(SWAGGER_DIR, filename, max_age=7 * 24 * 3600)
