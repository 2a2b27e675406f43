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

# Examples per operation, and stateful scenarios (create → get/patch/delete along the document's links):
# enough to find crashes on odd input, bounded so this file stays within about 3 minutes on a 2-core machine
# (SYRENA_FUZZ_EXAMPLES=200 SYRENA_FUZZ_SCENARIOS=200 for a deeper run).
FUZZ_EXAMPLES = int(os.environ.get("SYRENA_FUZZ_EXAMPLES", "40"))
FUZZ_SCENARIOS = int(os.environ.get("SYRENA_FUZZ_SCENARIOS", "40"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


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
    case.call_and_validate(base_url=live_server, headers={"Authorization": f"Bearer {api.token}"}, checks=CHECKS)


def test_the_document_links_create_to_get_patch_and_delete():
    """The links the stateful run follows: without them it would only ever see ids that do not exist."""
    doc = _document()
    for path, targets in (("/api/v1/campaigns", {"/api/v1/campaigns/{id}": {"get", "patch", "delete"}}),
                          ("/api/v1/zones", {"/api/v1/zones/{id}": {"get", "put", "delete"}})):
        found: dict[str, set[str]] = {}
        for link in doc["paths"][path]["post"]["responses"]["201"]["links"].values():
            target, method = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)
            assert link["parameters"] == {"id": "$response.body#/id"}
            found.setdefault(target.replace("~1", "/").replace("~0", "~"), set()).add(method)
            assert method in doc["paths"][target.replace("~1", "/").replace("~0", "~")]
        for target, methods in targets.items():
            assert methods <= found.get(target, set()), (path, found)


@pytest.mark.parametrize("resource", ["campaigns", "zones"])
def test_stateful_sequences_along_the_links_get_no_server_error(resource, live_server, api, settings):
    """Schemathesis chains calls along the OpenAPI links: a zone or campaign is created, then read, changed and
    deleted with its real id (random ids would only ever meet 404s) — no 500, answers as documented."""
    from sqlalchemy import text

    from syrena_core.db import engine_for
    from tests.factories import ZONE_A, create_zone
    base_url, headers = live_server, {"Authorization": f"Bearer {api.token}"}
    # The create → get/patch/delete chains of one resource (the links' operations), so that creating is a
    # likely first step; the stateless run above covers every operation on its own.
    linked = fuzz.include(path_regex=rf"^/api/v1/{resource}(/\{{id\}}(/preview)?)?$")

    class Workflow(linked.as_state_machine()):
        def setup(self):
            # Each scenario starts from the same zones and campaigns (ids included): hypothesis replays
            # scenarios and insists that the same choices meet the same answers.
            with engine_for(settings.database.url).begin() as c:
                c.execute(text("TRUNCATE zone, campaign RESTART IDENTITY CASCADE"))
            create_zone(api, "Fuzz", ZONE_A)   # something for the zone list's links from the first step
            self.zones_made = 0

        def before_call(self, case):
            case.headers = {**(case.headers or {}), **headers}   # never a generated Authorization header
            # Realistic data where random data would almost never create anything: a campaign needs a target
            # and a zone a valid polygon with a new name. The other fields stay fuzzed.
            if case.method == "POST" and isinstance(case.body, dict):
                if case.operation.path == "/api/v1/campaigns":
                    # the stateless run fuzzes creation itself; here it must succeed for the chain to start
                    case.body = {k: v for k, v in case.body.items() if k in ("kind", "severity", "urgency",
                                                                                 "certainty", "flash")}
                    # a drawn circle, not a zone: the chains below archive zones
                    case.body.update(area=[{"circle": {"lat": 52.39, "lon": 16.91, "radius_m": 500}}],
                                     body="Alarm testowy.", topic="water")
                elif case.operation.path == "/api/v1/zones":
                    props = case.body.get("properties") if isinstance(case.body.get("properties"), dict) else {}
                    props = {k: v for k, v in props.items() if k not in ("code", "slug")}
                    case.body = {**case.body, "type": "Feature", "geometry": ZONE_A,
                                 "properties": {**props, "name": f"fuzz {self.zones_made}"}}
                    self.zones_made += 1

        def get_call_kwargs(self, case):
            return {"base_url": base_url, "headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    calls: list[str] = []
    original_call = Workflow.call

    def call(self, case, **kwargs):
        response = original_call(self, case, **kwargs)
        calls.append(f"{case.method} {case.operation.path} {response.status_code}")
        return response
    Workflow.call = call
    Workflow.run(settings=hypothesis_settings(max_examples=FUZZ_SCENARIOS, stateful_step_count=6, deadline=None,
                                              derandomize=True, database=None,
                                              suppress_health_check=list(HealthCheck)))
    # The links were followed with real ids: something created was then read, changed or deleted.
    import collections
    seen = collections.Counter(calls)
    followed = [c for c in seen if f" /api/v1/{resource}/{{id}}" in c and c.rsplit(" ", 1)[1].startswith("2")]
    assert seen[f"POST /api/v1/{resource} 201"] and followed, sorted(seen.items())
