"""A GeoJSON file of zones imported by staff: the API (POST /api/v1/zones/import) and the zones page do it and
answer alike."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from app.database import db
from syrena_core.accounts import User
from zones import service as zones


def import_and_answer(raw: bytes | str, actor: User, **options: Any) -> tuple[Response, int]:
    """Import every zone of `raw` or none (zones.service.import_file, with `options`), commit, and answer what
    was saved (each zone with the repairs made to its polygons) and how many features were skipped."""
    session = db()
    saved, total = zones.import_file(session, raw, actor=actor, limits=current_app.config["SYRENA"].zones, **options)
    session.commit()
    return jsonify(
        {
            "imported": len(saved),
            "skipped": total - len(saved),
            "zones": [{"id": s.zone.id, "name": s.zone.name, "code": s.zone.code, "repairs": s.repairs} for s in saved],
        }
    ), 201
