"""The address gazetteer on the real Poznań addresses: import, normalisation, typo-tolerant search."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from subscribers.gazetteer import (
    GeocodeStatus,
    LocalGazetteer,
    house_key,
    parse_address,
    street_key,
)
from tests.subscribers.conftest import ROOT


@pytest.mark.parametrize(
    "typed, street, house",
    [
        ("ul. Głogowska 10", "glogowska", "10"),
        ("GLOGOWSKA 10/2", "glogowska", "10/2"),
        ("al. Niepodległości 10 a", "niepodleglosci", "10a"),
        ("os. Piastowskie 5, 61-111 Poznań", "piastowskie", "5"),
        ("Św. Marcin 24", "marcin", "24"),
        ("Święty Marcin 24", "marcin", "24"),
        ("pl. Andersa 7", "andersa", "7"),
        ("Głogowska", "glogowska", None),
    ],
)
def test_typed_addresses_are_normalised(typed, street, house):
    assert parse_address(typed) == type(parse_address(typed))(street, house)


def test_stored_keys_fold_case_accents_and_prefixes():
    assert street_key("ul. Mielżyńskiego") == "mielzynskiego"
    assert house_key(" 38 A ") == "38a"


def test_the_real_addresses_import_through_the_cli(settings, db, poznan_addresses_file):
    result = subprocess.run(
        [sys.executable, "-m", "flask", "addresses", "import", str(poznan_addresses_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "imported 1186 addresses" in result.stdout
    assert db.execute(text("SELECT count(*) FROM address_point")).scalar() == 1186


def test_a_bad_row_imports_nothing_and_says_where(settings, db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("street,housenumber,lon,lat\nGłogowska,77,16.90,52.39\nKaliska,21,abc,52.40\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "addresses", "import", str(bad)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "line 3" in result.stderr and "nothing imported" in result.stderr
    assert db.execute(text("SELECT count(*) FROM address_point")).scalar() == 0


def test_register_coordinates_in_epsg_2180_are_transformed(settings, db, tmp_path):
    # Poznań's Old Market Square: x/y in the national PUWG 1992 grid.
    register = tmp_path / "prg.csv"
    register.write_text(
        "street,housenumber,postcode,city,x,y\nStary Rynek,1,61-772,Poznań,359560,507080\n", encoding="utf-8"
    )
    subprocess.run(
        [sys.executable, "-m", "flask", "addresses", "import", str(register)], cwd=ROOT, check=True, capture_output=True
    )
    lon, lat = db.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM address_point")).one()
    assert 16.90 < lon < 16.97 and 52.38 < lat < 52.43


def test_geojson_points_import(settings, db, tmp_path):
    points = tmp_path / "points.geojson"
    points.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"street": "Półwiejska", "housenumber": "2", "city": "Poznań"},
                        "geometry": {"type": "Point", "coordinates": [16.9301, 52.4012]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "flask", "addresses", "import", str(points)], cwd=ROOT, check=True, capture_output=True
    )
    match = LocalGazetteer().geocode(db, "Polwiejska 2").found
    assert match and match.label == "Półwiejska 2, Poznań"


@pytest.mark.parametrize(
    "typed", ["ul. Głogowska 77", "glogowska 77", "GŁOGOWSKA 77", "Glogowksa 77", "Głogowskaa 77", "ul.Głogowska 77"]
)
def test_an_address_is_found_despite_case_diacritics_and_one_typo(gazetteer, db, typed):
    result = LocalGazetteer().geocode(db, typed)
    assert result.status == GeocodeStatus.FOUND
    assert result.found.label == "Głogowska 77, Poznań"
    assert abs(result.found.lat - 52.395) < 0.002 and abs(result.found.lon - 16.900) < 0.002


def test_spelling_variants_of_a_street_meet(gazetteer, db):
    assert LocalGazetteer().geocode(db, "Swiety Marcin 24").found.label == "Św. Marcin 24, Poznań"
    assert LocalGazetteer().geocode(db, "Świętego Marcina 24").matches[0].label == "Św. Marcin 24, Poznań"
    assert LocalGazetteer().geocode(db, "Zwierzyniecka 14/16").found.label == "Zwierzyniecka 14/16, Poznań"


def test_a_flat_number_is_ignored_when_the_house_is_known(gazetteer, db):
    assert LocalGazetteer().geocode(db, "Głogowska 77/12").found.label == "Głogowska 77, Poznań"


def test_an_unknown_house_number_offers_up_to_three_neighbours(gazetteer, db):
    result = LocalGazetteer().geocode(db, "Głogowska 78")
    assert result.status == GeocodeStatus.CHOOSE
    assert 1 <= len(result.matches) <= 3
    assert all(m.label.startswith("Głogowska ") for m in result.matches)


def test_two_similar_streets_make_an_ambiguous_address(settings, db):
    from subscribers.gazetteer import AddressRow, import_address_points

    import_address_points(
        db,
        [
            AddressRow("Polna", "5", None, "Poznań", 16.91, 52.39, 4326),
            AddressRow("Polne", "5", None, "Luboń", 16.95, 52.39, 4326),
            AddressRow("Kaliska", "5", None, "Poznań", 16.92, 52.41, 4326),
        ],
    )
    result = LocalGazetteer().geocode(db, "Poln 5")
    assert result.status == GeocodeStatus.CHOOSE
    assert {m.label for m in result.matches} == {"Polna 5, Poznań", "Polne 5, Luboń"}


def test_nonsense_and_missing_numbers_are_told_apart(gazetteer, db):
    assert LocalGazetteer().geocode(db, "Qwzx Vbnm 5").status == GeocodeStatus.NOT_FOUND
    assert LocalGazetteer().geocode(db, "Głogowska").status == GeocodeStatus.NO_NUMBER
    assert LocalGazetteer().geocode(db, "").status == GeocodeStatus.NOT_FOUND


def test_autocomplete_suggests_addresses_of_the_street(gazetteer, db):
    labels = [m.label for m in LocalGazetteer().suggest(db, "glogowska 7")]
    assert labels and all(label.startswith("Głogowska") for label in labels)
