"""Issue 19 #3: one invisible control character in an alert broke public publishing. Every text a user or an
import stores refuses characters that are neither printable nor a line break (422, naming the character and
its position); and the serialisers (Atom, CAP, XLSX, CSV) never fail on text stored before that rule."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from openpyxl import load_workbook
from sqlalchemy import text

from subscribers.jobs import run_registry_import
from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone

ALERT = {"kind": "alert", "severity": "severe"}


@pytest.mark.parametrize(
    "char, name",
    [
        ("\x0c", "U+000C"),
        ("\x01", "U+0001"),
        ("\x0b", "U+000B"),
        ("\ufffe", "U+FFFE"),
        ("\x1b", "U+001B"),
        ("\ud800", "U+D800"),
    ],
)
@pytest.mark.parametrize("field", ["body", "title", "variants", "template", "department", "event"])
def test_campaign_texts_refuse_invisible_characters_naming_them(api, field, char, name):
    zone = create_zone(api, "Wilda", ZONE_A)
    value = f"Alarm{char} powodziowy"
    data = {**ALERT, "body": "Alarm powodziowy.", "zone_ids": [zone]}
    if field == "variants":
        data["variants"] = {"en": value}
    elif field == "template":
        data.update(body=None, template=value)
    else:
        data[field] = value
    for path in ("/api/v1/campaigns", "/api/v1/campaigns/preview"):
        status, body = api.post(path, data)
        assert status == 422, body
        assert name in body["error"]["message"] and "position 6" in body["error"]["message"], body
    assert api.get("/api/v1/campaigns")[1] == []


def test_line_breaks_are_text_but_the_gsm_escape_is_not(api):
    zone = create_zone(api, "Wilda", ZONE_A)
    status, c = api.post("/api/v1/campaigns", {**ALERT, "body": "Alarm.\r\nZamknij okna.\n", "zone_ids": [zone]})
    assert status == 201, c
    status, body = api.post("/api/v1/campaigns", {**ALERT, "body": "Alarm \x1b( ", "zone_ids": [zone]})
    assert status == 422 and "U+001B" in body["error"]["message"], body


@pytest.mark.parametrize(
    "request_body",
    [
        {"type": "Feature", "properties": {"name": "Wil\x01da"}, "geometry": ZONE_A},
        {"type": "Feature", "properties": {"name": "Wilda", "description": "opis\x0c"}, "geometry": ZONE_A},
    ],
)
def test_zone_names_and_descriptions_refuse_control_characters(api, request_body):
    status, body = api.post("/api/v1/zones", request_body)
    assert status == 422, body
    assert "U+00" in body["error"]["message"]
    assert api.get("/api/v1/zones")[1]["features"] == []


def test_a_zone_file_import_refuses_control_characters_by_name(api, live_server):
    """A file, not a JSON body (the request guard never sees it): the zone rule itself refuses the name."""
    import requests

    collection = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": "Rataje\x0b"}, "geometry": ZONE_A}],
    }
    r = requests.post(
        f"{live_server}/api/v1/zones/import",
        data=json.dumps(collection).encode(),
        timeout=30,
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 422, r.text
    assert "U+000B" in r.json()["error"]["message"]
    assert api.get("/api/v1/zones")[1]["features"] == []


def test_subscriber_labels_refuse_control_characters(api):
    status, body = api.post(
        "/api/v1/subscribers", {"phone": "+48601200399", "verified": True, "locations": [dict(IN_A, label="Dom\x07")]}
    )
    assert status == 422, body
    assert "U+0007" in body["error"]["message"]


def test_a_subscriber_csv_import_with_a_nul_or_control_character_names_the_line(staff, db):
    """Also issue 19 #10: a NUL byte in the registry CSV became a 500 (PostgreSQL refuses NUL in text). Since
    issue 17 the import is a job that skips a bad row with its reason: the row is named, never written."""
    admin, _email, _token = staff("admin")
    for bad in ("Do\x00m", "Do\x0cm"):
        csv_text = f"phone,lat,lon,label\n+48601200300,52.39,16.91,home\n+48601200301,52.39,16.91,{bad}\n"
        r = admin.post(
            "/subscribers/import",
            {"consent_source": "rejestr 2026"},
            csrf_from="/subscribers/import",
            files={"file": ("rejestr.csv", csv_text.encode(), "text/csv")},
        )
        assert r.status_code == 302, r.text[:300]
        result = r.headers["Location"]
        run_registry_import(int(result.rstrip("/").rsplit("/", 1)[1]))  # the worker's job, here in the test
        page = admin.get(result).text
        row = re.search(r"<tr><td class=\"num\">3</td><td>\+48601200301</td><td>([^<]*)</td></tr>", page)
        assert row is not None, page[:3000]
        assert "U+00" in row.group(1) and "label" in row.group(1)
    phones = db.execute(text("SELECT phone FROM subscriber")).scalars().all()
    assert phones == ["+48601200300"]


def test_feeds_cap_and_exports_never_fail_on_text_stored_before_the_rule(api, db, worker, wait, staff):
    """Rows stored by an older version (or any path that forgot the rule) still publish: the character is
    replaced on output, the feed stays well-formed XML, the XLSX opens."""
    zone = create_zone(api, "Wilda", ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    status, c = api.post(
        "/api/v1/campaigns",
        {**ALERT, "title": "Powódź", "body": "Alarm powodziowy.", "department": "WZK", "zone_ids": [zone]},
    )
    assert status == 201, c
    db.execute(
        text(
            "UPDATE campaign SET title = 'Pow\x0bódź', department = 'W\x1bZK', "
            "body = 'Alarm\x0c\x01 \ufffe\x1b', variants = '{\"en\": \"Flood\\u000c\"}' WHERE id = :id"
        ),
        {"id": c["id"]},
    )
    db.execute(text("UPDATE zone SET name = 'Wil\x01da'"))
    db.commit()
    assert api.post(f"/api/v1/campaigns/{c['id']}/send")[0] == 202
    wait(lambda: api.get(f"/api/v1/campaigns/{c['id']}")[1]["status"] == "completed", 60, "the alert to be sent")

    feed, _x, _t = staff("finance")
    atom = feed.get("/alerts.atom")
    assert atom.status_code == 200
    entry = etree.fromstring(atom.content).find(".//{http://www.w3.org/2005/Atom}summary")
    assert entry.text.startswith("Alarm")
    cap = feed.get(f"/alerts/{c['id']}.xml")
    assert cap.status_code == 200
    etree.fromstring(cap.content)
    status, _staff_cap = api.call("GET", f"/api/v1/campaigns/{c['id']}/cap.xml")
    assert status == 200
    month = datetime.now(ZoneInfo("Europe/Warsaw")).strftime("%Y-%m")
    xlsx = feed.get(f"/finance/{month}/report.xlsx")
    assert xlsx.status_code == 200, xlsx.text[:300]
    book = load_workbook(io.BytesIO(xlsx.content))
    names = [row[0] for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) if row]
    assert "W\ufffdZK" in names and "Wil\ufffdda" in names, names  # shown, the bad character replaced
    for fmt in ("report.csv", "statement.pdf"):
        assert feed.get(f"/finance/{month}/{fmt}").status_code == 200


def test_staff_forms_refuse_control_characters_too(staff, make_user, db):
    """Forms of the staff pages (here: an API token's label) follow the same rule as JSON bodies."""
    admin, _email, _token = staff("admin")
    user_id = db.execute(text("SELECT id FROM app_user ORDER BY id LIMIT 1")).scalar()
    before = db.execute(text("SELECT count(*) FROM api_token")).scalar()
    r = admin.post(f"/admin/users/{user_id}/tokens", {"label": "skrypt\x1bCI", "role": ""}, csrf_from="/admin/users/")
    assert r.status_code == 422, r.text[:300]
    assert "U+001B" in r.text
    assert db.execute(text("SELECT count(*) FROM api_token")).scalar() == before
    r = admin.post(f"/admin/users/{user_id}/tokens", {"label": "skrypt CI", "role": ""}, csrf_from="/admin/users/")
    assert r.status_code == 200
