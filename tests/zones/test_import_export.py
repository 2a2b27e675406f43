"""Import and export of real boundary files: all or nothing, round trips, lookups at known places."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import shape

ROOT = Path(__file__).resolve().parents[2]

# Known places in Warsaw and the district each lies in.
WARSAW_PLACES = [
    ("Pałac Kultury i Nauki", 52.2318, 21.0060, "Śródmieście"),
    ("Zamek Królewski", 52.2480, 21.0152, "Śródmieście"),
    ("Pałac w Wilanowie", 52.1651, 21.0904, "Wilanów"),
    ("Stadion Narodowy", 52.2395, 21.0458, "Praga Południe"),
    ("Lotnisko Chopina", 52.1657, 20.9671, "Włochy"),
    ("Ratusz Ursusa", 52.1956, 20.8836, "Ursus"),
]


def flask(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def with_holes(path: Path, count: int = 6) -> dict:
    """Real Poznań osiedla, each with a hole punched round a point inside it (a lake, a closed area)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    features = []
    for f in data["features"]:
        geom = shape(f["geometry"])
        if not geom.is_valid:
            continue
        inner = geom.representative_point().buffer(0.002, quad_segs=4)
        if not geom.contains(inner):
            continue
        holed = geom.difference(inner)
        features.append(
            {
                "type": "Feature",
                "properties": {"name": f["properties"]["name"]},
                "geometry": json.loads(json.dumps(holed.__geo_interface__)),
            }
        )
        if len(features) == count:
            break
    assert len(features) == count
    return {"type": "FeatureCollection", "features": features}


def test_export_then_import_gives_back_the_same_zones_with_their_holes(api, db, poznan_osiedla_path):
    from sqlalchemy import text

    original = with_holes(poznan_osiedla_path)
    status, body = api.post("/api/v1/zones/import", original)
    assert status == 201, body
    assert body["imported"] == 6

    status, exported = api.get("/api/v1/zones.geojson")
    assert status == 200 and exported["type"] == "FeatureCollection"
    codes = {f["properties"]["name"]: f["properties"]["code"] for f in exported["features"]}

    # Another installation (an empty zone table) imports the exported file.
    db.execute(text("TRUNCATE zone RESTART IDENTITY CASCADE"))
    db.commit()
    status, body = api.post("/api/v1/zones/import", exported)
    assert status == 201, body
    again = {f["properties"]["name"]: f for f in api.get("/api/v1/zones.geojson")[1]["features"]}
    assert set(again) == {f["properties"]["name"] for f in original["features"]}
    for f in original["features"]:
        name = f["properties"]["name"]
        before, after = shape(f["geometry"]), shape(again[name]["geometry"])
        assert len(next(iter(after.geoms)).interiors) >= 1, name
        assert before.symmetric_difference(after).area < 1e-10, name
        assert again[name]["properties"]["code"] == codes[name]


def test_the_real_poznan_file_imports_with_repair_and_reports_what_changed(api, poznan_osiedla_path):
    raw = poznan_osiedla_path.read_bytes()
    status, body = api.call("POST", "/api/v1/zones/import", raw=raw)
    assert status == 422
    assert "Stare Winogrady" in body["error"]["message"] and "Self-intersection" in body["error"]["message"]
    assert api.get("/api/v1/zones")[1]["features"] == []

    status, body = api.call("POST", "/api/v1/zones/import?repair=true", raw=raw)
    assert status == 201, body
    assert body["imported"] == 42
    repaired = {z["name"]: z["repairs"] for z in body["zones"] if z["repairs"]}
    assert list(repaired) == ["Stare Winogrady"]
    assert "Self-intersection at longitude" in repaired["Stare Winogrady"][0]


def test_warsaw_districts_import_from_the_cli_and_points_find_their_district(api, tmp_path):
    source = ROOT.parent / "shared" / "data" / "warszawa_dzielnice.geojson"
    if not source.exists():
        pytest.fail(f"reference data {source} is missing", pytrace=False)
    result = flask("zones", "import", str(source), "--name-property", "name", "--skip", "Warszawa")
    assert result.returncode == 0, result.stderr
    assert "imported 18 zones" in result.stdout and "1 skipped" in result.stdout
    assert "importing 19 features" in result.stderr  # the progress bar

    features = api.get("/api/v1/zones")[1]["features"]
    assert len(features) == 18
    assert "Warszawa" not in {f["properties"]["name"] for f in features}
    assert {"SRODMIESCIE", "ZOLIBORZ", "PRAGAPOLNOC"} <= {f["properties"]["code"] for f in features}
    for place, lat, lon, district in WARSAW_PLACES:
        zones = api.get(f"/api/v1/zones/lookup?lat={lat}&lon={lon}")[1]["zones"]
        assert [z["name"] for z in zones] == [district], place
    assert api.get("/api/v1/zones/lookup?lat=50.0614&lon=19.9372")[1]["zones"] == []  # Kraków


def test_a_refused_feature_is_named_and_nothing_is_imported(api, warsaw_districts):
    broken = json.loads(json.dumps(warsaw_districts))
    broken["features"][5]["geometry"]["coordinates"][0][0] = broken["features"][5]["geometry"]["coordinates"][0][0][:3]
    name = broken["features"][5]["properties"]["name"]
    status, body = api.post("/api/v1/zones/import", broken)
    assert status == 422
    assert f"feature 6 ('{name}')" in body["error"]["message"] and "at least 4" in body["error"]["message"]
    assert api.get("/api/v1/zones")[1]["features"] == []


def test_the_cli_refuses_a_file_that_is_not_utf8_geojson(settings, tmp_path):
    latin2 = tmp_path / "strefy.geojson"
    latin2.write_bytes('{"type": "FeatureCollection", "features": [{"name": "Łazarz"}]}'.encode("iso-8859-2"))
    result = flask("zones", "import", str(latin2))
    assert result.returncode != 0 and "not UTF-8" in result.stderr
    not_json = tmp_path / "strefy.txt"
    not_json.write_text("name;geometry\n", encoding="utf-8")
    result = flask("zones", "import", str(not_json))
    assert result.returncode != 0 and "not JSON" in result.stderr
