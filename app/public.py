"""The residents' public page (no login): subscribe with a phone and an address, confirm with a code,
change or end the subscription. It talks to the public JSON API (app/api/subscribers.py)."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from limits import parse_many

from app.database import db
from app.extensions import limiter
from subscribers.geocoders import geocoder_for
from subscribers.service import TOPICS, zone_code
from zones.service import list_zones

bp = Blueprint("public", __name__, url_prefix="/subscribe")


def seconds_to_wait(limits: str, scope: str, key: str, what: str) -> int | None:
    """Counts one hit of `key` against `limits` (e.g. "30 per minute", shared by every web process through
    Redis); returns the seconds to wait when they are used up, else None. When the storage is down nothing is
    limited (no limit rather than no service) and the outage is logged, naming `what`."""
    try:
        for item in parse_many(limits):
            if not limiter.limiter.hit(item, scope, key):
                reset, _remaining = limiter.limiter.get_window_stats(item, scope, key)
                return max(1, int(reset - time.time()))
    except Exception:
        current_app.logger.warning("%s not checked (storage unavailable)", what, exc_info=True)
    return None


TOPIC_LABELS = {
    "water": _l("Water supply"),
    "traffic": _l("Traffic and closures"),
    "weather": _l("Weather warnings"),
    "events": _l("City events"),
}
LANGUAGE_LABELS = {"pl": "Polski", "en": "English"}
CONSENT_TEXT = _l(
    "I agree that the City stores my phone number, the places I give and my choices in order to "
    "send me emergency alerts and the information I chose, by SMS. I can unsubscribe at any "
    "time by sending STOP, or on this page; my data are then erased after the retention period, "
    "and only a hashed number is kept so that my opt-out is honoured."
)


# What the page's script says, in the page's language.
SCRIPT_TEXTS = {
    "needPlace": _l("Give your address or put a pin on the map."),
    "needConsent": _l("Please tick the consent box."),
    "choose": _l("Which address do you mean? Choose one:"),
    "codeSent": _l("The code is on its way by SMS."),
    "active": _l("Your subscription is active. Zones:"),
    "noZone": _l("Your place lies outside the zones drawn so far."),
    "unsubscribed": _l("You are unsubscribed. You will get no more messages."),
    "yourData": _l("Everything we store about your number:"),
    "pinSet": _l("Pin set at"),
    "error": _l("Something went wrong. Please try again."),
}


@bp.get("/")
def subscribe_page():
    settings = current_app.config["SYRENA"]
    zones = [{"name": z.name, "code": zone_code(z)} for z in list_zones(db())]
    page = {
        "language": str(get_locale()),
        "codeMinutes": settings.subscribers.code_ttl_minutes,
        "tileUrl": settings.map.tile_url,
        "tileAttribution": settings.map.tile_attribution,
    }
    return render_template(
        "public/subscribe.html",
        zones=zones,
        topics=[(t, TOPIC_LABELS[t]) for t in TOPICS],
        consent_text=CONSENT_TEXT,
        page=page,
        texts={k: str(v) for k, v in SCRIPT_TEXTS.items()},
        language_labels=LANGUAGE_LABELS,
    )


@bp.get("/addresses")
@limiter.limit("120 per minute")
def address_suggestions():
    """Autocomplete for the address field: at most 8 gazetteer addresses like what was typed."""
    typed = request.args.get("q", "")[:200]
    geocoder = geocoder_for(current_app.config["SYRENA"].subscribers)
    matches = geocoder.suggest(db(), typed)
    return jsonify([{"label": m.label, "lat": m.lat, "lon": m.lon} for m in matches])


def register(app: Flask) -> None:
    """The page, its rate limits (Redis) and the public API's limits share one limiter."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["SYRENA"].redis.url)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    app.register_blueprint(bp)
