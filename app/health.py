"""Health for load balancers and orchestrators, and metrics for Prometheus.

- `GET /healthz`: the web process is up (it answers; nothing else is checked) — for a liveness probe.
- `GET /readyz`: the system can send an alert now — the database and Redis answer, at least one gateway
  worker is heartbeating and at least one SMSC bind is up. JSON with each check; 503 when any fails —
  for a readiness probe, a load balancer, or the crisis centre's monitoring before an emergency.
- `GET /metrics`: Prometheus text of every process (see syrena_core.metrics). Answered to the networks in
  `[operations] metrics_allow_from`, or with `Authorization: Bearer <metrics_token>`; 403 otherwise.

None of them needs a login; none reveals personal data.
"""
from __future__ import annotations

import hmac
import ipaddress
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy import text

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
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        checks["database"] = {"ok": False, "error": type(e).__name__}
    workers = []
    try:
        redis_connection(settings.redis.url).ping()
        checks["redis"] = {"ok": True}
        workers = read_workers(settings.redis.url)
    except Exception as e:  # noqa: BLE001
        checks["redis"] = {"ok": False, "error": type(e).__name__}
    checks["workers"] = {"ok": bool(workers), "alive": len(workers)}
    binds = [b for w in workers for b in w.get("binds", [])]
    bound = sorted({b["name"] for b in binds if b.get("bound")})
    checks["smsc"] = {"ok": bool(bound), "bound": len([b for b in binds if b.get("bound")]), "binds": len(binds),
                      "connections_up": bound}
    return all(c["ok"] for c in checks.values()), checks


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    ready, checks = readiness(_settings())
    response = jsonify({"status": "ready" if ready else "not_ready", "checks": checks})
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if ready else 503


def _may_scrape() -> bool:
    ops = _settings().operations
    token = ops.metrics_token
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in ops.metrics_allow_from)


@bp.get("/metrics")
def prometheus_metrics():
    if not _may_scrape():
        return jsonify({"error": {"code": "forbidden", "message": "metrics are for the monitoring network",
                                  "details": None}}), 403
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
