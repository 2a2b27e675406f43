"""The public sign-up API: a code by SMS proves the phone; nothing tells a stranger whether a number is
subscribed; rate limits and the hourly cap keep a flood of sign-ups from becoming a flood of paid SMS."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from subscribers.models import Subscriber, SubscriberStatus
from syrena_core.config import replace
from tests.factories import IN_B, create_subscriber
from tests.subscribers.conftest import PHONE

SUBSCRIBE = "/api/v1/public/subscriptions"
VERIFY = "/api/v1/public/subscriptions/verify"


@pytest.fixture
def public(api):
    return api.with_token(None)


def _subscriber(db, phone=PHONE) -> Subscriber | None:
    db.expire_all()
    return db.scalar(select(Subscriber).where(Subscriber.phone == phone))


def test_an_address_and_the_texted_code_make_an_active_subscription_in_its_zone(
    public, worker, code_for, db, gazetteer, two_zones
):
    status, body = public.post(
        SUBSCRIBE,
        {
            "phone": "601 234 567",
            "address": "ul. Głogowska 77",
            "second": {"location": IN_B, "label": "praca"},
            "language": "pl",
            "topics": ["water"],
        },
    )
    assert (status, body["status"]) == (202, "code_sent"), body
    assert _subscriber(db) is None  # nothing happens before the code comes back
    status, body = public.post(VERIFY, {"phone": PHONE, "code": code_for(PHONE)})
    assert status == 200, body
    assert body["action"] == "subscribed"
    assert sorted(z["name"] for z in body["zones"]) == ["Wschód", "Zachód"]
    subscriber = _subscriber(db)
    assert (subscriber.status, subscriber.source, subscriber.topics) == ("active", "web", ["water"])
    assert subscriber.consent_version and subscriber.consent_at
    assert sorted(loc.label for loc in subscriber.locations) == ["home", "praca"]


def test_a_pin_on_the_map_is_enough(public, worker, code_for, two_zones):
    assert public.post(SUBSCRIBE, {"phone": PHONE, "location": {"lat": 52.39, "lon": 16.95}})[0] == 202
    status, body = public.post(VERIFY, {"phone": PHONE, "code": code_for(PHONE)})
    assert status == 200
    assert [z["name"] for z in body["zones"]] == ["Wschód"]


def test_subscribing_again_with_a_new_code_changes_the_places_language_and_topics(
    public, worker, code_for, db, gazetteer, two_zones
):
    public.post(SUBSCRIBE, {"phone": PHONE, "address": "Głogowska 77", "topics": ["water"]})
    assert public.post(VERIFY, {"phone": PHONE, "code": code_for(PHONE)})[0] == 200
    assert (
        public.post(
            SUBSCRIBE,
            {"phone": PHONE, "location": {"lat": 52.39, "lon": 16.95}, "language": "en", "topics": ["traffic"]},
        )[0]
        == 202
    )
    assert _subscriber(db).topics == ["water"]  # unchanged until the new code comes back
    status, body = public.post(VERIFY, {"phone": PHONE, "code": code_for(PHONE, already=1)})
    assert status == 200 and [z["name"] for z in body["zones"]] == ["Wschód"]
    subscriber = _subscriber(db)
    assert (subscriber.language, subscriber.topics, len(subscriber.locations)) == ("en", ["traffic"], 1)


def test_a_ukrainian_sign_up_gets_its_code_in_ukrainian_and_is_stored_as_uk(
    public, worker, code_for, sms_to, db, simulator, two_zones
):
    status, body = public.post(SUBSCRIBE, {"phone": PHONE, "location": {"lat": 52.39, "lon": 16.95}, "language": "uk"})
    assert status == 202, body
    code = code_for(PHONE)
    assert sms_to(PHONE)[-1].startswith(f"Syrena: ваш код {code}.")
    assert [m["parts"] for m in simulator.messages() if m["text"] == sms_to(PHONE)[-1]] == [1]  # UCS-2, one SMS
    assert public.post(VERIFY, {"phone": PHONE, "code": code})[0] == 200
    assert _subscriber(db).language == "uk"


def test_a_wrong_code_five_times_kills_the_code(public, worker, code_for, db, gazetteer, two_zones):
    public.post(SUBSCRIBE, {"phone": PHONE, "address": "Głogowska 77"})
    code = code_for(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        status, body = public.post(VERIFY, {"phone": PHONE, "code": wrong})
        assert (status, body["error"]["code"]) == (422, "invalid_code")
    status, body = public.post(VERIFY, {"phone": PHONE, "code": code})
    assert (status, body["error"]["code"]) == (422, "invalid_code")
    assert _subscriber(db) is None


def test_an_expired_code_does_not_work(public, worker, code_for, db, gazetteer, two_zones):
    public.post(SUBSCRIBE, {"phone": PHONE, "address": "Głogowska 77"})
    code = code_for(PHONE)
    db.execute(text("UPDATE verification_code SET expires_at = now() - interval '1 second'"))
    db.commit()
    assert public.post(VERIFY, {"phone": PHONE, "code": code})[1]["error"]["code"] == "invalid_code"


def test_answers_do_not_reveal_whether_a_number_is_subscribed(public, api, worker, gazetteer, two_zones):
    known, unknown = "+48601000111", "+48601000112"
    create_subscriber(api, known, IN_B)
    answers = [public.post(SUBSCRIBE, {"phone": p, "address": "Głogowska 77"}) for p in (known, unknown)]
    assert answers[0] == answers[1] == (202, {"status": "code_sent", "expires_in": 600})
    checks = [public.post(VERIFY, {"phone": p, "code": "123456"}) for p in (known, unknown, "+48601000113")]
    assert checks[0] == checks[1] == checks[2]
    cancels = [public.post(f"{SUBSCRIBE}/cancel", {"phone": p}) for p in (known, unknown)]
    assert cancels[0] == cancels[1]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"phone": "61 852 00 00", "address": "Głogowska 77"}, "not_a_mobile_number"),  # a Poznań landline
        ({"phone": "12", "address": "Głogowska 77"}, "invalid_phone"),
        ({"phone": PHONE, "address": "Qwzx Vbnm 5"}, "address_not_found"),
        ({"phone": PHONE, "address": "Głogowska"}, "address_not_found"),
        ({"phone": PHONE}, "invalid_subscriber"),
        ({"phone": PHONE, "location": {"lat": 95, "lon": 16.9}}, "invalid_subscriber"),
        ({"phone": PHONE, "address": "Głogowska 77", "topics": ["lottery"]}, "invalid_subscriber"),
        ({"phone": PHONE, "address": "Głogowska 77", "language": "xx"}, "invalid_subscriber"),
    ],
)
def test_bad_requests_get_a_clear_error_and_no_sms(public, simulator, body, code, gazetteer, two_zones):
    status, answer = public.post(SUBSCRIBE, body)
    assert (status, answer["error"]["code"]) == (422, code), answer
    assert answer["error"]["message"]


def test_an_ambiguous_address_answers_the_candidates(public, gazetteer, two_zones):
    status, body = public.post(SUBSCRIBE, {"phone": PHONE, "address": "Głogowska 78"})
    assert (status, body["error"]["code"]) == (422, "address_ambiguous")
    assert 1 <= len(body["error"]["details"]["candidates"]) <= 3


def test_unsubscribing_by_code_ends_alerts_and_staff_cannot_sign_the_number_up_again(
    public, api, worker, code_for, db, two_zones
):
    create_subscriber(api, PHONE, IN_B)
    assert public.post(f"{SUBSCRIBE}/cancel", {"phone": PHONE})[0] == 202
    status, body = public.post(VERIFY, {"phone": PHONE, "code": code_for(PHONE)})
    assert (status, body["action"]) == (200, "unsubscribed")
    assert _subscriber(db).status == SubscriberStatus.UNSUBSCRIBED.value
    db.execute(text("DELETE FROM subscriber"))
    db.commit()
    status, body = api.post("/api/v1/subscribers", {"phone": PHONE, "verified": True, "locations": [IN_B]})
    assert (status, body["error"]["code"]) == (409, "subscriber_opted_out")


def test_a_resident_gets_their_data_as_json_after_the_code(public, api, worker, code_for, two_zones):
    create_subscriber(api, PHONE, IN_B)
    assert public.post(f"{SUBSCRIBE}/export", {"phone": PHONE})[0] == 202
    status, body = public.post(VERIFY, {"phone": PHONE, "code": code_for(PHONE)})
    assert status == 200 and body["action"] == "export"
    data = body["data"]
    assert data["phone"] == PHONE and data["subscribed"] is True
    assert [z["name"] for z in data["zones"]] == ["Wschód"]
    assert data["locations"][0]["lat"] == pytest.approx(IN_B["lat"])


def test_codes_to_one_phone_are_limited(public, worker, gazetteer, two_zones):
    statuses = [public.post(SUBSCRIBE, {"phone": PHONE, "address": "Głogowska 77"})[0] for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    status, body = public.post(SUBSCRIBE, {"phone": "+48601000999", "address": "Głogowska 77"})
    assert status == 202, body  # another phone is not held back by that one


def _app_with(settings, **subscriber_settings):
    from app import create_app

    tuned = replace(settings, subscribers=replace(settings.subscribers, **subscriber_settings))
    return create_app(tuned, {"TESTING": True})


def test_requests_from_one_address_are_limited(settings, gazetteer, two_zones):
    client = _app_with(settings, form_limit="3 per hour").test_client()
    statuses = [
        client.post(
            SUBSCRIBE,
            json={"phone": f"+4860100{n:04d}", "address": "Głogowska 77"},
            environ_base={"REMOTE_ADDR": "198.51.100.7"},
        ).status_code
        for n in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    other = client.post(
        SUBSCRIBE,
        json={"phone": "+48601009999", "address": "Głogowska 77"},
        environ_base={"REMOTE_ADDR": "198.51.100.8"},
    )
    assert other.status_code == 202
    assert other.get_json() == {"status": "code_sent", "expires_in": 600}


def test_code_checks_are_limited(settings, gazetteer, two_zones):
    client = _app_with(settings, verify_limit="3 per hour").test_client()
    statuses = [client.post(VERIFY, json={"phone": PHONE, "code": "000000"}).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
    assert (
        client.post(VERIFY, json={"phone": PHONE, "code": "000000"}).get_json()["error"]["code"] == "too_many_requests"
    )


def test_the_hourly_cap_on_verification_sms_holds_whatever_the_addresses_and_numbers(
    settings, worker, simulator, wait, gazetteer, two_zones, db
):
    client = _app_with(settings, verification_sms_per_hour=3, form_limit="100 per hour").test_client()
    answers = [
        client.post(
            SUBSCRIBE,
            json={"phone": f"+4860200{n:04d}", "address": "Głogowska 77"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        )
        for n in range(5)
    ]
    assert [a.status_code for a in answers] == [202, 202, 202, 503, 503]
    assert answers[3].get_json()["error"]["code"] == "verification_unavailable"
    wait(lambda: len(simulator.messages()) >= 3, 30, "three codes")
    assert db.execute(text("SELECT count(*) FROM verification_code")).scalar() == 3
    assert len(simulator.messages()) == 3


@pytest.mark.parametrize(
    "extra, status, field",
    [
        ({"topics": ["water"] * 50}, 422, "topics"),  # more than there are topics
        ({"second": {"label": "x" * 101, "location": {"lat": 52.39, "lon": 16.95}}}, 422, "second.label"),
        ({"address": "Głogowska 77 " + "x" * 300}, 422, "address"),
        ({"comment": "x" * 70_000}, 413, None),  # the body itself is over 64 kB
    ],
)
def test_oversized_public_requests_are_refused_and_nothing_is_stored(public, db, two_zones, extra, status, field):
    """Issue 19 #12: a 15 MB body with 1,966,081 topics was accepted and stored with the pending code."""
    body = {"phone": PHONE, "location": {"lat": 52.39, "lon": 16.91}, **extra}
    answer_status, answer = public.post(SUBSCRIBE, body)
    assert answer_status == status, answer
    if field:
        assert answer["error"]["details"]["field"] == field
    assert db.execute(text("SELECT count(*) FROM verification_code")).scalar() == 0


def test_topics_are_stored_once_each(public, db, two_zones):
    assert (
        public.post(
            SUBSCRIBE,
            {"phone": PHONE, "location": {"lat": 52.39, "lon": 16.91}, "topics": ["water", "water", "traffic"]},
        )[0]
        == 202
    )
    stored = db.execute(text("SELECT request FROM verification_code")).scalar()
    assert stored["topics"] == ["water", "traffic"]
