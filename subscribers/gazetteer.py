"""The address gazetteer: the city's address points, imported from CSV or GeoJSON and searched
by a normalised key, with pg_trgm absorbing typos in street names."""

from __future__ import annotations

import csv
import enum
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from subscribers.models import AddressPoint
from zones.service import ascii_fold

WGS84 = 4326
PUWG_1992 = 2180  # the Polish national address register's x/y
DEFAULT_CITY = "Poznań"

# Street-type prefixes and honorifics people write or leave out at will: "ul. Św. Marcin" = "Marcin".
_NOISE_WORDS = {
    "ul",
    "ulica",
    "al",
    "aleja",
    "aleje",
    "os",
    "osiedle",
    "pl",
    "plac",
    "rondo",
    "skwer",
    "sw",
    "swiety",
    "swietego",
    "swietej",
    "swietych",
    "ks",
    "ksiedza",
    "gen",
    "generala",
    "im",
    "imienia",
    "dr",
    "doktora",
    "prof",
    "profesora",
    "marsz",
    "marszalka",
    "bp",
    "biskupa",
    "kard",
    "kardynala",
    "r",
}
# "10", "10a", "10/2", "14-16", "113a/5"; a lone letter after the number ("10 a") is joined to it.
_HOUSE = re.compile(r"^\d+[a-z]?(?:[/-]\d+[a-z]?)?$")
_POSTCODE = re.compile(r"\b\d{2}-\d{3}\b")


def fold(value: str) -> str:
    """Lower-case ASCII words separated by single spaces: what typing habits cannot change."""
    return re.sub(r"[^a-z0-9/-]+", " ", ascii_fold(value).lower()).strip()


@lru_cache(maxsize=65536)  # a register repeats each street for every house on it
def street_key(street: str) -> str:
    words = [w for w in re.split(r"[\s/-]+", fold(street)) if w and w not in _NOISE_WORDS]
    return " ".join(words)


def house_key(house_number: str) -> str:
    return re.sub(r"\s+", "", fold(house_number))


def address_key(street: str, house_number: str) -> str:
    return f"{street_key(street)} {house_key(house_number)}".strip()


@dataclass(frozen=True)
class ParsedAddress:
    street: str  # street_key form
    house: str | None  # house_key form, None when no number was given


def parse_address(typed: str) -> ParsedAddress:
    """'ul. Głogowska 10/2, 60-111 Poznań' → street 'glogowska', house '10/2'."""
    head = _POSTCODE.sub(" ", typed.split(",")[0] if "," in typed and re.search(r"\d", typed.split(",")[0]) else typed)
    words = fold(head).split()
    house = None
    for i in range(len(words) - 1, 0, -1):
        candidate = words[i]
        if i + 1 < len(words) and re.fullmatch(r"[a-z]", words[i + 1]) and re.fullmatch(r"\d+", candidate):
            candidate += words[i + 1]
        if _HOUSE.match(candidate):
            house = candidate
            words = words[:i]
            break
    return ParsedAddress(street=street_key(" ".join(words)), house=house)


# ------------------------------------------------------------------ import


class AddressImportError(ValueError):
    pass


@dataclass(frozen=True)
class AddressRow:
    street: str
    house_number: str
    postcode: str | None
    city: str
    x: float
    y: float
    srid: int


def _number(raw: Any, what: str, where: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise AddressImportError(f"{where}: {what} is not a number: {raw!r}") from None
    if not math.isfinite(value):
        raise AddressImportError(f"{where}: {what} is not a finite number")
    return value


def _row(fields: Mapping[str, Any], x: Any, y: Any, srid: int, where: str) -> AddressRow:
    street = str(fields.get("street") or "").strip()
    number = str(fields.get("housenumber") or fields.get("house_number") or "").strip()
    if not street or not number:
        raise AddressImportError(f"{where}: street and house number are required")
    if len(street) > 120 or len(number) > 20:
        raise AddressImportError(f"{where}: street or house number too long")
    xv, yv = _number(x, "x/lon", where), _number(y, "y/lat", where)
    if srid == WGS84 and not (-180 <= xv <= 180 and -90 <= yv <= 90):
        raise AddressImportError(f"{where}: lon/lat out of range")
    if srid == PUWG_1992 and not (0 < xv < 1_500_000 and 0 < yv < 1_500_000):
        raise AddressImportError(f"{where}: x/y are not EPSG:2180 metres")
    postcode = str(fields.get("postcode") or "").strip() or None
    if postcode and len(postcode) > 6:
        raise AddressImportError(f"{where}: postcode {postcode!r} is not NN-NNN")
    city = str(fields.get("city") or "").strip()[:60] or DEFAULT_CITY
    return AddressRow(street, number, postcode, city, xv, yv, srid)


def read_csv_rows(lines: Iterable[str]) -> Iterator[AddressRow]:
    """CSV with street, housenumber, postcode, city and either lon/lat (WGS84) or x/y (EPSG:2180)."""
    reader = csv.DictReader(lines)
    columns = set(reader.fieldnames or ())
    if {"lon", "lat"} <= columns:
        xcol, ycol, srid = "lon", "lat", WGS84
    elif {"x", "y"} <= columns:
        xcol, ycol, srid = "x", "y", PUWG_1992
    else:
        raise AddressImportError("the CSV needs lon and lat (WGS84) or x and y (EPSG:2180) columns")
    if "street" not in columns or not columns & {"housenumber", "house_number"}:
        raise AddressImportError("the CSV needs street and housenumber columns")
    for n, row in enumerate(reader, start=2):  # line 1 is the header
        yield _row(row, row.get(xcol), row.get(ycol), srid, f"line {n}")


def read_geojson_rows(data: Any) -> Iterator[AddressRow]:
    """A FeatureCollection of Points; WGS84 unless its crs names EPSG:2180."""
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise AddressImportError("not a GeoJSON FeatureCollection")
    crs = json.dumps(data.get("crs") or {})
    srid = PUWG_1992 if "2180" in crs else WGS84
    for n, feature in enumerate(features, start=1):
        geometry = (feature or {}).get("geometry") or {}
        coordinates = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(coordinates, list) or len(coordinates) < 2:
            raise AddressImportError(f"feature {n}: not a Point")
        yield _row(feature.get("properties") or {}, coordinates[0], coordinates[1], srid, f"feature {n}")


def read_address_file(path: Path) -> Iterator[AddressRow]:
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise AddressImportError(f"not GeoJSON: {e}") from None
        yield from read_geojson_rows(data)
        return
    with path.open(encoding="utf-8-sig", newline="") as f:
        yield from read_csv_rows(f)


_STAGING = text("""
CREATE TEMP TABLE IF NOT EXISTS address_import (
    street text, house_number text, postcode text, city text, normalised_key text, street_key text,
    house_key text, x float8, y float8, srid int) ON COMMIT DROP
""")
# Points in EPSG:2180 are brought to WGS84 by PostGIS; WGS84 ones pass through unchanged.
_FROM_STAGING = text("""
INSERT INTO address_point (street, house_number, postcode, city, normalised_key, street_key, house_key, geom)
SELECT street, house_number, postcode, city, normalised_key, street_key, house_key,
       ST_Transform(ST_SetSRID(ST_MakePoint(x, y), srid), 4326)
FROM address_import
""")
_STREETS_FROM_STAGING = text("""
INSERT INTO address_street (street_key)
SELECT DISTINCT street_key FROM address_import WHERE street_key <> '' ON CONFLICT DO NOTHING
""")


BULK_ROWS = 20_000
_SECONDARY_INDEXES = text("""
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'address_point' AND indexname <> 'pk_address_point'
""")


def _copy_batch(cursor: Any, batch: list[list[Any]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(batch)
    buffer.seek(0)
    cursor.copy_expert("COPY address_import FROM STDIN WITH (FORMAT csv)", buffer)


def import_address_points(
    session: Session, rows: Iterable[AddressRow], replace: bool = False, batch: int = 50_000
) -> int:
    """Insert the rows (all, or none: the caller's transaction); `replace` empties the gazetteer first.
    Rows are COPYed into a staging table and moved in one INSERT: ~10× faster than INSERT batches."""
    if replace:
        session.execute(text("TRUNCATE address_point, address_street"))
    session.execute(_STAGING)
    session.execute(text("TRUNCATE address_import"))
    driver_connection = session.connection().connection.driver_connection
    assert driver_connection is not None  # a checked-out connection always has its psycopg2 connection
    cursor = driver_connection.cursor()
    pending: list[list[Any]] = []
    count = 0
    for row in rows:
        skey, hkey = street_key(row.street), house_key(row.house_number)
        pending.append(
            [
                row.street,
                row.house_number,
                row.postcode,
                row.city,
                f"{skey} {hkey}".strip(),
                skey,
                hkey,
                repr(row.x),
                repr(row.y),
                row.srid,
            ]
        )
        if len(pending) >= batch:
            _copy_batch(cursor, pending)
            count, pending = count + len(pending), []
    if pending:
        _copy_batch(cursor, pending)
        count += len(pending)
    existing = session.scalar(select(func.count()).select_from(AddressPoint)) or 0
    # A whole register at once: building the indexes after the rows is about twice as fast as
    # updating them row by row (300,000 points: ~11 s against ~22 s here).
    rebuild = count >= max(existing, BULK_ROWS)
    indexes = session.execute(_SECONDARY_INDEXES).all() if rebuild else []
    for name, _definition in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    session.execute(_FROM_STAGING)
    if indexes:
        session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for _name, definition in indexes:
        session.execute(text(definition))
    session.execute(_STREETS_FROM_STAGING)
    session.execute(text("TRUNCATE address_import"))
    return count


# ------------------------------------------------------------------ geocoding


@dataclass(frozen=True)
class AddressMatch:
    label: str  # "Głogowska 10, Poznań"
    lat: float
    lon: float
    score: float  # 1.0 exact; trigram similarity of the street otherwise


class GeocodeStatus(str, enum.Enum):
    FOUND = "found"  # one address: use it
    CHOOSE = "choose"  # up to three candidates: ask which
    NO_NUMBER = "no_number"  # a street without a house number
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class GeocodeResult:
    query: str
    status: GeocodeStatus
    matches: list[AddressMatch] = field(default_factory=list)

    @property
    def found(self) -> AddressMatch | None:
        return self.matches[0] if self.status == GeocodeStatus.FOUND else None


class Geocoder(Protocol):
    def geocode(self, session: Session, typed: str) -> GeocodeResult:
        """One match when the address is clear, up to three when it is not, none when nothing fits."""

    def geocode_many(self, session: Session, typed: Sequence[str]) -> dict[str, GeocodeResult]:
        """`geocode` of each text (a batch of keyword SMS), keyed by the text."""

    def suggest(self, session: Session, typed: str, limit: int = 8) -> list[AddressMatch]:
        """Addresses for an autocomplete list."""


MAX_CANDIDATES = 3
# Streets this much less similar than the best one are not offered as alternatives.
SIMILARITY_MARGIN = 0.15
MIN_SIMILARITY = 0.3
# Below this a lone typo-corrected match is offered as a question rather than taken.
SURE_SIMILARITY = 0.4

_ADDRESSES_OF = text("""
SELECT min(street) AS street, house_key, min(house_number) AS house_number, min(city) AS city,
       ST_Y(ST_Centroid(ST_Collect(geom))) AS lat, ST_X(ST_Centroid(ST_Collect(geom))) AS lon
FROM address_point WHERE street_key = :street AND house_key = ANY(:houses)
GROUP BY street_key, house_key, lower(city)
ORDER BY array_position(CAST(:houses AS text[]), house_key)
""")
# The same for a whole batch of typed addresses in one statement: q.n numbers the address, q.rank its
# house-number variants in order of preference.
_ADDRESSES_OF_MANY = text("""
SELECT q.n, min(a.street) AS street, a.house_key, min(a.house_number) AS house_number, min(a.city) AS city,
       ST_Y(ST_Centroid(ST_Collect(a.geom))) AS lat, ST_X(ST_Centroid(ST_Collect(a.geom))) AS lon
FROM unnest(CAST(:ns AS int[]), CAST(:streets AS text[]), CAST(:houses AS text[]), CAST(:ranks AS int[]))
     AS q(n, street, house, rank)
JOIN address_point a ON a.street_key = q.street AND a.house_key = q.house
GROUP BY q.n, q.rank, a.street_key, a.house_key, lower(a.city)
ORDER BY q.n, q.rank
""")

_SIMILAR_STREETS = text("""
SELECT street_key, similarity(street_key, :street) AS score
FROM address_street WHERE street_key % :street
ORDER BY score DESC, street_key LIMIT 5
""")

_NEAREST_NUMBERS = text("""
SELECT min(street) AS street, house_key, min(house_number) AS house_number, min(city) AS city,
       ST_Y(ST_Centroid(ST_Collect(geom))) AS lat, ST_X(ST_Centroid(ST_Collect(geom))) AS lon
FROM address_point WHERE street_key = :street
GROUP BY street_key, house_key, lower(city)
ORDER BY abs(coalesce(substring(house_key from '^[0-9]+')::int, 0) - :number), house_key LIMIT :limit
""")

_SUGGEST = text("""
SELECT min(street) AS street, house_key, min(house_number) AS house_number, min(city) AS city,
       ST_Y(ST_Centroid(ST_Collect(geom))) AS lat, ST_X(ST_Centroid(ST_Collect(geom))) AS lon,
       similarity(normalised_key, :key) AS score
FROM address_point WHERE normalised_key % :key OR normalised_key LIKE :prefix
GROUP BY street_key, house_key, normalised_key, lower(city)
ORDER BY normalised_key LIKE :prefix DESC, score DESC, normalised_key LIMIT :limit
""")


def _match(row: Any, score: float) -> AddressMatch:
    return AddressMatch(label=f"{row.street} {row.house_number}, {row.city}", lat=row.lat, lon=row.lon, score=score)


def _result(typed: str, matches: list[AddressMatch]) -> GeocodeResult:
    status = GeocodeStatus.FOUND if len(matches) == 1 else GeocodeStatus.CHOOSE
    return GeocodeResult(typed, status, matches[:MAX_CANDIDATES])


def _house_variants(house: str) -> list[str]:
    # "10/2" is a flat in house 10 in most registers, but a building may be numbered "14/16" itself.
    return list(dict.fromkeys([house, re.split(r"[/-]", house)[0]]))


class LocalGazetteer:
    """The default geocoder: the address points imported into PostgreSQL."""

    @staticmethod
    def _before_lookup(typed: str) -> tuple[str, ParsedAddress, GeocodeResult | None]:
        typed = (typed or "").strip()[:200]
        parsed = parse_address(typed)
        if not parsed.street:
            return typed, parsed, GeocodeResult(typed, GeocodeStatus.NOT_FOUND)
        if parsed.house is None:
            return typed, parsed, GeocodeResult(typed, GeocodeStatus.NO_NUMBER)
        return typed, parsed, None

    @staticmethod
    def _exact(typed: str, rows: Sequence[Any]) -> GeocodeResult:
        first_house = rows[0].house_key
        return _result(typed, [_match(r, 1.0) for r in rows if r.house_key == first_house])

    def geocode(self, session: Session, typed: str) -> GeocodeResult:
        typed, parsed, early = self._before_lookup(typed)
        if early is not None:
            return early
        assert parsed.house is not None  # _before_lookup answered early otherwise
        houses = _house_variants(parsed.house)
        exact = session.execute(_ADDRESSES_OF, {"street": parsed.street, "houses": houses}).all()
        if exact:
            return self._exact(typed, exact)
        return self._inexact(session, typed, parsed)

    def geocode_many(self, session: Session, typed: Sequence[str]) -> dict[str, GeocodeResult]:
        """Addresses typed right (most of them) are found together in one statement; the rest one by one."""
        results: dict[str, GeocodeResult] = {}
        lookups: dict[str, tuple[str, ParsedAddress]] = {}
        for original in dict.fromkeys(typed):
            clean, parsed, early = self._before_lookup(original)
            if early is not None:
                results[original] = early
            else:
                lookups[original] = (clean, parsed)
        if lookups:
            ns, streets, houses, ranks = [], [], [], []
            for n, (_clean, parsed) in enumerate(lookups.values()):
                assert parsed.house is not None  # _before_lookup answered early otherwise
                for rank, house in enumerate(_house_variants(parsed.house)):
                    ns.append(n)
                    streets.append(parsed.street)
                    houses.append(house)
                    ranks.append(rank)
            found: dict[int, list[Any]] = {}
            for row in session.execute(
                _ADDRESSES_OF_MANY, {"ns": ns, "streets": streets, "houses": houses, "ranks": ranks}
            ):
                found.setdefault(row.n, []).append(row)
            for n, (original, (clean, parsed)) in enumerate(lookups.items()):
                results[original] = (
                    self._exact(clean, found[n]) if n in found else self._inexact(session, clean, parsed)
                )
        return results

    def _inexact(self, session: Session, typed: str, parsed: ParsedAddress) -> GeocodeResult:
        assert parsed.house is not None  # only addresses with a number are looked up
        houses = _house_variants(parsed.house)
        streets = session.execute(_SIMILAR_STREETS, {"street": parsed.street}).all()
        if not streets:
            return GeocodeResult(typed, GeocodeStatus.NOT_FOUND)
        # Streets like the typed one that have this house number; the best of them, and any nearly as good.
        matches: list[AddressMatch] = []
        for s in streets:
            if s.score < MIN_SIMILARITY:
                continue
            rows = session.execute(_ADDRESSES_OF, {"street": s.street_key, "houses": houses}).all()
            matches += [_match(r, float(s.score)) for r in rows if r.house_key == rows[0].house_key]
        if matches:
            best = max(m.score for m in matches)
            close = sorted((m for m in matches if m.score >= best - SIMILARITY_MARGIN), key=lambda m: -m.score)
            if len(close) == 1 and close[0].score < SURE_SIMILARITY:
                return GeocodeResult(typed, GeocodeStatus.CHOOSE, close)
            return _result(typed, close)
        # The street is known but not the number: offer the nearest numbers on it.
        digits = re.match(r"\d+", parsed.house)
        assert digits is not None  # _HOUSE: a house number starts with digits
        number = int(digits.group())
        rows = session.execute(
            _NEAREST_NUMBERS, {"street": streets[0].street_key, "number": number, "limit": MAX_CANDIDATES}
        ).all()
        # Even a single nearest number is a question, not an answer: the resident must pick it.
        return GeocodeResult(typed, GeocodeStatus.CHOOSE, [_match(r, float(streets[0].score)) for r in rows])

    def suggest(self, session: Session, typed: str, limit: int = 8) -> list[AddressMatch]:
        parsed = parse_address((typed or "")[:200])
        key = f"{parsed.street} {parsed.house or ''}".strip()
        if len(key) < 3:
            return []
        rows = session.execute(_SUGGEST, {"key": key, "prefix": key.replace("%", "") + "%", "limit": limit}).all()
        return [_match(r, float(r.score)) for r in rows]
