"""Reading CAP: the saved real alerts parse and validate; unsafe XML is refused before it is expanded; the event
names of MeteoAlarm and IMGW-PIB map to hazards; circles are kilometres."""

from __future__ import annotations

import pytest

from feeds import cap
from feeds.drafts import _EVENT_WORDS, HAZARDS, hazard_for
from feeds.exceptions import AreaTooComplex, EntityExpansion, ExternalEntity, NotCap, NotXml
from tests.feeds.conftest import cap_file


def _alert(name: str) -> cap.CapAlert:
    return cap.read_alert(cap.read_document(cap.parse_xml(cap_file(name)), 1)[0].alert)


def test_a_real_canadian_update_keeps_its_references_and_polygons():
    alert = _alert("eccc_thunder_bay_polygons.xml")
    assert alert.msg_type == "Update" and alert.sender == "cap-pac@canada.ca"
    assert alert.references == (
        ("cap-pac@canada.ca", "urn:oid:2.49.0.1.124.4119129247.2019", "2019-10-20T19:55:43-00:00"),
    )
    assert len(alert.areas()) == 3  # the English block's (the first: no Polish one)
    area = cap.area_geometry(alert, 10_000)
    assert area is not None and -91 < area.bounds[0] < area.bounds[2] < -87


def test_a_circle_is_its_radius_in_kilometres():
    area = cap.area_geometry(_alert("airnow_franklin_county_circle.xml"), 10_000)
    assert area is not None
    height_km = (area.bounds[3] - area.bounds[1]) * cap.KM_PER_DEGREE
    assert 1.9 < height_km < 2.1


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"not xml at all", NotXml),
        (b'<!DOCTYPE a [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><a>&b;</a>', EntityExpansion),
        (b'<!DOCTYPE a [<!ENTITY s SYSTEM "file:///etc/passwd">]><a>&s;</a>', ExternalEntity),
        (b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/x.dtd"><a/>', ExternalEntity),
        (b"<html/>", NotCap),
    ],
)
def test_unsafe_or_foreign_documents_are_refused(raw, error):
    with pytest.raises(error):
        cap.read_document(cap.parse_xml(raw), 10)


def test_too_many_points_are_refused_before_a_geometry_is_built():
    alert = _alert("eccc_thunder_bay_polygons.xml")
    with pytest.raises(AreaTooComplex, match="max_points"):
        cap.area_geometry(alert, 20)


@pytest.mark.parametrize(
    ("event", "hazard"),
    [
        ("Burze", "storm"),
        ("Silny wiatr", "storm"),
        ("Upał", "heat"),
        ("Przymrozki", "frost"),
        ("Roztopy", "flood"),
        ("Intensywne opady deszczu", "flood"),
        ("Wezbranie z przekroczeniem stanów ostrzegawczych", "flood"),
        ("Wind", "storm"),
        ("Thunderstorm", "storm"),
        ("Flooding", "flood"),
        ("Extreme high temperature", "heat"),
        ("Low temperature", "frost"),
        ("Child Abduction", "missing"),
        ("Something else", None),
    ],
)
def test_event_names_map_to_hazards(event, hazard):
    assert hazard_for(event) == hazard


def test_every_mapped_event_names_a_shipped_hazard():
    assert set(_EVENT_WORDS.values()) <= set(HAZARDS)
