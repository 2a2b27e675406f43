"""Official warnings in → drafts out, end to end: real CAP documents over real HTTP, real PostGIS zones."""

from __future__ import annotations

import socket

import pytest
from lxml import etree
from sqlalchemy import func, select

from campaigns.cap import build_cap
from campaigns.models import Campaign
from feeds.models import AlertState, FeedStatus, IncomingAlert
from feeds.service import poll_named, poll_source
from syrena_core.config import FeedSettings, FeedSource, replace
from syrena_core.db import session_scope
from tests.feeds.conftest import Route, cap_file

ATOM = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
  <id>urn:test:feed</id><title>test warnings</title><updated>2026-12-06T08:00:00+01:00</updated>
  %s
</feed>"""


def entry_linking(url: str, identifier: str | None = None) -> bytes:
    known = f"<cap:identifier>{identifier}</cap:identifier>" if identifier else ""
    return (
        f"<entry><id>{url}</id><title>w</title><updated>2026-12-06T08:00:00+01:00</updated>{known}"
        f'<link href="{url}" type="application/cap+xml" rel="related"/></entry>'
    ).encode()


def entry_embedding(document: bytes) -> bytes:
    alert = document.split(b"?>", 1)[1]  # without its XML declaration
    return (
        b"<entry><id>urn:e</id><title>w</title><updated>2026-12-06T08:00:00+01:00</updated>"
        b'<content type="application/cap+xml">' + alert + b"</content></entry>"
    )


def feed_settings(settings, *sources: FeedSource, **limits):
    return replace(settings, feeds=FeedSettings(sources=sources, **{"timeout_seconds": 1.0, **limits}))


def source(url: str, name: str = "imgw", **extra) -> FeedSource:
    return FeedSource(name=name, url=url, **extra)


def status_of(settings, name: str = "imgw") -> FeedStatus:
    with session_scope(settings.database.url) as session:
        status = session.get(FeedStatus, name)
        assert status is not None
        session.expunge(status)
        return status


def counts(settings) -> tuple[int, int]:
    with session_scope(settings.database.url) as session:
        return (
            session.scalar(select(func.count()).select_from(IncomingAlert)) or 0,
            session.scalar(select(func.count()).select_from(Campaign)) or 0,
        )


def test_a_warning_over_the_city_becomes_a_draft_with_its_zones_and_texts(settings, feed_server, poznan_zones):
    feed_server.routes["/flood.xml"] = Route(cap_file("poznan_warta_flood.xml"))
    src = source(feed_server.url("/flood.xml"))
    result = poll_source(settings.database.url, src, feed_settings(settings, src))
    assert result.error is None and len(result.drafts) == 1
    with session_scope(settings.database.url) as session:
        campaign = session.get(Campaign, result.drafts[0])
        assert campaign.status == "draft"  # never sent by itself
        assert {z.name for z in campaign.zones} == {"Wilda", "Rataje"}
        assert campaign.severity == "severe"
        assert campaign.event == "Wezbranie z przekroczeniem stanów ostrzegawczych"
        # Written from the library's flood template (issue 16), its {until} the warning's expiry in local time,
        # in every language the template has; the draft is linked to the template version.
        assert campaign.body.startswith("UWAGA! Zagrozenie powodziowe: ") and "Wilda" in campaign.body
        assert "do 03.06 12:00" in campaign.body and set(campaign.variants) == {"en", "uk"}
        assert campaign.template_version_id is not None
        alert = session.scalars(select(IncomingAlert)).one()
        assert alert.state == AlertState.DRAFTED.value and alert.campaign_id == campaign.id
        assert campaign.source_alert_id == alert.id
        # Our CAP for that campaign names the official warning it came from.
        ours = etree.fromstring(build_cap(session, campaign, settings.campaigns))
        references = ours.findtext("{urn:oasis:names:tc:emergency:cap:1.2}references")
        assert references == "testy-syrena@imgw.example,2.49.0.0.616.0.PL.TEST.SYRENA.0001,2026-12-06T08:00:00+01:00"
    assert status_of(settings).last_error is None


def test_an_atom_feed_linking_and_embedding_alerts_and_a_geocode_mapped_to_zones(settings, feed_server, poznan_zones):
    feed_server.routes["/cap/storm.xml"] = Route(cap_file("poznan_geocode_storm.xml"))
    feed_server.routes["/cap/canada.xml"] = Route(cap_file("eccc_thunder_bay_polygons.xml"))
    feed_server.routes["/feed.atom"] = Route(
        ATOM
        % b"".join(
            [
                entry_linking("/cap/storm.xml"),
                entry_linking(feed_server.url("/cap/canada.xml")),
                entry_embedding(cap_file("airnow_franklin_county_circle.xml")),
            ]
        ),
        content_type="application/atom+xml",
    )
    src = source(feed_server.url("/feed.atom"), geocodes={"EMMA_ID:PL015": ("WILDA",)})
    result = poll_source(settings.database.url, src, feed_settings(settings, src))
    assert result.new == 3 and len(result.drafts) == 1
    with session_scope(settings.database.url) as session:
        by_sender = {a.sender: a for a in session.scalars(select(IncomingAlert))}
        storm = by_sender["testy-syrena@imgw.example"]
        assert storm.state == "drafted" and storm.zone_ids == [poznan_zones["Wilda"][0]]
        assert session.get(Campaign, storm.campaign_id).event == "Silny wiatr"
        # Real alerts from Canada (an Update of one we never saw) and Idaho (a circle): far away, no draft.
        assert by_sender["cap-pac@canada.ca"].state == "outside"
        assert by_sender["http://www.airnow.gov"].state == "outside"
    status = status_of(settings)
    assert status.last_error_kind == "outside"  # shown on the status line


def test_a_linked_document_the_feed_names_is_not_fetched_again(settings, feed_server, poznan_zones):
    feed_server.routes["/cap/flood.xml"] = Route(cap_file("poznan_warta_flood.xml"))
    feed_server.routes["/feed.atom"] = Route(
        ATOM % entry_linking("/cap/flood.xml", "2.49.0.0.616.0.PL.TEST.SYRENA.0001"),
        content_type="application/atom+xml",
    )
    src = source(feed_server.url("/feed.atom"))
    assert len(poll_source(settings.database.url, src, feed_settings(settings, src)).drafts) == 1
    again = poll_source(settings.database.url, src, feed_settings(settings, src))
    assert again.new == 0 and again.problems == []
    assert [path for path, _headers in feed_server.requests] == ["/feed.atom", "/cap/flood.xml", "/feed.atom"]


def test_an_update_and_a_cancel_flag_the_draft_and_send_nothing(settings, feed_server, poznan_zones):
    feed_server.routes["/one.xml"] = Route(cap_file("poznan_warta_flood.xml"))
    src = source(feed_server.url("/one.xml"))
    test_settings = feed_settings(settings, src)
    [draft_id] = poll_source(settings.database.url, src, test_settings).drafts
    feed_server.routes["/one.xml"] = Route(cap_file("poznan_warta_flood_update.xml"))
    assert poll_source(settings.database.url, src, test_settings).drafts == []
    with session_scope(settings.database.url) as session:
        campaign = session.get(Campaign, draft_id)
        assert campaign.source_follow_up == "Update" and campaign.status == "draft"
    feed_server.routes["/one.xml"] = Route(cap_file("poznan_warta_flood_cancel.xml"))
    poll_source(settings.database.url, src, test_settings)
    with session_scope(settings.database.url) as session:
        assert session.get(Campaign, draft_id).source_follow_up == "Cancel"
        states = sorted(a.state for a in session.scalars(select(IncomingAlert)))
        assert states == ["drafted", "follow_up", "follow_up"]
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_an_unchanged_feed_answers_304_to_its_etag_and_nothing_is_read_twice(settings, feed_server, poznan_zones):
    feed_server.routes["/etag.xml"] = Route(cap_file("poznan_warta_flood.xml"), etag='"v1"')
    src = source(feed_server.url("/etag.xml"))
    first = poll_source(settings.database.url, src, feed_settings(settings, src))
    second = poll_source(settings.database.url, src, feed_settings(settings, src))
    assert first.new == 1 and second.not_modified and second.new == 0
    assert feed_server.requests[-1][1].get("If-None-Match") == '"v1"'
    assert status_of(settings).last_http_status == 304
    assert counts(settings) == (1, 1)


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>"""


def _huge_polygon(points: int) -> bytes:
    ring = " ".join(f"{52.38 + 0.01 * (i % 2)},{16.93 + i * 1e-7}" for i in range(points - 1)) + " 52.38,16.93"
    document = cap_file("poznan_warta_flood.xml").decode()
    start, end = document.index("<polygon>") + len("<polygon>"), document.index("</polygon>")
    return (document[:start] + ring + document[end:]).replace("SYRENA.0001", "SYRENA.HUGE").encode()


def _far_away() -> bytes:
    document = cap_file("poznan_warta_flood.xml").decode()
    far = "48.85,2.29 48.85,2.30 48.86,2.30 48.86,2.29 48.85,2.29"  # Paris
    start, end = document.index("<polygon>") + len("<polygon>"), document.index("</polygon>")
    return (document[:start] + far + document[end:]).replace("SYRENA.0001", "SYRENA.PARIS").encode()


def _schema_failure() -> bytes:
    return cap_file("poznan_warta_flood.xml").replace(b"<severity>Severe</severity>", b"<severity>Awful</severity>")


@pytest.mark.parametrize(
    ("case", "kind"),
    [
        ("down", "down"),
        ("http_error", "down"),
        ("slow", "slow"),
        ("not_xml", "not_xml"),
        ("billion_laughs", "billion_laughs"),
        ("xxe", "xxe"),
        ("schema", "schema"),
        ("huge_polygon", "too_many_points"),
        ("too_large", "too_large"),
        ("far_away", "outside"),
    ],
)
def test_bad_input_is_logged_on_the_status_line_and_never_drafted(settings, feed_server, poznan_zones, case, kind):
    routes = {
        "http_error": Route(b"maintenance", status=503, content_type="text/plain"),
        "slow": Route(cap_file("poznan_warta_flood.xml"), delay=3.0),
        "not_xml": Route(b"<html><body>Service unavailable</body", content_type="text/html"),
        "billion_laughs": Route(BILLION_LAUGHS),
        "xxe": Route(XXE),
        "schema": Route(_schema_failure()),
        "huge_polygon": Route(_huge_polygon(100_000)),
        "too_large": Route(b"<x>" + b" " * 20_000 + b"</x>"),
        "far_away": Route(_far_away()),
    }
    if case == "down":
        url = f"http://127.0.0.1:{_unused_port()}/feed.xml"
    else:
        feed_server.routes["/bad.xml"] = routes[case]
        url = feed_server.url("/bad.xml")
    src = source(url)
    # EMMA_ID:PL015 is not mapped here: only the polygon could make a draft.
    limits = {"max_bytes": 10_000} if case == "too_large" else {}
    result = poll_source(settings.database.url, src, feed_settings(settings, src, timeout_seconds=0.5, **limits))
    assert result.drafts == []
    status = status_of(settings)
    assert status.last_error_kind == kind, status.last_error
    assert status.last_error and status.last_poll_at is not None
    assert counts(settings)[1] == 0  # no campaign


def test_poll_by_name_refuses_an_unknown_source(settings):
    from feeds.exceptions import FeedSourceUnknown

    with pytest.raises(FeedSourceUnknown, match="no feed source named 'nope'"):
        poll_named(settings.database.url, feed_settings(settings), "nope")


def test_a_feed_cannot_make_the_worker_fetch_from_another_server(settings, feed_server, poznan_zones):
    feed_server.routes["/feed.atom"] = Route(
        ATOM % entry_linking("http://169.254.169.254/latest/meta-data/"), content_type="application/atom+xml"
    )
    src = source(feed_server.url("/feed.atom"))
    result = poll_source(settings.database.url, src, feed_settings(settings, src))
    assert result.new == 0 and [p.kind for p in result.problems] == ["schema"]
    assert "own server" in status_of(settings).last_error
    assert [path for path, _headers in feed_server.requests] == ["/feed.atom"]


def test_invisible_characters_in_the_source_text_do_not_cost_the_draft(settings, feed_server, poznan_zones):
    document = cap_file("poznan_warta_flood.xml").replace(b"Nie zbli\xc5\xbcaj", "Nie\u200b zbli\u00adżaj".encode())
    feed_server.routes["/flood.xml"] = Route(document)
    src = source(feed_server.url("/flood.xml"))
    [draft] = poll_source(settings.database.url, src, feed_settings(settings, src)).drafts
    with session_scope(settings.database.url) as session:
        assert "do 03.06 12:00" in session.get(Campaign, draft).body  # the expiry, beside the stripped text


def test_a_linked_document_that_was_down_is_read_on_the_next_poll(settings, feed_server, poznan_zones):
    feed_server.routes["/feed.atom"] = Route(
        ATOM % entry_linking("/cap/flood.xml"), content_type="application/atom+xml", etag='"feed-1"'
    )
    feed_server.routes["/cap/flood.xml"] = Route(b"busy", status=503, content_type="text/plain")
    src = source(feed_server.url("/feed.atom"))
    first = poll_source(settings.database.url, src, feed_settings(settings, src))
    assert first.drafts == [] and status_of(settings).last_error_kind == "down"
    feed_server.routes["/cap/flood.xml"] = Route(cap_file("poznan_warta_flood.xml"))
    second = poll_source(settings.database.url, src, feed_settings(settings, src))
    assert not second.not_modified and len(second.drafts) == 1
    assert status_of(settings).last_error is None
