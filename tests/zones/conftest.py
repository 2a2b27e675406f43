"""Zones tests: real reference boundaries from ../shared/data beside the checkout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared_file(name: str) -> Path:
    path = (SHARED_DATA / name).resolve()
    if not path.exists():
        pytest.fail(
            f"reference data {path} is missing: the zones tests expect ../shared/data beside the checkout "
            f"(poznan_osiedla.geojson, warszawa_dzielnice.geojson, poznan_adresy_punkty.csv)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def warsaw_districts() -> dict:
    """Warsaw's 18 districts, without the 19th feature that outlines the whole city."""
    data = json.loads(shared_file("warszawa_dzielnice.geojson").read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["name"] != "Warszawa"]
    return data


@pytest.fixture(scope="session")
def poznan_osiedla_path() -> Path:
    return shared_file("poznan_osiedla.geojson")


# ------------------------------------------------------------------ the map page wants a wide window
@pytest.fixture
def page(new_context):
    """A Polish crisis-room browser with no Internet (tests/conftest.py's new_context), wider than the default."""
    return new_context(viewport={"width": 1400, "height": 950}).new_page()
