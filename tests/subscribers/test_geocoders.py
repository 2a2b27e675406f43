"""Online geocoders (geopy) as configured backends, tested offline against a local HTTP server that speaks
Nominatim's JSON; and the local gazetteer answering when the online service fails."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from subscribers.gazetteer import GeocodeStatus, LocalGazetteer
from subscribers.geocoders import GeopyGeocoder, geocoder_for
from subscribers.keywords import parse_command
from subscribers.models import Subscriber
from subscribers.service import zone_codes_of_subscribers
from subscribers.sms import KeywordBatch, handle_command
from syrena_core.config import ConfigError, SubscriberSettings, load_settings, replace


def _place(house: str, road: str, lat: float, lon: float) -> dict:
    return {
        "place_id": hash((road, house)) & 0xFFFF,
        "lat": str(lat),
        "lon": str(lon),
        "display_name": f"{house}, {road}, Łazarz, Poznań, województwo wielkopolskie, 60-001, Polska",
        "address": {"house_number": house, "road": road, "suburb": "Łazarz", "city": "Poznań", "country_code": "pl"},
    }


# What the fake Nominatim knows: a query containing the key gets these places.
PLACES = {
    "glogowska 77": [_place("77", "Głogowska", 52.39529, 16.90034)],
    "polna 1": [_place("1", "Polna", 52.41, 16.89), _place("1", "Polna", 52.45, 16.95)],
}


class FakeNominatim(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []  # what the fake server was asked, read by the tests
    failing = False

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        FakeNominatim.requests.append({"path": url.path, "agent": self.headers.get("User-Agent"), **query})
        if FakeNominatim.failing:
            self.send_response(503)
            self.end_headers()
            return
        text = query.get("q", "").lower().replace("ł", "l")
        found = next((places for key, places in PLACES.items() if key in text), [])
        body = json.dumps(found[: int(query.get("limit", 10))]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim():
    FakeNominatim.requests, FakeNominatim.failing = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _online(settings, url: str) -> GeopyGeocoder:
    geocoder = geocoder_for(
        replace(
            settings.subscribers,
            geocoder="nominatim",
            geocoder_url=url,
            geocoder_user_agent="syrena-tests",
            geocoder_city="Poznań",
        )
    )
    assert isinstance(geocoder, GeopyGeocoder)
    return geocoder


def test_the_gazetteer_is_the_default_and_a_backend_is_chosen_by_name(tmp_path):
    assert SubscriberSettings().geocoder == "gazetteer"
    assert isinstance(geocoder_for(SubscriberSettings()), LocalGazetteer)
    assert isinstance(geocoder_for(SubscriberSettings(geocoder="local")), LocalGazetteer)
    config = tmp_path / "syrena.toml"
    config.write_text(
        '[subscribers]\ngeocoder = "nominatim"\ngeocoder_url = "https://nominatim.example.org"\n'
        'geocoder_user_agent = "city-of-poznan-alerts"\n'
    )
    chosen = load_settings(config, environ={}).subscribers
    online = geocoder_for(chosen)
    assert isinstance(online, GeopyGeocoder)
    assert online.service.domain == "nominatim.example.org" and online.service.scheme == "https"
    assert online.service.headers["User-Agent"] == "city-of-poznan-alerts"
    from_env = load_settings(config, environ={"SYRENA_SUBSCRIBERS__GEOCODER": "photon"}).subscribers
    assert type(geocoder_for(from_env).service).__name__ == "Photon"


def test_an_unknown_backend_or_a_bad_url_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"unknown backend 'gogle'.*gazetteer.*nominatim"):
        geocoder_for(SubscriberSettings(geocoder="gogle"))
    with pytest.raises(ValueError, match="geocoder_url"):
        geocoder_for(SubscriberSettings(geocoder="nominatim", geocoder_url="nominatim.example.org"))
    config = tmp_path / "syrena.toml"
    config.write_text('[subscribers]\ngeocoder_timeout = "soon"\n')
    with pytest.raises(ConfigError, match="geocoder_timeout"):
        load_settings(config, environ={})


def test_nominatim_answers_like_the_gazetteer(settings, db, nominatim):
    geocoder = _online(settings, nominatim)
    found = geocoder.geocode(db, "ul. Głogowska 77")
    assert found.status == GeocodeStatus.FOUND
    assert found.found.label == "Głogowska 77, Poznań"
    assert (round(found.found.lat, 5), round(found.found.lon, 5)) == (52.39529, 16.90034)
    request = FakeNominatim.requests[-1]
    assert request["path"] == "/search" and request["agent"] == "syrena-tests"
    assert request["q"] == "ul. Głogowska 77, Poznań" and request["countrycodes"] == "pl" and request["limit"] == "3"

    two = geocoder.geocode(db, "Polna 1")
    assert two.status == GeocodeStatus.CHOOSE and len(two.matches) == 2
    assert geocoder.geocode(db, "Nieznana 5").status == GeocodeStatus.NOT_FOUND
    asked = len(FakeNominatim.requests)
    assert geocoder.geocode(db, "Głogowska").status == GeocodeStatus.NO_NUMBER  # not worth a request
    assert len(FakeNominatim.requests) == asked


def test_when_the_online_service_fails_the_local_gazetteer_answers(settings, db, nominatim, gazetteer):
    geocoder = _online(settings, nominatim)
    FakeNominatim.failing = True
    result = geocoder.geocode(db, "Głogowska 77")
    assert FakeNominatim.requests, "the online service was asked first"
    assert result.status == GeocodeStatus.FOUND and result.found.label == "Głogowska 77, Poznań"
    # Autocomplete never goes online (Nominatim's usage policy forbids it): the gazetteer suggests.
    asked = len(FakeNominatim.requests)
    assert any("Głogowska 77" in m.label for m in geocoder.suggest(db, "Głogowska 7"))
    assert len(FakeNominatim.requests) == asked


def test_an_sms_keyword_is_placed_by_the_online_geocoder(settings, db, nominatim, two_zones):
    phone, command = "+48601000901", parse_command("ZAPISZ Głogowska 77")
    batch = KeywordBatch(db, _online(settings, nominatim), "v1", 30, [(phone, command)])
    reply = handle_command(batch, phone, command)
    db.flush()
    subscriber = db.scalar(select(Subscriber).where(Subscriber.phone == phone))
    assert [loc.address for loc in subscriber.locations] == ["Głogowska 77, Poznań"]
    text = reply.render(zone_codes_of_subscribers(db, [subscriber.id])[subscriber.id])
    assert text.startswith("Syrena: zapisano Glogowska 77, Poznan. Strefy: ZACHOD.")
    db.rollback()
