"""The OpenAPI 3 description of /api/v1."""
from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": {"description": "Malformed JSON", **_json(_ref("Error"))},
    "401": {"description": "No or invalid bearer token", **_json(_ref("Error"))},
    "403": {"description": "The token's role may not do this", **_json(_ref("Error"))},
    "422": {"description": "Invalid input (geometry, phone, zone ids…)", **_json(_ref("Error"))},
}


def _op(summary: str, ok: str, ok_schema: dict[str, Any], body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {ok: {"description": "OK", **_json(ok_schema)}, **_ERRORS,
                                                           **(extra or {})}}
    if body:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    return op


_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_NOT_FOUND = {"404": {"description": "Not found", **_json(_ref("Error"))}}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Syrena API", "version": "1",
                 "description": "Zone-targeted emergency SMS. Authenticate with `Authorization: Bearer <token>` "
                                "(`flask users token EMAIL`)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/zones": {
                "get": _op("List zones as GeoJSON with active subscriber counts", "200", _ref("FeatureCollection")),
                "post": _op("Create a zone from a GeoJSON Polygon/MultiPolygon (Feature or bare geometry)", "201",
                            _ref("Feature"), body=_ref("ZoneInput"),
                            params=[{"name": "repair", "in": "query", "schema": {"type": "boolean"},
                                     "description": "repair an invalid polygon instead of refusing it"}]),
            },
            "/api/v1/zones.geojson": {"get": _op("All zones as a GeoJSON FeatureCollection", "200",
                                                 _ref("FeatureCollection"))},
            "/api/v1/zones/{id}": {"get": _op("One zone", "200", _ref("Feature"), params=_ID, extra=_NOT_FOUND)},
            "/api/v1/subscribers": {
                "post": _op("Register a subscriber (admin/import path)", "201", _ref("Subscriber"),
                            body=_ref("SubscriberInput"),
                            extra={"409": {"description": "Already subscribed", **_json(_ref("Error"))}}),
            },
            "/api/v1/campaigns": {
                "get": _op("Latest campaigns", "200", {"type": "array", "items": _ref("Campaign")}),
                "post": _op("Create a draft campaign", "201", _ref("Campaign"), body=_ref("CampaignInput")),
            },
            "/api/v1/campaigns/{id}": {"get": _op("A campaign and its delivery counts", "200", _ref("Campaign"),
                                                  params=_ID, extra=_NOT_FOUND)},
            "/api/v1/campaigns/{id}/send": {
                "post": _op("Send: snapshot recipients and queue the messages", "202", _ref("Campaign"), params=_ID,
                            extra={**_NOT_FOUND, "409": {"description": "Not in a sendable state",
                                                          **_json(_ref("Error"))}}),
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}},
                "Geometry": {"type": "object", "required": ["type", "coordinates"],
                             "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                                            "coordinates": {"type": "array", "items": {}}}},
                "ZoneInput": {"type": "object", "description": "A GeoJSON Feature (name in properties.name) or a "
                              "bare geometry with a top-level name",
                              "properties": {"type": {"type": "string"}, "name": {"type": "string"},
                                             "sms_code": {"type": "string"},
                                             "properties": {"type": "object"}, "geometry": _ref("Geometry"),
                                             "coordinates": {"type": "array", "items": {}}}},
                "Feature": {"type": "object", "properties": {
                    "type": {"type": "string"}, "id": {"type": "integer"}, "geometry": _ref("Geometry"),
                    "properties": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "name": {"type": "string"}, "slug": {"type": "string"},
                        "sms_code": {"type": "string"}, "subscribers": {"type": "integer"}}}}},
                "FeatureCollection": {"type": "object", "properties": {
                    "type": {"type": "string"}, "features": {"type": "array", "items": _ref("Feature")}}},
                "Location": {"type": "object", "required": ["lat", "lon"], "properties": {
                    "lat": {"type": "number", "minimum": -90, "maximum": 90},
                    "lon": {"type": "number", "minimum": -180, "maximum": 180},
                    "label": {"type": "string", "maxLength": 40}, "address": {"type": "string"}}},
                "SubscriberInput": {"type": "object", "required": ["phone"], "properties": {
                    "phone": {"type": "string", "example": "+48601234567"},
                    "locations": {"type": "array", "items": _ref("Location"), "maxItems": 5},
                    "location": _ref("Location"), "verified": {"type": "boolean"},
                    "language": {"type": "string", "enum": ["pl", "en", "uk", "de"]}}},
                "Subscriber": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "phone": {"type": "string"}, "status": {"type": "string"},
                    "language": {"type": "string"}, "locations": {"type": "integer"}}},
                "CampaignInput": {"type": "object", "required": ["kind", "severity", "body", "zone_ids"], "properties": {
                    "kind": {"type": "string", "enum": ["alert", "info"]},
                    "severity": {"type": "string", "enum": ["extreme", "severe", "moderate", "minor"]},
                    "title": {"type": "string"}, "body": {"type": "string"},
                    "zone_ids": {"type": "array", "items": {"type": "integer"}}}},
                "Campaign": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "kind": {"type": "string"}, "severity": {"type": "string"},
                    "status": {"type": "string", "enum": ["draft", "pending_approval", "approved", "sending",
                                                          "completed", "cancelled"]},
                    "body": {"type": "string"}, "zone_ids": {"type": "array", "items": {"type": "integer"}},
                    "recipients": {"type": "integer", "nullable": True},
                    "encoding": {"type": "string"}, "parts_per_message": {"type": "integer"},
                    "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "cost": {"type": "string", "description": "decimal, in `currency`"},
                    "currency": {"type": "string"}}},
            },
        },
    }
