"""WCAG 2.1 A/AA on every HTML page, as axe-core sees it in Chromium: each public page anonymously and each staff
page logged in as every role that may open it (the pages differ by role: buttons, columns, personal data).

The pages are listed below by endpoint, and test_every_get_route_is_checked_or_excluded compares that list with
the app's url_map: a new GET route fails it until it is checked here or excluded with a reason. The data are
made once for the module (a campaign in each state, a zone, a subscriber, a reconciliation import…) and one
browser context per role is logged in once: each page is one test, visited by every context."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from billing.reconciliation import import_operator_csv
from campaigns import callouts, groups
from subscribers.jobs import run_registry_import
from subscribers.models import ResidentReport, ResidentReportNote
from subscribers.registry import create_import
from syrena_core import accounts
from syrena_core.db import session_scope
from tests.conftest import PASSWORD, _offline, empty_state
from tests.factories import IN_A, IN_B, ZONE_A, ZONE_B, create_subscriber, create_zone, make_campaign
from tests.harness import ROOT
from tests.helpers import ApiClient

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ROLES = ("admin", "operator", "approver", "finance")
ANONYMOUS = "anonymous"

# GET routes that are not HTML pages, each with why it is not checked here.
NOT_PAGES = {
    "static": "static files",
    "admin.leaflet_asset": "vendored Leaflet files",
    "zones_ui.geoman_asset": "vendored Leaflet-Geoman files",
    "finance.chartjs_asset": "vendored Chart.js",
    "auth.set_language": "a redirect back to the page the language was picked on",
    "health.healthz": "a probe for the orchestrator (JSON)",
    "health.readyz": "a probe for the orchestrator (JSON)",
    "health.prometheus_metrics": "Prometheus text",
    "public.address_suggestions": "JSON for the address field",
    "public_alerts.alerts_feed": "an Atom feed",
    "public_alerts.alert_cap": "CAP XML",
    "campaigns_ui.cap_xml": "CAP XML (download)",
    "admin.campaign_progress": "JSON for the live progress",
    "status_ui.status_json": "JSON for the status panel",
    "audit_ui.audit_csv": "CSV download",
    "zones_ui.zones_data": "GeoJSON for the zones map",
    "zones_ui.export": "GeoJSON download",
    "finance.report_csv_download": "CSV download",
    "finance.report_xlsx_download": "XLSX download",
    "finance.statement_pdf_download": "PDF download",
    "timeline_ui.timeline_pdf_download": "PDF download (an alert's timing report)",
    "public.my_data_json": "JSON download of one's own data",
    "public.zones_geojson": "GeoJSON for the public maps",
    "api_docs.swagger_asset": "vendored Swagger UI files",
    "subscribers_ui.import_progress_json": "JSON for the import's progress bar",
    "subscribers_ui.import_skipped_csv": "CSV download",
    "replies_ui.replies_json": "JSON for the live tally of a question's replies",
    "replies_ui.replies_map": "GeoJSON for the replies map",
    "replies_ui.replies_csv_download": "CSV download",
    "replies_ui.replies_geojson_download": "GeoJSON download",
    "fieldwork_ui.worklist": "PDF, CSV or GeoJSON download (the field worklist)",
    "exercises_ui.group_list": "a redirect to the groups page of kind test (/admin/groups?kind=test)",
    "exercises_ui.group_edit": "a redirect to the group's page (/admin/groups/<id>)",
    "groups_ui.members_export": "CSV download (a group's members)",
    "callouts_ui.board_json": "JSON for a call-out's live board",
    "callouts_ui.pdf": "PDF download (a call-out's record)",
}
JSON_API = "/api/v1/"  # the JSON API's routes (an API documentation page elsewhere is a page like any other)

# case id → (endpoint, how to build the path from the module's data). Routes without arguments get one case
# by themselves (their rule is the path); routes with arguments are listed here, some in several states.
WITH_ARGUMENTS = {
    **{
        f"campaign-{state}": ("admin.campaign_detail", lambda d, s=state: f"/campaigns/{d['campaigns'][s]}")
        for state in ("draft", "pending_approval", "scheduled", "sending", "paused", "completed", "cancelled")
    },
    "campaign-with-question": ("admin.campaign_detail", lambda d: f"/campaigns/{d['campaigns']['question']}"),
    "campaign-edit-draft": ("campaigns_ui.edit", lambda d: f"/campaigns/{d['campaigns']['draft']}/edit"),
    **{
        f"campaign-review-{state}": ("campaigns_ui.review", lambda d, s=state: f"/campaigns/{d['campaigns'][s]}/review")
        for state in ("draft", "pending_approval", "completed")
    },
    "group-edit": ("groups_ui.group_edit", lambda d: f"/admin/groups/{d['test_group']}"),
    "group-edit-team": ("groups_ui.group_edit", lambda d: f"/admin/groups/{d['team_group']}"),
    "campaign-review-exercise": ("campaigns_ui.review", lambda d: f"/campaigns/{d['exercise']}/review"),
    "reconciliation-detail": (
        "finance.reconciliation_detail",
        lambda d: f"/finance/reconciliation/{d['reconciliation']}",
    ),
    "subscriber-detail": ("subscribers_ui.subscriber_detail", lambda d: f"/subscribers/{d['subscriber']}"),
    "registry-import-result": ("subscribers_ui.import_result", lambda d: f"/subscribers/import/{d['import']}"),
    "report-detail": ("reports_ui.report_detail", lambda d: f"/reports/{d['report']}"),
    # the first shipped hazard template (written on the first read of the library)
    "template-edit": ("templates_ui.edit", lambda d: "/templates/1"),
    # A call-out (issue 20) with a confirmation, a decline handed to a deputy and a group short of its needed.
    "callout-board": ("callouts_ui.board", lambda d: f"/callouts/{d['callout']}"),
}
# Pages that need more than a visit: the second-factor page (between password and code), and a resident's own
# data, shown only after an SMS code (axe checks it with data in tests/subscribers/test_public_page_without_js.py;
# here, without a code, its refusal below).
SPECIAL = {"auth.login_code", "public.my_data"}
# Pages answering with an error: the page every missing path answers with, the data page without a code.
EXTRA = {"not-found": "/no-such-page", "my-data-without-code": "/subscribe/my-data"}


def _routes_without_arguments(app) -> dict[str, str]:
    return {
        rule.endpoint: rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.arguments and _is_page(rule)
    }


def _is_page(rule) -> bool:
    return rule.endpoint not in NOT_PAGES and not rule.rule.startswith(JSON_API)


# The cases are fixed at collection (no app yet); the url_map test below keeps them complete.
PLAIN_PAGES = {
    "admin.dashboard": "/",
    "api_docs.api_docs": "/api/docs",
    "auth.account": "/account",
    "auth.totp_enrol": "/account/totp",
    "auth.login": "/login",
    "audit_ui.audit_page": "/admin/audit/",
    "status_ui.rq_page": "/admin/rq",
    "status_ui.status_page": "/admin/status",
    "users_ui.user_list": "/admin/users/",
    "groups_ui.group_list": "/admin/groups",
    "public_alerts.alerts_page": "/alerts",
    "campaigns_ui.campaign_list": "/campaigns/",
    "campaigns_ui.compose": "/campaigns/new",
    "finance.report": "/finance/",
    "finance.reconciliation_list": "/finance/reconciliation",
    "feeds_ui.feed_page": "/feeds",
    "finance.tariffs": "/finance/tariffs",
    "public.subscribe_page": "/subscribe/",
    "reports_ui.report_list": "/reports/",
    "subscribers_ui.subscriber_list": "/subscribers/",
    "subscribers_ui.registry_import": "/subscribers/import",
    "zones_ui.map_page": "/zones/",
    "templates_ui.template_list": "/templates/",
    "templates_ui.new": "/templates/new",
    "callouts_ui.callout_list": "/callouts/",
}
CASES = {**{e: (e, lambda d, p=p: p) for e, p in PLAIN_PAGES.items()}, **WITH_ARGUMENTS}


def test_every_get_route_is_checked_or_excluded(app):
    plain = _routes_without_arguments(app)
    unlisted = {e: r for e, r in plain.items() if e not in PLAIN_PAGES and e not in SPECIAL}
    assert not unlisted, f"GET pages not checked by axe-core: add them to PLAIN_PAGES (or NOT_PAGES): {unlisted}"
    assert {e: p for e, p in PLAIN_PAGES.items() if plain.get(e) != p} == {}, "PLAIN_PAGES out of date"
    with_arguments = {
        rule.endpoint: rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and rule.arguments and _is_page(rule)
    }
    covered = {endpoint for endpoint, _path in WITH_ARGUMENTS.values()}
    missing = {e: r for e, r in with_arguments.items() if e not in covered}
    assert not missing, f"GET pages with arguments not checked: add a case to WITH_ARGUMENTS (or NOT_PAGES): {missing}"


# ---------------------------------------------------------------- the module's data and browsers
@pytest.fixture(autouse=True)
def _clean_state():
    """Replaces tests/conftest.py's per-test emptying: the pages share the module's data (see `site`)."""
    yield


OPERATOR_CSV = "message_id,time,parts,amount\nUNKNOWN-1,{now},1,0.18\n"
REGISTRY_CSV = b"phone,lat,lon,language\n601000777,52.39,16.91,pl\n601000778,52.39,16.91,xx\n"


@pytest.fixture(scope="module")
def site(settings, simulator, live_server):
    """The data the pages show, made once: users of every role, two zones, a subscriber, a campaign in every
    state, a reconciliation import."""
    empty_state(settings, simulator)
    users = {}
    with session_scope(settings.database.url) as session:
        for role in ROLES:
            email = f"{role}-{uuid.uuid4().hex[:6]}@test.syrena"
            users[role] = email
            user = accounts.create_user(session, email, role, PASSWORD)
            if role == "admin":
                token = accounts.issue_token(session, user)
        second_factor = accounts.create_user(session, f"totp-{uuid.uuid4().hex[:6]}@test.syrena", "operator", PASSWORD)
        second_factor.totp_secret = accounts.new_totp_secret()
        users["second_factor"] = second_factor.email
    api = ApiClient(live_server, token)
    zone_a = create_zone(api, "Wilda", ZONE_A)
    create_zone(api, "Łazarz", ZONE_B)
    subscriber = create_subscriber(api, "+48601234567", IN_A, IN_B)
    status, draft = api.post(
        "/api/v1/campaigns",
        {"kind": "alert", "severity": "severe", "body": "Alarm powodziowy", "title": "Powódź", "zone_ids": [zone_a]},
    )
    assert status == 201, draft
    campaigns = {"draft": draft["id"]}
    # An exercise to a test group (issue 16): its stripe shows on the lists and the review page.
    status, group = api.post(
        "/api/v1/test-groups", {"name": "Sztab", "members": [{"name": "A", "phone": "+48601900001"}]}
    )
    assert status == 201, group
    # A crisis-management team with a deputy (issue 20): the groups page of every kind.
    status, team = api.post(
        "/api/v1/groups",
        {
            "name": "Zespół Zarządzania Kryzysowego",
            "kind": "team",
            "needed": 1,
            "members": [
                {"name": "A", "phone": "+48601900002", "function": "Prezydent", "deputy_phone": "+48601900003"},
                {"name": "B", "phone": "+48601900003", "function": "Zastępca"},
            ],
        },
    )
    assert status == 201, team
    status, exercise = api.post(
        "/api/v1/campaigns",
        {
            "kind": "alert",
            "severity": "severe",
            "body": "Alarm",
            "zone_ids": [zone_a],
            "status": "exercise",
            "test_group_id": group["id"],
        },
    )
    assert status == 201, exercise
    with session_scope(settings.database.url) as session:
        for state, ago in (("pending_approval", None), ("scheduled", None), ("sending", 60.0), ("paused", 120.0)):
            campaigns[state], _ = make_campaign(session, 3, status=state, sent_ago=ago, commit=False)
        campaigns["completed"], _ = make_campaign(
            session, 3, status="completed", message_status="delivered", commit=False
        )
        campaigns["cancelled"], _ = make_campaign(session, 2, status="cancelled", sent_ago=None, commit=False)
        # A campaign that asked a question (issue 15), one reply: the page's tallies, map and replies table.
        campaigns["question"], phones = make_campaign(
            session, 3, status="completed", message_status="delivered", commit=False
        )
        session.execute(
            text("""UPDATE campaign SET question = CAST(:q AS jsonb), replies_until = now() WHERE id = :c;
                    INSERT INTO campaign_respondent (campaign_id, phone, answer, answered_at, last_text, last_reply_at)
                    VALUES (:c, :phone, '2', now(), 'POMOC 2', now())"""),
            {
                "c": campaigns["question"],
                "phone": phones[0],
                "q": '{"answers": [{"key": "1", "label": {"pl": "jestem bezpieczny"}, "needs_help": false}, '
                '{"key": "2", "label": {"pl": "potrzebuję pomocy"}, "needs_help": true}], "reply_minutes": 720}',
            },
        )
        session.execute(
            text("UPDATE campaign SET scheduled_for = now() + interval '1 day' WHERE id = :c"),
            {"c": campaigns["scheduled"]},
        )
        batch = import_operator_csv(
            session,
            None,
            datetime.now(UTC).date().replace(day=1),
            OPERATOR_CSV.format(now=datetime.now(UTC).isoformat()),
        )
        reconciliation = batch.id
        # A registry import with a row added and a row skipped (the result page shows both).
        registry = create_import(session, REGISTRY_CSV, "registry.csv", "paper forms", None).id
        # A resident's report with a place, an internal note and a reply (the inbox's pages show all three).
        report = ResidentReport(
            phone="+48601234567",
            text="Zalana piwnica",
            location="SRID=4326;POINT(16.91 52.39)",
            location_source="text",
            address="Głogowska 77, Poznań",
            zone_id=zone_a,
        )
        report.notes = [
            ResidentReportNote(kind="note", body="OSP"),
            ResidentReportNote(kind="reply", body="Jadą", sms_status="sent"),
        ]
        session.add(report)
        session.flush()
        report_id = report.id
        callout_id = _callout(session)
    run_registry_import(registry)
    return {
        "users": users,
        "campaigns": campaigns,
        "subscriber": subscriber,
        "reconciliation": reconciliation,
        "import": registry,
        "test_group": group["id"],
        "team_group": team["id"],
        "exercise": exercise["id"],
        "report": report_id,
        "callout": callout_id,
    }


def _callout(session) -> int:
    """A call-out to a team (with a deputy) and a media group: Anna declined (her deputy was messaged), Ewa
    confirmed with a reply, the team cannot reach its needed any more (the board's and dashboard's red banners)."""
    team = groups.create_group(
        session,
        None,
        {
            "name": "Sztab",
            "kind": "team",
            "members": [
                {"name": "Anna", "phone": "+48601900011", "function": "szefowa", "deputy_phone": "+48601900019"},
                {"name": "Ewa", "phone": "+48601900012"},
            ],
        },
    )
    media = groups.create_group(session, None, {"name": "Radio", "kind": "media", "phones": ["+48601900013"]})
    callout = callouts.create(session, None, {"group_ids": [team.id, media.id], "body": "Zbiórka w CZK."})
    session.execute(
        text("""UPDATE callout_member SET answer = 'declined', answered_at = now(), escalated_at = now(),
                       escalated_to = '+48601900019' WHERE phone = '+48601900011';
                UPDATE callout_member SET answer = 'confirmed', answered_at = now(), reply_text = 'TAK'
                WHERE phone = '+48601900012';
                UPDATE callout_group SET unreachable_at = now() WHERE group_id = :g"""),
        {"g": team.id},
    )
    return callout.id


@pytest.fixture(scope="module")
def browsers(browser, live_server, site):
    """A logged-in context per role and an anonymous one: role → page."""
    pages = {}
    contexts = []
    for who in (ANONYMOUS, *ROLES):
        context = browser.new_context(
            base_url=live_server, locale="pl-PL", bypass_csp=True, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        context.route("**/*", _offline(live_server))
        contexts.append(context)
        page = context.new_page()
        if who != ANONYMOUS:
            _log_in(page, site["users"][who])
        pages[who] = page
    yield pages
    for context in contexts:
        context.close()


def _log_in(page, email: str) -> None:
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state("load")


def axe_violations(page) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations.map(v => "
        "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})))",
        AXE_TAGS,
    )


def described(found: dict[str, list[dict]]) -> str:
    lines = []
    for who, violations in found.items():
        for v in violations:
            lines.append(f"[{who}] {v['id']} ({v['impact']}): {v['help']}\n      " + "\n      ".join(v["nodes"][:8]))
    return "\n".join(lines)


def _settle(page) -> None:
    """Pages that fill themselves in (maps, charts, the composer's preview) are checked once they have."""
    page.wait_for_load_state("networkidle")


def check(browsers: dict, path: str, who: tuple[str, ...] = (ANONYMOUS, *ROLES)) -> None:
    found, seen_by = {}, []
    for name in who:
        page = browsers[name]
        response = page.goto(path, wait_until="load")
        expected_error = path in EXTRA.values()
        if urlsplit(page.url).path != urlsplit(path).path or (response.status >= 400 and not expected_error):
            continue  # not this role's page (the login page, a 403, a redirect)
        _settle(page)
        seen_by.append(name)
        violations = axe_violations(page)
        if violations:
            found[name] = violations
    assert seen_by, f"{path}: no role could open it — is the test data right?"
    assert not found, f"{path}: WCAG 2.1 A/AA violations (axe-core):\n{described(found)}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_page_has_no_wcag_violations(case, browsers, site):
    _endpoint, path_of = CASES[case]
    check(browsers, path_of(site))


@pytest.mark.parametrize("case", sorted(EXTRA))
def test_error_page_has_no_wcag_violations(case, browsers):
    check(browsers, EXTRA[case])


def test_second_factor_page_has_no_wcag_violations(browser, live_server, site):
    context = browser.new_context(base_url=live_server, locale="pl-PL", bypass_csp=True)  # axe is injected inline
    context.route("**/*", _offline(live_server))
    try:
        page = context.new_page()
        _log_in(page, site["users"]["second_factor"])
        assert urlsplit(page.url).path == "/login/code"
        violations = axe_violations(page)
        assert not violations, described({"second factor": violations})
    finally:
        context.close()


def test_axe_finds_a_violation_when_there_is_one(browsers):
    """The check can fail: an unlabelled input and low-contrast text are reported with their rule ids."""
    page = browsers[ANONYMOUS]
    page.goto("/alerts")
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', "
        + json.dumps('<input id="bad"><p style="color:#bbb;background:#fff">pale</p>')
        + ")"
    )
    ids = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast"} <= ids


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/finance/", "Koszty miesięczne"),
        ("/finance/reconciliation", "Uzgadnianie"),
        ("/finance/tariffs", "Taryfy"),
    ],
)
def test_the_finance_sub_tabs_mark_the_current_one(browsers, path, current):
    page = browsers["finance"]
    page.goto(path)
    tabs = page.get_by_role("navigation", name="Finanse")
    assert tabs.locator("a[aria-current=page]").all_inner_texts() == [current]
    assert tabs.get_by_role("link").count() == 3
