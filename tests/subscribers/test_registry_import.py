"""Importing a registry CSV: uploaded by an admin, imported by a worker job in batches, with a progress page and
a result page (rows added; rows skipped with reasons, all of them downloadable), up to 20 MB."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select, text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from subscribers.exceptions import SubscriberError
from subscribers.jobs import (
    RESUME_DUE_KEY,
    purge_expired_personal_data,
    resume_stalled_imports,
    run_registry_import,
    submit_registry_import,
)
from subscribers.models import Subscriber, SubscriberImport, SubscriberImportSkip
from subscribers.registry import count_rows, create_import, registry_rows
from subscribers.service import phone_hash
from syrena_core.accounts import User
from syrena_core.queues import redis_connection

CONSENT = "stary system SMS, zgody 2019-2025"
MB = 1024 * 1024


def _finished(client, import_id: int):
    def check():
        progress = client.get(f"/subscribers/import/{import_id}/progress.json").get_json()
        return progress if progress["finished"] else None

    return check


def _logged_in_client(app, email: str):
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": email, "password": "Correct-Horse-42", "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def _upload(client, content: bytes, filename: str, token: str):
    """The import form's post, encoded in memory (the test client spools a large body to a file it never
    closes)."""
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(content), filename, content_type="text/csv"), "consent_source": CONSENT}
    )
    return client.post(
        "/subscribers/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"X-CSRFToken": token},
    )


def _csrf(client) -> str:
    page = client.get("/subscribers/import").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _padded_registry(size: int) -> bytes:
    """A registry of exactly `size` bytes: residents with long notes (a column the import ignores)."""
    head = "phone,lat,lon,note\n"
    parts, total, n = [head], len(head), 0
    while True:
        row = f"6020{n:05d},52.39,16.95,"
        if size - total - len(row) - 1 < 40_000:
            parts.append(row + "x" * (size - total - len(row) - 1) + "\n")
            return "".join(parts).encode()
        parts.append(row + "x" * 20_000 + "\n")
        total += len(row) + 20_001
        n += 1


@pytest.mark.browser
def test_an_admin_imports_a_registry_and_sees_the_rows_skipped_with_their_reasons(
    page, login, make_user, db, gazetteer, two_zones, worker, tmp_path, wait
):
    db.execute(text("INSERT INTO suppressed_phone VALUES (:h, now())"), {"h": phone_hash("+48601000402")})
    db.commit()
    registry = tmp_path / "registry.csv"
    registry.write_text(
        "phone,address,lat,lon,language\n"
        "601000401,Głogowska 77,,,pl\n"  # added, placed by the gazetteer
        "601000402,,52.39,16.95,en\n"  # opted out: skipped
        "601000403,,52.39,16.95,en\n"  # added
        "601000404,Qwzx Vbnm 5,,,pl\n"  # no such address: skipped
        "601000405,,52.39,16.95,xx\n"  # no such language: skipped
        "601000403,,52.39,16.95,pl\n"  # twice in the file: skipped the second time
        "12,,52.39,16.95,pl\n",  # no phone number: skipped
        encoding="utf-8",
    )
    email, _token = make_user("admin")
    login(page, email)
    page.goto("/subscribers/")
    page.get_by_role("link", name="Import rejestru (CSV)").click()
    page.locator("#file").set_input_files(str(registry))
    page.locator("#consent_source").fill(CONSENT)
    page.get_by_role("button", name="Importuj").click()
    page.wait_for_url(re.compile(r".*/subscribers/import/\d+$"))
    # The worker imports it; the page follows (polling) and shows the result when it is done.
    page.locator("#import-result").wait_for(timeout=30_000)
    assert page.locator("#result-summary").inner_text().startswith("2 ")
    assert page.locator("#import-status").inner_text() == "Zakończony"
    skipped = {
        int(row.locator("td").nth(0).inner_text()): row.locator("td").nth(2).inner_text()
        for row in page.locator("#skipped-rows tbody tr").all()
    }
    assert set(skipped) == {3, 5, 6, 7, 8}
    assert "opted out" in skipped[3]
    assert "Qwzx Vbnm 5" in skipped[5] and "gazetteer" in skipped[5]
    assert "language" in skipped[6]
    assert "already subscribed" in skipped[7]
    assert "phone" in skipped[8].lower() or "number" in skipped[8].lower()

    with page.expect_download() as download:
        page.get_by_role("link", name="Pobierz pominięte wiersze (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert [int(r["line"]) for r in rows] == [3, 5, 6, 7, 8]
    assert rows[1]["address"] == "Qwzx Vbnm 5" and rows[0]["phone"] == "601000402"

    db.expire_all()
    assert set(db.scalars(select(Subscriber.phone))) == {"+48601000401", "+48601000403"}
    audit = db.execute(text("SELECT details FROM audit_log WHERE action = 'subscriber.import'")).scalars().all()
    assert [(a["added"], a["skipped"], a["consent_source"]) for a in audit] == [(2, 5, CONSENT)]
    # The file (residents' numbers and addresses) is not kept once imported.
    assert db.scalar(select(SubscriberImport.content)) is None


def test_a_file_that_is_no_registry_fails_with_the_reason(app, make_user, worker, wait):
    email, _token = make_user("admin")
    client = _logged_in_client(app, email)
    response = _upload(client, b"name,city\nJan,Pozna\xf1\n", "old.csv", _csrf(client))
    assert response.status_code == 302
    import_id = int(response.headers["Location"].rsplit("/", 1)[1])
    progress = wait(_finished(client, import_id), 30, "the import to end")
    assert progress["status"] == "failed" and "UTF-8" in progress["error"]
    assert "UTF-8" in client.get(f"/subscribers/import/{import_id}").get_data(as_text=True)


def test_a_20_mb_registry_is_accepted_and_imported_a_21_mb_one_is_refused_readably(app, make_user, db, worker, wait):
    email, _token = make_user("admin")
    client = _logged_in_client(app, email)
    token = _csrf(client)

    too_large = b"phone,lat,lon\n" + b"601000001,52.39,16.95\n" * (21 * MB // 22)
    assert len(too_large) > 21 * MB - 100
    response = _upload(client, too_large, "big.csv", token)
    assert response.status_code == 413
    assert "większy niż 20 MB" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(SubscriberImport)) == 0

    registry = _padded_registry(20 * MB)
    assert len(registry) == 20 * MB
    response = _upload(client, registry, "registry.csv", token)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    import_id = int(response.headers["Location"].rsplit("/", 1)[1])
    rows = registry.count(b"\n") - 1
    progress = wait(_finished(client, import_id), 120, "the 20 MB import to end")
    assert (progress["status"], progress["added"], progress["skipped"], progress["total_rows"]) == (
        "done",
        rows,
        0,
        rows,
    )
    page = client.get(f"/subscribers/import/{import_id}").get_data(as_text=True)
    assert re.search(rf"{rows:,}".replace(",", r"\s?") + " wierszy dodano", page)


def test_an_import_goes_on_from_its_checkpoint_and_adds_nobody_twice(settings, db, make_user, worker, wait):
    email, _token = make_user("admin")
    admin = db.scalar(select(User).where(User.email == email))
    body = "phone,lat,lon\n" + "".join(f"60300{n:04d},52.39,16.95\n" for n in range(450))
    import_id = submit_registry_import(db, settings.redis.url, body.encode(), "r.csv", CONSENT, admin)
    # A slice of no time does one batch, then queues the rest of itself behind whatever waits (an alert).
    first = run_registry_import(import_id, slice_seconds=0)
    assert first.startswith("paused after") or first == "taken over by another job"

    def done():
        db.expire_all()
        row = db.get(SubscriberImport, import_id)
        return row.status == "done"

    wait(done, 60, "the import to end")
    row = db.get(SubscriberImport, import_id)
    assert (row.added, row.skipped, row.processed_rows) == (450, 0, 450)
    assert db.scalar(select(func.count()).select_from(Subscriber)) == 450
    assert run_registry_import(import_id) == "finished"  # a late duplicate job does nothing


@pytest.mark.browser
def test_the_progress_page_works_without_javascript(new_context, login, make_user, settings, db):
    email, _token = make_user("admin")
    admin = db.scalar(select(User).where(User.email == email))
    # Stored but never queued: it waits for a worker, as an upload does while every worker sends an alert.
    import_id = create_import(db, b"phone,lat,lon\n601000501,52.39,16.95\n", "r.csv", CONSENT, admin).id
    db.commit()
    page = new_context(java_script_enabled=False).new_page()
    login(page, email)
    page.goto(f"/subscribers/import/{import_id}")
    assert page.locator("#import-status").inner_text() == "Czeka na proces roboczy"
    assert page.locator("progress#import-bar").count() == 1
    assert page.get_by_role("link", name="Odśwież").is_visible()
    # Without JavaScript the page refreshes itself until the import ends.
    assert 'http-equiv="refresh"' in page.content()


def test_skipped_rows_are_erased_when_the_retention_ends_and_the_counts_stay(settings, db, make_user):
    email, _token = make_user("admin")
    admin = db.scalar(select(User).where(User.email == email))
    body = b"phone,lat,lon\n601000601,52.39,16.95\nnot a number,52.39,16.95\n"
    import_id = create_import(db, body, "r.csv", CONSENT, admin).id
    db.commit()
    assert run_registry_import(import_id).startswith("finished")
    assert db.scalar(select(func.count()).select_from(SubscriberImportSkip)) == 1
    assert purge_expired_personal_data() == 0
    assert db.scalar(select(func.count()).select_from(SubscriberImportSkip)) == 1  # within the retention
    db.execute(text("UPDATE subscriber_import SET finished_at = now() - interval '31 days'"))
    db.commit()
    purge_expired_personal_data()
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(SubscriberImportSkip)) == 0
    row = db.get(SubscriberImport, import_id)
    assert (row.added, row.skipped) == (1, 1)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"name;city\nJan;Poznan\n", "phone, and address or lat and lon"),
        (b"phone,label\n601000001,home\n", "phone, and address or lat and lon"),
        (b"phone,address\n601000001,G\xb3ogowska 77\n", "not UTF-8"),
        (b"phone,address\n601000001," + b"x" * 200_000 + b"\n", "cannot be read"),
    ],
)
def test_a_file_that_is_no_registry_is_named_before_any_row_is_imported(content, says):
    with pytest.raises(SubscriberError, match=says):
        count_rows(content)


def test_the_header_is_read_whatever_its_case_and_spacing():
    rows = list(registry_rows(b"\xef\xbb\xbfPhone , Address\n601000001,Glogowska 77\n"))
    assert rows[0].line == 2 and rows[0].values == {"phone": "601000001", "address": "Glogowska 77"}


def test_an_import_whose_job_was_lost_is_queued_again_and_finishes(settings, db, make_user, worker, wait):
    email, _token = make_user("admin")
    admin = db.scalar(select(User).where(User.email == email))
    body = b"phone,lat,lon\n601000701,52.39,16.95\n601000702,52.39,16.95\n"
    # Stored, but its job never reached a worker (Redis lost it): nothing moves for minutes.
    import_id = create_import(db, body, "r.csv", CONSENT, admin).id
    db.execute(text("UPDATE subscriber_import SET updated_at = now() - interval '3 minutes'"))
    db.commit()
    redis_connection(settings.redis.url).delete(RESUME_DUE_KEY)
    assert resume_stalled_imports(settings) == 1  # what every worker's heartbeat calls
    assert resume_stalled_imports(settings) == 0  # once a minute for the whole fleet

    def done():
        db.expire_all()
        return db.get(SubscriberImport, import_id).status == "done"

    wait(done, 60, "the import to end")
    assert db.scalar(select(func.count()).select_from(Subscriber)) == 2
