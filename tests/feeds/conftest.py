"""Feeds tests: CAP documents (tests/feeds/data) served by a local HTTP server started in the test process, and
three of Poznań's real osiedla (../shared/data beside the checkout) as the city's zones."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ZONE_NAMES = ("Wilda", "Rataje", "Stare Miasto")


def cap_file(name: str) -> bytes:
    return (DATA / name).read_bytes()


@dataclass
class Route:
    body: bytes | Callable[[], bytes]
    status: int = 200
    content_type: str = "application/xml"
    etag: str | None = None
    delay: float = 0.0


@dataclass
class FeedServer:
    """A real HTTP server (http.server in a thread) answering the routes a test sets; it honours If-None-Match."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base: str = ""

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture
def feed_server():
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests.append((self.path, dict(self.headers)))
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.delay:
                time.sleep(route.delay)
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.end_headers()
                return
            body = route.body() if callable(route.body) else route.body
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
            if route.etag:
                self.send_header("ETag", route.etag)
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the slow and too-large cases)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def poznan_zones(settings):
    """Wilda, Rataje and Stare Miasto as live zones (their SMS codes WILDA, RATAJE, STAREMIASTO...)."""
    from syrena_core.db import session_scope
    from zones.service import import_features

    path = SHARED_DATA / "poznan_osiedla.geojson"
    if not path.exists():
        pytest.fail(f"reference data {path} is missing: the tests expect ../shared/data beside the checkout")
    features = [f for f in json.loads(path.read_text())["features"] if f["properties"]["name"] in ZONE_NAMES]
    with session_scope(settings.database.url) as session:
        saved = import_features(session, features, repair=True)
        return {z.zone.name: (z.zone.id, z.zone.code) for z in saved}
