"""Zones: create, list, look up; point → zones."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Sequence

from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zones.exceptions import ZoneError, ZoneNotFound
from zones.geometry import geometry_from_geojson, to_geojson, to_multipolygon
from zones.models import Zone

MAX_NAME = 120


def ascii_fold(text: str) -> str:
    """'Łazarz' → 'Lazarz': Polish letters folded to ASCII (ł has no decomposition of its own)."""
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", ascii_fold(name).lower()).strip("-") or "zone"


def sms_code_for(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", ascii_fold(name).upper())[:12] or "ZONE"


def _unique(session: Session, column, base: str, limit: int) -> str:
    candidate, n = base[:limit], 1
    while session.scalar(select(func.count()).where(column == candidate)):
        n += 1
        suffix = str(n)
        candidate = base[: limit - len(suffix)] + suffix
    return candidate


def create_zone(session: Session, name: Any, geojson: Any, repair: bool = False, sms_code: str | None = None) -> Zone:
    if not isinstance(name, str) or not name.strip():
        raise ZoneError("a zone needs a name")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ZoneError(f"the name is longer than {MAX_NAME} characters")
    geom = to_multipolygon(geometry_from_geojson(geojson), repair=repair)
    code = _unique(session, Zone.sms_code, sms_code_for(sms_code or name), 16)
    zone = Zone(name=name, slug=_unique(session, Zone.slug, slugify(name), 120), sms_code=code,
                geom=from_shape(geom, srid=4326))
    session.add(zone)
    session.flush()
    return zone


def list_zones(session: Session) -> Sequence[Zone]:
    return session.scalars(select(Zone).order_by(Zone.name)).all()


def get_zones(session: Session, ids: Sequence[int]) -> list[Zone]:
    """The zones with these ids, or ZoneNotFound naming the missing ones."""
    wanted = set(ids)
    found = session.scalars(select(Zone).where(Zone.id.in_(wanted))).all()
    missing = wanted - {z.id for z in found}
    if missing:
        raise ZoneNotFound(f"no zone with id {', '.join(map(str, sorted(missing)))}")
    return sorted(found, key=lambda z: z.id)


def zone_feature(zone: Zone, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "Feature", "id": zone.id,
            "properties": {"id": zone.id, "name": zone.name, "slug": zone.slug, "sms_code": zone.sms_code,
                           **(extra or {})},
            "geometry": to_geojson(to_shape(zone.geom))}
