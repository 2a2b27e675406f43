"""Test fixtures on real services: a fresh PostgreSQL+PostGIS database per run
(on the configured server), a Redis server of its own, the SMSC simulator on
real sockets, a `flask worker` process and the web app over HTTP."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

# Prometheus samples of this run's processes only (syrena_core.metrics), set before prometheus_client is imported
# (the project's modules below import it).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="syrena-metrics-")
atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], True)

from smsc_gateway.rate import TokenBucket  # noqa: E402
from smsc_gateway.session import SmppSession  # noqa: E402
from smsc_simulator import SimulatorOptions, SmscSimulator  # noqa: E402
from syrena_core.config import SmscSettings, replace  # noqa: E402
from syrena_core.queues import redis_connection  # noqa: E402
from tests.harness import ROOT, RedisServer, body_closed_before_sending, fresh_database, use_environment  # noqa: E402
from tests.harness import private_redis as started_redis  # noqa: E402
from tests.helpers import (  # noqa: E402
    ApiClient,
    WorkerProcess,
    empty_rate_limits,
    launch_worker,
    running_simulator,
    stop_workers,
    wait_until,
)

# ---------------------------------------------------------------- the fast tier (`make test-fast`, `pytest --fast`)
# A test is fast when none of the fixtures it uses, directly or through others, is a service below: pure
# functions, codecs, parsers, config, geometry. pytest works the closure out (item.fixturenames), so nobody marks
# anything by hand and a test that starts using a service leaves the tier by itself. Under --fast the services
# are also locked: a service fixture asked for at run time (request.getfixturevalue), a socket connected or a
# process started fails that test by name, so nothing slips into the tier silently; a test that starts a service
# itself, not through a fixture, says so with @pytest.mark.service.
SERVICE_FIXTURES = frozenset(
    {
        "settings",
        "app",
        "db",
        "live_server",
        "private_redis",
        "simulator",
        "worker",
        "browser",  # this file
        "start_simulator",
        "paced_session",
        "gateway_redis_url",
        "start_worker",
        "redis_server",
        "spawn_worker",
        "node_smsc",  # tests/smsc_gateway/test_interop.py: a third-party SMSC
        "live",  # tests/security/test_smpp_fuzz.py: a simulator and a bound session of its own
    }
)


def pytest_addoption(parser):
    parser.addoption(
        "--fast",
        action="store_true",
        help="run only the fast tier (tests that use no PostgreSQL, Redis, simulator, worker or "
        "browser) and fail any test that reaches for one",
    )


def pytest_configure(config):
    if config.getoption("fast"):
        _lock_services()
        # A plugin, not a hook of this conftest: pytest asks a conftest's hooks only for its own directory's
        # nodes, and a session-scoped fixture (settings, simulator, ...) is set up for the session's node.
        config.pluginmanager.register(_ServiceFixturesRefused(), "syrena-fast-tier")


def pytest_collection_modifyitems(config, items):
    slow = []
    for item in items:
        services = SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if services or item.get_closest_marker("service") or item.get_closest_marker("browser"):
            slow.append(item)
        else:
            item.add_marker(pytest.mark.fast)
    if config.getoption("fast") and slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("fast")]


def pytest_terminal_summary(terminalreporter, config):
    if config.getoption("fast"):
        terminalreporter.write_line(
            f"fast tier: sockets connected {_REFUSED['connects a socket']}, processes "
            f"started {_REFUSED['starts a process']} (each one refused, failing its test)"
        )


class _ServiceFixturesRefused:
    """Under --fast, a service fixture asked for at run time fails the test that asked."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if fixturedef.argname in SERVICE_FIXTURES:
            test = getattr(request, "_pyfuncitem", request.node)  # the test, also for a session-scoped fixture
            pytest.fail(
                f"{test.nodeid} asks for the service fixture {fixturedef.argname!r} under --fast: "
                "a test that needs a service is not in the fast tier",
                pytrace=False,
            )


class ServiceInFastTier(RuntimeError):
    """A test of the fast tier reached for a service (a socket or a process)."""


_REFUSED = {"connects a socket": 0, "starts a process": 0}


def _lock_services() -> None:
    """Under --fast: no socket connects anywhere and no process starts (PostgreSQL, Redis, the simulator and
    the worker are all behind one or the other)."""

    def refuse(what: str):
        def refused(*args, **kwargs):
            _REFUSED[what] += 1
            raise ServiceInFastTier(
                f"the fast tier uses no service, but this test {what}: {args[1:]!r}; "
                "drop it from the tier by using a service fixture (settings, simulator, ...)"
            )

        return refused

    socket.socket.connect = refuse("connects a socket")
    socket.socket.connect_ex = refuse("connects a socket")
    subprocess.Popen.__init__ = refuse("starts a process")


@pytest.fixture(scope="session")
def simulator():
    with running_simulator() as sim:
        yield sim


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory):
    """A Redis server of this test run alone (tests.harness.RedisServer); its URL."""
    with started_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="session")
def settings(simulator, private_redis):
    """Settings for the whole run: a new database, the run's own Redis, the simulator, no approval step."""
    from syrena_core.db import engine_for

    overrides = {
        "SYRENA_REDIS__URL": private_redis,
        "SYRENA_SMSC__HOST": "127.0.0.1",
        "SYRENA_SMSC__PORT": str(simulator.smpp_port),
        "SYRENA_SMSC__SYSTEM_ID": "syrena",
        "SYRENA_SMSC__PASSWORD": "secret",
        "SYRENA_SMSC__TPS": "500",
        "SYRENA_CAMPAIGNS__REQUIRE_APPROVAL": "false",
        "SYRENA_APP__SECRET_KEY": uuid.uuid4().hex,
        # Many tests log in and call the API from 127.0.0.1 within a minute; tests/security checks the limits.
        "SYRENA_SECURITY__LOGIN_LIMIT": "10000 per minute",
        "SYRENA_SECURITY__API_LIMIT": "100000 per minute",
    }
    with fresh_database("syrena_test", env=dict(os.environ, **overrides)) as database_url:
        overrides["SYRENA_DATABASE__URL"] = database_url
        settings = use_environment(overrides)
        redis_connection(settings.redis.url).flushdb()
        yield settings
        engine_for(settings.database.url).dispose()


@pytest.fixture(scope="session")
def app(settings):
    from app import create_app

    return create_app(settings, {"TESTING": True})


@pytest.fixture
def db(settings):
    from syrena_core.db import session_factory

    session = session_factory(settings.database.url)()
    yield session
    session.close()


# billing_calendar: configuration, not data (which calendar cost_summary is kept in).
_KEEP = {"alembic_version", "spatial_ref_sys", "billing_calendar"}


def _quiet_session_worker(settings, seconds: float = 5.0) -> None:
    """Jobs of the previous test must not outlive it: they name its campaign and message ids, which RESTART
    IDENTITY gives to this test's rows, and a late one (or the chunk a failing one hands back) then claimed this
    test's messages for the session worker's simulator — seen as a campaign whose own jobs found nothing to send.
    Stop every sending or scheduled campaign (running jobs withdraw within a slice), wait a moment for the
    session worker to finish its job, and empty its queues."""
    from rq import Worker
    from sqlalchemy.exc import OperationalError

    from syrena_core.db import engine_for
    from syrena_core.queues import PRIORITY_ORDER, queue, redis_connection

    try:
        with engine_for(settings.database.url).begin() as c:
            c.execute(text("UPDATE campaign SET status = 'cancelled' WHERE status IN ('sending', 'scheduled')"))
    except OperationalError:
        pass  # a deadlock with the worker's own update: the TRUNCATE below settles it
    redis = redis_connection(settings.redis.url)
    queues = [queue(name, settings.redis.url) for name in PRIORITY_ORDER]
    deadline = time.monotonic() + seconds
    while True:
        for q in queues:
            q.empty()
        busy = [
            w
            for w in Worker.all(connection=redis)
            if w.get_current_job_id() and w.last_heartbeat and time.time() - w.last_heartbeat.timestamp() < 60
        ]
        if not busy or time.monotonic() > deadline:
            return
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test starts from empty tables, an empty simulator log and no rate-limit counters (Redis is
    flushed once per run: the worker's own registration lives there). A test that uses no service (the fast
    tier) is left alone: asking for the simulator here would start it for every test."""
    if "settings" not in request.fixturenames and "app" not in request.fixturenames:
        yield
        return
    empty_state(request.getfixturevalue("settings"), request.getfixturevalue("simulator"))
    yield


def empty_state(settings, simulator) -> None:
    """Empty tables, an empty simulator log and no rate-limit counters (what every test starts from; a module
    that shares one set of data between its tests calls it once itself)."""
    from sqlalchemy.exc import OperationalError

    from syrena_core.db import engine_for

    _quiet_session_worker(settings)
    # The session's worker may still be storing the previous test's late receipts or MO: TRUNCATE then
    # deadlocks with it now and then, and PostgreSQL picks one side to fail; try again in a moment.
    for attempt in range(5):
        try:
            with engine_for(settings.database.url).begin() as c:
                tables = [
                    r[0]
                    for r in c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                    if r[0] not in _KEEP
                ]
                c.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            break
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5)
    simulator.clear_messages()
    empty_rate_limits(settings.redis.url)


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over real HTTP from a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, body_closed_before_sending(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def worker(settings, tmp_path_factory):
    """A real `flask worker` process: SMPP bind to the simulator, RQ jobs, receipts."""
    from campaigns.jobs import QUEUES_ALIVE
    from syrena_core.queues import redis_connection

    # Its Redis has not lost any queue: without this mark the worker's first recovery (5 s after it starts)
    # re-enqueues every campaign then sending — another test's, sent by its own worker through another Redis.
    redis_connection(settings.redis.url).set(QUEUES_ALIVE, "1")
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "worker"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    if proc.returncode not in (0, -15, 143):
        sys.stderr.write(log_path.read_text()[-4000:])


# ---------------------------------------------------------------- simulators, Redis and workers of a test's own
# Workers of a test's own use a Redis of this test run alone (a few engineers and CI may run the suite at the
# same time on one machine, and a worker of another run would happily take these tests' jobs from a shared one).
@pytest.fixture
def gateway_redis_url(settings, private_redis):
    # Database 1 of the run's own Redis: flushed per test without touching the session worker's database 0.
    url = private_redis.rsplit("/", 1)[0] + "/1"
    redis_connection(url).flushdb()
    yield url


@pytest.fixture
def start_simulator():
    """start_simulator(**options) → a running SmscSimulator on free ports (stopped after the test)."""
    started = []

    def start(**options) -> SmscSimulator:
        options = {"receipt_delay": 0.05, **options}
        sim = SmscSimulator(SimulatorOptions(port=0, control_port=0, system_id="syrena", password="secret", **options))
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def paced_session(gateway_redis_url):
    """paced_session(simulator, tps, name=..., **smsc) → a bound SmppSession paced by a real Redis schedule."""
    sessions = []

    def connect(simulator, tps: float, name: str = "primary", **settings) -> SmppSession:
        s = SmscSettings(name=name, port=simulator.smpp_port, tps=tps, **settings)
        bucket = TokenBucket(redis_connection(gateway_redis_url), f"syrena:tps:{name}:{simulator.smpp_port}", tps)
        session = SmppSession(s, bucket, lambda batch: None, lambda batch: None)
        session.start()
        assert session.wait_bound(10)
        sessions.append(session)
        return session

    yield connect
    for session in sessions:
        session.stop()


@pytest.fixture
def start_worker(settings, gateway_redis_url, tmp_path):
    """start_worker(simulator, **smsc_overrides) → a real `flask worker` process bound to that simulator."""
    started: list[WorkerProcess] = []

    def start(simulator: SmscSimulator | None = None, config: Path | None = None, **smsc) -> WorkerProcess:
        env = dict(os.environ, SYRENA_REDIS__URL=gateway_redis_url)
        if simulator is not None:
            env["SYRENA_SMSC__PORT"] = str(simulator.smpp_port)
        if config is not None:
            env["SYRENA_CONFIG"] = str(config)
        env.update({f"SYRENA_SMSC__{k.upper()}": str(v) for k, v in smsc.items()})
        worker = launch_worker(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    stop_workers(started)


@pytest.fixture
def redis_server(tmp_path):
    """A RedisServer of this test alone, started (restart or kill it to lose every queue)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def spawn_worker(settings, tmp_path):
    """spawn_worker(simulator, redis_url, **env) → a `flask worker` process; env keys like SMSC__TPS."""
    started: list[WorkerProcess] = []

    def start(simulator, redis_url: str, **env_overrides) -> WorkerProcess:
        env = dict(os.environ, SYRENA_REDIS__URL=redis_url, SYRENA_SMSC__PORT=str(simulator.smpp_port))
        env.update({f"SYRENA_{k.upper()}": str(v) for k, v in env_overrides.items()})
        worker = launch_worker(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    stop_workers(started)


# ---------------------------------------------------------------- an app that sees only this test's workers
# (tests/operations, and the status panel of tests/campaigns/test_stranded.py): it reads the Redis database of
# gateway_redis_url, where start_worker's and spawn_worker's workers publish their binds.
@pytest.fixture
def ops_app(settings, gateway_redis_url):
    from app import create_app
    from syrena_core.config import RedisSettings

    return create_app(replace(settings, redis=RedisSettings(url=gateway_redis_url)), {"TESTING": True})


@pytest.fixture
def ops_client(ops_app):
    return ops_app.test_client()


@pytest.fixture
def ops_server(ops_app):
    """ops_app over real HTTP (for the browser)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, body_closed_before_sending(ops_app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def make_user(settings):
    """make_user(role) → (email, api token), through the same domain functions as the CLI."""
    from syrena_core import accounts
    from syrena_core.db import session_scope

    def make(role: str, email: str | None = None, password: str = "Correct-Horse-42"):
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@test.syrena"
        with session_scope(settings.database.url) as session:
            user = accounts.create_user(session, email, role, password)
            token = accounts.issue_token(session, user)
        return email, token

    return make


@pytest.fixture
def api(live_server, make_user):
    """An API client holding an admin token (admins may do everything)."""
    _email, token = make_user("admin")
    return ApiClient(live_server, token)


@pytest.fixture
def wait():
    return wait_until


# ---------------------------------------------------------------- headless Chromium, one for every test area
# (Playwright's sync API runs one instance per process: every area shares this session-wide browser.)
CHROMIUM = os.environ.get("SYRENA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "Correct-Horse-42"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
            "(or point SYRENA_CHROMIUM at a Chromium binary); never `playwright install`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _offline(live_server: str):
    """Only the app under test is reachable: map tiles and anything else outside fail at once,
    as they would in a crisis room without Internet (and never slow a test down)."""
    own = urlsplit(live_server).netloc

    def route(r):
        if urlsplit(r.request.url).netloc == own:
            r.continue_()
        else:
            r.abort("internetdisconnected")

    return route


@pytest.fixture
def new_context(browser, live_server):
    """new_context(**options): a fresh browser context (no cookies) on the live server; closed after the test."""
    contexts = []

    def make(**options):
        options.setdefault("locale", "pl-PL")
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(10_000)
        context.route("**/*", _offline(live_server))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A page in a fresh context with a Polish browser (a crisis-room PC in Poznań)."""
    return new_context().new_page()


@pytest.fixture
def login():
    """login(page, email): log in through the form, wait for the dashboard."""

    def do(page, email: str, password: str = PASSWORD):
        page.goto("/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(password)
        page.locator("form.form button[type=submit]").click()
        page.wait_for_url(lambda url: urlsplit(url).path == "/")

    return do
