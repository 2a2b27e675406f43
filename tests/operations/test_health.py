"""/healthz, /readyz and /metrics against real worker processes, Redis, PostgreSQL and the simulator."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_campaign
from tests.helpers import enqueue, listening_workers, statuses

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def _ready(client):
    response = client.get("/readyz")
    return response.status_code, response.get_json()


def test_readyz_follows_the_workers_and_the_smsc_bind(ops_client, start_simulator, start_worker, wait):
    assert ops_client.get("/healthz").get_json() == {"status": "ok"}
    status, body = _ready(ops_client)
    assert status == 503 and body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert not body["checks"]["workers"]["ok"] and not body["checks"]["smsc"]["ok"]

    simulator = start_simulator()
    worker = start_worker(simulator)
    wait(lambda: _ready(ops_client)[0] == 200, 60, "ready once the worker has bound")
    _status, body = _ready(ops_client)
    assert body["checks"]["workers"]["alive"] == 1
    assert body["checks"]["smsc"]["connections_up"] == ["primary"]

    simulator.stop()  # the SMSC goes away: the worker lives on, but nothing can be sent
    wait(lambda: _ready(ops_client)[0] == 503, 30, "not ready without a bind")
    _status, body = _ready(ops_client)
    assert body["checks"]["workers"]["ok"] and not body["checks"]["smsc"]["ok"]

    worker.proc.terminate()
    worker.proc.wait(30)
    _status, body = _ready(ops_client)
    assert body["checks"]["workers"]["alive"] == 0  # a stopped worker withdraws at once, no TTL to wait for


def _samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_add_up_what_several_worker_processes_did(
    ops_client, db, start_simulator, start_worker, gateway_redis_url, wait
):
    def scrape() -> dict[tuple, float]:
        response = ops_client.get("/metrics", environ_base=LOCAL)
        assert response.status_code == 200 and response.mimetype == "text/plain"
        return _samples(response.get_data(as_text=True))

    counters = [
        ("syrena_smpp_submits_total", (("smsc", "primary"),)),
        ("syrena_smpp_responses_total", (("smsc", "primary"), ("status", "ESME_ROK"))),
        ("syrena_smpp_receipts_total", (("smsc", "primary"), ("state", "DELIVRD"))),
        ("syrena_message_send_to_submit_seconds_count", ()),
        ("syrena_message_submit_to_final_seconds_count", (("status", "delivered"),)),
    ]
    help_asked = ("syrena_inbound_sms_total", (("keyword", "help"),))
    before = scrape()  # counters of earlier tests' (dead) workers still count, as they should
    bound = ("syrena_smpp_bound_sessions", (("smsc", "primary"),))
    # The run's own long-lived worker (tests/conftest.py) may hold a bind of the same name: count ours only.
    bound_elsewhere = before.get(bound, 0)
    simulator = start_simulator()
    workers = [start_worker(simulator, window=10) for _ in range(2)]
    wait(lambda: simulator.stats()["binds"] == 2, 60, "two binds")
    # Bound is not yet listening: a campaign enqueued before both wait for jobs may all go to one of them.
    wait(lambda: listening_workers(gateway_redis_url) == 2, 60, "both workers waiting for jobs")
    campaign_id, _phones = make_campaign(db, 300)
    enqueue(db, gateway_redis_url, campaign_id, chunk_size=50)
    wait(lambda: statuses(db, campaign_id).get("delivered") == 300, 120, "every message delivered")

    simulator.inject_mo("+48601000111", "4800", "POMOC")
    wait(lambda: any(m["destination_addr"] == "48601000111" for m in simulator.messages()), 60, "the reply")

    # 300 campaign messages; the SMPP counters also see the reply to the resident's POMOC (and its receipt).
    expected = {c: 301 if c[0].startswith("syrena_smpp_") else 300 for c in counters} | {help_asked: 1}

    def counted():
        samples = scrape()
        return {c: samples.get(c, 0) - before.get(c, 0) for c in expected}

    wait(lambda: counted() == expected, 30, f"the counters to reach {expected}")
    wait(
        lambda: scrape().get(bound, 0) - bound_elsewhere == 2,
        30,
        "both binds counted (each worker sets it with its heartbeat)",
    )
    samples = scrape()
    assert samples[("syrena_workers_alive", ())] == 2
    # Each link's adaptive rate under its TPS, and the SMSC's refusals per second (none here).
    assert samples.get(("syrena_smpp_link_rate", (("smsc", "primary"),)), 0) > 0
    assert samples.get(("syrena_smpp_link_refusals_per_second", (("smsc", "primary"),))) == 0
    assert samples[("syrena_queue_depth", (("queue", "alerts"),))] == 0
    assert sum("accepted" in w.log() for w in workers) == 2  # both processes did part of it

    workers[0].kill9()  # no chance to say goodbye: its bind must stop counting all the same
    assert scrape()[bound] - bound_elsewhere == 1


def test_metrics_are_only_for_the_monitoring_network_or_its_token(settings, gateway_redis_url):
    from app import create_app
    from syrena_core.config import OperationsSettings, replace

    app = create_app(
        replace(
            settings, operations=OperationsSettings(metrics_allow_from=("10.9.0.0/16",), metrics_token="s3cret-scraper")
        ),
        {"TESTING": True},
    )
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.9.4.2"}).status_code == 200
    denied = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "forbidden"
    assert (
        client.get(
            "/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}, headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 403
    )
    assert (
        client.get(
            "/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}, headers={"Authorization": "Bearer s3cret-scraper"}
        ).status_code
        == 200
    )


def _ops_app(settings, gateway_redis_url, proxy_hops=0, **operations):
    from app import create_app
    from syrena_core.config import OperationsSettings, RedisSettings, replace

    return create_app(
        replace(
            settings,
            redis=RedisSettings(url=gateway_redis_url),
            app=replace(settings.app, proxy_hops=proxy_hops),
            operations=OperationsSettings(**operations),
        ),
        {"TESTING": True},
    )


def test_readyz_tells_anonymous_callers_only_ready_or_not(settings, gateway_redis_url, make_user):
    """Issue 19: /readyz told anyone which SMSC binds were down and how many workers ran."""
    client = _ops_app(settings, gateway_redis_url, metrics_token="s3cret-scraper").test_client()
    outside = {"REMOTE_ADDR": "192.0.2.7"}
    r = client.get("/readyz", environ_base=outside)
    answer = {"status": "ready" if r.status_code == 200 else "not_ready"}
    assert r.get_json() == answer  # only that, nothing else
    _email, token = make_user("finance")
    for headers in ({"Authorization": f"Bearer {token}"}, {"Authorization": "Bearer s3cret-scraper"}):
        body = client.get("/readyz", environ_base=outside, headers=headers).get_json()
        assert set(body["checks"]) == {"database", "redis", "workers", "smsc"}  # staff and monitoring: details
    assert (
        client.get("/readyz", environ_base=outside, headers={"Authorization": "Bearer not-a-token"}).get_json()
        == answer
    )
    assert "checks" in client.get("/readyz", environ_base=LOCAL).get_json()  # on the host itself
    # Relayed by a proxy the app was not told of (or a forged header): not "from this host".
    relayed = client.get("/readyz", environ_base=LOCAL, headers={"X-Forwarded-For": "198.51.100.9"})
    assert relayed.get_json() == answer
    forged = client.get("/readyz", environ_base=outside, headers={"X-Forwarded-For": "127.0.0.1"})
    assert forged.get_json() == answer


def test_readyz_and_metrics_behind_a_proxy_see_the_client_it_names(settings, gateway_redis_url):
    client = _ops_app(settings, gateway_redis_url, proxy_hops=1, metrics_allow_from=("10.9.0.0/16",)).test_client()
    via_proxy = {"REMOTE_ADDR": "127.0.0.1"}  # nginx on the same host
    assert client.get("/metrics", environ_base=via_proxy, headers={"X-Forwarded-For": "10.9.4.2"}).status_code == 200
    # The proxy appends the client's real address: an entry the client wrote in front of it counts for nothing.
    assert (
        client.get("/metrics", environ_base=via_proxy, headers={"X-Forwarded-For": "10.9.4.2, 192.0.2.7"}).status_code
        == 403
    )
    assert (
        "checks"
        not in client.get(
            "/readyz", environ_base=via_proxy, headers={"X-Forwarded-For": "127.0.0.1, 192.0.2.7"}
        ).get_json()
    )
    assert "checks" in client.get("/readyz", environ_base=via_proxy).get_json()  # from the host, not proxied
    assert client.get("/metrics", environ_base=via_proxy, headers={"X-Forwarded-For": "192.0.2.7"}).status_code == 403


def test_metrics_never_believe_a_forwarding_header_without_proxy_hops(settings, gateway_redis_url):
    client = _ops_app(settings, gateway_redis_url).test_client()  # the default: loopback may scrape
    assert client.get("/metrics", environ_base=LOCAL).status_code == 200
    # A proxy in front that the app was not told about: the request is not really from this host.
    assert client.get("/metrics", environ_base=LOCAL, headers={"X-Forwarded-For": "192.0.2.7"}).status_code == 403
    assert (
        client.get(
            "/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}, headers={"X-Forwarded-For": "127.0.0.1"}
        ).status_code
        == 403
    )
