"""Backups of the one store that matters: PostgreSQL (Redis holds only work in flight, rebuilt from here).

`flask backup` runs pg_dump in its custom format (compressed, restorable table by table, PostGIS included);
`flask restore` runs pg_restore into the configured database. The password goes to the tools through the
environment (PGPASSWORD), never on a command line other users could read in the process list.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from syrena_core.config import ROOT


class BackupError(RuntimeError):
    """pg_dump or pg_restore is missing or failed; the message says why."""


def _libpq_env(database_url: str) -> dict[str, str]:
    url = make_url(database_url)
    env = dict(os.environ)
    for key, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[key] = str(value)
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client (Debian: postgresql-client)")
    return path


def default_backup_path(backup_dir: str) -> Path:
    directory = Path(backup_dir)
    if not directory.is_absolute():
        directory = ROOT / directory
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"syrena-{stamp}.dump"


def backup(database_url: str, target: Path) -> Path:
    """A consistent snapshot (pg_dump runs in one transaction) while the system keeps working."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    result = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial)],
        env=_libpq_env(database_url),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    os.chmod(partial, 0o600)  # subscribers' phone numbers and addresses are in it
    partial.replace(target)  # a backup file that exists is a complete one
    return target


def restore(database_url: str, source: Path, jobs: int = 2) -> None:
    """Replace the configured database's contents with the backup's (objects it has are dropped first)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    database = make_url(database_url).database
    if not database:
        raise BackupError("the database URL names no database to restore into: end it with /<name>, e.g. /syrena")
    result = subprocess.run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--exit-on-error",
            f"--jobs={jobs}",
            "--dbname",
            database,
            str(source),
        ],
        env=_libpq_env(database_url),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
