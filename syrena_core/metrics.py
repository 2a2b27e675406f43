"""Prometheus metrics of every Syrena process, gathered by the web app's /metrics.

The web app and each `flask worker` are separate processes: prometheus-client's multiprocess mode lets each
write its samples to files in one directory (PROMETHEUS_MULTIPROC_DIR, default var/prometheus), and the
scrape sums them. The variable must be set before prometheus_client is first imported, hence here, at the top.
Per-process live gauges are dropped when a worker exits (`process_exited`); `make run` empties the directory
at start, so a crashed run leaves nothing behind.

Queue depths and bind states are not counted by the processes: the scrape reads them from Redis
(`RedisStateCollector`), where RQ keeps the queues and each worker publishes its binds (app.worker).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from syrena_core.ops_state import queue_depths, read_workers

_ROOT = Path(__file__).resolve().parent.parent
MULTIPROC_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_ROOT / "var" / "prometheus")))
MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)

from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

# Seconds; an alert's whole path runs from tens of milliseconds (loopback) to minutes (a throttled SMSC).
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

SUBMITS = Counter("syrena_smpp_submits", "submit_sm PDUs written to the SMSC", ["smsc"])
RESPONSES = Counter("syrena_smpp_responses", "submit_sm_resp (and generic_nack) by command_status", ["smsc", "status"])
RECEIPTS = Counter("syrena_smpp_receipts", "Delivery receipts received, by receipt state", ["smsc", "state"])
SEND_TO_SUBMIT = Histogram(
    "syrena_message_send_to_submit_seconds",
    "From a message being queued (campaign sent) to the SMSC accepting it",
    buckets=_LATENCY_BUCKETS,
)
SUBMIT_TO_DELIVERED = Histogram(
    "syrena_message_submit_to_final_seconds",
    "From the SMSC accepting a message to its final receipt being matched",
    ["status"],
    buckets=_LATENCY_BUCKETS,
)
WINDOW = Gauge(
    "syrena_smpp_window_outstanding", "submit_sm awaiting a response, per bind", ["smsc"], multiprocess_mode="livesum"
)
BOUND = Gauge(
    "syrena_smpp_bound_sessions", "Bound SMPP sessions (live worker processes)", ["smsc"], multiprocess_mode="livesum"
)
BAD_ANSWERS = Counter(
    "syrena_smsc_bad_answers",
    "SMSC answers that make no sense, by kind (unknown_status, "
    "empty_id, long_id, duplicate_id, unknown_sequence, receipt_unknown_id, receipt_repeated)",
    ["smsc", "kind"],
)
STRANDED_RESCUED = Counter(
    "syrena_stranded_messages_rescued",
    "Messages put back from 'submitting' by the sweeper or by their own failing job, by reason",
    ["reason"],
)
THROTTLE_WAITS = Counter("syrena_tps_throttle_waits", "Times a session found the shared TPS bucket empty", ["bucket"])
# The pacing of each link (smsc_gateway/rate.py): its adaptive rate under the contract, and the SMSC's refusals.
LINK_RATE = Gauge(
    "syrena_smpp_link_rate",
    "The link's current adaptive rate (submits/s, at most its TPS)",
    ["smsc"],
    multiprocess_mode="livemax",
)
LINK_REFUSALS = Gauge(
    "syrena_smpp_link_refusals_per_second",
    "ESME_RTHROTTLED / ESME_RMSGQFUL answers per second, per link (since the last heartbeat)",
    ["smsc"],
    multiprocess_mode="livesum",
)
THROTTLED = Counter("syrena_smpp_throttled", "submit_sm refused with ESME_RTHROTTLED or ESME_RMSGQFUL", ["smsc"])
INBOUND = Counter("syrena_inbound_sms", "Mobile-originated SMS handled, by keyword", ["keyword"])
HTTP_REQUESTS = Counter("syrena_http_requests", "HTTP requests served", ["method", "endpoint", "status"])
HTTP_LATENCY = Histogram("syrena_http_request_seconds", "HTTP request duration", ["method", "endpoint"])


class RedisStateCollector:
    """Read at scrape time: RQ queue depths per priority, failed jobs, and the workers' published binds."""

    def __init__(self, redis_url: str):
        self.redis_url = redis_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("syrena_queue_depth", "Jobs waiting in an RQ queue", labels=["queue"])
        failed = GaugeMetricFamily(
            "syrena_queue_failed_jobs", "Jobs in an RQ queue's failed registry", labels=["queue"]
        )
        workers = GaugeMetricFamily("syrena_workers_alive", "Gateway workers with a fresh heartbeat")
        binds = GaugeMetricFamily(
            "syrena_smsc_binds", "Bound SMPP sessions by SMSC (as the workers report)", labels=["smsc"]
        )
        try:
            for name, counts in queue_depths(self.redis_url).items():
                depth.add_metric([name], counts["queued"])
                failed.add_metric([name], counts["failed"])
            alive = read_workers(self.redis_url)
        except Exception:
            return
        workers.add_metric([], len(alive))
        per_smsc: dict[str, int] = {}
        for w in alive:
            for b in w.get("binds", []):
                per_smsc[b["name"]] = per_smsc.get(b["name"], 0) + (1 if b.get("bound") else 0)
        for name, count in sorted(per_smsc.items()):
            binds.add_metric([name], count)
        yield from (depth, failed, workers, binds)


def _forget_dead_processes() -> None:
    """A worker killed with SIGKILL never marks itself dead: its live gauges (binds, window) would count for
    ever. The directory is this host's, so a pid that no longer runs here is gone."""
    for path in MULTIPROC_DIR.glob("gauge_live*_*.db"):
        try:
            pid = int(path.stem.rsplit("_", 1)[1])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path=str(MULTIPROC_DIR))
        except PermissionError:
            pass  # alive, another user's


class HostProcesses:
    """Every process of this host (that shares MULTIPROC_DIR), summed, at each scrape."""

    def __init__(self) -> None:
        self._inner = multiprocess.MultiProcessCollector(None, path=str(MULTIPROC_DIR))

    def collect(self):
        _forget_dead_processes()
        yield from self._inner.collect()


def registry_for(redis_url: str | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(HostProcesses())
    if redis_url:
        registry.register(RedisStateCollector(redis_url))
    return registry


def exposition(redis_url: str | None) -> tuple[bytes, str]:
    """The text every process wrote, summed, plus what Redis holds now."""
    return generate_latest(registry_for(redis_url)), CONTENT_TYPE_LATEST


def process_exited(pid: int | None = None) -> None:
    """Drop this process's live gauges (bound sessions, window) so they no longer count."""
    multiprocess.mark_process_dead(pid or os.getpid(), path=str(MULTIPROC_DIR))


def serve_worker_metrics(host: str, port: int) -> None:
    """/metrics of this host's worker processes in a thread of their own (`flask metrics-server`): queue depths
    are left to the web app's scrape."""
    start_http_server(port, addr=host, registry=registry_for(None))
