"""OASIS CAP 1.2: a campaign as a Common Alerting Protocol message.

One <info> per language (Polish first), one <area> per target: each zone (its outer rings as <polygon>s),
each drawn polygon or line buffer (<polygon>), each circle (<circle>). CAP writes points as "lat,lon" —
the reverse of GeoJSON's [lon, lat]. Updates and all-clears are msgType Update / Cancel and reference the
original as "sender,identifier,sent".
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy.orm import Session

from campaigns import exercises, targeting
from campaigns.models import Campaign
from syrena_core.config import CampaignSettings
from syrena_core.localtime import as_utc
from syrena_core.text import xml_safe

NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_LANGUAGES = {"pl": "pl-PL", "en": "en-GB", "uk": "uk-UA", "de": "de-DE"}
SENT_STATUSES = ("sending", "paused", "completed", "cancelled")


def cap_time(moment: datetime) -> str:
    """CAP 1.2 §3.3.2's dateTime form: seconds, no fraction, an explicit offset, and UTC written "-00:00"
    ("2002-05-24T16:49:00-07:00"; never "Z", never "+00:00"). A naive time is UTC."""
    return f"{as_utc(moment):%Y-%m-%dT%H:%M:%S}-00:00"


def identifier(campaign: Campaign, settings: CampaignSettings) -> str:
    domain = settings.cap_sender.split("@")[-1]
    return f"{domain}.campaign.{campaign.id}"


def sent_time(campaign: Campaign) -> datetime:
    return campaign.sent_at or campaign.created_at


def _ring(coords) -> str:
    return " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat, *_ in coords)


def _polygons(geom) -> list[str]:
    parts = geom.geoms if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []
    return [_ring(p.exterior.coords) for p in parts]


def _add(parent, name: str, value: str | None):
    if value is None or value == "":
        return None
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    element.text = xml_safe(value)  # stored text never makes the public CAP fail
    return element


def _areas(session: Session, campaign: Campaign) -> list[tuple[str, list[str], list[str]]]:
    """(description, polygons, circles) per target."""
    out: list[tuple[str, list[str], list[str]]] = []
    for _, name, geom in targeting.target_zones(campaign):  # the frozen copy: what was approved and sent
        out.append((name, _polygons(geom), []))
    for n, spec in enumerate(campaign.area_spec or [], start=1):
        if spec["type"] == "circle":
            radius_km = spec["radius_m"] / 1000
            out.append((f"Okrąg {spec['radius_m']:g} m", [], [f"{spec['lat']:.6f},{spec['lon']:.6f} {radius_km:g}"]))
        elif spec["type"] == "line":
            out.append(
                (f"Pas {spec['buffer_m']:g} m wzdłuż linii", _polygons(targeting.spec_geometry(session, spec)), [])
            )
        else:
            out.append((f"Obszar {n}", _polygons(targeting.spec_geometry(session, spec)), []))
    return out


def build_cap(session: Session, campaign: Campaign, settings: CampaignSettings) -> bytes:
    original = campaign.reference
    root = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})  # type: ignore[dict-item]  # None: lxml's key for the default namespace, which its stubs leave out
    _add(root, "identifier", identifier(campaign, settings))
    _add(root, "sender", settings.cap_sender)
    _add(root, "sent", cap_time(sent_time(campaign)))
    if exercises.is_exercise(campaign):  # an exercise or test says so from its first draft on
        _add(root, "status", campaign.cap_status.capitalize())
    else:
        _add(root, "status", "Actual" if campaign.status in SENT_STATUSES else "Draft")
    _add(root, "msgType", campaign.msg_type)
    _add(root, "scope", "Public")
    references = []
    if exercises.is_exercise(campaign):  # CAP 1.2: <note> says what an exercise or test is for
        _add(root, "note", exercises.prefix(campaign.cap_status, "en"))
    if original is not None:
        references.append(f"{settings.cap_sender},{identifier(original, settings)},{cap_time(sent_time(original))}")
    if campaign.source_reference:  # made from an official warning (feeds): "sender,identifier,sent" as it came
        references.append(campaign.source_reference)
    _add(root, "references", " ".join(references) or None)
    areas = _areas(session, campaign)
    texts = {"pl": campaign.body, **(campaign.variants or {})}
    # A campaign made from a hazard template keeps its CAP response type and instruction (not campaign fields).
    template_cap = campaign.template_version.cap if campaign.template_version is not None else {}
    for language, body in texts.items():
        info = etree.SubElement(root, f"{{{NS}}}info")
        _add(info, "language", CAP_LANGUAGES.get(language, language))
        _add(info, "category", campaign.category)
        _add(
            info,
            "event",
            campaign.event
            or campaign.title
            or ("Odwołanie alarmu" if campaign.msg_type == "Cancel" else "Ostrzeżenie"),
        )
        if campaign.msg_type == "Cancel":
            _add(info, "responseType", "AllClear")
        elif template_cap.get("response_type") not in (None, "None"):  # issue 16: the hazard template's advice
            _add(info, "responseType", template_cap["response_type"])
        _add(info, "urgency", campaign.urgency.capitalize())
        _add(info, "severity", campaign.severity.capitalize())
        _add(info, "certainty", campaign.certainty.capitalize())
        if campaign.expires_at:
            _add(info, "expires", cap_time(campaign.expires_at))
        _add(info, "senderName", "Syrena")
        _add(info, "headline", (campaign.title or body)[:160])
        _add(info, "description", body)
        if language == "pl":
            _add(info, "instruction", template_cap.get("instruction"))  # written in Polish
        for description, polygons, circles in areas:
            area = etree.SubElement(info, f"{{{NS}}}area")
            _add(area, "areaDesc", description)
            for polygon in polygons:
                _add(area, "polygon", polygon)
            for circle in circles:
                _add(area, "circle", circle)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
