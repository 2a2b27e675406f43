"""Reading official warnings: CAP 1.2 documents, and the Atom/RSS feeds that list or embed them (MeteoAlarm style).

Everything here is pure (bytes in, values out) and refuses what must never be processed:
- XML is parsed with entity expansion and network access off, and any document type declaration is refused
  outright (a CAP document never needs one): the billion-laughs and external-entity (XXE) attacks live there;
- every alert is validated against the OASIS CAP 1.2 schema (feeds/CAP-v1.2.xsd, the official file);
- an area of more points than `[feeds] max_points` is refused before a geometry is built from it.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import shapely
from lxml import etree
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from feeds.exceptions import AreaTooComplex, EntityExpansion, ExternalEntity, NotCap, NotXml

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
XSD = Path(__file__).parent / "CAP-v1.2.xsd"
KM_PER_DEGREE = 111.32

# No entity is ever expanded, nothing is fetched, no DTD is loaded; comments and processing instructions go.
_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(**_PARSER_OPTIONS)  # type: ignore[arg-type]  # lxml's stubs list each keyword


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The CAP 1.2 schema, read once per process (it is parsed from our own file, never the network)."""
    return etree.XMLSchema(etree.parse(str(XSD), _parser()))


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ELEMENT = re.compile(rb"<[A-Za-z_]")


def _refuse_doctype(raw: bytes) -> None:
    """A document type declaration in the prolog is refused before the parser sees it: libxml2 would begin to
    expand a billion-laughs DTD (it stops at its amplification limit, but only as a parse error)."""
    found = _DOCTYPE.search(raw, 0, 64 * 1024)
    if found is None or _ELEMENT.search(raw, 0, found.start()):
        return
    end = raw.find(b">", raw.find(b"]", found.start()))  # an internal subset ends with "]>"; a plain one with ">"
    declaration = raw[found.start() : end if end > found.start() else found.start() + 4096]
    if b"SYSTEM" in declaration or b"PUBLIC" in declaration:
        raise ExternalEntity("refused: the document declares an external entity or DTD (XXE)")
    if b"<!ENTITY" in declaration:
        raise EntityExpansion("refused: the document declares entities (a billion-laughs expansion)")
    raise NotCap("refused: a document type declaration (CAP documents have none)")


def parse_xml(raw: bytes) -> etree._Element:
    """The document's root, or the reason it is refused (NotXml, EntityExpansion, ExternalEntity)."""
    _refuse_doctype(raw)
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as e:
        raise NotXml(f"not XML: {e.msg or e}") from None
    except ValueError as e:  # e.g. a str with an encoding declaration; bytes are expected
        raise NotXml(f"not XML: {e}") from None
    if root is None:
        raise NotXml("not XML: an empty document")
    # A second net behind _refuse_doctype (a declaration it could not see, e.g. in UTF-16): whatever the parser
    # found of one. getattr: lxml-stubs leave these DocInfo attributes out.
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or getattr(docinfo, "doctype", None) or getattr(docinfo, "system_url", None):
        raise NotCap("refused: a document type declaration (CAP documents have none)")
    return root


@dataclass(frozen=True)
class Area:
    desc: str
    polygons: tuple[str, ...] = ()  # as written: "lat,lon lat,lon ..."
    circles: tuple[str, ...] = ()  # "lat,lon radius_km"
    geocodes: tuple[tuple[str, str], ...] = ()  # (valueName, value)


@dataclass(frozen=True)
class Info:
    language: str
    event: str
    category: str | None = None
    severity: str | None = None
    urgency: str | None = None
    certainty: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True)
class CapAlert:
    identifier: str
    sender: str
    sent: datetime
    sent_text: str  # as written: what a CAP <references> to this alert must repeat exactly
    status: str
    msg_type: str
    references: tuple[tuple[str, str, str], ...]  # (sender, identifier, sent) of each alert referred to
    infos: tuple[Info, ...]
    raw: str = field(repr=False)

    def info(self) -> Info | None:
        """The block drafts are written from: Polish when there is one, else the first."""
        for info in self.infos:
            if info.language.lower().startswith("pl"):
                return info
        return self.infos[0] if self.infos else None

    def areas(self) -> tuple[Area, ...]:
        """The chosen block's areas, or (when it has none) every block's."""
        chosen = self.info()
        if chosen is not None and chosen.areas:
            return chosen.areas
        return tuple(area for info in self.infos for area in info.areas)

    @property
    def references_text(self) -> str | None:
        return " ".join(",".join(r) for r in self.references) or None


def _text(parent: etree._Element, name: str) -> str | None:
    found = parent.find(f"{{{CAP_NS}}}{name}")
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def _time(parent: etree._Element, name: str) -> datetime | None:
    value = _text(parent, name)
    return datetime.fromisoformat(value) if value else None  # the schema checked the form, offset included


def _references(value: str | None) -> tuple[tuple[str, str, str], ...]:
    out = []
    for token in (value or "").split():
        parts = token.split(",")
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
    return tuple(out)


def read_alert(element: etree._Element) -> CapAlert:
    """An <alert> element (a whole document's root, or one embedded in a feed entry) checked against the CAP 1.2
    schema, as values. NotCap when it fails the schema."""
    document = copy.deepcopy(element)  # an embedded alert is validated as a document of its own
    validator = schema()
    if not validator.validate(etree.ElementTree(document)):
        error = getattr(validator.error_log, "last_error", None)  # lxml-stubs leave last_error out
        where = f" (line {error.line})" if error is not None and error.line else ""
        message = error.message if error is not None else "invalid"
        raise NotCap(f"not a valid CAP 1.2 alert{where}: {message}")
    infos = []
    for info in document.findall(f"{{{CAP_NS}}}info"):
        areas = []
        for area in info.findall(f"{{{CAP_NS}}}area"):
            areas.append(
                Area(
                    desc=_text(area, "areaDesc") or "",
                    polygons=tuple(p.text or "" for p in area.findall(f"{{{CAP_NS}}}polygon")),
                    circles=tuple(" ".join((c.text or "").split()) for c in area.findall(f"{{{CAP_NS}}}circle")),
                    geocodes=tuple(
                        (_text(g, "valueName") or "", _text(g, "value") or "")
                        for g in area.findall(f"{{{CAP_NS}}}geocode")
                    ),
                )
            )
        infos.append(
            Info(
                language=_text(info, "language") or "en-US",
                event=_text(info, "event") or "",
                category=_text(info, "category"),
                severity=_text(info, "severity"),
                urgency=_text(info, "urgency"),
                certainty=_text(info, "certainty"),
                headline=_text(info, "headline"),
                description=_text(info, "description"),
                instruction=_text(info, "instruction"),
                onset=_time(info, "onset") or _time(info, "effective"),
                expires=_time(info, "expires"),
                areas=tuple(areas),
            )
        )
    sent = _time(document, "sent")
    assert sent is not None  # the schema requires it
    return CapAlert(
        identifier=_text(document, "identifier") or "",
        sender=_text(document, "sender") or "",
        sent=sent,
        sent_text=_text(document, "sent") or "",
        status=_text(document, "status") or "",
        msg_type=_text(document, "msgType") or "",
        references=_references(_text(document, "references")),
        infos=tuple(infos),
        raw=etree.tostring(document, encoding="unicode"),
    )


@dataclass(frozen=True)
class Entry:
    """One item of a feed: an embedded alert, or the address of its CAP document (with its identifier when the
    feed names it, so that a document already read need not be fetched again)."""

    alert: etree._Element | None = None
    url: str | None = None
    identifier: str | None = None


def read_document(root: etree._Element, max_entries: int) -> list[Entry]:
    """A CAP alert (one entry), or an Atom / RSS feed's entries. NotCap when it is neither."""
    tag = etree.QName(root)
    if tag.namespace == CAP_NS and tag.localname == "alert":
        return [Entry(alert=root)]
    if tag.localname == "alert":
        raise NotCap(f"not CAP 1.2: an <alert> in the namespace {tag.namespace!r}")
    if tag.namespace == ATOM_NS and tag.localname == "feed":
        items = root.findall(f"{{{ATOM_NS}}}entry")
    elif tag.namespace is None and tag.localname == "rss":
        items = root.findall("channel/item")
    else:
        raise NotCap(f"neither a CAP alert nor an Atom/RSS feed: <{tag.localname}>")
    entries = []
    for item in items[:max_entries]:
        embedded = item.find(f".//{{{CAP_NS}}}alert")
        if embedded is not None:
            entries.append(Entry(alert=embedded))
            continue
        url = _entry_link(item)
        if url:
            known = item.find(f"{{{CAP_NS}}}identifier")
            identifier = " ".join(known.text.split()) if known is not None and known.text else None
            entries.append(Entry(url=url, identifier=identifier))
    return entries


def _entry_link(item: etree._Element) -> str | None:
    links = item.findall(f"{{{ATOM_NS}}}link")
    if links:
        cap = [link for link in links if "cap" in (link.get("type") or "")]
        href = (cap or links)[0].get("href")
        return href.strip() if href else None
    link = item.find("link")
    return link.text.strip() if link is not None and link.text else None


# ------------------------------------------------------------------------------------------------ areas
def count_points(alert: CapAlert) -> int:
    return sum(len(p.split()) for area in alert.areas() for p in area.polygons)


def _pair(token: str) -> tuple[float, float]:
    lat_text, _, lon_text = token.partition(",")
    lat, lon = float(lat_text), float(lon_text)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
        raise ValueError(token)
    return lat, lon


def polygon(text: str) -> BaseGeometry:
    """A CAP polygon ("lat,lon" pairs, first = last) as a shapely polygon in lon/lat; repaired when it crosses
    itself (real boundaries do)."""
    try:
        points = [_pair(token) for token in text.split()]
    except ValueError as e:
        raise NotCap(f"a polygon point is not a latitude,longitude pair: {str(e)[:40]!r}") from None
    if len(points) < 4:
        raise NotCap("a polygon needs at least four points (the first repeated at the end)")
    shape = Polygon([(lon, lat) for lat, lon in points])
    return shape if shape.is_valid else shapely.make_valid(shape)


def circle(text: str) -> BaseGeometry:
    """A CAP circle ("lat,lon radius_km") as a polygon: a circle in kilometres, drawn on the sphere's local
    tangent plane (longitude degrees shrink with the latitude's cosine)."""
    try:
        centre, radius_text = text.split()
        lat, lon = _pair(centre)
        radius_km = float(radius_text)
    except ValueError:
        raise NotCap(f'a circle is not "latitude,longitude radius_km": {text[:60]!r}') from None
    if not 0 <= radius_km <= 2000 or math.isnan(radius_km):
        raise NotCap(f"a circle's radius is out of range: {radius_km} km")
    radius = max(radius_km, 0.001) / KM_PER_DEGREE
    disc = Point(lon, lat).buffer(radius, 32)
    return affinity.scale(disc, xfact=1 / max(math.cos(math.radians(lat)), 0.01), yfact=1, origin=(lon, lat))


def area_geometry(alert: CapAlert, max_points: int) -> MultiPolygon | None:
    """The union of the alert's polygons and circles (geocodes are resolved against the configuration by the
    caller); None when it has neither. AreaTooComplex before anything is built from too many points."""
    points = count_points(alert)
    if points > max_points:
        raise AreaTooComplex(
            f"refused: the area has {points:,} polygon points; at most {max_points:,} are read ([feeds] max_points)"
        )
    shapes: list[BaseGeometry] = []
    for area in alert.areas():
        shapes.extend(polygon(p) for p in area.polygons if p.strip())
        shapes.extend(circle(c) for c in area.circles if c.strip())
    if not shapes:
        return None
    union = shapely.union_all(shapes)
    polygons = [g for g in getattr(union, "geoms", [union]) if isinstance(g, Polygon) and not g.is_empty]
    polygons += [p for g in getattr(union, "geoms", []) if isinstance(g, MultiPolygon) for p in g.geoms]
    return MultiPolygon(polygons) if polygons else None


def geocode_keys(alert: CapAlert) -> list[str]:
    """The alert's geocodes as the configuration names them: "valueName:value"."""
    return [f"{name}:{value}" for area in alert.areas() for name, value in area.geocodes]
