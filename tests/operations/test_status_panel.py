"""The admin status panel and the RQ page, in Chromium, against real worker processes."""

from __future__ import annotations

import re

import pytest
from rq import Queue, SimpleWorker

from syrena_core.queues import redis_connection

PASSWORD = "Correct-Horse-42"
pytestmark = pytest.mark.browser


def _login(browser, base: str, email: str):
    context = browser.new_context(base_url=base, locale="pl-PL")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))
    return context, page


def test_the_panel_shows_binds_and_turns_red_when_the_smsc_goes_away(
    browser, ops_server, make_user, start_simulator, start_worker, wait
):
    simulator = start_simulator()
    start_worker(simulator, tps=40)
    wait(lambda: simulator.stats()["binds"] == 1, 60, "a bind")
    email, _token = make_user("operator")
    context, page = _login(browser, ops_server, email)
    try:
        page.get_by_role("link", name="Stan systemu").click()
        page.locator("#status-ready.is-ready").wait_for()  # the first heartbeat after binding may lag a little
        assert page.locator("#status-ready").inner_text().strip() == "Gotowy do wysyłki"
        bind_row = page.locator("#status-binds tbody tr").first
        assert "primary" in bind_row.inner_text() and "połączony" in bind_row.inner_text()
        # The link's adaptive rate under its TPS, and the SMSC's refusals per second (none yet).
        assert re.search(r"\b\d+(\.\d)? / 40(\.0)?\b", bind_row.inner_text()) and "Odmowy/s" in page.content()
        assert page.locator("#status-queues tbody tr[data-queue], #status-queues tbody tr").count() == 3
        assert page.locator("#status-workers tbody tr").count() == 1

        simulator.stop()
        # No reload: the page refreshes itself.
        page.locator("#status-ready.is-not-ready").wait_for(timeout=30_000)
        assert page.locator("#status-ready").inner_text().strip() == "System NIE jest gotowy do wysyłki"
        assert "rozłączony" in page.locator("#status-binds tbody tr").first.inner_text()
        assert page.locator("#status-last-error").inner_text() != "brak"  # the lost bind was logged

        assert page.goto("/admin/rq").status == 403  # jobs and workers are for administrators
    finally:
        context.close()


def test_an_admin_sees_failed_jobs_and_puts_one_back(browser, ops_server, make_user, gateway_redis_url, db):
    connection = redis_connection(gateway_redis_url)
    q = Queue("info", connection=connection)
    job = q.enqueue("math.sqrt", -1, description="a job that fails")
    SimpleWorker([q], connection=connection).work(burst=True)
    assert q.failed_job_registry.count == 1

    email, _token = make_user("admin")
    context, page = _login(browser, ops_server, email)
    try:
        page.goto("/admin/rq")
        failed = page.locator("table.rq-jobs[data-kind=failed]")
        assert "a job that fails" in failed.inner_text() and "ValueError" in failed.inner_text()
        failed.get_by_role("button", name="Ponów").click()
        page.wait_for_url(re.compile(r"/admin/rq$"))
        assert page.locator("table.rq-jobs[data-kind=failed]").count() == 0
        assert job.id in q.get_job_ids()  # back in its queue
        db.rollback()
        from sqlalchemy import text

        assert (
            db.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'rq.requeue' AND object_id = :j"), {"j": job.id}
            ).scalar()
            == 1
        )
    finally:
        context.close()


def test_the_panel_counts_messages_rescued_from_dying_jobs_by_reason_and_refreshes_them(
    browser, ops_server, make_user, db
):
    from sqlalchemy import text

    db.execute(text("INSERT INTO claim_rescue (reason, campaign_id, messages) VALUES ('job_gone', 1, 30)"))
    db.commit()
    email, _token = make_user("operator")
    context, page = _login(browser, ops_server, email)
    try:
        page.goto("/admin/status")
        row = page.locator('#status-rescued tbody tr[data-reason="job_gone"]')
        assert "30" in row.inner_text()
        assert page.locator('[data-field="rescued-total"]').inner_text() == "30"

        db.execute(
            text(
                "INSERT INTO claim_rescue (reason, campaign_id, messages) "
                "VALUES ('job_error_recorded', 1, 5), ('job_gone', 2, 2)"
            )
        )
        db.commit()
        # No reload: the page refreshes itself.
        page.locator('[data-field="rescued-total"]', has_text="37").wait_for(timeout=15_000)
        cells = page.locator("#status-rescued tbody tr").all_inner_texts()
        assert len(cells) == 2 and any("32" in c for c in cells) and any("5" in c for c in cells)
    finally:
        context.close()
