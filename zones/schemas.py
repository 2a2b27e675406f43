"""The zone API's bodies, declared once: app/api/zones.py generates the OpenAPI document's schemas from them
(app/openapi.py), and schemathesis checks every answer against them. zones.service still checks what is sent by
hand (a Feature or a bare geometry, the code derived from the name, the geometry repaired): these models declare
the shape, with the limits taken from the service.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from zones.service import COLOUR_PATTERN, MAX_CODE, MAX_NAME


# ------------------------------------------------------------------------------------------- requests
# A default of None leaves a field out of "required" without making it nullable (a null is refused): hence each
# `# type: ignore[assignment]`.
class Geometry(BaseModel):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any]


class ZoneProperties(BaseModel):
    name: str = Field(None, max_length=MAX_NAME)  # type: ignore[assignment]
    code: str = Field(  # type: ignore[assignment]
        None,
        pattern=f"^[A-Za-z0-9]{{1,{MAX_CODE}}}$",
        description="SMS code residents text (upper-cased); derived from the name when left out",
    )
    colour: str = Field(None, pattern=COLOUR_PATTERN.pattern)  # type: ignore[assignment]
    description: str = None  # type: ignore[assignment]


class ZoneInput(BaseModel):
    """A GeoJSON Feature (fields in properties) or a bare geometry with the fields at the top level"""

    type: str = None  # type: ignore[assignment]
    properties: ZoneProperties = None  # type: ignore[assignment]
    geometry: Geometry = None  # type: ignore[assignment]
    coordinates: list[Any] = None  # type: ignore[assignment]


# ------------------------------------------------------------------------------------------- answers
class FeatureProperties(BaseModel):
    id: int = None  # type: ignore[assignment]
    name: str = None  # type: ignore[assignment]
    slug: str = None  # type: ignore[assignment]
    # null when not given / not yet changed / live (the stateful schemathesis run found them null)
    code: str | None = None
    colour: str | None = None
    description: str | None = None
    created_at: str = None  # type: ignore[assignment]
    updated_at: str | None = None
    archived_at: str | None = None
    subscribers: int = None  # type: ignore[assignment]


class Feature(BaseModel):
    type: str = None  # type: ignore[assignment]
    id: int = None  # type: ignore[assignment]
    geometry: Geometry = None  # type: ignore[assignment]
    repairs: list[str] = None  # type: ignore[assignment]
    properties: FeatureProperties = None  # type: ignore[assignment]


class FeatureCollection(BaseModel):
    type: str = None  # type: ignore[assignment]
    features: list[Feature] = None  # type: ignore[assignment]


class ImportResult(BaseModel):
    imported: int = None  # type: ignore[assignment]
    skipped: int = None  # type: ignore[assignment]
    zones: list[dict[str, Any]] = None  # type: ignore[assignment]


class LookupZone(BaseModel):
    id: int = None  # type: ignore[assignment]
    name: str = None  # type: ignore[assignment]
    code: str = None  # type: ignore[assignment]
    colour: str = None  # type: ignore[assignment]


class Lookup(BaseModel):
    lat: float = None  # type: ignore[assignment]
    lon: float = None  # type: ignore[assignment]
    zones: list[LookupZone] = None  # type: ignore[assignment]


class Preview(BaseModel):
    subscribers: int = None  # type: ignore[assignment]
    area_km2: float = None  # type: ignore[assignment]
    repairs: list[str] = None  # type: ignore[assignment]
