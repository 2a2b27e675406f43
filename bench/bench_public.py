"""The public alert page on the night of an alert (issue 17): /alerts with PUBLIC_ALERTS (default 20) alerts in
force, served by gunicorn exactly as `make run` starts it (gunicorn.conf.py: 2 processes x 8 threads), hammered
by `wrk` with PUBLIC_CLIENTS (200) keep-alive connections for PUBLIC_SECONDS (20 s): requests/s, p99 latency,
errors (socket errors and answers other than 2xx/3xx). Then the same with `If-None-Match` of the current copy
(every answer a 304 without a body), and, as the baseline of the same run, the same page as the static file
the app wrote to [public] static_dir, served by nginx (started here on a free port with a config of its own).
Goal on 2 cores: >= 1,000 requests/s, p99 < 200 ms, 0 errors.

    make bench BENCH_ARGS=public         # PUBLIC_ALERTS=20 PUBLIC_CLIENTS=200 PUBLIC_SECONDS=20

wrk and nginx are installed when missing (scripts/services.py apt: root or passwordless sudo).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app, public_alerts  # noqa: E402
from syrena_core import accounts  # noqa: E402
from syrena_core.db import session_scope, utcnow  # noqa: E402
from tests.factories import create_zone  # noqa: E402
from tests.harness import free_port, fresh_database, private_redis, use_environment, wait_port  # noqa: E402
from tests.helpers import ApiClient  # noqa: E402

ALERTS = int(os.environ.get("PUBLIC_ALERTS", "20"))
CLIENTS = int(os.environ.get("PUBLIC_CLIENTS", "200"))
SECONDS = int(os.environ.get("PUBLIC_SECONDS", "20"))
THREADS = 2  # wrk's own threads: it shares the 2 cores with what it measures


def _install() -> None:
    missing = [pkg for tool, pkg in (("wrk", "wrk"), ("nginx", "nginx-light")) if not _which(tool)]
    if missing:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "services.py"), "apt", *missing], check=True)


def _which(tool: str) -> str | None:
    return shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}",) if os.path.exists(p)), None)


def _square(n: int) -> dict:
    """A small square of its own for each alert, over Poznań."""
    lon, lat = 16.80 + 0.02 * (n % 10), 52.36 + 0.03 * (n // 10)
    ring = [[lon, lat], [lon + 0.015, lat], [lon + 0.015, lat + 0.02], [lon, lat + 0.02], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _alerts_in_force(api: ApiClient) -> None:
    """ALERTS alerts sent through the API (the workflow), each to a zone of its own with nobody in it."""
    expires = (utcnow() + timedelta(days=1)).isoformat()
    for n in range(ALERTS):
        zone = create_zone(api, f"Strefa {n + 1}", _square(n))
        status, alert = api.post(
            "/api/v1/campaigns",
            {
                "kind": "alert",
                "severity": "severe",
                "title": f"Ostrzeżenie {n + 1}: podtopienia",
                "body": f"Ostrzeżenie {n + 1}: woda w Warcie rośnie, nie zbliżaj się do brzegu. Słuchaj komunikatów.",
                "variants": {"en": f"Warning {n + 1}: the Warta is rising, keep away from the bank."},
                "expires_at": expires,
                "zone_ids": [zone],
            },
        )
        assert status == 201, alert
        status, sent = api.post(f"/api/v1/campaigns/{alert['id']}/send")
        assert status == 202, sent


def _wrk(url: str, *headers: str) -> dict:
    """One wrk run: requests/s, p99 in ms, errors, bytes per answer."""
    args = [_which("wrk") or "wrk", f"-t{THREADS}", f"-c{CLIENTS}", f"-d{SECONDS}s", "--latency", "--timeout", "5s"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True, timeout=SECONDS + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out)
    per_second = float(transfer.group(1)) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[transfer.group(2)]
    return {
        "requests_per_s": round(rate),
        "p99_ms": round(p99_ms, 1),
        "errors": socket_errors + (int(non_ok.group(1)) if non_ok else 0),
        "requests": total,
        "bytes_per_answer": round(per_second / rate) if rate else 0,
    }


NGINX_CONF = """
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location = /alerts {{
            default_type text/html;
            try_files /alerts.html =404;
        }}
    }}
    # docs/deployment.md's block, its app down (nothing listens on {dead}): the static copies answer.
    server {{
        listen 127.0.0.1:{fallback};
        location ~ ^/alerts(\\.atom|/[0-9]+\\.xml)?$ {{
            proxy_pass http://127.0.0.1:{dead};
            proxy_connect_timeout 2s;
            proxy_intercept_errors on;
            error_page 502 503 504 = @syrena_static;
        }}
        location @syrena_static {{
            root {www};
            rewrite ^/alerts$ /alerts.html break;
            types {{
                text/html html;
                application/atom+xml atom;
                application/cap+xml xml;
            }}
            add_header Cache-Control "public, max-age=30" always;
            etag on;
            try_files $uri =404;
        }}
    }}
}}
"""


def _nginx(services: ExitStack, www: Path) -> tuple[int, int]:
    """nginx serving the static copy on one port, and docs/deployment.md's fallback (app down) on another."""
    tmp = Path(services.enter_context(tempfile.TemporaryDirectory(prefix="syrena-bench-nginx-")))
    for path in (tmp, www.parent, www, www / "alerts"):
        path.chmod(0o755)  # nginx's workers run as another user and must reach the files
    port, fallback = free_port(), free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, www=www, fallback=fallback, dead=free_port()))
    proc = subprocess.Popen(
        [_which("nginx") or "nginx", "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    services.callback(lambda: (proc.terminate(), proc.wait(10)))
    wait_port(port)
    return port, fallback


def _fallback_serves_the_files(port: int, www: Path, campaign_id: int) -> bool:
    """Through the fallback server: each path answers 200 with the file the workers wrote."""
    for path, name in (
        ("/alerts", "alerts.html"),
        ("/alerts.atom", "alerts.atom"),
        (f"/alerts/{campaign_id}.xml", f"alerts/{campaign_id}.xml"),
    ):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            if r.status != 200 or r.read() != (www / name).read_bytes():
                return False
    return True


def _gunicorn(services: ExitStack, env: dict[str, str]) -> int:
    """The web app as `make run` starts it (Procfile's web line), on a free port."""
    port = free_port()
    metrics = Path(services.enter_context(tempfile.TemporaryDirectory(prefix="syrena-bench-metrics-")))
    log = Path(services.enter_context(tempfile.TemporaryDirectory(prefix="syrena-bench-web-"))) / "web.log"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=dict(env, PROMETHEUS_MULTIPROC_DIR=str(metrics), SYRENA_LOGGING__LEVEL="WARNING"),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    services.callback(lambda: (web.terminate(), web.wait(20)))
    wait_port(port, 60)
    return port


def main() -> dict:
    _install()
    services = ExitStack()
    try:
        www = Path(services.enter_context(tempfile.TemporaryDirectory(prefix="syrena-bench-www-"))) / "www"
        env = dict(
            os.environ,
            SYRENA_DATABASE__URL=services.enter_context(fresh_database("syrena_bench_public")),
            SYRENA_REDIS__URL=services.enter_context(private_redis()).url,
            SYRENA_PUBLIC__STATIC_DIR=str(www),
            SYRENA_CAMPAIGNS__REQUIRE_APPROVAL="false",
            SYRENA_SECURITY__API_LIMIT="100000 per minute",
        )
        settings = use_environment({k: v for k, v in env.items() if k.startswith("SYRENA_") and k != "SYRENA_CONFIG"})
        with session_scope(settings.database.url) as session:
            user = accounts.create_user(session, "bench@syrena.local", "admin", "Bench-Public-42")
            token = accounts.issue_token(session, user)
        port = _gunicorn(services, env)
        base = f"http://127.0.0.1:{port}"
        _alerts_in_force(ApiClient(base, token))

        with urllib.request.urlopen(f"{base}/alerts", timeout=30) as r:
            page, etag = r.read(), r.headers["ETag"]
            cache_control = r.headers["Cache-Control"]
        shown = page.count(b'class="alert-item')
        assert shown == ALERTS, f"/alerts shows {shown} alerts, expected {ALERTS}"
        request = urllib.request.Request(f"{base}/alerts", headers={"If-None-Match": etag})
        try:
            urllib.request.urlopen(request, timeout=30)
            conditional_status = 200
        except urllib.error.HTTPError as e:
            conditional_status = e.code

        # The static copy, as a worker's heartbeat writes it ([public] static_dir).
        assert public_alerts.write_static_files(create_app(settings), force=True)
        assert (www / "alerts.html").read_bytes() == page, "the static copy differs from what the app serves"
        nginx_port, fallback_port = _nginx(services, www)
        fallback_ok = _fallback_serves_the_files(fallback_port, www, 1)

        time.sleep(2)  # let the start-up settle
        app = _wrk(f"{base}/alerts")
        conditional = _wrk(f"{base}/alerts", f"If-None-Match: {etag}")
        nginx = _wrk(f"http://127.0.0.1:{nginx_port}/alerts")
        return {
            "alerts_in_force": ALERTS,
            "clients": CLIENTS,
            "seconds": SECONDS,
            "page_bytes": len(page),
            "cache_control": cache_control,
            "conditional_status": conditional_status,
            "app": app,
            "app_conditional_304": conditional,
            "nginx_static": nginx,
            "nginx_fallback_when_app_down_serves_static": fallback_ok,
            "ratio_app_to_nginx": round(app["requests_per_s"] / nginx["requests_per_s"], 3),
            "goal_met": app["requests_per_s"] >= 1000 and app["p99_ms"] < 200 and app["errors"] == 0,
        }
    finally:
        services.close()


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2, ensure_ascii=False))
