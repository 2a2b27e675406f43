#!/usr/bin/env python3
"""Make sure the services Syrena needs answer: PostgreSQL with PostGIS, Redis
and (for the browser tests) Chromium.

    python3 scripts/services.py up [--chromium]   # what `make services` runs
    python3 scripts/services.py status
    python3 scripts/services.py stop [--purge]    # only servers this script started
    python3 scripts/services.py apt PACKAGE...    # apt-get install, as root or via sudo

`up` uses the database and Redis named by the configuration (config.toml,
SYRENA_CONFIG, SYRENA_DATABASE__URL, SYRENA_REDIS__URL) when they answer.
When one does not, it installs what is missing (Debian packages) and starts a
local server bound to 127.0.0.1 with its data under var/ — on the configured
port if that is free, otherwise on a spare one (55432…, 56379…). Either way it
writes the URLs to use to var/services.env, which the Makefile sources before
every command that needs them. It creates the database named in the URL when
it is missing and checks that PostGIS can really be created in it.

Standard library only: it runs with the system python3 before the virtual
environment exists. Safe to run again; a second run only checks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    sys.exit("services: needs Python 3.11 or newer (tomllib); this is " + sys.version.split()[0])

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
ENV_FILE = VAR / "services.env"
STATE_FILE = VAR / "services.json"
PG_HOME = VAR / "postgres"  # data/, postgres.log and the socket; may be a symlink (see _pg_home)
REDIS_HOME = VAR / "redis"
CHROMIUM = Path("/usr/bin/chromium")

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/syrena"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PG_FALLBACK_PORT = 55432
REDIS_FALLBACK_PORT = 56379
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ServiceError(RuntimeError):
    """Something could not be installed or started; the message says what."""


def say(msg: str) -> None:
    print(f"services: {msg}", flush=True)


def warn(msg: str) -> None:
    print(f"services: WARNING: {msg}", file=sys.stderr, flush=True)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def run(
    cmd: list[str], *, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, capturing its output, never reading our stdin."""
    return subprocess.run(
        cmd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


# --------------------------------------------------------------------------- configuration


def configured_urls(environ: os._Environ[str] | dict[str, str] = os.environ) -> tuple[str, str]:
    """database.url and redis.url as syrena_core.config resolves them (file, then SYRENA_* env)."""
    path = Path(environ.get("SYRENA_CONFIG") or ROOT / "config.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ServiceError(f"cannot read the configuration {path}: {e}") from None
    values = {
        "database": raw.get("database", {}).get("url", DEFAULT_DATABASE_URL),
        "redis": raw.get("redis", {}).get("url", DEFAULT_REDIS_URL),
    }
    for key, value in environ.items():  # same rule as syrena_core.config.load_settings
        if key.startswith("SYRENA_") and "__" in key:
            section, _, name = key[len("SYRENA_") :].lower().partition("__")
            if section in values and name == "url":
                values[section] = value
    return values["database"], values["redis"]


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def with_host_port(parts: SplitResult, host: str, port: int, user: str | None = None) -> SplitResult:
    userinfo = ""
    user = user if user is not None else parts.username
    if user:
        userinfo = quote(unquote(user), safe="")
        if parts.password is not None:
            userinfo += ":" + quote(unquote(parts.password), safe="")
        userinfo += "@"
    return parts._replace(netloc=f"{userinfo}{host}:{port}")


def read_state() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def write_state(state: dict) -> None:
    VAR.mkdir(exist_ok=True)
    STATE_FILE.write_text(json.dumps(state, indent=2) + "\n")


def write_env_file(database_url: str, redis_url: str) -> None:
    VAR.mkdir(exist_ok=True)
    tmp = ENV_FILE.with_suffix(".tmp")
    tmp.write_text(
        "# Written by scripts/services.py on every `make services`: the PostgreSQL and Redis\n"
        "# that make's commands use. Load it by hand with: set -a; . var/services.env; set +a\n"
        f"SYRENA_DATABASE__URL={shlex.quote(database_url)}\n"
        f"SYRENA_REDIS__URL={shlex.quote(redis_url)}\n"
    )
    tmp.chmod(0o600)  # the URLs may hold passwords
    tmp.replace(ENV_FILE)


# --------------------------------------------------------------------------- small helpers


def tcp_open(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not tcp_open("127.0.0.1", port, 0.5)


def pick_port(configured: int, host_is_local: bool, fallback: int) -> int:
    if host_is_local and port_free(configured):
        return configured
    for port in range(fallback, fallback + 200):
        if port_free(port):
            return port
    raise ServiceError(f"no free TCP port on 127.0.0.1 between {fallback} and {fallback + 199}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_apt_updated = False


def apt_install(packages: list[str], why: str) -> None:
    """apt-get install, as root or through passwordless sudo; clear failure otherwise."""
    global _apt_updated
    what = " ".join(packages)
    if not shutil.which("apt-get"):
        raise ServiceError(f"cannot install {what} ({why}): this machine has no apt-get; install it yourself")
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo"):
        prefix = ["sudo", "-n"]
    else:
        raise ServiceError(f"cannot install {what} ({why}): not root and no sudo; run: apt-get install {what}")
    apt = prefix + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-o", "DPkg::Lock::Timeout=300"]
    if not _apt_updated:
        say("apt-get update …")
        r = run(apt + ["update"], timeout=900)
        if r.returncode != 0:
            raise ServiceError(f"cannot install {what} ({why}): apt-get update failed:\n{tail(r.stdout + r.stderr)}")
        _apt_updated = True
    say(f"installing {what} ({why}) …")
    r = run(apt + ["install", "-y", "--no-install-recommends", *packages], timeout=1800)
    if r.returncode != 0:
        raise ServiceError(f"could not install {what} ({why}):\n{tail(r.stdout + r.stderr)}")


# --------------------------------------------------------------------------- PostgreSQL + PostGIS


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Postgres:
    """A PostgreSQL server as named by a SQLAlchemy/libpq URL, talked to through psql."""

    url: str

    def __post_init__(self) -> None:
        self.parts = urlsplit(self.url)
        if not self.parts.scheme.startswith(("postgresql", "postgres")):
            raise ServiceError(f"database.url is not a PostgreSQL URL: {redact(self.url)}")
        self.dbname = unquote(self.parts.path.lstrip("/")) or unquote(self.parts.username or "") or "postgres"
        self.host = self.parts.hostname  # None: a Unix socket (host= in the query, or libpq's default)
        self.port = self.parts.port or 5432

    @property
    def is_local(self) -> bool:
        return self.host is None or self.host in LOCAL_HOSTS

    def libpq_uri(self, dbname: str | None = None) -> str:
        # psql knows neither SQLAlchemy's "+driver" nor a database other than the path.
        return urlunsplit(self.parts._replace(scheme="postgresql", path="/" + quote(dbname or self.dbname, safe="")))

    def psql(self, sql: str, dbname: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PGCONNECT_TIMEOUT="5", PGAPPNAME="syrena-services")
        return run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.libpq_uri(dbname)],
            input=sql,
            env=env,
            timeout=120,
        )

    def probe(self) -> tuple[bool, str]:
        """(answers, why not). Answers means: psql can log in to the server."""
        if self.host is not None and not tcp_open(self.host, self.port):
            return False, f"nothing listens on {self.host}:{self.port}"
        if not shutil.which("psql"):
            apt_install(["postgresql-client"], "psql, to check the configured database")
        for db in (self.dbname, "postgres", "template1"):
            r = self.psql("select 1;", db)
            if r.returncode == 0:
                return True, ""
            if "does not exist" not in r.stderr:
                return False, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"psql exit {r.returncode}"
        return False, r.stderr.strip()

    def query(self, sql: str, dbname: str | None = None) -> str:
        r = self.psql(sql, dbname)
        if r.returncode != 0:
            raise ServiceError(f"PostgreSQL at {redact(self.url)}: {r.stderr.strip() or r.stdout.strip()}")
        return r.stdout.strip()

    def maintenance_db(self) -> str:
        for db in ("postgres", "template1", self.dbname):
            if self.psql("select 1;", db).returncode == 0:
                return db
        raise ServiceError(f"cannot connect to any database at {redact(self.url)}")

    def server_major(self) -> int:
        return int(self.query("show server_version_num;", self.maintenance_db())) // 10000

    def ensure_database(self) -> None:
        maint = self.maintenance_db()
        exists = self.query(f"select count(*) from pg_database where datname = {_quote_literal(self.dbname)};", maint)
        if exists == "0":
            say(f"creating database {self.dbname}")
            self.query(f"create database {_quote_ident(self.dbname)};", maint)

    def postgis_available(self) -> bool:
        return (
            self.query("select count(*) from pg_available_extensions where name = 'postgis';", self.maintenance_db())
            != "0"
        )

    def check_postgis(self) -> str:
        """Create PostGIS in a rolled-back transaction: proves the control file, the library and the rights."""
        r = self.psql("begin; create extension if not exists postgis; select postgis_lib_version(); rollback;")
        if r.returncode != 0:
            raise ServiceError(
                f"PostGIS cannot be created in database {self.dbname} at {redact(self.url)}: {r.stderr.strip()}"
            )
        return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "?"


def _pg_bindirs() -> list[Path]:
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    return sorted(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _postgis_control(major: int) -> Path:
    return Path(f"/usr/share/postgresql/{major}/extension/postgis.control")


def _ensure_postgis_package(major: int) -> None:
    if not _postgis_control(major).exists():
        apt_install([f"postgresql-{major}-postgis-3"], f"PostGIS for PostgreSQL {major}")
        if not _postgis_control(major).exists():
            raise ServiceError(f"installed postgresql-{major}-postgis-3 but {_postgis_control(major)} is still missing")


def _pg_home() -> Path:
    """var/postgres, owned by the user the server runs as. When the checkout is not reachable by
    the postgres user (e.g. it lives under /root), the data lives in /var/tmp and var/postgres
    is a symlink to it. Returns the resolved directory."""
    if PG_HOME.is_symlink() or PG_HOME.exists():
        home = PG_HOME.resolve()
        home.mkdir(parents=True, exist_ok=True)
    else:
        VAR.mkdir(exist_ok=True)
        PG_HOME.mkdir()
        home = PG_HOME
    if os.geteuid() != 0:
        return home
    try:
        shutil.chown(home, "postgres", "postgres")
    except LookupError:
        raise ServiceError("the system user 'postgres' does not exist (is the postgresql package installed?)") from None
    if run(_as_postgres(["test", "-w", str(home)])).returncode == 0:
        return home
    alt = Path("/var/tmp") / f"syrena-postgres-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]}"
    say(f"the postgres user cannot reach {PG_HOME}; keeping the data in {alt} (linked from var/postgres)")
    alt.mkdir(mode=0o700, exist_ok=True)
    shutil.chown(alt, "postgres", "postgres")
    if PG_HOME.is_symlink():
        PG_HOME.unlink()
    else:
        shutil.rmtree(PG_HOME)
    PG_HOME.symlink_to(alt)
    return alt


def _socket_dir(home: Path) -> Path:
    # A Unix socket path must fit in 107 bytes.
    return home if len(str(home / ".s.PGSQL.65535.lock")) < 100 else Path("/tmp")


def local_postgres_running() -> tuple[Path, int] | None:
    """(bindir, port) of the server this script started, if it runs."""
    home = PG_HOME.resolve() if (PG_HOME.is_symlink() or PG_HOME.exists()) else None
    pidfile = home / "data" / "postmaster.pid" if home else None
    if not pidfile or not pidfile.exists():
        return None
    try:
        lines = pidfile.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    if not pid_alive(pid):
        return None
    version = (home / "data" / "PG_VERSION").read_text().strip()
    return Path(f"/usr/lib/postgresql/{version}/bin"), port


def start_local_postgres(cfg: Postgres) -> str:
    """Start (and if need be initialise) a server under var/postgres; return its URL."""
    user = unquote(cfg.parts.username or "") or "postgres"
    running = local_postgres_running()
    if running:
        bindir, port = running
        say(f"using the local PostgreSQL started earlier (var/postgres, port {port})")
    else:
        if not _pg_bindirs():
            apt_install(["postgresql"], "a local PostgreSQL server")
        if not _pg_bindirs():
            raise ServiceError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
        home = _pg_home()
        data = home / "data"
        if (data / "PG_VERSION").exists():
            major = int((data / "PG_VERSION").read_text().strip())
            bindir = Path(f"/usr/lib/postgresql/{major}/bin")
            if not (bindir / "postgres").exists():
                raise ServiceError(
                    f"{data} was made by PostgreSQL {major}, which is not installed; "
                    "remove var/postgres (`make clean`) or install it"
                )
        else:
            bindir = _pg_bindirs()[0]
            major = int(bindir.parent.name)
            locales = run(["locale", "-a"]).stdout.lower().replace("-", "") if shutil.which("locale") else ""
            locale = "C.UTF-8" if "c.utf8" in locales else "C"  # C.UTF-8: lower() etc. know Polish letters
            say(f"initialising a PostgreSQL {major} cluster in {data}")
            r = run(
                _as_postgres(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(data),
                        "-U",
                        user,
                        "--auth=trust",
                        "-E",
                        "UTF8",
                        f"--locale={locale}",
                    ]
                ),
                timeout=300,
            )
            if r.returncode != 0:
                raise ServiceError(f"initdb failed:\n{tail(r.stdout + r.stderr)}")
        _ensure_postgis_package(major)
        port = pick_port(cfg.port, cfg.is_local, PG_FALLBACK_PORT)
        log = home / "postgres.log"
        opts = f"-k {_socket_dir(home)} -p {port} -c listen_addresses=127.0.0.1 -c jit=off"
        say(f"starting PostgreSQL {major} on 127.0.0.1:{port} (log: {log})")
        # -l: the server writes to the log, never to our stdout (which would keep CI waiting).
        r = run(
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]
            ),
            timeout=120,
        )
        if r.returncode != 0:
            log_text = log.read_text(errors="replace") if log.exists() else ""
            raise ServiceError(
                f"PostgreSQL did not start on 127.0.0.1:{port}:\n{tail(r.stdout + r.stderr)}\n"
                f"  {log}:\n{tail(log_text)}"
            )
        state = read_state()
        state["postgres"] = {"home": str(home), "port": port, "bindir": str(bindir)}
        write_state(state)
    return urlunsplit(with_host_port(cfg.parts, "127.0.0.1", port, quote(user, safe="")))


def ensure_postgres(url: str) -> str:
    cfg = Postgres(url)
    ok, why = cfg.probe()
    origin = "configured"
    if not ok:
        warn(f"the configured PostgreSQL {redact(url)} does not answer ({why}); using a local one under var/")
        cfg = Postgres(start_local_postgres(cfg))
        origin = "local, var/postgres"
        ok, why = cfg.probe()
        if not ok:
            raise ServiceError(f"the local PostgreSQL at {redact(cfg.url)} does not answer: {why}")
    else:
        running = local_postgres_running()
        if running and not (cfg.is_local and cfg.port == running[1]):
            say(
                f"(a local PostgreSQL from an earlier run still runs on port {running[1]}; "
                "`make stop-services` stops it)"
            )
    major = cfg.server_major()
    if not cfg.postgis_available():
        if not cfg.is_local:
            raise ServiceError(
                f"PostGIS is not installed on the server at {redact(cfg.url)} "
                f"(PostgreSQL {major}); install postgresql-{major}-postgis-3 there"
            )
        _ensure_postgis_package(major)
        if not cfg.postgis_available():
            raise ServiceError(
                f"PostGIS is still not available to the server at {redact(cfg.url)}: is that "
                f"server a different installation than /usr/lib/postgresql/{major}?"
            )
    cfg.ensure_database()
    postgis = cfg.check_postgis()
    say(f"PostgreSQL {major} + PostGIS {postgis}: {redact(cfg.url)} ({origin})")
    return cfg.url


# --------------------------------------------------------------------------- Redis


def _resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def redis_ping(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    """(answers PING, why not), spoken in RESP over a plain socket (the venv may not exist yet)."""
    parts = urlsplit(url)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(parts.path)
        elif parts.scheme in ("redis", "rediss"):
            host, port = parts.hostname or "127.0.0.1", parts.port or 6379
            sock = socket.create_connection((host, port), timeout=timeout)
            if parts.scheme == "rediss":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        else:
            return False, f"unsupported Redis URL scheme {parts.scheme!r}"
    except OSError as e:
        return False, f"cannot connect: {e.strerror or e}"
    with sock:
        commands = []
        if parts.password is not None:
            user = unquote(parts.username or "")
            commands.append(
                _resp("AUTH", user, unquote(parts.password)) if user else _resp("AUTH", unquote(parts.password))
            )
        commands.append(_resp("PING"))
        try:
            sock.sendall(b"".join(commands))
            buf = b""
            while buf.count(b"\r\n") < len(commands):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except OSError as e:
            return False, f"no answer: {e}"
    replies = buf.split(b"\r\n")[: len(commands)]
    if replies and replies[-1] == b"+PONG" and all(not r.startswith(b"-") for r in replies):
        return True, ""
    answer = b" ".join(replies).decode(errors="replace")[:120]
    return False, f"not a usable Redis: {answer!r}" if answer else "connection closed without a reply"


def redis_info_version(url: str) -> str:
    bin_ = shutil.which("redis-cli")
    if not bin_:
        return ""
    r = run([bin_, "-u", url, "--no-auth-warning", "info", "server"], timeout=10)
    m = re.search(r"redis_version:(\S+)", r.stdout)
    return m.group(1) if m else ""


def local_redis_running() -> int | None:
    """The port of the Redis this script started, if it runs."""
    info = read_state().get("redis") or {}
    try:
        pid = int((REDIS_HOME / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    if info.get("port") and pid_alive(pid) and "redis" in _cmdline(pid):
        return int(info["port"])
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def start_local_redis(url: str) -> str:
    parts = urlsplit(url)
    port = local_redis_running()
    if port:
        say(f"using the local Redis started earlier (var/redis, port {port})")
    else:
        server = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if not server:
            raise ServiceError("redis-server is not installed")
        host_is_local = parts.scheme == "redis" and (parts.hostname or "127.0.0.1") in LOCAL_HOSTS
        port = pick_port(parts.port or 6379, host_is_local, REDIS_FALLBACK_PORT)
        REDIS_HOME.mkdir(parents=True, exist_ok=True)
        log = REDIS_HOME / "redis.log"
        cmd = [
            server,
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(REDIS_HOME),
            "--pidfile",
            str(REDIS_HOME / "redis.pid"),
            "--logfile",
            str(log),
        ]
        if parts.password is not None:
            cmd += ["--requirepass", unquote(parts.password)]
        say(f"starting Redis on 127.0.0.1:{port} (log: {log})")
        r = run(cmd, timeout=30)
        if r.returncode != 0:
            raise ServiceError(f"redis-server did not start:\n{tail(r.stdout + r.stderr)}")
        state = read_state()
        state["redis"] = {"port": port}
        write_state(state)
    local = urlunsplit(with_host_port(parts._replace(scheme="redis"), "127.0.0.1", port))
    if parts.scheme == "unix":  # unix:///path?db=N → redis://127.0.0.1:port/N
        db = re.search(r"(?:^|&)db=(\d+)", parts.query)
        local = urlunsplit(("redis", f"127.0.0.1:{port}", "/" + (db.group(1) if db else "0"), "", ""))
    deadline = time.monotonic() + 15
    while True:
        ok, why = redis_ping(local)
        if ok:
            return local
        if time.monotonic() > deadline:
            log_file = REDIS_HOME / "redis.log"
            log_text = log_file.read_text(errors="replace") if log_file.exists() else ""
            raise ServiceError(f"the local Redis on 127.0.0.1:{port} does not answer ({why}):\n{tail(log_text)}")
        time.sleep(0.2)


def ensure_redis(url: str) -> str:
    ok, why = redis_ping(url)
    origin = "configured"
    if not ok and not shutil.which("redis-server") and not Path("/usr/bin/redis-server").exists():
        apt_install(["redis-server"], "a local Redis")
        ok, _ = redis_ping(url)  # Debian's package may have started one where the configuration points
        if ok:
            origin = "configured, just installed"
    if not ok:
        warn(f"the configured Redis {redact(url)} does not answer ({why}); using a local one under var/")
        url = start_local_redis(url)
        origin = "local, var/redis"
    else:
        port = local_redis_running()
        parts = urlsplit(url)
        if port and not (parts.port == port and (parts.hostname or "") in LOCAL_HOSTS):
            say(f"(a local Redis from an earlier run still runs on port {port}; `make stop-services` stops it)")
    version = redis_info_version(url)
    say(f"Redis {version}: {redact(url)} ({origin})".replace("Redis :", "Redis:"))
    return url


# --------------------------------------------------------------------------- Chromium


def ensure_chromium() -> None:
    if not CHROMIUM.exists():
        apt_install(["chromium"], "headless browser for the browser tests")
        if not CHROMIUM.exists():
            raise ServiceError(f"installed chromium but {CHROMIUM} is missing")
    say(f"Chromium: {CHROMIUM}")


# --------------------------------------------------------------------------- commands


def cmd_up(args: argparse.Namespace) -> None:
    database_url, redis_url = configured_urls()
    failures = []
    results = {}
    for name, ensure, url in (("PostgreSQL", ensure_postgres, database_url), ("Redis", ensure_redis, redis_url)):
        try:
            results[name] = ensure(url)
        except ServiceError as e:
            failures.append(f"{name}: {e}")
    if args.chromium:
        try:
            ensure_chromium()
        except ServiceError as e:
            failures.append(f"Chromium: {e}")
    if failures:
        raise ServiceError("\n".join(failures))
    write_env_file(results["PostgreSQL"], results["Redis"])
    say(f"wrote {ENV_FILE.relative_to(ROOT)}")


def cmd_status(args: argparse.Namespace) -> None:
    database_url, redis_url = configured_urls()
    ok, why = Postgres(database_url).probe()
    print(f"configured PostgreSQL {redact(database_url)}: {'answers' if ok else 'does not answer: ' + why}")
    ok, why = redis_ping(redis_url)
    print(f"configured Redis {redact(redis_url)}: {'answers' if ok else 'does not answer: ' + why}")
    pg = local_postgres_running()
    print(f"local PostgreSQL (var/postgres): {f'runs on port {pg[1]}' if pg else 'not running'}")
    rd = local_redis_running()
    print(f"local Redis (var/redis): {f'runs on port {rd}' if rd else 'not running'}")
    if ENV_FILE.exists():
        print(f"{ENV_FILE.relative_to(ROOT)}:")
        for line in ENV_FILE.read_text().splitlines():
            if not line.startswith("#"):
                print("  " + redact(line))
    print(f"Chromium {CHROMIUM}: {'present' if CHROMIUM.exists() else 'missing'}")


def cmd_stop(args: argparse.Namespace) -> None:
    """Stop only what this script started (its data lives under var/); never a system service."""
    failures = []
    stopped = False
    home = PG_HOME.resolve() if (PG_HOME.is_symlink() or PG_HOME.exists()) else None
    running = local_postgres_running()
    if running and home:
        bindir, port = running
        say(f"stopping the local PostgreSQL on port {port}")
        r = run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(home / "data"), "-m", "fast", "-w", "-t", "60", "stop"]),
            timeout=120,
        )
        if r.returncode != 0:
            failures.append(f"PostgreSQL did not stop:\n{tail(r.stdout + r.stderr)}")
        stopped = True
    try:
        pid = int((REDIS_HOME / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        pid = 0
    if pid and pid_alive(pid) and "redis" in _cmdline(pid):
        say(f"stopping the local Redis (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            failures.append(f"Redis (pid {pid}) did not stop within 15 s")
        stopped = True
    if failures:
        raise ServiceError("\n".join(failures))
    if args.purge:
        if home and home != PG_HOME and home.is_relative_to("/var/tmp"):
            shutil.rmtree(home, ignore_errors=True)
        for path in (PG_HOME, REDIS_HOME, ENV_FILE, STATE_FILE):
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.exists():
                shutil.rmtree(path)
        say("removed the local services' data")
    elif not stopped:
        say("no local services were running")


def cmd_apt(args: argparse.Namespace) -> None:
    apt_install(args.packages, "asked for")


# ---------------------------------------------------------------- `make run` after a crash
RUN_DIR = VAR / "run"
RUN_PIDS = RUN_DIR / "make-run.json"


def _ours(pid: int) -> bool:
    """A process of this checkout's `make run` (honcho, gunicorn or a flask command started in ROOT), not a
    test's."""
    try:
        cwd = Path(f"/proc/{pid}/cwd").resolve()
    except OSError:
        return False
    cmd = _cmdline(pid)
    return cwd == ROOT and ("honcho start" in cmd or "gunicorn" in cmd or " flask " in f" {cmd} " or "/flask " in cmd)


def _process_table() -> dict[int, tuple[int, int]]:
    """pid → (parent pid, process group id)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            table[int(stat.parent.name)] = (int(fields[1]), int(fields[2]))
        except (OSError, IndexError, ValueError):
            continue
    return table


def _descendants(root: int, table: dict[int, tuple[int, int]]) -> set[int]:
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (parent, _pgid) in table.items() if parent in frontier} - found
        found |= frontier
    return found


def cmd_record_run(args: argparse.Namespace) -> None:
    """Note `make run`'s honcho (pid given), its helper processes and its commands' process groups (honcho
    starts each command in a session of its own) in var/run/make-run.json, for `reap` after a crash."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + 20
    groups: list[int] = []
    helpers: list[int] = []
    while time.monotonic() < deadline and pid_alive(args.pid):
        table = _process_table()
        below = _descendants(args.pid, table)
        groups = sorted(p for p in below if table[p][1] == p and _ours(p))
        helpers = sorted(p for p in below if table[p][0] == args.pid and table[p][1] != p and _ours(p))
        if len(groups) >= args.expect:
            break
        time.sleep(0.5)
    RUN_PIDS.write_text(json.dumps({"honcho": args.pid, "helpers": helpers, "groups": groups}) + "\n")


def cmd_reap(args: argparse.Namespace) -> None:
    """Refuse when this checkout's `make run` is running; otherwise stop what a crashed one left behind (only
    live processes still running this checkout's honcho/flask: a recycled pid is left alone) and forget its
    per-process metrics files."""
    try:
        noted = json.loads(RUN_PIDS.read_text()) if RUN_PIDS.exists() else {}
    except ValueError:
        noted = {}
    table = _process_table()
    honcho = noted.get("honcho")
    if honcho in table and _ours(honcho):
        raise ServiceError(f"`make run` of this checkout is already running (honcho, pid {honcho}); stop it first")
    helpers = [p for p in noted.get("helpers", []) if p in table and _ours(p)]
    groups = [p for p in noted.get("groups", []) if p in table and table[p][1] == p and _ours(p)]
    for pid in groups:
        say(f"stopping {_cmdline(pid)[:70]!r} (pid {pid}), left running by an earlier `make run`")
    for pid, kill in [*((p, os.killpg) for p in groups), *((p, os.kill) for p in helpers)]:
        try:
            kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    everyone = groups + helpers
    deadline = time.monotonic() + 20
    while any(pid_alive(p) for p in everyone) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in [p for p in groups if pid_alive(p)]:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    RUN_PIDS.unlink(missing_ok=True)
    shutil.rmtree(VAR / "prometheus", ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    up = sub.add_parser("up", help="make sure PostgreSQL+PostGIS and Redis answer; write var/services.env")
    up.add_argument("--chromium", action="store_true", help="also make sure /usr/bin/chromium is installed")
    sub.add_parser("status", help="say what answers and what this script started")
    stop = sub.add_parser("stop", help="stop the local servers this script started")
    stop.add_argument("--purge", action="store_true", help="also delete their data")
    apt = sub.add_parser("apt", help="apt-get install packages (as root or via sudo)")
    apt.add_argument("packages", nargs="+")
    sub.add_parser("reap", help="stop what a crashed `make run` left running (var/run/make-run.pids)")
    record = sub.add_parser("record-run", help="note `make run`'s honcho and its children in var/run")
    record.add_argument("pid", type=int)
    record.add_argument("--expect", type=int, default=4, help="children to wait for (at most 20 s)")
    args = parser.parse_args(argv)
    args.command = args.command or "up"
    if args.command == "up" and not hasattr(args, "chromium"):
        args.chromium = False
    try:
        {
            "up": cmd_up,
            "status": cmd_status,
            "stop": cmd_stop,
            "apt": cmd_apt,
            "reap": cmd_reap,
            "record-run": cmd_record_run,
        }[args.command](args)
    except ServiceError as e:
        print(f"services: FAILED\n{e}", file=sys.stderr, flush=True)
        return 1
    except subprocess.TimeoutExpired as e:
        print(f"services: FAILED: {' '.join(map(str, e.cmd))} took longer than {e.timeout:.0f} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
