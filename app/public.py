"""The residents' public page (no login): subscribe with a phone and an address, confirm with a code,
change or end the subscription, read one's data. With JavaScript the page talks to the public JSON API
(app/api/subscribers.py); without it, the same forms post here and the server renders each step. Both call
subscribers.signup and share the rate limits declared below."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from limits import parse_many

from app.database import db
from app.extensions import limiter
from campaigns.replies import replies_of_phone
from subscribers import signup
from subscribers.exceptions import (
    AddressAmbiguous,
    CodeLimitReached,
    CountryNotAllowed,
    InvalidCode,
    InvalidPhoneNumber,
    SubscriberError,
    VerificationUnavailable,
)
from subscribers.geocoders import geocoder_for
from subscribers.models import VerificationPurpose
from subscribers.phones import normalise_mobile
from subscribers.service import TOPICS, personal_data, zone_code
from syrena_core.queues import redis_connection
from zones.models import Zone
from zones.outline import public_features, svg_map
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
PLACE_LABELS = {"home": _l("Home"), "work": _l("Second place")}
SOURCE_LABELS = {"web": _l("on this page"), "sms": _l("by SMS"), "import": _l("added by the city")}
LANGUAGE_LABELS = {"pl": "Polski", "en": "English", "uk": "Українська"}
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
    "pinSet": _l("Pin set at"),
    "error": _l("Something went wrong. Please try again."),
}

# What the server says next to a field of the forms posted without JavaScript.
FIELD_TEXTS = {
    "phone_missing": _l("Give your mobile phone number."),
    "phone_invalid": _l("This is not a mobile phone number we can text. Check the digits, e.g. 601 234 567."),
    "not_found": _l("We could not find this address. Give the street and the house number, e.g. Głogowska 10."),
    "too_long": _l("This is too long."),
    "choice": _l("Choose one of the options."),
    "code": _l("The code is wrong or has expired. Check it, or ask for a new one."),
    "fix": _l("Please correct the marked fields."),
    "too_many": _l("Too many tries from here. Please wait a while and try again."),
    "data_expired": _l("To see your data, ask for a code again below."),
}

# A resident's form field is short: a phone, an address, a label, a code (the JSON API has the same limits).
PUBLIC_TEXT_MAX = {"phone": 32, "code": 16, "language": 8, "label": 100, "address": 200}
PUBLIC_TEXT_DEFAULT = 200


def _subscriber_settings():
    return current_app.config["SYRENA"].subscribers


def _phone_key() -> str:
    """Rate-limit key: the phone number the request is about (whatever form it was typed in), from a JSON body
    or a form."""
    body = request.get_json(silent=True) if request.is_json else request.form
    raw = body.get("phone") if hasattr(body, "get") else None
    try:
        return "phone:" + normalise_mobile(raw)
    except InvalidPhoneNumber:
        return "phone:invalid"


# One set of counters for the JSON API and the forms: a resident (or a script) gets no more codes or guesses by
# switching from one to the other.
code_request_limit = limiter.shared_limit(lambda: _subscriber_settings().request_limit, scope="public-code-requests")
verify_limit_per_address = limiter.shared_limit(lambda: _subscriber_settings().verify_limit, scope="public-verify")
verify_limit_per_phone = limiter.shared_limit(
    lambda: _subscriber_settings().verify_limit, scope="public-verify-phone", key_func=_phone_key
)


def _redis():
    return redis_connection(current_app.config["SYRENA"].redis.url)


def zone_map(zones: Sequence[Zone] | None = None) -> dict[str, Any]:
    """The live zones (`zones`, or read now) for a public page's map: an SVG drawing (shown without
    JavaScript) and where the script finds their GeoJSON."""
    return {
        "svg": svg_map(list_zones(db()) if zones is None else zones),
        "geojson_url": url_for("public.zones_geojson"),
    }


def _page(step: str = "form", status: int = 200, **context: Any):
    """The sign-up page at one of its steps: "form" (the forms), "verify" (type the code) or "done"."""
    settings = current_app.config["SYRENA"]
    live = list_zones(db())  # one read for the code list and the map
    zones = [{"name": z.name, "code": zone_code(z)} for z in live]
    page = {
        "language": str(get_locale()),
        "codeMinutes": settings.subscribers.code_ttl_minutes,
        "tileUrl": settings.map.tile_url,
        "tileAttribution": settings.map.tile_attribution,
        "zonesUrl": url_for("public.zones_geojson"),
    }
    context.setdefault("values", {"language": str(get_locale())})
    context.setdefault("errors", {})
    context.setdefault("candidates", {})
    return render_template(
        "public/subscribe.html",
        step=step,
        zones=zones,
        zone_map=zone_map(live),
        topics=[(t, TOPIC_LABELS[t]) for t in TOPICS],
        consent_text=CONSENT_TEXT,
        page=page,
        texts={k: str(v) for k, v in SCRIPT_TEXTS.items()},
        language_labels=LANGUAGE_LABELS,
        **context,
    ), status


@bp.get("/")
def subscribe_page():
    return _page()


def _text(name: str) -> str:
    return request.form.get(name, "").strip()


def _too_long(values: dict[str, Any], errors: dict[str, str]) -> None:
    for name, value in values.items():
        limit = PUBLIC_TEXT_MAX.get(name.rsplit("_", 1)[-1], PUBLIC_TEXT_DEFAULT)
        if isinstance(value, str) and len(value) > limit:
            errors[name.replace("_", "-")] = str(FIELD_TEXTS["too_long"])


def _phone(raw: str, errors: dict[str, str], field: str = "phone") -> str | None:
    if field in errors:
        return None
    if not raw:
        errors[field] = str(FIELD_TEXTS["phone_missing"])
        return None
    try:
        return normalise_mobile(raw)
    except InvalidPhoneNumber:
        errors[field] = str(FIELD_TEXTS["phone_invalid"])
        return None


def _ask_for_code(phone: str, purpose: VerificationPurpose, pending: dict[str, Any], language: str) -> None:
    settings = current_app.config["SYRENA"]
    signup.send_code(db(), _redis(), settings, phone, purpose, pending, request.remote_addr, language)


def _code_refused(e: SubscriberError, values: dict[str, Any], field: str = "phone"):
    """The page again when no code may be sent: the budgets' messages say when or how (the SMS keyword)."""
    db().rollback()
    if isinstance(e, CountryNotAllowed):
        return _page(values=values, errors={field: str(FIELD_TEXTS["phone_invalid"])}, status=422)
    return _page(values=values, message=str(e), status=429 if isinstance(e, CodeLimitReached) else 503)


@bp.post("/")
@code_request_limit
def subscribe_form():
    """Sign-up without JavaScript: the fields checked (each wrong one marked), the address found (or its
    candidates offered as choices), then a code texted; nothing is stored before the code comes back."""
    values: dict[str, Any] = {
        "phone": _text("phone"),
        "address": _text("address_pick") or _text("address"),
        "second_address": _text("second_pick") or _text("second_address"),
        "language": _text("language") or "pl",
        "topics": request.form.getlist("topics"),
        "consent": request.form.get("consent") in ("on", "yes", "true", "1"),
    }
    errors: dict[str, str] = {}
    candidates: dict[str, list[dict[str, Any]]] = {}
    _too_long(values, errors)
    phone = _phone(values["phone"], errors)
    if not values["consent"]:
        errors["consent"] = str(SCRIPT_TEXTS["needConsent"])
    if not values["address"] and "address" not in errors:
        errors["address"] = str(SCRIPT_TEXTS["needPlace"])
    pending = None
    if "address" not in errors and "second-address" not in errors:
        body = {"address": values["address"], "language": values["language"], "topics": values["topics"]}
        if values["second_address"]:
            body["second"] = {"address": values["second_address"], "label": "work"}
        try:
            pending = signup.subscription_request(db(), _subscriber_settings(), body)
        except AddressAmbiguous as e:
            field = "second-address" if e.field == "second" else "address"
            errors[field] = str(SCRIPT_TEXTS["choose"])
            candidates[field] = e.candidates
        except SubscriberError as e:
            if e.field in ("language", "topics"):
                errors[e.field] = str(FIELD_TEXTS["choice"])
            else:
                errors["second-address" if e.field == "second" else "address"] = str(FIELD_TEXTS["not_found"])
    if errors or phone is None or pending is None:
        return _page(values=values, errors=errors, candidates=candidates, message=str(FIELD_TEXTS["fix"]), status=422)
    try:
        _ask_for_code(phone, VerificationPurpose.SUBSCRIBE, pending, pending["language"])
    except (CodeLimitReached, VerificationUnavailable, CountryNotAllowed) as e:
        return _code_refused(e, values)
    return _page("verify", values={"phone": phone}, message=str(SCRIPT_TEXTS["codeSent"]))


@bp.post("/manage")
@code_request_limit
def manage_form():
    """Unsubscribe or ask for one's data without JavaScript: a code is texted first."""
    values = {"manage_phone": _text("phone"), "language": str(get_locale())}
    errors: dict[str, str] = {}
    _too_long(values, errors)
    phone = _phone(values["manage_phone"], errors, "manage-phone")
    action = request.form.get("action")
    purpose = {"cancel": VerificationPurpose.UNSUBSCRIBE, "export": VerificationPurpose.EXPORT}.get(action or "")
    if phone is None or purpose is None:
        return _page(values=values, errors=errors, message=str(FIELD_TEXTS["fix"]), status=422)
    try:
        _ask_for_code(phone, purpose, {}, signup.code_language(values["language"]))
    except (CodeLimitReached, VerificationUnavailable, CountryNotAllowed) as e:
        return _code_refused(e, values, "manage-phone")
    return _page("verify", values={"phone": phone}, message=str(SCRIPT_TEXTS["codeSent"]))


@bp.post("/verify")
@verify_limit_per_address
@verify_limit_per_phone
def verify_form():
    """The code typed back: subscribed (the zones shown), unsubscribed, or the resident's data (a page of
    its own, readable again for as long as a code would be valid)."""
    values = {"phone": _text("phone"), "code": _text("code")}
    errors: dict[str, str] = {}
    _too_long(values, errors)
    phone = _phone(values["phone"], errors)
    if phone is None:
        return _page(values=values, errors=errors, message=str(FIELD_TEXTS["fix"]), status=422)
    if not values["code"] or "code" in errors:
        return _page("verify", values=values, errors={"code": str(FIELD_TEXTS["code"])}, status=422)
    sess = db()
    try:
        done = signup.confirm(sess, _subscriber_settings(), phone, values["code"])
    except InvalidCode:
        sess.rollback()
        return _page("verify", values=values, errors={"code": str(FIELD_TEXTS["code"])}, status=422)
    sess.commit()
    if done.action == "export":
        session["export_grant"] = signup.grant_export(_redis(), _subscriber_settings(), phone)
        return redirect(url_for("public.my_data"), 303)
    return _page("done", action=done.action, result_zones=done.zones)


def _granted_phone() -> str | None:
    return signup.granted_phone(_redis(), session.get("export_grant"))


def _personal_data(phone: str) -> dict[str, Any]:
    """Everything stored about the phone: the subscriber's data, its reports (subscribers.service) and its replies
    to alerts' questions (campaigns.replies)."""
    return {**personal_data(db(), phone), "replies": replies_of_phone(db(), phone)}


@bp.get("/my-data")
def my_data():
    """Everything stored about the resident's number, readable: places (a list, and a small map with
    JavaScript), zones, topics, language, consent; with a JSON download."""
    phone = _granted_phone()
    if phone is None:
        return _page(message=str(FIELD_TEXTS["data_expired"]), status=403)
    data = _personal_data(phone)
    zone_ids = {z["id"] for z in data.get("zones", [])}
    places = public_features(z for z in list_zones(db()) if z.id in zone_ids)
    places["features"] += [
        {
            "type": "Feature",
            "properties": {"name": place["address"] or str(PLACE_LABELS.get(place["label"], place["label"]))},
            "geometry": {"type": "Point", "coordinates": [place["lon"], place["lat"]]},
        }
        for place in data.get("locations", [])
        if place["lat"] is not None
    ]
    times = {
        key: datetime.fromisoformat(data[key])
        for key in ("consent_at", "created_at", "unsubscribed_at")
        if isinstance(data.get(key), str)
    }
    settings = current_app.config["SYRENA"]
    return render_template(
        "public/my_data.html",
        data=data,
        times=times,
        minutes=settings.subscribers.code_ttl_minutes,
        language_labels=LANGUAGE_LABELS,
        topic_labels=TOPIC_LABELS,
        place_labels=PLACE_LABELS,
        source_labels=SOURCE_LABELS,
        places_geojson=places,
        map_options={"tiles": settings.map.tile_url, "attribution": settings.map.tile_attribution},
    )


@bp.get("/my-data.json")
def my_data_json():
    phone = _granted_phone()
    if phone is None:
        return redirect(url_for("public.my_data"))
    body = json.dumps(_personal_data(phone), ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="syrena-my-data.json"'
    return response


@bp.get("/zones.geojson")
def zones_geojson():
    """The live zones' outlines and names (nothing else), for the public maps."""
    response = jsonify(public_features(list_zones(db())))
    response.mimetype = "application/geo+json"
    return response


@bp.after_request
def _not_stored(response: Response) -> Response:
    """What a form post or the data pages answer may hold a phone number or a resident's places: no cache keeps
    it."""
    if request.method == "POST" or request.endpoint in ("public.my_data", "public.my_data_json"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(429)
def _too_many(e):
    """A form posted too often: the page again, saying so (the JSON API answers its own 429)."""
    return _page(message=str(FIELD_TEXTS["too_many"]), status=429)


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
    app.add_template_global(zone_map, "public_zone_map")  # any public page's map: the zones without script
