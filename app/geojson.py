"""GeoJSON answers: every view that answers with a GeoJSON document (a Feature or a FeatureCollection) goes
through `geojson_response`, served as RFC 7946's media type. The documents themselves are written by
zones.geometry.to_geojson, which orients rings as the RFC says."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app

GEOJSON = "application/geo+json"


def geojson_response(document: dict[str, Any], status: int = 200) -> Response:
    response = current_app.json.response(document)
    response.mimetype = GEOJSON
    response.status_code = status
    return response


__all__ = ["GEOJSON", "geojson_response"]
