"""Zones: create, edit, archive, list, import and export; the changes staff make are audited here, in the
transaction that makes them (as campaigns and billing audit theirs)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syrena_core.accounts import User
from syrena_core.audit import record
from syrena_core.config import ZoneSettings, get_settings
from syrena_core.db import utcnow
from syrena_core.text import check_characters
from zones.exceptions import ZoneConflict, ZoneError, ZoneFileInvalid, ZoneImportFailed, ZoneNotFound
from zones.geometry import area_km2, geometry_from_geojson, to_geojson, validate
from zones.models import DEFAULT_COLOUR, Zone

MAX_NAME = 120
MAX_CODE = 16
MAX_DESCRIPTION = 2000
DERIVED_CODE_LENGTH = 12
CODE_PATTERN = re.compile(rf"^[A-Z0-9]{{1,{MAX_CODE}}}$")
COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass
class SavedZone:
    zone: Zone
    repairs: list[str] = field(default_factory=list)  # what repairing the geometry changed, in words


def ascii_fold(text: str) -> str:
    """'Łazarz' → 'Lazarz': Polish letters folded to ASCII (ł has no decomposition of its own)."""
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", ascii_fold(name).lower()).strip("-") or "zone"


def code_for(name: str) -> str:
    """The SMS code derived from a name: 'Stare Miasto' → 'STAREMIASTO'."""
    return re.sub(r"[^A-Z0-9]", "", ascii_fold(name).upper())[:DERIVED_CODE_LENGTH] or "ZONE"


def _unique(session: Session, column, base: str, limit: int) -> str:
    candidate, n = base[:limit], 1
    while session.scalar(select(func.count()).where(column == candidate)):
        n += 1
        suffix = str(n)
        candidate = base[: limit - len(suffix)] + suffix
    return candidate


# ------------------------------------------------------------------ field checks
def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ZoneError("a zone needs a name")
    # The name goes into alerts' texts, the public feed and exports: no invisible characters.
    check_characters(name, "the zone name", ZoneError, line_breaks=False)
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise ZoneError(f"the name is longer than {MAX_NAME} characters")
    return name


def clean_code(code: Any) -> str:
    """A code as residents text it: letters A–Z and digits, upper-cased; no diacritics, no spaces."""
    if not isinstance(code, str) or not code.strip():
        raise ZoneError("a zone code must not be empty")
    cleaned = code.strip().upper()
    if not CODE_PATTERN.match(cleaned):
        raise ZoneError(
            f"the code {code!r} may hold only letters A–Z and digits (no diacritics or spaces), "
            f"at most {MAX_CODE}; e.g. {code_for(code)!r}"
        )
    return cleaned


def _clean_colour(colour: Any) -> str:
    if colour is None or colour == "":
        return DEFAULT_COLOUR
    if not isinstance(colour, str) or not COLOUR_PATTERN.match(colour):
        raise ZoneError(f"the colour must be written #rrggbb, e.g. {DEFAULT_COLOUR}; got {colour!r}")
    return colour.lower()


def _clean_description(description: Any) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise ZoneError("the description must be text")
    if len(description) > MAX_DESCRIPTION:
        raise ZoneError(f"the description is longer than {MAX_DESCRIPTION} characters")
    check_characters(description, "the description", ZoneError)
    return description.strip() or None


def _check_name_free(session: Session, name: str, own_id: int | None = None) -> None:
    query = select(Zone).where(func.lower(Zone.name) == name.lower(), Zone.archived_at.is_(None))
    if own_id is not None:
        query = query.where(Zone.id != own_id)
    other = session.scalars(query).first()
    if other is not None:
        raise ZoneConflict(f"a zone named {other.name!r} exists already (id {other.id}); names must differ")


def _check_code_free(session: Session, code: str, own_id: int | None = None) -> None:
    query = select(Zone).where(Zone.code == code)
    if own_id is not None:
        query = query.where(Zone.id != own_id)
    other = session.scalars(query).first()
    if other is not None:
        state = " (archived)" if other.archived else ""
        raise ZoneConflict(f"the code {code} belongs to the zone {other.name!r}{state} (id {other.id})")


def _flush(session: Session) -> None:
    """A concurrent request may take a name or code between the check and the write."""
    try:
        session.flush()
    except IntegrityError as e:
        session.rollback()
        raise ZoneConflict("another zone with this name or code was saved at the same moment; try again") from e


def _limits(limits: ZoneSettings | None) -> ZoneSettings:
    return limits or get_settings().zones


# ------------------------------------------------------------------ create, edit, archive
def save_new_zone(
    session: Session,
    name: Any,
    geojson: Any,
    repair: bool = False,
    code: Any = None,
    colour: Any = None,
    description: Any = None,
    limits: ZoneSettings | None = None,
) -> SavedZone:
    name = _clean_name(name)
    checked = validate(geometry_from_geojson(geojson), repair=repair, limits=_limits(limits))
    colour, description = _clean_colour(colour), _clean_description(description)
    _check_name_free(session, name)
    if code is None or code == "":
        code = _unique(session, Zone.code, code_for(name), MAX_CODE)
    else:
        code = clean_code(code)
        _check_code_free(session, code)
    zone = Zone(
        name=name,
        slug=_unique(session, Zone.slug, slugify(name), MAX_NAME),
        code=code,
        colour=colour,
        description=description,
        geom=from_shape(checked.geom, srid=4326),
    )
    session.add(zone)
    _flush(session)
    return SavedZone(zone, checked.repairs)


def create_zone(
    session: Session,
    name: Any,
    geojson: Any,
    repair: bool = False,
    code: Any = None,
    colour: Any = None,
    description: Any = None,
    limits: ZoneSettings | None = None,
) -> Zone:
    return save_new_zone(session, name, geojson, repair, code, colour, description, limits).zone


def feature_fields(feature: dict[str, Any]) -> dict[str, Any]:
    """name, code, colour and description from a Feature's properties (or the top level of a bare geometry)."""
    props = feature.get("properties")
    if not isinstance(props, dict):
        props = {}
    return {key: props.get(key, feature.get(key)) for key in ("name", "code", "colour", "description")}


def audit_fields(zone: Zone) -> dict[str, Any]:
    """What the audit log keeps of a zone before and after a change (the geometry as its area)."""
    return {
        "name": zone.name,
        "code": zone.code,
        "colour": zone.colour,
        "description": zone.description,
        "area_km2": round(area_km2(to_shape(zone.geom)), 4),
    }


def save_feature(
    session: Session,
    feature: dict[str, Any],
    repair: bool = False,
    limits: ZoneSettings | None = None,
    *,
    actor: User | None,
) -> SavedZone:
    """A new zone from a GeoJSON Feature (name, code, colour, description in its properties), audited."""
    saved = save_new_zone(session, geojson=feature, repair=repair, limits=limits, **feature_fields(feature))
    record(
        session,
        "zone.create",
        actor,
        "zone",
        saved.zone.id,
        {"name": saved.zone.name, "code": saved.zone.code, "repairs": saved.repairs},
    )
    return saved


def update_zone(
    session: Session,
    zone_id: int,
    feature: dict[str, Any],
    repair: bool = False,
    limits: ZoneSettings | None = None,
    *,
    actor: User | None,
) -> SavedZone:
    """Change what the Feature carries (properties and/or geometry); what it leaves out stays. Audited with
    the fields before and after."""
    zone = get_zone(session, zone_id)
    if zone.archived:
        raise ZoneConflict(f"the zone {zone.name!r} is archived and can no longer be changed")
    before = audit_fields(zone)
    fields = {k: v for k, v in feature_fields(feature).items() if v is not None}
    repairs: list[str] = []
    if feature.get("geometry") is not None or feature.get("type") in ("Polygon", "MultiPolygon"):
        checked = validate(geometry_from_geojson(feature), repair=repair, limits=_limits(limits))
        zone.geom, repairs = from_shape(checked.geom, srid=4326), checked.repairs
    if "name" in fields:
        name = _clean_name(fields["name"])
        _check_name_free(session, name, zone.id)
        zone.name = name
    if "code" in fields:
        code = clean_code(fields["code"])
        _check_code_free(session, code, zone.id)
        zone.code = code
    if "colour" in fields:
        zone.colour = _clean_colour(fields["colour"])
    if "description" in fields:
        zone.description = _clean_description(fields["description"])
    zone.updated_at = utcnow()
    _flush(session)
    record(
        session,
        "zone.update",
        actor,
        "zone",
        zone.id,
        {"name": zone.name, "code": zone.code, "repairs": repairs},
        before=before,
        after=audit_fields(zone),
    )
    return SavedZone(zone, repairs)


def archive_zone(session: Session, zone_id: int, *, actor: User | None) -> Zone:
    """Deleting a zone: it leaves lists, lookups and new campaigns; campaigns that used it keep it. Audited
    (asking again for an archived zone too)."""
    zone = get_zone(session, zone_id)
    if not zone.archived:
        zone.archived_at = utcnow()
        session.flush()
    record(session, "zone.archive", actor, "zone", zone_id, {"name": zone.name})
    return zone


# ------------------------------------------------------------------ reading
def list_zones(session: Session, include_archived: bool = False) -> Sequence[Zone]:
    query = select(Zone).order_by(Zone.name, Zone.id)
    if not include_archived:
        query = query.where(Zone.archived_at.is_(None))
    return session.scalars(query).all()


def get_zone(session: Session, zone_id: int) -> Zone:
    """A zone by id, archived ones included (campaign history refers to them)."""
    zone = session.get(Zone, zone_id)
    if zone is None:
        raise ZoneNotFound(f"no zone with id {zone_id}")
    return zone


def get_zones(session: Session, ids: Sequence[int]) -> list[Zone]:
    """Live zones with these ids (what new campaigns may target), or ZoneNotFound naming the others."""
    wanted = set(ids)
    found = session.scalars(select(Zone).where(Zone.id.in_(wanted))).all()
    missing = wanted - {z.id for z in found}
    if missing:
        raise ZoneNotFound(f"no zone with id {', '.join(map(str, sorted(missing)))}")
    archived = [z for z in found if z.archived]
    if archived:
        raise ZoneNotFound(
            "archived zone(s) cannot be targeted: " + ", ".join(f"{z.name} (id {z.id})" for z in archived)
        )
    return sorted(found, key=lambda z: z.id)


# ------------------------------------------------------------------ GeoJSON in and out
def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def zone_feature(zone: Zone, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": zone.id,
        "properties": {
            "id": zone.id,
            "name": zone.name,
            "slug": zone.slug,
            "code": zone.code,
            "colour": zone.colour,
            "description": zone.description,
            "created_at": _iso(zone.created_at),
            "updated_at": _iso(zone.updated_at),
            "archived_at": _iso(zone.archived_at),
            **(extra or {}),
        },
        "geometry": to_geojson(to_shape(zone.geom)),
    }


def feature_collection(zones: Iterable[Zone], counts: dict[int, int] | None = None) -> dict[str, Any]:
    """Zones as GeoJSON; with `counts`, each feature carries its active subscribers."""
    return {
        "type": "FeatureCollection",
        "features": [zone_feature(z, None if counts is None else {"subscribers": counts.get(z.id, 0)}) for z in zones],
    }


def read_feature_collection(raw: bytes | str) -> list[dict[str, Any]]:
    """The features of an uploaded or read file, or ZoneFileInvalid saying why it is not usable."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ZoneFileInvalid(
                f"the file is not UTF-8 text (byte {e.start}: {e.reason}); save it as UTF-8 GeoJSON"
            ) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ZoneFileInvalid(f"the file is not JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        raise ZoneFileInvalid(
            'the file is not a GeoJSON FeatureCollection ("type": "FeatureCollection" with a "features" list)'
        )
    if not data["features"]:
        raise ZoneFileInvalid("the FeatureCollection holds no features")
    return data["features"]


def import_features(
    session: Session,
    features: Sequence[Any],
    name_property: str = "name",
    repair: bool = False,
    skip: Iterable[str] = (),
    limits: ZoneSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[SavedZone]:
    """Create a zone per feature, in the caller's transaction: on the first refused feature nothing is kept
    (ZoneImportFailed names it). Features named in `skip` are left out (e.g. a whole-city outline)."""
    limits, skipped = _limits(limits), {s.casefold() for s in skip}
    saved: list[SavedZone] = []
    for number, feature in enumerate(features, start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        name = props.get(name_property)
        if isinstance(name, str) and name.strip().casefold() in skipped:
            if progress:
                progress(1)
            continue
        try:
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                raise ZoneError('not GeoJSON: each item of "features" must be a Feature')
            saved.append(
                save_new_zone(
                    session,
                    name,
                    feature,
                    repair=repair,
                    code=props.get("code"),
                    colour=props.get("colour"),
                    description=props.get("description"),
                    limits=limits,
                )
            )
        except ZoneError as e:
            raise ZoneImportFailed(number, name, e) from None
        if progress:
            progress(1)
    return saved


def import_file(
    session: Session,
    raw: bytes | str,
    *,
    actor: User | None,
    file_name: str | None = None,
    name_property: str = "name",
    repair: bool = False,
    skip: Iterable[str] = (),
    limits: ZoneSettings | None = None,
) -> tuple[list[SavedZone], int]:
    """Staff importing an uploaded or posted GeoJSON file: all its zones or none (import_features), audited.
    Returns the zones saved and how many features the file held."""
    features = read_feature_collection(raw)
    saved = import_features(session, features, name_property=name_property, repair=repair, skip=skip, limits=limits)
    record(
        session,
        "zone.import",
        actor,
        "zone",
        None,
        {**({"file": file_name} if file_name is not None else {}), "zones": [s.zone.id for s in saved]},
    )
    return saved, len(features)
