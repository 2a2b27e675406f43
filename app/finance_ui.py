"""Finance pages: a month's costs with breakdowns and charts, exports, reconciliation with the operator's
CSV, tariffs. Finance and admin only; the views parse, call billing, render."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from app import timeline_ui
from app.auth import roles_required
from app.database import db
from billing import ledger, reconciliation, reports
from billing.exceptions import BillingError, InvalidReportRequest, OperatorCsvInvalid, ReconciliationNotFound
from billing.exports import all_groupings, report_csv, report_xlsx, row_name, statement_pdf
from syrena_core import localtime
from syrena_core.accounts import Role
from syrena_core.audit import record

bp = Blueprint("finance", __name__, url_prefix="/finance")

# Chart.js comes from npm (package.json → node_modules), served from here: no CDN, crisis rooms may be offline.
CHARTJS_DIR = Path(__file__).resolve().parent.parent / "node_modules" / "chart.js" / "dist"
TOP_CAMPAIGNS = 10
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_labels() -> dict[str, str]:
    return {
        "statement": _("Monthly statement"),
        "month": _("Month"),
        "currency": _("Currency"),
        "generated": _("Generated"),
        "summary": _("Summary"),
        "messages": _("Messages"),
        "parts": _("SMS parts"),
        "amount": _("Cost"),
        "name": _("Name"),
        "total": _("Total"),
        "sms_cost": _("SMS cost"),
        "exercise_cost": _("Exercises and tests (apart)"),
        "internal_cost": _("Internal notifications (call-outs)"),
        "subscription": _("Monthly subscription"),
        "setup": _("Set-up fee"),
        "net": _("Net"),
        "vat": _("VAT"),
        "gross": _("Gross"),
        "fees": _("Fees"),
        "period": _("Period"),
        "vat_rate": _("VAT rate"),
        "none": "—",
        "no_zone": _("No zone (drawn area or transactional)"),
        "no_department": _("No department"),
        "col.campaign": _("Campaign"),
        "col.zone": _("Zone"),
        "col.department": _("Department"),
        "col.day": _("Day"),
        "col.kind": _("Kind"),
        "col.encoding": _("Encoding"),
        "col.smsc": _("SMSC connection"),
        "group.smsc": _("By SMSC connection"),
        "group.campaign": _("By campaign"),
        "group.zone": _("By zone"),
        "group.department": _("By department"),
        "group.day": _("By day"),
        "group.kind": _("By kind"),
        "group.encoding": _("By encoding"),
        "kind.alert": _("Alert"),
        "kind.info": _("Information"),
        "kind.transactional": _("Transactional"),
    }


def _current_month() -> date:
    now = datetime.now(ZoneInfo(current_app.config["SYRENA"].billing.timezone))
    return date(now.year, now.month, 1)


def _month_in_path(raw: str) -> date:
    try:
        return reports.parse_month(raw)
    except InvalidReportRequest:
        abort(404)


def _reports(month: date) -> dict[str, reports.MonthlyReport]:
    billing = current_app.config["SYRENA"].billing
    session = db()
    return all_groupings(lambda group_by: reports.monthly_report(session, month, group_by, billing))


def _chart_data(by: dict[str, reports.MonthlyReport], labels: dict[str, str]) -> dict[str, Any]:
    days = {r.key: r for r in by["day"].rows}
    encodings = by["encoding"].rows
    top = sorted(by["campaign"].rows, key=lambda r: -r.amount)[:TOP_CAMPAIGNS]
    return {
        "currency": by["day"].currency,
        "days": {
            "labels": [d.isoformat() for d in reports.month_days(by["day"].month)],
            "values": [str(days[d].amount) if d in days else "0" for d in reports.month_days(by["day"].month)],
            "title": _("Cost per day"),
        },
        "encodings": {
            "labels": [str(r.key).upper() for r in encodings],
            "values": [r.parts for r in encodings],
            "costs": [str(r.amount) for r in encodings],
            "title": _("SMS parts by encoding"),
        },
        "campaigns": {
            "labels": [row_name("campaign", r, labels) for r in top],
            "values": [str(r.amount) for r in top],
            "title": _("Top campaigns by cost"),
        },
    }


@bp.get("/")
@roles_required(Role.FINANCE)
def report():
    raw = request.args.get("month")
    try:
        month = reports.parse_month(raw) if raw else _current_month()
    except InvalidReportRequest:
        flash(_("Unknown month: %(month)s. Choose a month as YYYY-MM.", month=raw), "error")
        return redirect(url_for("finance.report"))
    by = _reports(month)
    labels = export_labels()
    parts_by_encoding = {r.key: r.parts for r in by["encoding"].rows}
    return render_template(
        "finance/report.html",
        month=month,
        month_label=f"{month:%Y-%m}",
        previous_month_label=f"{reports.previous_month(month):%Y-%m}",
        by=by,
        totals=by["campaign"].totals,
        fees=by["campaign"].fees,
        labels=labels,
        row_name=row_name,
        groupings=reports.GROUPINGS,
        chart_data=_chart_data(by, labels),
        parts_by_encoding=parts_by_encoding,
        alert_times=timeline_ui.month_alerts(month),  # how long each alert's steps took (issue 16)
        exercise_times=timeline_ui.month_alerts(month, exercises=True),  # ... and each exercise's, apart
        duration=timeline_ui.duration,
    )


def _audit_export(month_start, fmt: str, group_by: str | None = None) -> None:
    record(
        db(),
        "billing.export",
        current_user,
        "billing_report",
        f"{month_start:%Y-%m}",
        {"format": fmt, "group_by": group_by},
    )
    db().commit()


@bp.get("/<month>/report.csv")
@roles_required(Role.FINANCE)
def report_csv_download(month: str):
    month_start = _month_in_path(month)
    group_by = request.args.get("group_by", "campaign")
    if group_by not in reports.GROUPINGS:
        abort(400, _("Unknown grouping: %(group)s.", group=group_by))
    report_ = reports.monthly_report(db(), month_start, group_by, current_app.config["SYRENA"].billing)
    _audit_export(month_start, "csv", group_by)
    return Response(
        report_csv(report_, export_labels()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="syrena-costs-{report_.month_label}-{group_by}.csv"'},
    )


@bp.get("/<month>/report.xlsx")
@roles_required(Role.FINANCE)
def report_xlsx_download(month: str):
    month_start = _month_in_path(month)
    _audit_export(month_start, "xlsx")
    return Response(
        report_xlsx(_reports(month_start), export_labels()),
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="syrena-costs-{month_start:%Y-%m}.xlsx"'},
    )


@bp.get("/<month>/statement.pdf")
@roles_required(Role.FINANCE)
def statement_pdf_download(month: str):
    month_start = _month_in_path(month)
    currency = current_app.config["SYRENA"].billing.currency
    body = statement_pdf(
        _reports(month_start), export_labels(), money=lambda v: f"{format_decimal(v, format='#,##0.00')} {currency}"
    )
    _audit_export(month_start, "pdf")
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="syrena-statement-{month_start:%Y-%m}.pdf"'},
    )


@bp.get("/reconciliation")
@roles_required(Role.FINANCE)
def reconciliation_list():
    return render_template(
        "finance/reconciliation.html",
        month_label=f"{_current_month():%Y-%m}",
        imports=reconciliation.list_imports(db()),
    )


@bp.post("/reconciliation")
@roles_required(Role.FINANCE)
def reconciliation_upload():
    session = db()
    upload = request.files.get("file")
    month = request.form.get("month", "")
    try:
        if upload is None or not upload.filename:
            raise OperatorCsvInvalid(_("Choose the operator's CSV file."))
        batch = reconciliation.import_operator_csv(session, current_user, month, upload.read(), upload.filename)
    except BillingError as e:
        session.rollback()
        problems = e.problems if isinstance(e, OperatorCsvInvalid) else []
        return render_template(
            "finance/reconciliation.html",
            month_label=month,
            error=str(e),
            problems=problems,
            imports=reconciliation.list_imports(session),
        ), 422
    session.commit()
    flash(_("Imported %(rows)s charged messages.", rows=batch.rows), "success")
    return redirect(url_for("finance.reconciliation_detail", import_id=batch.id))


@bp.get("/reconciliation/<int:import_id>")
@roles_required(Role.FINANCE)
def reconciliation_detail(import_id: int):
    try:
        result = reconciliation.reconcile(db(), import_id)
    except ReconciliationNotFound:
        abort(404)
    return render_template("finance/reconciliation_result.html", result=result)


@bp.get("/tariffs")
@roles_required(Role.FINANCE)
def tariffs():
    return render_template(
        "finance/tariffs.html", tariffs=ledger.list_tariffs(db()), defaults=current_app.config["SYRENA"].billing
    )


@bp.post("/tariffs")
@roles_required(Role.ADMIN)
def tariff_create():
    session = db()
    form = request.form
    try:
        raw_from = form.get("valid_from", "").strip()
        local = current_app.config["SYRENA"].billing.timezone  # the form's time is local (a gap: ValueError)
        valid_from = localtime.from_local(datetime.fromisoformat(raw_from), local) if raw_from else None
        ledger.create_tariff(
            session,
            current_user,
            valid_from=valid_from,
            price_per_part=form.get("price_per_part"),
            monthly_fee=form.get("monthly_fee"),
            setup_fee=form.get("setup_fee") or "0",
            vat_rate=(Decimal(form.get("vat_percent") or "0") / 100) if form.get("vat_percent") else None,
            currency=form.get("currency", "PLN"),
            smsc=form.get("smsc"),
        )
    except (BillingError, ArithmeticError, ValueError) as e:
        session.rollback()
        flash(_("The tariff was not saved: %(reason)s", reason=str(e)), "error")
        return redirect(url_for("finance.tariffs"))
    session.commit()
    flash(_("Tariff saved."), "success")
    return redirect(url_for("finance.tariffs"))


@bp.get("/vendor/chartjs/<path:filename>")
def chartjs_asset(filename: str):
    return send_from_directory(CHARTJS_DIR, filename, max_age=7 * 24 * 3600)
