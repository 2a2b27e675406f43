"""SMS pumping: the public sign-up must not become a way to make the city pay for SMS to anywhere.

Codes go only to numbers of the allowed countries (keyword SMS from elsewhere get no reply); one budget per
phone, per client address and per network is shared by every endpoint that texts a code, and a refused
request takes nothing from it; when the global hourly cap is spent, residents are told to text the keyword
to the city's number (their own SMS, which nobody can pump) instead of meeting an error."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select, text

from subscribers.budget import cap_key
from subscribers.models import Subscriber, SubscriberStatus
from syrena_core.config import replace
from tests.factories import IN_B, create_subscriber
from tests.subscribers.conftest import PHONE, SHORT_NUMBER

SUBSCRIBE = "/api/v1/public/subscriptions"
CANCEL = "/api/v1/public/subscriptions/cancel"
EXPORT = "/api/v1/public/subscriptions/export"
CODE_ENDPOINTS = [SUBSCRIBE, CANCEL, EXPORT]
ADDRESS = {"address": "Głogowska 77"}
FOREIGN = [
    "+2348031234567",  # Nigeria, mobile
    "+12025550123",  # the United States
    "+881631234567",
]  # Iridium, a satellite number of no country


def _body(endpoint: str, phone: str, **extra) -> dict:
    return {"phone": phone, **(ADDRESS if endpoint == SUBSCRIBE else {}), **extra}


def _client(settings, proxy_hops: int = 0, **subscriber_settings):
    from app import create_app

    tuned = replace(
        settings,
        app=replace(settings.app, proxy_hops=proxy_hops),
        subscribers=replace(settings.subscribers, **subscriber_settings),
    )
    return create_app(tuned, {"TESTING": True}).test_client()


def _codes(db) -> int:
    return db.execute(text("SELECT count(*) FROM verification_code")).scalar()


def _subscriber(db, phone: str) -> Subscriber | None:
    db.expire_all()
    return db.scalar(select(Subscriber).where(Subscriber.phone == phone))


# ------------------------------------------------------------------ countries


def test_foreign_numbers_get_no_code_from_any_endpoint(api, worker, simulator, sms_to, wait, db, gazetteer, two_zones):
    public = api.with_token(None)
    for endpoint in CODE_ENDPOINTS:
        for phone in FOREIGN:
            status, body = public.post(endpoint, _body(endpoint, phone))
            assert (status, body["error"]["code"]) == (422, "country_not_allowed"), (endpoint, phone, body)
            assert "allowed_countries" in body["error"]["message"] and "PL" in body["error"]["message"]
    assert _codes(db) == 0
    assert db.execute(text("SELECT count(*) FROM subscriber")).scalar() == 0
    # A Polish number still gets its code; by the time it arrives, any code queued before it would have too.
    assert public.post(SUBSCRIBE, _body(SUBSCRIBE, PHONE))[0] == 202
    wait(lambda: sms_to(PHONE), 30, "the Polish code")
    assert [re.sub(r"\D", "", m["destination_addr"]) for m in simulator.messages()] == [PHONE.lstrip("+")]


def test_a_keyword_sms_from_abroad_subscribes_nobody_and_gets_no_paid_reply(
    send_mo, sms_to, wait, db, api, gazetteer, two_zones
):
    nigeria, iridium = FOREIGN[0], FOREIGN[2]
    message = send_mo(nigeria, "ZAPISZ Głogowska 77")
    assert message.reply is None
    assert _subscriber(db, nigeria) is None
    assert send_mo(iridium, "POMOC").reply is None
    # An opt-out costs nothing: honoured, silently (a number staff imported, say).
    create_subscriber(api, "+4915112345678", IN_B)
    assert send_mo("+4915112345678", "STOP").reply is None
    assert _subscriber(db, "+4915112345678").status == SubscriberStatus.UNSUBSCRIBED.value
    # The worker answers in order: once a Polish sender's reply is out, none is coming to the others.
    assert send_mo(PHONE, "POMOC").reply
    wait(lambda: sms_to(PHONE), 30, "the reply to the Polish sender")
    assert sms_to(nigeria) == [] and sms_to(iridium) == [] and sms_to("+4915112345678") == []


# ------------------------------------------------------------------ shared budgets


def test_one_address_has_one_budget_for_every_code_endpoint(settings, db, gazetteer, two_zones):
    client = _client(settings, form_limit="3 per hour")
    here = {"REMOTE_ADDR": "198.51.100.7"}
    statuses = [
        client.post(endpoint, json=_body(endpoint, f"+4860110{n:04d}"), environ_base=here).status_code
        for n, endpoint in enumerate(CODE_ENDPOINTS)
    ]
    assert statuses == [202, 202, 202]
    for n, endpoint in enumerate(CODE_ENDPOINTS):
        refused = client.post(endpoint, json=_body(endpoint, f"+4860111{n:04d}"), environ_base=here)
        assert refused.status_code == 429, (endpoint, refused.get_json())
        assert refused.get_json()["error"]["code"] == "too_many_requests"
        assert refused.get_json()["error"]["details"]["limit"] == "address"
        assert int(refused.headers["Retry-After"]) > 0
    assert _codes(db) == 3
    other = client.post(CANCEL, json=_body(CANCEL, "+48601120000"), environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 202  # a neighbour has a budget of their own


@pytest.mark.parametrize(
    "neighbours, stranger",
    [
        (["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"], "203.0.114.1"),  # IPv4: one /24
        (["2001:db8:0:1::1", "2001:db8:0:2::1", "2001:db8:0:3::1", "2001:db8:0:4::1"], "2001:db8:0:100::1"),  # /56
    ],
)
def test_a_network_shares_one_budget_behind_the_proxy(settings, db, gazetteer, two_zones, neighbours, stranger):
    client = _client(settings, proxy_hops=1, form_limit="100 per hour", network_limit="3 per hour")

    def ask(n: int, endpoint: str, address: str):
        return client.post(endpoint, json=_body(endpoint, f"+4860120{n:04d}"), headers={"X-Forwarded-For": address})

    answers = [
        ask(n, endpoint, address)
        for n, (endpoint, address) in enumerate(zip([SUBSCRIBE, CANCEL, EXPORT, SUBSCRIBE], neighbours))
    ]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[3].get_json()["error"]["details"]["limit"] == "network"
    assert "Z tej sieci" in answers[3].get_json()["error"]["message"]  # the language asked for (Polish by default)
    assert ask(9, CANCEL, stranger).status_code == 202
    assert _codes(db) == 4


def test_refused_requests_do_not_use_up_a_phones_codes_and_all_endpoints_share_them(settings, db, gazetteer, two_zones):
    client = _client(settings, phone_limit="3 per hour", form_limit="100 per hour")
    for _ in range(5):  # a stranger's mistakes, or attempts to lock the resident out
        refused = client.post(SUBSCRIBE, json={"phone": PHONE, "address": "Qwzx Vbnm 5"})
        assert refused.status_code == 422
    assert client.post(SUBSCRIBE, json={"phone": PHONE, "language": "xx", **ADDRESS}).status_code == 422
    statuses = [client.post(endpoint, json=_body(endpoint, PHONE)).status_code for endpoint in CODE_ENDPOINTS]
    assert statuses == [202, 202, 202]
    for endpoint in CODE_ENDPOINTS:
        refused = client.post(endpoint, json=_body(endpoint, PHONE))
        assert refused.status_code == 429 and refused.get_json()["error"]["details"]["limit"] == "phone"
    assert client.post(CANCEL, json={"phone": "+48601000999"}).status_code == 202  # another phone is not held back


def test_a_request_refused_for_its_address_leaves_the_phone_its_codes(settings, db, gazetteer, two_zones):
    client = _client(settings, phone_limit="2 per hour", form_limit="1 per hour")
    attacker, resident = {"REMOTE_ADDR": "192.0.2.66"}, {"REMOTE_ADDR": "198.51.100.20"}
    assert client.post(CANCEL, json={"phone": "+48601000777"}, environ_base=attacker).status_code == 202
    for _ in range(3):
        assert client.post(CANCEL, json={"phone": PHONE}, environ_base=attacker).status_code == 429
    assert client.post(CANCEL, json={"phone": PHONE}, environ_base=resident).status_code == 202


def test_requests_to_the_code_endpoints_are_bounded_per_ip_together_refused_ones_too(settings, gazetteer, two_zones):
    client = _client(settings, request_limit="4 per hour")
    here = {"REMOTE_ADDR": "198.51.100.30"}
    statuses = [
        client.post(SUBSCRIBE, json={"phone": PHONE, "address": "Qwzx Vbnm 5"}, environ_base=here),
        client.post(CANCEL, json={"phone": FOREIGN[0]}, environ_base=here),
        client.post(EXPORT, json={"phone": FOREIGN[1]}, environ_base=here),
        client.post(CANCEL, json={"phone": PHONE}, environ_base=here),
        client.post(EXPORT, json={"phone": PHONE}, environ_base=here),
    ]
    assert [r.status_code for r in statuses] == [422, 422, 422, 202, 429]


# ------------------------------------------------------------------ the global cap


def _spend_the_hourly_cap(settings) -> None:
    from syrena_core.queues import redis_connection

    redis_connection(settings.redis.url).set(cap_key(time.time()), settings.subscribers.verification_sms_per_hour)


@pytest.mark.parametrize(
    "endpoint, language, keyword, wording",
    [
        (SUBSCRIBE, "pl", "ZAPISZ", "Wyślij SMS o treści ZAPISZ"),
        (SUBSCRIBE, "en", "ZAPISZ", "Text ZAPISZ"),
        (CANCEL, "pl", "WYPISZ", "Wyślij SMS o treści WYPISZ"),
        (EXPORT, "en", "DANE", "Text DANE"),
    ],
)
def test_when_the_hourly_cap_is_spent_residents_are_told_to_text_the_keyword(
    api, settings, db, gazetteer, two_zones, endpoint, language, keyword, wording
):
    _spend_the_hourly_cap(settings)
    status, body = api.with_token(None).post(endpoint, _body(endpoint, PHONE, language=language))
    assert status == 503 and body["error"]["code"] == "verification_unavailable"
    message = body["error"]["message"]
    assert wording in message and SHORT_NUMBER in message
    assert body["error"]["details"]["sms_keyword"] == keyword
    assert body["error"]["details"]["short_number"] == SHORT_NUMBER
    assert _codes(db) == 0 and _subscriber(db, PHONE) is None


def test_a_spent_cap_does_not_use_up_the_residents_own_budgets(settings, db, gazetteer, two_zones):
    from syrena_core.queues import redis_connection

    client = _client(settings, phone_limit="1 per hour", form_limit="1 per hour", network_limit="1 per hour")
    _spend_the_hourly_cap(settings)
    for _ in range(3):
        assert client.post(SUBSCRIBE, json=_body(SUBSCRIBE, PHONE)).status_code == 503
    redis_connection(settings.redis.url).delete(cap_key(time.time()))  # the next hour
    assert client.post(SUBSCRIBE, json=_body(SUBSCRIBE, PHONE)).status_code == 202


def test_many_requests_at_once_take_no_more_codes_than_the_budget(settings, db, gazetteer, two_zones):
    from concurrent.futures import ThreadPoolExecutor

    app_client = _client(settings, form_limit="3 per hour", request_limit="100 per hour")

    def ask(n: int) -> int:
        return (
            app_client.application.test_client()
            .post(
                CANCEL,
                json={"phone": f"+4860130{n:04d}", "language": "en"},
                environ_base={"REMOTE_ADDR": "198.51.100.40"},
            )
            .status_code
        )

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(ask, range(16)))
    assert statuses == [202] * 3 + [429] * 13
    assert _codes(db) == 3
