"""Current alerts for everyone: a page with their areas on a map, an Atom feed and each alert as CAP 1.2.

Each is rendered once per change of the alerts in force and served from the cache (app/public_cache.py),
with ETag, Last-Modified and Cache-Control; the page in the visitor's language.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, render_template, url_for
from flask_babel import get_locale
from lxml import etree

from app import public_cache
from app.database import db
from app.extensions import limiter
from app.public_cache import Copy, Rendered
from app.zones_ui import DEFAULT_VIEW
from campaigns import cap, publication, targeting
from campaigns import service as campaigns
from campaigns.exceptions import CampaignNotFound
from syrena_core import localtime
from syrena_core.db import utcnow
from syrena_core.text import xml_safe

bp = Blueprint("public_alerts", __name__)
# No per-address limit: on the night of an alert a whole estate may share one carrier-grade NAT address, and
# a cached copy costs less to serve than to count.
limiter.exempt(bp)

ATOM = "http://www.w3.org/2005/Atom"


def _now():
    return current_app.config.get("SYRENA_CLOCK", utcnow)()


# The page answers in the visitor's language (Accept-Language, or the language cookie they chose).
PAGE_VARY = "Accept-Language, Cookie"


@bp.get("/alerts")
def alerts_page():
    return public_cache.respond(_page_copy(), vary=PAGE_VARY)


def _page_copy() -> Copy:
    language = str(get_locale() or current_app.config["SYRENA"].app.default_language)
    return public_cache.cached("page", language, _render_page)


def _render_page() -> Rendered:
    session = db()
    alerts = campaigns.current_alerts(session, _now())
    features = []
    for alert in alerts:
        for feature in targeting.campaign_target_geojson(session, alert)["features"]:
            feature["properties"] = {"title": alert.title or alert.event or "", "severity": alert.severity}
            features.append(feature)
    settings = current_app.config["SYRENA"]
    options = {
        "tiles": current_app.config.get("MAP_TILE_URL", settings.map.tile_url),
        "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION", settings.map.tile_attribution),
        "view": DEFAULT_VIEW,
    }
    html = render_template(
        "public/alerts.html",
        alerts=alerts,
        areas={"type": "FeatureCollection", "features": features},
        map_options=options,
    )
    return Rendered(html.encode(), "text/html", publication.next_expiry(alerts))


@bp.get("/alerts/<int:campaign_id>.xml")
def alert_cap(campaign_id: int):
    try:
        copy = _cap_copy(campaign_id)
    except CampaignNotFound:
        abort(404)
    return public_cache.respond(copy)


def _cap_copy(campaign_id: int) -> Copy:
    def render() -> Rendered:
        campaign = campaigns.published(db(), campaign_id)
        body = cap.build_cap(db(), campaign, current_app.config["SYRENA"].campaigns)
        return Rendered(body, "application/cap+xml")

    return public_cache.cached("cap", str(campaign_id), render)


def public_url(endpoint: str, **values) -> str:
    """An absolute link for the public: [app] public_url and the path, never the request's Host header
    (anyone can send `Host: evil.example`, and a caching proxy would serve those links to everyone)."""
    base = current_app.config["SYRENA"].app.public_url.rstrip("/")
    return base + url_for(endpoint, **values, _external=False)


def _sub(parent, name: str, text: str | None = None, **attrs: str):
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}", **attrs)
    if text is not None:
        element.text = xml_safe(text)  # stored text never makes the public feed fail
    return element


@bp.get("/alerts.atom")
def alerts_feed():
    return public_cache.respond(_feed_copy())


def _feed_copy() -> Copy:
    return public_cache.cached("feed", "-", _render_feed)


def _render_feed() -> Rendered:
    settings = current_app.config["SYRENA"].campaigns
    alerts = campaigns.current_alerts(db(), _now())
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _sub(feed, "id", public_url("public_alerts.alerts_feed"))
    _sub(feed, "title", "Syrena — aktualne ostrzeżenia")
    _sub(feed, "updated", localtime.rfc3339(max((a.sent_at for a in alerts), default=_now())))
    _sub(feed, "link", href=public_url("public_alerts.alerts_feed"), rel="self")
    _sub(feed, "link", href=public_url("public_alerts.alerts_page"), rel="alternate")
    author = _sub(feed, "author")
    _sub(author, "name", settings.cap_sender)
    for alert in alerts:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"urn:cap:{cap.identifier(alert, settings)}")
        _sub(entry, "title", alert.title or alert.event or alert.body[:80])
        _sub(entry, "updated", localtime.rfc3339(alert.sent_at))
        _sub(entry, "summary", alert.body)
        _sub(entry, "category", term=alert.severity)
        _sub(
            entry,
            "link",
            href=public_url("public_alerts.alert_cap", campaign_id=alert.id),
            rel="alternate",
            type="application/cap+xml",
        )
    body = etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Rendered(body, "application/atom+xml", publication.next_expiry(alerts))


def write_static_files(app: Flask, force: bool = False) -> bool:
    """[public] static_dir brought up to date (app/public_cache.py); the workers' heartbeat calls it."""

    def caps() -> dict[int, Copy]:
        return {alert.id: _cap_copy(alert.id) for alert in campaigns.current_alerts(db(), _now())}

    return public_cache.write_static_files(app, _page_copy, _feed_copy, caps, force)
