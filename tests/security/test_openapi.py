"""No 500 from input: the OpenAPI document covers every API route, and a property-based fuzz run
(schemathesis) against it finds no server error and no response that breaks the documented schema."""
from __future__ import annotations

import os
import re

import pytest


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", path))


def test_the_openapi_document_describes_every_api_route_and_method(app, api):
    status, doc = api.get("/api/v1/openapi.json")
    assert status == 200
    documented = {(_shape(p), m.upper()) for p, item in doc["paths"].items() for m in item
                  if m in ("get", "post", "put", "patch", "delete")}
    routed = {(_shape(rule.rule), method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"} if rule.rule != "/api/v1/openapi.json"}
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented operations that do not exist"


# ------------------------------------------------------------------ the fuzz run
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, settings as hypothesis_settings  # noqa: E402
from schemathesis.checks import content_type_conformance, not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

# Examples per operation: enough to find crashes on odd input, bounded so `make test` stays quick
# (SYRENA_FUZZ_EXAMPLES=200 for a deeper run).
FUZZ_EXAMPLES = int(os.environ.get("SYRENA_FUZZ_EXAMPLES", "10"))


def _document():
    from app.openapi import openapi_document
    return openapi_document()


# The document the API serves (built by the same function as /api/v1/openapi.json; it needs no app context).
fuzz = schemathesis.openapi.from_dict(_document())


@fuzz.parametrize()
@hypothesis_settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                     phases=[Phase.explicit, Phase.generate],
                     suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_get_no_server_error_and_schema_valid_answers(case, live_server, api):
    """With an admin token (every route is reachable): no 500, and every answer matches its documented shape."""
    case.call_and_validate(base_url=live_server, headers={"Authorization": f"Bearer {api.token}"},
                           checks=[not_a_server_error, response_schema_conformance, content_type_conformance])
