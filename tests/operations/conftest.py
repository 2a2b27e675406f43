"""Fixtures of the operations tests: the gateway tests' simulators and worker processes (on database 1 of the
run's Redis), and an app that reads that same Redis, so that it sees those workers and nobody else's."""
from __future__ import annotations

import threading

import pytest

from syrena_core.config import replace
from tests.gateway.conftest import gateway_redis_url, start_simulator, start_worker  # noqa: F401 - fixtures


@pytest.fixture
def ops_app(settings, gateway_redis_url):  # noqa: F811
    from app import create_app
    from syrena_core.config import RedisSettings
    return create_app(replace(settings, redis=RedisSettings(url=gateway_redis_url)), {"TESTING": True})


@pytest.fixture
def ops_client(ops_app):
    return ops_app.test_client()


@pytest.fixture
def ops_server(ops_app):
    """ops_app over real HTTP (for the browser)."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, ops_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
