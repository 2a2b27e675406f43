"""The OpenAPI 3 description of /api/v1: shared pieces here, each API module describes its own paths.

Request and answer bodies are pydantic models declared beside the domain rules they carry (e.g.
campaigns/schemas.py, which campaigns.service checks every draft against); `components` turns them into this
document's schemas, so a field's type, choices and limits are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {"content": {media_type: {"schema": schema}}}


ERRORS = {
    "400": {"description": "Malformed JSON", **json_content(ref("Error"))},
    "401": {"description": "No or invalid bearer token", **json_content(ref("Error"))},
    "403": {"description": "The token's role may not do this", **json_content(ref("Error"))},
    "422": {"description": "Invalid input", **json_content(ref("Error"))},
    "429": {
        "description": "Too many requests (this token's limit, or a user's area previews)",
        **json_content(ref("Error")),
    },
}
ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
NOT_FOUND = {"404": {"description": "Not found", **json_content(ref("Error"))}}


def links(
    operation: dict[str, Any], status: str, path: str, methods: Sequence[str], value: str = "$response.body#/id"
) -> dict[str, Any]:
    """OpenAPI links from `operation`'s `status` answer to each method of `path` with its `{id}` taken from the
    answer (what lets schemathesis chain create → get/patch/delete with a real id: tests/security)."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    noun = [part for part in path.split("/") if part and not part.startswith("{")][-1]
    operation["responses"][status].setdefault("links", {}).update(
        {
            f"{m.lower()}_{noun}": {"operationRef": f"#/paths/{pointer}/{m.lower()}", "parameters": {"id": value}}
            for m in methods
        }
    )
    return operation


def _openapi_30(schema: Any) -> Any:
    """pydantic's JSON Schema (2020-12) as OpenAPI 3.0.3 has it: `nullable` instead of a null type, `enum` for
    `const`, no generated titles, no null defaults; references named with syrena_core.schemas.ref."""
    if isinstance(schema, list):
        return [_openapi_30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: _openapi_30(value)
        if key not in ("properties", "$defs")
        else {name: _openapi_30(item) for name, item in value.items()}
        for key, value in schema.items()
        if not (key == "title" and isinstance(value, str)) and not (key == "default" and value is None)
    }
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    if "x-model" in out:  # syrena_core.schemas.ref
        out = {"$ref": REF.format(model=out.pop("x-model")), **out}
    if "const" in out:
        out["enum"] = [out.pop("const")]
    return out


def components(*models: type[BaseModel]) -> dict[str, Any]:
    """The schemas of `models` (and of the models they hold), named as the models are, for `components`."""
    _, document = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    return {name: _openapi_30(schema) for name, schema in document.get("$defs", {}).items()}


def conflict(description: str) -> dict[str, Any]:
    return {"409": {"description": description, **json_content(ref("Error"))}}


def op(
    summary: str,
    ok: str,
    ok_schema: dict[str, Any],
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    ok_media: str = "application/json",
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {ok: {"description": "OK", **json_content(ok_schema, ok_media)}, **ERRORS, **(extra or {})},
    }
    if body:
        operation["requestBody"] = {"required": True, **json_content(body)}
    if params:
        operation["parameters"] = params
    return operation


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        }
    },
}


def _tag(module: Any) -> str:
    """The group a module's operations are listed under on /api/docs: its OPENAPI_TAG, or its name."""
    return getattr(module, "OPENAPI_TAG", module.__name__.rsplit(".", 1)[-1])


def _tagged(item: dict[str, Any], tag: str) -> dict[str, Any]:
    return {
        method: {"tags": [tag], **operation} if method in HTTP_METHODS else operation
        for method, operation in item.items()
    }


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def document(modules: Sequence[Any]) -> dict[str, Any]:
    """The whole document from the API modules' OPENAPI_PATHS and OPENAPI_SCHEMAS (app.api.openapi_document)."""
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for module in modules:
        for name, schema in module.OPENAPI_SCHEMAS.items():
            # Generated schemas carry their models' names: two models of one name must not hide each other.
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two different OpenAPI schemas are named {name}: rename one of the models")
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Syrena API",
            "version": "1",
            "description": "Zone-targeted emergency SMS. Authenticate with `Authorization: Bearer <token>` "
            "(`flask users token EMAIL`).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {path: _tagged(item, _tag(m)) for m in modules for path, item in m.OPENAPI_PATHS.items()},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
    }
