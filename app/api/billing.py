"""Billing API: monthly reports (JSON or CSV), tariffs, reconciliation with the operator's CSV.
Money is shown to finance and admin only."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request

from app.api.blueprint import bp
from app.api.common import error_response, json_body, map_domain_error, requires
from app.database import db
from app.openapi import components, op, ref
from billing import ledger, reconciliation, reports, schemas
from billing.exceptions import (
    InvalidCorrection,
    InvalidReportRequest,
    InvalidTariff,
    OperatorCsvInvalid,
    ReconciliationNotFound,
)
from billing.exports import report_csv
from billing.models import Tariff
from syrena_core.accounts import Role
from syrena_core.audit import record

map_domain_error(InvalidReportRequest, 422, "invalid_report_request")
map_domain_error(InvalidTariff, 422, "invalid_tariff")
map_domain_error(InvalidCorrection, 422, "invalid_correction")
map_domain_error(ReconciliationNotFound, 404, "reconciliation_not_found")


def report_json(report: reports.MonthlyReport) -> dict[str, Any]:
    t = report.totals
    return {
        "month": report.month_label,
        "timezone": report.timezone,
        "group_by": report.group_by,
        "currency": report.currency,
        "rows": [
            {
                "key": r.key.isoformat() if report.group_by == "day" else r.key,
                "label": r.label,
                "messages": r.messages,
                "parts": r.parts,
                "amount": str(r.amount),
            }
            for r in report.rows
        ],
        "totals": {
            "messages": t.messages,
            "parts": t.parts,
            "sms_cost": str(t.sms_cost),
            "subscription": str(t.subscription),
            "setup": str(t.setup),
            "net": str(t.net),
            "vat": str(t.vat),
            "gross": str(t.gross),
            # Exercises and tests (issue 16): paid for (in net), not part of the real totals above.
            "exercise_messages": t.exercise_messages,
            "exercise_parts": t.exercise_parts,
            "exercise_cost": str(t.exercise_cost),
            # Call-outs to staff, services and media (issue 20): likewise apart, and in net.
            "internal_messages": t.internal_messages,
            "internal_parts": t.internal_parts,
            "internal_cost": str(t.internal_cost),
        },
        "fees": [
            {
                "fee": f.fee,
                "tariff_id": f.tariff_id,
                "smsc": f.smsc,
                "from": f.period_from.isoformat(),
                "to": f.period_to.isoformat(),
                "amount": str(f.amount),
                "vat_rate": str(f.vat_rate),
            }
            for f in report.fees
        ],
    }


def _wants_csv() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv" and request.accept_mimetypes["text/csv"] > request.accept_mimetypes["application/json"]


def _report() -> reports.MonthlyReport:
    return reports.monthly_report(
        db(),
        request.args.get("month", ""),
        request.args.get("group_by", "campaign"),
        current_app.config["SYRENA"].billing,
    )


def _csv_response(report: reports.MonthlyReport) -> Response:
    record(
        db(),
        "billing.export",
        g.api_user,
        "billing_report",
        report.month_label,
        {"format": "csv", "group_by": report.group_by},
    )
    db().commit()
    filename = f"syrena-costs-{report.month_label}-{report.group_by}.csv"
    return Response(
        report_csv(report), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@bp.get("/billing/report")
@requires(Role.FINANCE)
def billing_report():
    report = _report()
    return _csv_response(report) if _wants_csv() else jsonify(report_json(report))


@bp.get("/billing/report.csv")
@requires(Role.FINANCE)
def billing_report_csv():
    return _csv_response(_report())


def tariff_json(tariff: Tariff) -> dict[str, Any]:
    return {
        "id": tariff.id,
        "smsc": tariff.smsc,
        "valid_from": tariff.valid_from.isoformat(),
        "currency": tariff.currency,
        "price_per_part": str(tariff.price_per_part),
        "monthly_fee": str(tariff.monthly_fee),
        "setup_fee": str(tariff.setup_fee),
        "vat_rate": str(tariff.vat_rate),
    }


@bp.get("/billing/tariffs")
@requires(Role.FINANCE)
def list_tariffs():
    return jsonify([tariff_json(t) for t in ledger.list_tariffs(db())])


@bp.post("/billing/tariffs")
@requires(Role.ADMIN)
def create_tariff():
    body = json_body()
    session = db()
    defaults = current_app.config["SYRENA"].billing
    tariff = ledger.create_tariff(
        session,
        g.api_user,
        valid_from=body.get("valid_from"),  # every field checked by billing.schemas
        price_per_part=body.get("price_per_part"),
        monthly_fee=body.get("monthly_fee"),
        setup_fee=body.get("setup_fee", "0"),
        vat_rate=body.get("vat_rate", str(defaults.vat_rate)),
        currency=body.get("currency", defaults.currency),
        smsc=body.get("smsc"),
    )
    session.commit()
    return jsonify(tariff_json(tariff)), 201


@bp.post("/billing/corrections")
@requires(Role.FINANCE)
def create_correction():
    """Ledger entries never change: a correction is a new entry with the difference."""
    body = json_body()
    session = db()
    entry = ledger.record_correction(
        session, g.api_user, body.get("corrects"), body.get("amount"), body.get("parts", 0), body.get("note")
    )
    session.commit()
    return jsonify(
        {
            "id": entry.id,
            "corrects": entry.corrects_id,
            "charged_at": entry.charged_at.isoformat(),
            "amount": str(entry.amount),
            "parts": entry.parts,
            "note": entry.note,
        }
    ), 201


def reconciliation_json(result: reconciliation.Reconciliation) -> dict[str, Any]:
    def day(line: reconciliation.DayLine) -> dict[str, Any]:
        return {
            "matched": line.matched,
            "missing_at_operator": line.missing_at_operator,
            "missing_in_ledger": line.missing_in_ledger,
            "amount_differences": line.amount_differences,
            "our_amount": str(line.our_amount),
            "operator_amount": str(line.operator_amount),
            "difference": str(line.difference),
        }

    batch = result.batch
    return {
        "id": batch.id,
        "month": f"{batch.month:%Y-%m}",
        "filename": batch.filename,
        "rows": batch.rows,
        "imported_at": batch.imported_at.isoformat(),
        "total_amount": str(batch.total_amount),
        "totals": day(result.totals),
        "days": [{"day": line.day.isoformat(), **day(line)} for line in result.days],
        "discrepancies": [
            {
                "problem": d.problem,
                "day": d.day.isoformat(),
                "smsc_message_ids": d.smsc_message_ids,
                "our_parts": d.our_parts,
                "operator_parts": d.operator_parts,
                "our_amount": None if d.our_amount is None else str(d.our_amount),
                "operator_amount": None if d.operator_amount is None else str(d.operator_amount),
            }
            for d in result.discrepancies
        ],
    }


@bp.post("/billing/reconciliations")
@requires(Role.FINANCE)
def import_reconciliation():
    """The body is the operator's CSV itself (Content-Type: text/csv); ?month=YYYY-MM."""
    session = db()
    try:
        batch = reconciliation.import_operator_csv(
            session, g.api_user, request.args.get("month", ""), request.get_data(), request.args.get("filename")
        )
    except OperatorCsvInvalid as e:
        session.rollback()
        return error_response(422, "invalid_operator_csv", str(e), e.problems)
    session.commit()
    return jsonify(reconciliation_json(reconciliation.reconcile(session, batch.id))), 201


@bp.get("/billing/reconciliations/<int:import_id>")
@requires(Role.FINANCE)
def get_reconciliation(import_id: int):
    return jsonify(reconciliation_json(reconciliation.reconcile(db(), import_id)))


_MONTH_PARAM = {"name": "month", "in": "query", "required": True, "schema": {"type": "string", "example": "2026-11"}}
_GROUP_PARAM = {
    "name": "group_by",
    "in": "query",
    "schema": {"type": "string", "enum": list(reports.GROUPINGS), "default": "campaign"},
}
_CSV = {"text/csv": {"schema": {"type": "string"}}}
OPENAPI_PATHS = {
    "/api/v1/billing/report": {
        "get": {
            **op(
                "A month's costs by one grouping, with totals, fees and VAT (finance, admin). "
                "`Accept: text/csv` answers in CSV.",
                "200",
                ref("BillingReport"),
                params=[_MONTH_PARAM, _GROUP_PARAM],
            ),
        }
    },
    "/api/v1/billing/report.csv": {
        "get": {
            "summary": "The same report as CSV",
            "parameters": [_MONTH_PARAM, _GROUP_PARAM],
            "responses": {
                "200": {"description": "CSV: key, name, messages, parts, amount; a total line last", "content": _CSV}
            },
        }
    },
    "/api/v1/billing/tariffs": {
        "get": op("Every tariff, oldest first", "200", {"type": "array", "items": ref("Tariff")}),
        "post": op(
            "Add a tariff from valid_from on (admin); never before the newest charge",
            "201",
            ref("Tariff"),
            body=ref("TariffInput"),
        ),
    },
    "/api/v1/billing/corrections": {
        "post": op(
            "Correct a ledger entry with a new entry holding the difference (negative amount: a refund)",
            "201",
            ref("Correction"),
            body=ref("CorrectionInput"),
        )
    },
    "/api/v1/billing/reconciliations": {
        "post": {
            **op(
                "Import the operator's CSV (message_id, time, parts, amount) for ?month=YYYY-MM, all or nothing, "
                "and compare it with the ledger",
                "201",
                ref("Reconciliation"),
                params=[_MONTH_PARAM],
            ),
            "requestBody": {"required": True, "content": _CSV},
        }
    },
    "/api/v1/billing/reconciliations/{id}": {
        "get": op(
            "An imported operator CSV compared with the ledger",
            "200",
            ref("Reconciliation"),
            params=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        )
    },
}
OPENAPI_SCHEMAS = components(
    schemas.TariffInput,
    schemas.CorrectionInput,
    schemas.BillingReport,
    schemas.Tariff,
    schemas.Correction,
    schemas.Reconciliation,
)
