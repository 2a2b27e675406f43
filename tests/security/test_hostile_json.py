"""Issue 19 #10: the classes of input that became a 500, sent by hypothesis to every JSON endpoint (public and
staff): deep nesting, lone surrogates and control characters, numbers beyond every range, keys that name
internal arguments, oversized strings and lists. Nothing a client sends may become a server error."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.helpers import ApiClient

EXAMPLES = int(os.environ.get("SYRENA_FUZZ_EXAMPLES", "10"))


def _json_operations() -> list[tuple[str, str]]:
    from app.api import openapi_document

    out = []
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method in ("post", "put", "patch") and "application/json" in operation.get("requestBody", {}).get(
                "content", {}
            ):
                out.append((method.upper(), path.replace("{id}", "1")))
    return sorted(out)


OPERATIONS = _json_operations()

# Values that broke something once: huge and odd numbers, invisible characters, lone surrogates, the GSM escape.
ODD_STRINGS = st.sampled_from(
    [
        "\ud800",
        "a\udfffb",
        "\x00",
        "\x0c",
        "\x1b(",
        "\ufffe",
        "1e400",
        "-1e400",
        "NaN",
        "9999-12-31T23:59:59-05:00",
        "{zone:>1000000000}",
        "x" * 70_000,
        "",
        " ",
    ]
)
ODD_NUMBERS = st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 1e308, -0.0, 0, -1, True])
LEAF = st.one_of(ODD_STRINGS, ODD_NUMBERS, st.none(), st.text(max_size=20))
FIELD = st.sampled_from(
    [
        "kind",
        "severity",
        "body",
        "zone_ids",
        "title",
        "department",
        "template",
        "variants",
        "area",
        "settings",
        "now",
        "zone_limits",
        "author",
        "session",
        "phone",
        "address",
        "location",
        "topics",
        "second",
        "label",
        "code",
        "language",
        "name",
        "geometry",
        "properties",
        "type",
        "price_per_part",
        "monthly_fee",
        "valid_from",
        "vat_rate",
        "corrects",
        "amount",
        "reason",
        "body",
        "scheduled_for",
        "expires_at",
        "lat",
        "lon",
    ]
)
VALUE = st.recursive(
    LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(FIELD, inner, max_size=4)), max_leaves=12
)
BODY = st.dictionaries(FIELD, VALUE, max_size=8)


def _deep(levels: int, opener: bytes) -> bytes:
    closer = b"]" if opener == b"[" else b"}"
    inner = b'{"a": ' if opener == b"{" else b"["
    return inner * levels + b"1" + closer * levels


@pytest.mark.parametrize("method, path", OPERATIONS)
@hypothesis_settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(body=BODY, depth=st.sampled_from([0, 0, 33, 5_000]), opener=st.sampled_from([b"{", b"["]))
def test_hostile_json_gets_no_server_error(method, path, body, depth, opener, live_server, api):
    client = api if "/public/" not in path else ApiClient(live_server, None)
    raw = _deep(depth, opener) if depth else json.dumps(body).encode()
    status, answer = client.call(method, path, raw=raw)
    assert status < 500, (method, path, raw[:300], answer)
    if status >= 400:
        assert isinstance(answer, dict) and {"code", "message"} <= set(answer["error"]), answer


def _valid_bodies(api) -> dict[tuple[str, str], dict]:
    from tests.factories import ZONE_A, create_zone

    zone = create_zone(api, "Wilda", ZONE_A)
    point = {"lat": 52.39, "lon": 16.91}
    return {
        ("POST", "/api/v1/campaigns"): {"kind": "alert", "severity": "severe", "body": "Alarm.", "zone_ids": [zone]},
        ("POST", "/api/v1/campaigns/preview"): {
            "kind": "alert",
            "severity": "severe",
            "body": "Alarm.",
            "zone_ids": [zone],
        },
        ("POST", "/api/v1/zones"): {"type": "Feature", "properties": {"name": "Rataje"}, "geometry": ZONE_A},
        ("POST", "/api/v1/subscribers"): {"phone": "+48601234567", "verified": True, "locations": [point]},
        ("POST", "/api/v1/public/subscriptions"): {"phone": "+48601234567", "location": point, "topics": ["water"]},
        ("POST", "/api/v1/billing/tariffs"): {
            "valid_from": "2030-01-01T00:00:00+01:00",
            "price_per_part": "0.1",
            "monthly_fee": "400",
        },
        ("POST", "/api/v1/billing/corrections"): {"corrects": 1, "amount": "0.10", "note": "korekta"},
    }


TARGETS = sorted(
    [
        "POST /api/v1/campaigns",
        "POST /api/v1/campaigns/preview",
        "POST /api/v1/zones",
        "POST /api/v1/subscribers",
        "POST /api/v1/public/subscriptions",
        "POST /api/v1/billing/tariffs",
        "POST /api/v1/billing/corrections",
    ]
)


@pytest.mark.parametrize("target", TARGETS)
@hypothesis_settings(
    max_examples=EXAMPLES * 3, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(data=st.data())
def test_one_hostile_field_in_an_otherwise_valid_body_gets_no_server_error(target, data, live_server, api):
    method, path = target.split(" ", 1)
    if api.token not in _BASES:  # once per test (the tables are emptied between tests, not between examples)
        _BASES[api.token] = _valid_bodies(api)
    base = _BASES[api.token][(method, path)]
    body = json.loads(json.dumps(base))
    key = data.draw(st.sampled_from(sorted(base) + ["settings", "now", "author"]), label="field")
    body[key] = data.draw(VALUE, label="value")
    client = api if "/public/" not in path else ApiClient(live_server, None)
    status, answer = client.call(method, path, raw=json.dumps(body).encode())
    assert status < 500, (target, key, body, answer)


_BASES: dict[str, dict] = {}
