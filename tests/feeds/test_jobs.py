"""The workers' heartbeat enqueues each source's poll once per poll_seconds across the fleet; the job polls it
by name; `flask feeds poll [NAME]` polls now."""

from __future__ import annotations

from syrena_core.config import FeedSettings, FeedSource, replace
from syrena_core.queues import INFO, queue, redis_connection
from tests.feeds.conftest import Route, cap_file


def test_a_due_source_is_enqueued_once_until_its_interval_is_up(settings):
    from feeds.jobs import DUE_KEY, enqueue_feed_polls_when_due, poll_feed

    sources = (FeedSource(name="a", url="http://127.0.0.1:9/a"), FeedSource(name="b", url="http://127.0.0.1:9/b"))
    # Another database of the run's Redis: the session's worker (listening on the first) must not take the jobs
    # before the test has seen them.
    url = settings.redis.url.rsplit("/", 1)[0] + "/9"
    test_settings = replace(settings, feeds=FeedSettings(sources=sources), redis=replace(settings.redis, url=url))
    redis = redis_connection(url)
    info = queue(INFO, url)
    try:
        assert enqueue_feed_polls_when_due(test_settings) == ["a", "b"]
        assert enqueue_feed_polls_when_due(test_settings) == []  # another worker's heartbeat a moment later
        jobs = [j for j in info.jobs if j.func is poll_feed]
        assert sorted(j.args[0] for j in jobs) == ["a", "b"]
        assert 0 < redis.ttl(DUE_KEY.format(name="a")) <= 300  # due again after poll_seconds
    finally:
        redis.flushdb()


def test_flask_feeds_poll_polls_a_named_source_now(app, settings, feed_server, poznan_zones):
    feed_server.routes["/flood.xml"] = Route(cap_file("poznan_warta_flood.xml"))
    source = FeedSource(name="imgw", url=feed_server.url("/flood.xml"))
    original = app.config["SYRENA"]
    app.config["SYRENA"] = replace(settings, feeds=FeedSettings(sources=(source,)))
    try:
        runner = app.test_cli_runner()
        result = runner.invoke(args=["feeds", "poll", "imgw"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "imgw: 1 new, 1 drafts"
        again = runner.invoke(args=["feeds", "poll"])
        assert again.output.strip() == "imgw: 0 new, 0 drafts"
        unknown = runner.invoke(args=["feeds", "poll", "nope"])
        assert unknown.exit_code == 1 and "no feed source named 'nope'" in unknown.output
    finally:
        app.config["SYRENA"] = original
