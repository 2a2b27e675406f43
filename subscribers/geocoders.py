"""Which geocoder places typed addresses: the local gazetteer (default), or an online service through geopy
([subscribers] geocoder = "nominatim", "photon", ... — any of geopy's services), behind the same interface.

An online service only geocodes: autocomplete stays on the local gazetteer (Nominatim's usage policy
forbids autocomplete, and a keystroke should not wait for the internet); when the service fails, the
local gazetteer answers instead, so an outage never stops a sign-up.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from geopy.exc import GeocoderNotFound, GeopyError
from geopy.geocoders import get_geocoder_for_service
from sqlalchemy.orm import Session

from subscribers.gazetteer import (
    MAX_CANDIDATES,
    AddressMatch,
    Geocoder,
    GeocodeResult,
    GeocodeStatus,
    LocalGazetteer,
    parse_address,
)
from syrena_core.config import SubscriberSettings

log = logging.getLogger("syrena.subscribers.geocoders")

LOCAL_NAMES = ("gazetteer", "local")  # "local" was the first name of the default


def _label(location: Any) -> str:
    """'Głogowska 77, Poznań' from Nominatim's address details; the service's own text otherwise."""
    address = (location.raw or {}).get("address") if isinstance(location.raw, dict) else None
    if isinstance(address, dict):
        street = address.get("road") or address.get("pedestrian") or address.get("square")
        city = address.get("city") or address.get("town") or address.get("village")
        if street:
            head = f"{street} {address.get('house_number', '')}".strip()
            return f"{head}, {city}" if city else head
    return str(location.address)[:80]


class GeopyGeocoder:
    """An online geocoder of geopy's, answering like the local gazetteer does."""

    def __init__(self, service: Any, country: str = "", city: str = "", fallback: Geocoder | None = None):
        self.service = service
        self.country, self.city = country, city
        self.fallback = fallback or LocalGazetteer()
        accepted = inspect.signature(service.geocode).parameters
        self._options: dict[str, Any] = {"exactly_one": False}
        if "limit" in accepted:
            self._options["limit"] = MAX_CANDIDATES
        if "country_codes" in accepted and country:
            self._options["country_codes"] = country
        if "addressdetails" in accepted:
            self._options["addressdetails"] = True

    def _query(self, typed: str) -> str:
        if self.city and self.city.casefold() not in typed.casefold():
            return f"{typed}, {self.city}"
        return typed

    def geocode(self, session: Session, typed: str) -> GeocodeResult:
        typed = (typed or "").strip()[:200]
        parsed = parse_address(typed)
        if not parsed.street:
            return GeocodeResult(typed, GeocodeStatus.NOT_FOUND)
        if parsed.house is None:
            return GeocodeResult(typed, GeocodeStatus.NO_NUMBER)
        try:
            found = self.service.geocode(self._query(typed), **self._options) or []
        except GeopyError as e:
            log.warning("online geocoder %s failed (%s); the local gazetteer answers", type(self.service).__name__, e)
            return self.fallback.geocode(session, typed)
        matches = [
            AddressMatch(label=_label(loc), lat=float(loc.latitude), lon=float(loc.longitude), score=1.0)
            for loc in found[:MAX_CANDIDATES]
        ]
        if not matches:
            return GeocodeResult(typed, GeocodeStatus.NOT_FOUND)
        return GeocodeResult(typed, GeocodeStatus.FOUND if len(matches) == 1 else GeocodeStatus.CHOOSE, matches)

    def geocode_many(self, session: Session, typed: Sequence[str]) -> dict[str, GeocodeResult]:
        return {t: self.geocode(session, t) for t in dict.fromkeys(typed)}

    def suggest(self, session: Session, typed: str, limit: int = 8) -> list[AddressMatch]:
        return self.fallback.suggest(session, typed, limit)


def _service(settings: SubscriberSettings) -> Any:
    try:
        cls = get_geocoder_for_service(settings.geocoder)
    except GeocoderNotFound:
        raise ValueError(
            f'[subscribers] geocoder: unknown backend {settings.geocoder!r}; use "gazetteer" '
            '(the local address gazetteer) or a geopy service such as "nominatim"'
        ) from None
    accepted = inspect.signature(cls.__init__).parameters
    options: dict[str, Any] = {"timeout": settings.geocoder_timeout}
    if "user_agent" in accepted:
        options["user_agent"] = settings.geocoder_user_agent
    if settings.geocoder_api_key:
        for name in ("api_key", "key", "apikey"):
            if name in accepted:
                options[name] = settings.geocoder_api_key
                break
    if settings.geocoder_url:
        url = urlsplit(settings.geocoder_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"[subscribers] geocoder_url: {settings.geocoder_url!r} is no http(s) URL")
        if "domain" not in accepted:
            raise ValueError(f"[subscribers] geocoder_url: the {settings.geocoder} backend takes no URL")
        options["domain"] = (url.netloc + url.path).rstrip("/")
        options["scheme"] = url.scheme
    return cls(**{k: v for k, v in options.items() if k in accepted})


@lru_cache(maxsize=8)
def geocoder_for(settings: SubscriberSettings) -> Geocoder:
    """The geocoder the configuration names (one instance per configuration)."""
    if settings.geocoder in LOCAL_NAMES:
        return LocalGazetteer()
    return GeopyGeocoder(_service(settings), country=settings.geocoder_country, city=settings.geocoder_city)
