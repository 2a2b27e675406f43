"""Health for load balancers and orchestrators, and metrics for Prometheus.

- `GET /healthz`: the web process is up (it answers; nothing else is checked) — for a liveness probe.
- `GET /readyz`: the system can send an alert now — the database and Redis answer, at least one gateway
  worker is heartbeating and at least one SMSC bind is up; 503 when any fails — for a readiness probe, a load
  balancer, or the crisis centre's monitoring before an emergency. Anyone gets only `{"status": "ready"}` or
  `{"status": "not_ready"}`; each check's details (which SMSC is down, how many workers) go to a request from
  this host (loopback), with a staff API token or session, or with the metrics token.
- `GET /metrics`: Prometheus text of every process (see syrena_core.metrics). Answered to the networks in
  `[operations] metrics_allow_from`, or with `Authorization: Bearer <metrics_token>`; 403 otherwise.

The client's address is the one the request really comes from (client_address): behind reverse proxies
([app] proxy_hops) the one they put in X-Forwarded-For; without proxy_hops a forwarding header is never
believed. None of them reveals personal data.
"""

from __future__ import annotations

import hmac
import ipaddress
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask_login import current_user
from sqlalchemy import text

from app.auth import bearer_token
from syrena_core import metrics
from syrena_core.db import engine_for
from syrena_core.ops_state import read_workers
from syrena_core.queues import redis_connection

bp = Blueprint("health", __name__)


def _settings():
    return current_app.config["SYRENA"]


def readiness(settings) -> tuple[bool, dict]:
    checks: dict[str, dict] = {}
    try:
        with engine_for(settings.database.url).connect() as c:
            c.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as e:
        checks["database"] = {"ok": False, "error": type(e).__name__}
    workers = []
    try:
        redis_connection(settings.redis.url).ping()
        checks["redis"] = {"ok": True}
        workers = read_workers(settings.redis.url)
    except Exception as e:
        checks["redis"] = {"ok": False, "error": type(e).__name__}
    checks["workers"] = {"ok": bool(workers), "alive": len(workers)}
    binds = [b for w in workers for b in w.get("binds", [])]
    bound = sorted({b["name"] for b in binds if b.get("bound")})
    checks["smsc"] = {
        "ok": bool(bound),
        "bound": len([b for b in binds if b.get("bound")]),
        "binds": len(binds),
        "connections_up": bound,
    }
    return all(c["ok"] for c in checks.values()), checks


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


# Headers a reverse proxy adds. Without [app] proxy_hops the app was told of no proxy: a request that carries
# one was relayed by a proxy it does not know (whose own address, often 127.0.0.1, is not the client's), or
# the client wrote it. Either way nobody knows where it comes from.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def client_address() -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Where the request really comes from, or None when that cannot be known. With [app] proxy_hops, ProxyFix
    (app/__init__.py) has put in remote_addr the address the nearest trusted proxy saw in X-Forwarded-For —
    never an entry the client wrote before it."""
    if _settings().app.proxy_hops == 0 and any(h in request.headers for h in FORWARDING_HEADERS):
        return None
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return None
    return (address.ipv4_mapped or address) if address.version == 6 else address


def _metrics_token_given() -> bool:
    token = _settings().operations.metrics_token
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _may_see_details() -> bool:
    address = client_address()
    if address is not None and address.is_loopback:
        return True
    if _metrics_token_given():
        return True
    return bearer_token() is not None or current_user.is_authenticated


@bp.get("/readyz")
def readyz():
    ready, checks = readiness(_settings())
    body = {"status": "ready" if ready else "not_ready"}
    if _may_see_details():
        body["checks"] = checks  # which SMSC is down, how many workers: for the operators, not for everyone
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if ready else 503


def _may_scrape() -> bool:
    if _metrics_token_given():
        return True
    address = client_address()
    return address is not None and any(
        address in ipaddress.ip_network(n, strict=False) for n in _settings().operations.metrics_allow_from
    )


@bp.get("/metrics")
def prometheus_metrics():
    if not _may_scrape():
        return jsonify(
            {"error": {"code": "forbidden", "message": "metrics are for the monitoring network", "details": None}}
        ), 403
    body, content_type = metrics.exposition(_settings().redis.url)
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _started():
        g._metrics_started = time.perf_counter()

    @app.after_request
    def _count(response):
        # By endpoint name, never the raw path: ids in URLs would make a new time series each.
        endpoint = request.endpoint or "unmatched"
        if endpoint != "health.prometheus_metrics":
            metrics.HTTP_REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
            started = g.get("_metrics_started")
            if started is not None:
                metrics.HTTP_LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        return response
