"""The one harness for a run on real services: a fresh PostgreSQL+PostGIS database, a Redis server of the run's
own and the SYRENA_* environment that points Syrena (and every process it starts) at them.

Used by tests/conftest.py and by every bench/bench_*.py (as `tests.harness`), so it never imports pytest: a
benchmark must run from a plain `python bench/run.py`. What differs between the two is only what they put in
the environment beside the database and Redis URLs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from sqlalchemy import text

from syrena_core.config import Settings, get_settings, load_settings
from syrena_core.db import engine_for
from syrena_core.models_registry import import_all_models

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 30) -> None:
    """Return once something accepts connections on 127.0.0.1:port; RuntimeError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def migrate(database_url: str, env: Mapping[str, str] | None = None) -> None:
    """`flask db upgrade` on that database, as an operator runs it (every migration, not a create_all)."""
    env = dict(os.environ if env is None else env, SYRENA_DATABASE__URL=database_url)
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)


@contextmanager
def fresh_database(
    prefix: str = "syrena_test", base_url: str | None = None, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """A new database `<prefix>_<random>` on the configured server (or base_url's), migrated to the latest
    revision; yields its URL and drops it afterwards, whoever is still connected (WITH FORCE).

    `env` is the environment the migration runs in (default: this process's), for a caller whose own
    settings (SYRENA_CONFIG, say) the app must load to start at all."""
    import_all_models()  # every table known, whichever module runs alone
    base_url = base_url or load_settings().database.url
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = engine_for(with_database(base_url, "postgres")).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = with_database(base_url, name)
    try:
        migrate(url, env)
        yield url
    finally:
        engine_for(url).dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class RedisServer:
    """A redis-server of this run alone, without persistence (restarting it loses every queue, as a crashed
    one would): a worker of another run — a colleague's, or CI's on the same machine — would otherwise
    happily take this run's jobs from a shared one."""

    def __init__(self, workdir: Path | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, seconds: float = 10) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (make services installs it)")
        workdir = self.workdir or Path(tempfile.gettempdir())
        self.proc = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        client = Redis.from_url(self.url)
        deadline = time.monotonic() + seconds
        try:
            while True:
                try:
                    client.ping()
                    return
                except Exception as e:
                    if time.monotonic() > deadline:
                        self.kill()
                        raise RuntimeError(f"redis-server on port {self.port} did not start in {seconds} s") from e
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: gone at once with everything it held."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def private_redis(workdir: Path | None = None) -> Iterator[RedisServer]:
    """A started RedisServer, stopped afterwards."""
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def use_environment(overrides: Mapping[str, str]) -> Settings:
    """Put these SYRENA_* variables in this process's environment (inherited by every process it starts:
    workers, simulators, `flask db upgrade`) and return the settings they make."""
    os.environ.update(overrides)
    get_settings.cache_clear()
    return get_settings()


def gateway_environment(
    database_url: str, redis_url: str, smpp_port: int, window: int = 50, **extra: str
) -> dict[str, str]:
    """This process's environment plus what a benchmark's gateway needs: its database and Redis, one SMPP link
    to a bundled simulator on smpp_port (no TPS limit, this window) and receipts 50 ms after each submit;
    `extra` adds or overrides variables (SYRENA_CAMPAIGNS__CHUNK_SIZE="500", say)."""
    return dict(
        os.environ,
        SYRENA_DATABASE__URL=database_url,
        SYRENA_REDIS__URL=redis_url,
        SYRENA_SMSC__PORT=str(smpp_port),
        SYRENA_SMSC__SYSTEM_ID="syrena",
        SYRENA_SMSC__PASSWORD="secret",
        SYRENA_SMSC__TPS="1000000",
        SYRENA_SMSC__WINDOW=str(window),
        SYRENA_SIMULATOR__RECEIPT_DELAY="0.05",
        **extra,
    )


def gateway_services(services: ExitStack, window: int = 50, **extra: str) -> tuple[dict[str, str], Settings, int, int]:
    """A benchmark's services: a fresh database and a Redis of its own entered on `services` (both gone when it
    closes), two free ports (SMPP and the simulator's control port) and gateway_environment() pointing at them,
    whose SYRENA_* are put in this process's environment too. Returns (env, settings, smpp_port, control_port)."""
    database_url = services.enter_context(fresh_database("syrena_bench"))
    redis = services.enter_context(private_redis())
    smpp_port, control_port = free_port(), free_port()
    env = gateway_environment(database_url, redis.url, smpp_port, window, **extra)
    settings = use_environment({k: v for k, v in env.items() if k.startswith("SYRENA_")})
    return env, settings, smpp_port, control_port


def start_simulator(env: Mapping[str, str], smpp_port: int, control_port: int, log_path: Path) -> subprocess.Popen:
    """`flask smsc simulate` in its own process, its output to log_path; does not wait for it to listen."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "smsc",
            "simulate",
            "--port",
            str(smpp_port),
            "--control-port",
            str(control_port),
        ],
        cwd=ROOT,
        env=dict(env),
        stdout=open(log_path, "w"),  # open for as long as the child writes to it
        stderr=subprocess.STDOUT,
    )


def start_worker(env: Mapping[str, str], log_path: Path, python_args: tuple[str, ...] = ()) -> subprocess.Popen:
    """`flask worker` in its own process, its output to log_path. `python_args` go to the interpreter before
    `-m flask` (e.g. `-m pyinstrument ...` to profile it)."""
    return subprocess.Popen(
        [sys.executable, *python_args, "-m", "flask", "worker"],
        cwd=ROOT,
        env=dict(env),
        stdout=open(log_path, "w"),  # open for as long as the child writes to it
        stderr=subprocess.STDOUT,
    )


def stop_processes(procs: list[subprocess.Popen], seconds: float = 30) -> None:
    """SIGTERM to every one at once, then SIGKILL to whichever has not ended `seconds` later."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(seconds)
        except subprocess.TimeoutExpired:
            p.kill()


def body_closed_before_sending(app):
    """`app` for the tests' HTTP servers: each response's body read and closed before a byte is sent. werkzeug's
    server closes a body only after draining the socket, and when a browser drops the connection (a page closed
    while a stylesheet still streams) the drain raises first: the static file is left to the garbage collector,
    whose ResourceWarning pytest then pins on whatever test runs next (test_api_auth's first test, once, after
    the accessibility module). No response of the app streams, so reading it whole changes nothing else."""

    def wrapped(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return wrapped
