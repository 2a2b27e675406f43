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
    documented = {
        (_shape(p), m.upper())
        for p, item in doc["paths"].items()
        for m in item
        if m in ("get", "post", "put", "patch", "delete")
    }
    routed = {
        (_shape(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.rule != "/api/v1/openapi.json"
    }
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented operations that do not exist"


# ------------------------------------------------------------------ the fuzz run
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from schemathesis.checks import content_type_conformance, not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

# Examples per operation, and stateful scenarios (create → get/patch/delete along the document's links):
# enough to find crashes on odd input, bounded so this file stays within about 3 minutes on a 2-core machine
# (SYRENA_FUZZ_EXAMPLES=200 SYRENA_FUZZ_SCENARIOS=200 for a deeper run).
FUZZ_EXAMPLES = int(os.environ.get("SYRENA_FUZZ_EXAMPLES", "40"))
FUZZ_SCENARIOS = int(os.environ.get("SYRENA_FUZZ_SCENARIOS", "40"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _document():
    from app.api import openapi_document

    return openapi_document()


# The document the API serves (built by the same function as /api/v1/openapi.json; it needs no app context).
fuzz = schemathesis.openapi.from_dict(_document())


@fuzz.parametrize()
@hypothesis_settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_fuzzed_requests_get_no_server_error_and_schema_valid_answers(case, live_server, api):
    """With an admin token (every route is reachable): no 500, and every answer matches its documented shape."""
    case.call_and_validate(base_url=live_server, headers={"Authorization": f"Bearer {api.token}"}, checks=CHECKS)


def test_the_document_links_create_to_get_patch_and_delete():
    """The links the stateful run follows: without them it would only ever see ids that do not exist."""
    doc = _document()
    for path, targets in (
        ("/api/v1/campaigns", {"/api/v1/campaigns/{id}": {"get", "patch", "delete"}}),
        ("/api/v1/zones", {"/api/v1/zones/{id}": {"get", "put", "delete"}}),
    ):
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
            create_zone(api, "Fuzz", ZONE_A)  # something for the zone list's links from the first step
            self.zones_made = 0

        def before_call(self, case):
            case.headers = {**(case.headers or {}), **headers}  # never a generated Authorization header
            # Realistic data where random data would almost never create anything: a campaign needs a target
            # and a zone a valid polygon with a new name. The other fields stay fuzzed.
            if case.method == "POST" and isinstance(case.body, dict):
                if case.operation.path == "/api/v1/campaigns":
                    # the stateless run fuzzes creation itself; here it must succeed for the chain to start
                    case.body = {
                        k: v for k, v in case.body.items() if k in ("kind", "severity", "urgency", "certainty", "flash")
                    }
                    # a drawn circle, not a zone: the chains below archive zones
                    case.body.update(
                        area=[{"circle": {"lat": 52.39, "lon": 16.91, "radius_m": 500}}],
                        body="Alarm testowy.",
                        topic="water",
                    )
                elif case.operation.path == "/api/v1/zones":
                    props = case.body.get("properties") if isinstance(case.body.get("properties"), dict) else {}
                    props = {k: v for k, v in props.items() if k not in ("code", "slug")}
                    case.body = {
                        **case.body,
                        "type": "Feature",
                        "geometry": ZONE_A,
                        "properties": {**props, "name": f"fuzz {self.zones_made}"},
                    }
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
    Workflow.run(
        settings=hypothesis_settings(
            max_examples=FUZZ_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    # The links were followed with real ids: something created was then read, changed or deleted.
    import collections

    seen = collections.Counter(calls)
    followed = [c for c in seen if f" /api/v1/{resource}/{{id}}" in c and c.rsplit(" ", 1)[1].startswith("2")]
    assert seen[f"POST /api/v1/{resource} 201"] and followed, sorted(seen.items())


# ------------------------------------------------------------------ one declaration (issue 18 item 7)
def test_the_documented_campaign_fields_are_the_ones_the_service_checks():
    """The document's CampaignInput is generated from the model campaigns.service validates every draft with
    (API and staff composer): the same fields, the same choices, the same limits."""
    from campaigns import service
    from campaigns.schemas import CAP_CATEGORIES, CERTAINTIES, URGENCIES

    schema = _document()["components"]["schemas"]["CampaignInput"]
    assert tuple(schema["properties"]) == service.FIELDS
    assert schema["additionalProperties"] is False
    assert schema["properties"]["urgency"]["enum"] == list(URGENCIES)
    assert schema["properties"]["certainty"]["enum"] == list(CERTAINTIES)
    assert schema["properties"]["category"]["enum"] == list(CAP_CATEGORIES)
    assert schema["properties"]["title"]["maxLength"] == 120
    assert schema["properties"]["sender_id"]["maxLength"] == 11
    assert schema["properties"]["validity_minutes"]["maximum"] == 10080


@pytest.mark.parametrize("field", ["kind", "severity", "urgency", "certainty", "category"])
def test_every_documented_choice_is_accepted_and_nothing_else(field, app):
    """Each value the document lists passes the service's check; a value it does not list is refused with the
    message the API and the composer show, naming the choices."""
    from campaigns.exceptions import InvalidCampaign
    from campaigns.schemas import CampaignInput

    allowed = _document()["components"]["schemas"]["CampaignInput"]["properties"][field]["enum"]
    base = {"kind": "alert", "severity": "extreme", "body": "Alarm."}
    for value in allowed:
        checked = CampaignInput.check({**base, **({"topic": "water"} if value == "info" else {}), field: value})
        assert getattr(checked, field) == value
    with pytest.raises(InvalidCampaign, match=f"{field} must be one of {', '.join(allowed)}"):
        CampaignInput.check({**base, field: "nonsense"})


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"title": "x" * 121}, "the title is text of at most 120 characters"),
        ({"sender_id": "ab-c"}, "the sender id is at most 11 letters and digits"),
        ({"validity_minutes": True}, "validity_minutes must be a whole number of minutes between 0 and 10080"),
        ({"validity_minutes": "10"}, "validity_minutes must be a whole number of minutes between 0 and 10080"),
        ({"flash": 1}, "flash must be true or false"),
        ({"flash": True, "severity": "severe"}, "flash SMS is only for extreme alerts"),
        ({"kind": "info"}, "an info campaign needs a topic"),
        ({"scheduled_for": "2030-01-01T08:00"}, "scheduled_for must carry its UTC offset"),
        ({"variants": {"pl": "Alarm."}}, "variant language must be one of en, uk, de"),
        ({"zone_ids": "all"}, "zone_ids must be a list of zone ids"),
        ({"settings": 1, "title": "x" * 121}, "unknown field(s): settings"),
    ],
)
def test_a_field_breaking_its_declared_rule_is_an_invalid_campaign_saying_how_to_fix_it(payload, message, api):
    """Through the API: 422 invalid_campaign with the model's own message (never pydantic's wording or a 422
    body of the library's shape)."""
    status, body = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "extreme",
            "body": "Alarm.",
            "area": [{"circle": {"lat": 52.39, "lon": 16.91, "radius_m": 500}}],
            **payload,
        },
    )
    assert status == 422, body
    assert body["error"]["code"] == "invalid_campaign"
    assert message in body["error"]["message"]
    assert set(body["error"]) == {"code", "message", "details"}


def test_the_documented_subscriber_and_tariff_fields_are_the_checked_ones():
    """Languages, topics, coordinates and tariff fields in the document come from the models the services check
    with (subscribers/schemas.py, billing/schemas.py)."""
    from billing.schemas import TariffInput
    from subscribers.schemas import LANGUAGES, TOPICS, Location

    schemas = _document()["components"]["schemas"]
    assert schemas["SubscriberInput"]["properties"]["language"]["enum"] == list(LANGUAGES)
    assert schemas["PublicSubscriptionInput"]["properties"]["topics"]["items"]["enum"] == list(TOPICS)
    assert schemas["SubscriberInput"]["properties"]["locations"]["items"] == {"$ref": "#/components/schemas/Location"}
    assert (
        schemas["Location"]["properties"]["lat"]["minimum"],
        schemas["Location"]["properties"]["lat"]["maximum"],
    ) == (-90, 90)
    assert set(schemas["Location"]["properties"]) == set(Location.model_fields)
    assert set(schemas["TariffInput"]["properties"]) == set(TariffInput.model_fields)
