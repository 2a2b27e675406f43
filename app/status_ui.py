"""The operations status panel and the RQ page of the admin UI.

The panel (`/admin/status`, for operators and admins) shows what the IT team must know before an emergency:
every SMSC bind of every worker and its state, queue depths per priority, the workers, messages per second
now, receipts lagging, messages rescued from dying jobs (by reason) and the last error; it refreshes itself from
`/admin/status.json` (app/static/js/status-panel.js). The RQ page (`/admin/rq`, admins only) lists queues,
waiting, running and failed jobs and the RQ workers, and can requeue a failed job. rq-dashboard was not mounted
instead: its pages rely on inline scripts, which the Content-Security-Policy forbids.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from app.auth import roles_required
from app.database import db
from app.health import readiness
from campaigns.delivery import receipts_lagging
from campaigns.jobs import rescued
from syrena_core.accounts import Role
from syrena_core.audit import record
from syrena_core.ops_state import queue_depths, read_workers
from syrena_core.queues import PRIORITY_ORDER, queue, redis_connection

bp = Blueprint("status_ui", __name__, url_prefix="/admin")

JOBS_LISTED = 50


def _rescue_labels() -> dict[str, str]:
    return {
        "job_error_recorded": _("a sending job failed; the SMSC's answer was recorded afterwards"),
        "job_error_requeued": _("a sending job failed; put back in the queue (possible duplicate)"),
        "job_gone": _("left by a job that no longer runs; put back in the queue (possible duplicate)"),
        "worker_dead": _("its worker stopped without warning; put back in the queue (possible duplicate)"),
    }


def _rescued() -> dict | None:
    try:
        rows = rescued(db())
    except Exception:
        db().rollback()
        return None
    labels = _rescue_labels()
    reasons = [
        {
            "reason": reason,
            "label": labels.get(reason, reason),
            "messages": total,
            "last_24h": recent,
            "last_at": last.isoformat(timespec="seconds") if last else None,
        }
        for reason, total, recent, last in rows
    ]
    return {"total": sum(r["messages"] for r in reasons), "by_reason": reasons}


def _settings():
    return current_app.config["SYRENA"]


def status_snapshot() -> dict:
    settings = _settings()
    ready, checks = readiness(settings)
    try:
        workers = read_workers(settings.redis.url)
        queues = queue_depths(settings.redis.url)
    except Exception:
        workers, queues = [], {}
    now = time.time()
    binds = []
    for w in workers:
        for b in w.get("binds", []):
            binds.append(
                {
                    **b,
                    "worker": w["owner"].split("/", 1)[-1],
                    "host": b.get("host"),
                    "state": "bound" if b.get("bound") else "down",
                }
            )
    errors = [dict(w["last_error"], worker=w["owner"].split("/", 1)[-1]) for w in workers if w.get("last_error")]
    last_error = max(errors, key=lambda e: e["at"]) if errors else None
    if last_error:
        last_error["at_iso"] = datetime.fromtimestamp(last_error["at"], UTC).isoformat(timespec="seconds")
    lag = settings.operations.receipt_lag_seconds
    try:
        lagging, oldest = receipts_lagging(db(), lag)
    except Exception:
        lagging = oldest = None
    db().rollback()
    rescued = _rescued()
    return {
        "ready": ready,
        "checks": checks,
        "binds": binds,
        "queues": [{"name": name, **queues[name]} for name in PRIORITY_ORDER if name in queues],
        "workers": [
            {
                "id": w["owner"].split("/", 1)[-1],
                "host": w.get("host"),
                "pid": w.get("pid"),
                "rate": w.get("rate", 0.0),
                "heartbeat_age": round(max(0.0, now - w.get("ts", now)), 1),
                "uptime": round(max(0.0, now - w.get("started", now))),
                "stopping": w.get("stopping", False),
                "job": (w.get("job") or {}).get("description"),
            }
            for w in workers
        ],
        "rate": round(sum(w.get("rate", 0.0) for w in workers), 1),
        "receipts_lagging": {"count": lagging, "oldest_seconds": oldest, "threshold": lag},
        "rescued": rescued,
        "last_error": last_error,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@bp.get("/status")
@roles_required(Role.OPERATOR)
def status_page():
    return render_template("ops/status.html", status=status_snapshot())


@bp.get("/status.json")
@roles_required(Role.OPERATOR)
def status_json():
    response = jsonify(status_snapshot())
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------ RQ
def _job_row(job: Job, failed: bool = False) -> dict:
    result = job.latest_result() if failed else None
    error = (getattr(result, "exc_string", None) or "").strip().splitlines()[-1:]
    return {
        "id": job.id,
        "description": job.description or job.func_name,
        "status": job.get_status(refresh=False),
        "enqueued_at": job.enqueued_at,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "error": error,
    }


@bp.get("/rq")
@roles_required(Role.ADMIN)
def rq_page():
    url = _settings().redis.url
    connection = redis_connection(url)
    queues = []
    for name in PRIORITY_ORDER:
        q = queue(name, url)
        started_ids = q.started_job_registry.get_job_ids(0, JOBS_LISTED - 1)
        failed_ids = q.failed_job_registry.get_job_ids(0, JOBS_LISTED - 1)
        queues.append(
            {
                "name": name,
                "count": q.count,
                "started_count": q.started_job_registry.count,
                "failed_count": q.failed_job_registry.count,
                "waiting": [_job_row(j) for j in q.get_jobs(0, JOBS_LISTED) if j],
                "started": [_job_row(j) for j in Job.fetch_many(started_ids, connection=connection) if j],
                "failed": [_job_row(j, failed=True) for j in Job.fetch_many(failed_ids, connection=connection) if j],
            }
        )
    workers = [
        {
            "name": w.name,
            "state": w.get_state(),
            "queues": ", ".join(w.queue_names()),
            "job": w.get_current_job_id(),
            "birth": w.birth_date,
            "heartbeat": w.last_heartbeat,
            "successful": w.successful_job_count,
            "failed": w.failed_job_count,
        }
        for w in Worker.all(connection=connection)
    ]
    return render_template("ops/rq.html", queues=queues, workers=workers)


@bp.post("/rq/failed/<queue_name>/<job_id>/requeue")
@roles_required(Role.ADMIN)
def rq_requeue(queue_name: str, job_id: str):
    if queue_name not in PRIORITY_ORDER:
        abort(404)
    q = queue(queue_name, _settings().redis.url)
    try:
        q.failed_job_registry.requeue(job_id)
    except (InvalidJobOperation, NoSuchJobError):
        abort(404)
    session = db()
    record(session, "rq.requeue", current_user._get_current_object(), "rq_job", job_id, {"queue": queue_name})
    session.commit()
    flash(_("The job was put back in its queue."), "success")
    return redirect(url_for("status_ui.rq_page"))
