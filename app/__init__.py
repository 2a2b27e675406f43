"""Syrena's web application: admin UI, public pages, REST API v1, CLI."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app import (
    admin,
    api,
    api_docs,
    audit_ui,
    auth,
    campaigns_ui,
    cli,
    finance_ui,
    health,
    public,
    public_alerts,
    security,
    status_ui,
    subscribers_ui,
    users_ui,
    zones_ui,
)
from app.database import MetadataHolder, close_db
from app.extensions import babel, csrf, login_manager, migrate
from syrena_core.config import Settings, get_settings
from syrena_core.db import Base
from syrena_core.logging import configure_logging
from syrena_core.models_registry import import_all_models


def create_app(settings: Settings | None = None, test_config: dict | None = None) -> Flask:
    settings = settings or get_settings()
    import_all_models()
    app = Flask(__name__)
    if settings.app.proxy_hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.app.proxy_hops, x_proto=settings.app.proxy_hops)
    app.config.update(
        SYRENA=settings,
        SECRET_KEY=security.secret_key(settings),  # refuses a published key; in development generates one
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE=settings.app.default_language,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    security.init_app(app, settings)  # refuses an unsafe configuration; headers, cookies, limits
    if test_config:
        app.config.update(test_config)
    configure_logging(settings.logging.level, settings.logging.format)  # JSON lines, phone numbers masked

    def select_locale():
        # Polish unless someone chose otherwise: crisis-room PCs often run English browsers,
        # and the centre's procedures are in Polish.
        chosen = request.cookies.get("lang")
        return chosen if chosen in settings.app.languages else settings.app.default_language

    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    csrf.init_app(app)
    migrate.init_app(app, MetadataHolder(Base.metadata), directory=str(Path(__file__).parent.parent / "migrations"))
    app.teardown_appcontext(close_db)

    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(finance_ui.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_docs.bp)  # /api/docs: Swagger UI, public
    app.register_blueprint(zones_ui.bp)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, never cookies
    cli.register(app)
    public.register(app)  # the residents' sign-up page and the rate limits of its API
    app.register_blueprint(subscribers_ui.bp)
    app.register_blueprint(campaigns_ui.bp)
    app.register_blueprint(public_alerts.bp)  # current alerts for everyone: page, Atom feed, CAP
    health.init_app(app)  # /healthz, /readyz, /metrics and the HTTP request metrics
    app.register_blueprint(status_ui.bp)
    app.register_blueprint(audit_ui.bp)
    app.register_blueprint(users_ui.bp)
    return app
