"""CAP 1.2 §3.3.2: times are "2002-05-24T16:49:00-07:00" and UTC is written "-00:00" (never "Z", never
"+00:00"); the documents stay valid against the OASIS schema. The Atom feed's dates stay RFC 3339."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from sqlalchemy import text

from campaigns.cap import cap_time
from tests.campaigns.test_cap import NS, XSD
from tests.factories import ZONE_A, create_zone, make_campaign

CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2026, 12, 6, 22, 15, 7, 123456, tzinfo=UTC), "2026-12-06T22:15:07-00:00"),  # no fraction
        (datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Warsaw")), "2026-07-01T10:00:00-00:00"),  # CEST
        (datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("Europe/Warsaw")), "2026-12-01T07:00:00-00:00"),  # CET
        (datetime(2026, 12, 6, 22, 15), "2026-12-06T22:15:00-00:00"),  # naive: UTC, as the database means it
    ],
)
def test_cap_writes_utc_as_minus_zero(moment, written):
    assert cap_time(moment) == written


def test_a_cap_document_writes_its_times_as_cap_requires_and_stays_valid(api, operator):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, alert = operator.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "title": "Burza",
            "body": "Uwaga! Silna burza nad Wildą.",
            "zone_ids": [zone],
            "expires_at": "2030-07-01T14:00:00+02:00",
        },
    )
    assert status == 201, alert
    status, payload = operator.get(f"/api/v1/campaigns/{alert['id']}/cap.xml")
    assert status == 200, payload
    doc = etree.fromstring(payload.encode("utf-8") if isinstance(payload, str) else payload)
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(doc)
    sent = doc.findtext("cap:sent", namespaces=NS)
    expires = doc.findtext("cap:info/cap:expires", namespaces=NS)
    assert CAP_TIME.match(sent), sent
    assert expires == "2030-07-01T12:00:00-00:00"
    assert datetime.fromisoformat(sent.replace("-00:00", "+00:00")) == datetime.fromisoformat(
        alert["created_at"]
    ).replace(microsecond=0)


def test_the_atom_feed_dates_stay_rfc_3339(db, live_server):
    alert, _ = make_campaign(db, status="completed")
    db.execute(
        text("UPDATE campaign SET sent_at = :at, expires_at = :far WHERE id = :id"),
        {"at": datetime(2026, 7, 1, 10, 0, tzinfo=UTC), "far": datetime(2030, 1, 1, tzinfo=UTC), "id": alert},
    )
    db.commit()
    with urllib.request.urlopen(live_server + "/alerts.atom", timeout=10) as r:
        feed = etree.fromstring(r.read())
    updated = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}updated")]
    assert updated and all(RFC3339.match(u) and not u.endswith("-00:00") for u in updated), updated
    assert "2026-07-01T10:00:00+00:00" in updated
