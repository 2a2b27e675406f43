"""Syrena's web application: admin UI, public pages, REST API v1, CLI."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app import (
    admin,
    api,
    api_docs,
    audit_ui,
    auth,
    callouts_ui,
    campaigns_ui,
    cli,
    exercises_ui,
    feeds_ui,
    fieldwork_ui,
    finance_ui,
    groups_ui,
    health,
    public,
    public_alerts,
    public_cache,
    replies_ui,
    reports_ui,
    security,
    status_ui,
    subscribers_ui,
    templates_ui,
    timeline_ui,
    users_ui,
    zones_ui,
)
from app.database import MetadataHolder, close_db
from app.extensions import babel, csrf, login_manager, migrate
from syrena_core.config import AppSettings, Settings, get_settings
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
    # The public alert pages' answers of the last second, served again before Flask (app/public_cache.py).
    app.wsgi_app = public_cache.FastPath(app, app.wsgi_app)
    security.init_app(app, settings)  # refuses an unsafe configuration; headers, cookies, limits
    if test_config:
        app.config.update(test_config)
    configure_logging(settings.logging.level, settings.logging.format)  # JSON lines, phone numbers masked

    babel.init_app(app, locale_selector=lambda: select_locale(settings.app))
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
    app.register_blueprint(replies_ui.bp)  # replies to a campaign's question (issue 15)
    app.register_blueprint(fieldwork_ui.bp)  # issue 15: follow-up to a slice, the field worklist
    app.register_blueprint(public_alerts.bp)  # current alerts for everyone: page, Atom feed, CAP
    health.init_app(app)  # /healthz, /readyz, /metrics and the HTTP request metrics
    app.register_blueprint(status_ui.bp)
    app.register_blueprint(audit_ui.bp)
    app.register_blueprint(users_ui.bp)
    app.register_blueprint(timeline_ui.bp)  # an alert's timing report: its PDF (issue 16)
    app.register_blueprint(feeds_ui.bp)  # official warnings in (CAP sources), drafts out
    app.register_blueprint(exercises_ui.bp)  # send test (issue 16); the old test groups' addresses
    app.register_blueprint(groups_ui.bp)  # contact groups of every kind (issue 20)
    app.register_blueprint(reports_ui.bp)
    app.register_blueprint(templates_ui.bp)  # the hazard template library (issue 16)
    app.register_blueprint(callouts_ui.bp)  # call-outs to staff, services and media: list, board, PDF (issue 20)
    app.after_request(vary_on_language)
    return app


# The residents' pages: they speak the browser's language (Accept-Language) until the person picks one.
PUBLIC_BLUEPRINTS = frozenset({"public", "public_alerts"})


def select_locale(settings: AppSettings) -> str:
    """The language a request is answered in: the one picked with the language switch (cookie `lang`);
    else, on the public pages, the best of `languages` the browser accepts; else the default (Polish).

    Staff pages do not follow the browser: crisis-room PCs often run English browsers, and the centre's
    procedures are in Polish, so staff see Polish unless they choose otherwise.
    """
    chosen = request.cookies.get("lang")
    if chosen in settings.languages:
        return chosen
    if request.blueprint in PUBLIC_BLUEPRINTS:
        return browser_language(request.accept_languages, settings) or settings.default_language
    return settings.default_language


def browser_language(accepted: Iterable[tuple[str, float]], settings: AppSettings) -> str | None:
    """The first of the browser's languages (highest q first, then in its order: "uk, en" is Ukrainian) that
    we have; a region or script counts as its language ("uk-UA", "uk_UA"); "*" is the default, unless the
    browser refused it with q=0. None: nothing we have."""
    accepted = sorted(accepted, key=lambda item: -item[1])  # stable: equal q-values keep the browser's order
    refused = {_base(value) for value, quality in accepted if quality <= 0}
    for value, quality in accepted:
        if quality <= 0:
            continue
        if value == "*":
            return next(
                (code for code in (settings.default_language, *settings.languages) if code not in refused), None
            )
        if _base(value) in settings.languages and _base(value) not in refused:
            return _base(value)
    return None


def _base(value: str) -> str:
    return value.strip().lower().replace("_", "-").split("-")[0]


def vary_on_language(response: Response) -> Response:
    """A public page differs by Accept-Language and the `lang` cookie: caches must keep one copy per both. Only
    the pages: the Atom feed, CAP and JSON answers hold no translated text, and one copy serves every language."""
    if request.blueprint in PUBLIC_BLUEPRINTS and response.mimetype == "text/html":
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response
