"""The `flask` commands operators and scripts use (see README)."""

from __future__ import annotations

import csv
import secrets
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.engine import make_url

from app.demo import load_demo_city
from app.demo_groups import load_demo_groups
from app.demo_history import RealCampaigns, load_demo_history
from app.public_alerts import write_static_files
from campaigns import publication
from feeds import service as feeds_service
from feeds.exceptions import FeedError
from subscribers.gazetteer import AddressImportError, import_address_points, read_address_file
from syrena_core import accounts, audit, metrics
from syrena_core.backup import BackupError, backup, default_backup_path, restore
from syrena_core.db import session_scope
from syrena_core.schema import SchemaBehind
from zones import queries as zone_queries
from zones.exceptions import ZoneError, ZoneGeometryRepairable, ZoneImportFailed
from zones.service import import_features, read_feature_collection

users_cli = AppGroup("users", help="Staff accounts and API tokens.")
zones_cli = AppGroup("zones", help="City zones.")
addresses_cli = AppGroup("addresses", help="The address gazetteer.")
smsc_cli = AppGroup("smsc", help="The SMSC simulator.")
demo_cli = AppGroup("demo", help="Demo data.")
alerts_cli = AppGroup("alerts", help="The public alert pages.")
feeds_cli = AppGroup("feeds", help="Official warning sources (CAP feeds).")


def _settings():
    return current_app.config["SYRENA"]


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in accounts.Role]))
def create_user(email: str, role: str) -> None:
    """Create a user; the password comes from standard input, or is generated and printed on a terminal."""
    generated = sys.stdin.isatty()
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\r\n")
    try:
        with session_scope(_settings().database.url) as session:
            accounts.create_user(session, email, role, password)
    except accounts.AccountError as e:
        _fail(str(e))
    click.echo(f"created {email} ({role})")
    if generated:
        click.echo(f"password: {password}")


@users_cli.command("token")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in accounts.Role]),
    help="Narrow an admin's token to this role (default: the user's role).",
)
@click.option("--label", help="What the token is for (shown in lists).")
def create_token(email: str, role: str | None, label: str | None) -> None:
    """Issue a new API token; it is printed alone on the last line and never shown again."""
    try:
        with session_scope(_settings().database.url) as session:
            user = accounts.find_user(session, email)
            if user is None:
                _fail(f"no user {email}")
            token = accounts.issue_token(session, user, role=role, label=label)
    except accounts.AccountError as e:
        _fail(str(e))
    click.echo(f"API token for {email} ({role or user.role}):")
    click.echo(token)


@users_cli.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in accounts.Role]))
def change_role(email: str, role: str) -> None:
    """Change a user's role (ends the user's sessions)."""
    with session_scope(_settings().database.url) as session:
        user = accounts.find_user(session, email)
        if user is None:
            _fail(f"no user {email}")
        before = user.role
        accounts.change_role(session, user, role)
    click.echo(f"{email}: {before} -> {role}")


@users_cli.command("tokens")
@click.argument("email")
def list_tokens(email: str) -> None:
    """List a user's API tokens (id, first characters, role, state)."""
    with session_scope(_settings().database.url) as session:
        user = accounts.find_user(session, email)
        if user is None:
            _fail(f"no user {email}")
        for t in sorted(user.tokens, key=lambda t: t.id):
            state = (
                "revoked" if t.revoked else f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "unused"
            )
            click.echo(f"{t.id}\t{t.prefix or '?'}…\t{t.effective_role() or 'none'}\t{t.label or ''}\t{state}")


@users_cli.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke an API token by its id (see `flask users tokens EMAIL`)."""
    try:
        with session_scope(_settings().database.url) as session:
            accounts.revoke_token(session, token_id)
    except accounts.AccountError as e:
        _fail(str(e))
    click.echo(f"revoked token {token_id}")


@users_cli.command("unlock")
@click.argument("email")
@click.option("--reset-totp", is_flag=True, help="Also remove the user's second factor (lost phone).")
def unlock_user(email: str, reset_totp: bool) -> None:
    """Lift the login back-off of the user's e-mail at every address (and optionally the second factor)."""
    with session_scope(_settings().database.url) as session:
        user = accounts.find_user(session, email)
        if user is None:
            _fail(f"no user {email}")
        accounts.unlock(session, user, details={"reset_totp": reset_totp})  # every address's login throttle
        if reset_totp:
            accounts.reset_totp(session, user)
    click.echo(f"unlocked {email}")


@zones_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name-property", default="name", show_default=True, help="The feature property holding the name.")
@click.option("--repair", is_flag=True, help="Repair invalid polygons instead of refusing the file.")
@click.option(
    "--skip",
    multiple=True,
    metavar="NAME",
    help="Leave out the feature with this name (e.g. a whole-city outline); repeatable.",
)
def import_zones(file: Path, name_property: str, repair: bool, skip: tuple[str, ...]) -> None:
    """Import zones from a GeoJSON FeatureCollection: all of them, or none when one is invalid."""
    try:
        features = read_feature_collection(file.read_bytes())
    except ZoneError as e:
        _fail(f"{file}: {e}")
    try:
        with (
            session_scope(_settings().database.url) as session,
            click.progressbar(
                length=len(features), label=f"importing {len(features)} features", file=sys.stderr
            ) as bar,
        ):
            saved = import_features(
                session,
                features,
                name_property=name_property,
                repair=repair,
                skip=skip,
                limits=_settings().zones,
                progress=bar.update,
            )
            audit.record(
                session, "zone.import", None, "zone", None, {"file": file.name, "zones": [s.zone.id for s in saved]}
            )
    except ZoneImportFailed as e:
        hint = " — use --repair to fix invalid polygons" if isinstance(e.cause, ZoneGeometryRepairable) else ""
        _fail(f"{e}{hint}")
    for s in saved:
        for change in s.repairs:
            click.echo(f"{s.zone.name}: {change}")
    skipped = len(features) - len(saved)
    click.echo(f"imported {len(saved)} zones from {file}" + (f" ({skipped} skipped)" if skipped else ""))


@zones_cli.command("cluster-locations")
def cluster_locations() -> None:
    """Store subscriber locations in spatial order after a bulk load: counting every zone at once reads
    far fewer pages. Locks the locations until done (seconds for a million)."""
    with session_scope(_settings().database.url) as session:
        zone_queries.cluster_locations(session)
    click.echo("subscriber locations stored in spatial order")


@addresses_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Empty the gazetteer first (a new edition of the register).")
def import_addresses(file: Path, replace: bool) -> None:
    """Import address points: CSV (street, housenumber, postcode, city, lon/lat or EPSG:2180 x/y) or GeoJSON
    Points; all of them, or none when one row is bad."""
    try:
        with session_scope(_settings().database.url) as session:
            count = import_address_points(session, read_address_file(file), replace=replace)
    except (AddressImportError, UnicodeDecodeError, csv.Error) as e:
        _fail(f"nothing imported; {e}")
    click.echo(f"imported {count} addresses from {file}")


@smsc_cli.command("simulate")
@click.option("--host", default=None, help="Listen address of both ports (default: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="SMPP port (default: [smsc] port).")
@click.option("--control-port", default=None, type=int, help="HTTP control port (default: [simulator] control_port).")
def simulate(host: str | None, port: int | None, control_port: int | None) -> None:
    """Run the bundled SMSC simulator: a real SMPP 3.4 server, with an HTTP control port."""
    # loaded only here: no production code needs the simulator
    from smsc_simulator import SimulatorOptions, serve_forever  # noqa: PLC0415 - deliberate lazy import

    given = {"host": host, "control_host": host, "port": port, "control_port": control_port}
    serve_forever(SimulatorOptions.from_settings(_settings(), **{k: v for k, v in given.items() if v is not None}))


# `flask demo load`'s exit status when it refuses to mix the demo history into real campaigns (scripts/run.sh
# goes on: the application itself is fine).
REFUSED = 3


@demo_cli.command("load")
@click.option("--force", is_flag=True, help="Add the demo history even to a database with real campaigns.")
def load_demo(force: bool) -> None:
    """Generate the demo city (12 zones, 10,000 subscribers), the call-out groups and last month's history (the
    tariff, four campaigns sent, receipted and charged, a cancelled draft, the operator's invoice), offline; does
    nothing when they are there, and refuses to add the history to a database with real campaigns unless --force."""
    settings = _settings()
    with session_scope(settings.database.url) as session:
        click.echo(load_demo_city(session))
    with session_scope(settings.database.url) as session:
        click.echo(load_demo_groups(session))
    try:
        with session_scope(settings.database.url) as session:
            click.echo(load_demo_history(session, settings, force=force))
        publication.changed(settings.redis.url)  # the history was written without the workflow's own bump
    except RealCampaigns as e:
        click.echo(f"Refused: {e}", err=True)
        sys.exit(REFUSED)
    except LookupError as e:
        click.echo(f"no demo history: {e}; nothing changed")


@alerts_cli.command("publish")
def publish_alerts() -> None:
    """Drop every cached copy of /alerts, /alerts.atom and the CAP files, and rewrite [public] static_dir now:
    after a restore or anything else that changed alerts in the database without the workflow."""
    settings = _settings()
    publication.changed(settings.redis.url)
    if write_static_files(current_app._get_current_object(), force=True):
        click.echo(f"public alert pages written to {settings.public.static_dir}")
    else:
        click.echo("cached copies dropped ([public] static_dir is not set: no files written)")


@feeds_cli.command("poll")
@click.argument("name", required=False)
def poll_feeds(name: str | None) -> None:
    """Poll the source NAME (or every [[feeds.sources]] one) now; prints one line per source."""
    try:
        results = feeds_service.poll_named(_settings().database.url, _settings(), name)
    except FeedError as e:
        _fail(str(e))
    for result in results:
        click.echo(result.summary())


def register(app: Flask) -> None:
    for group in (users_cli, zones_cli, addresses_cli, smsc_cli, demo_cli, alerts_cli, feeds_cli):
        app.cli.add_command(group)

    @app.cli.command("metrics-server")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Listen address (the monitoring network).")
    @click.option("--port", default=9108, show_default=True, type=int)
    def metrics_server(host: str, port: int) -> None:
        """Serve /metrics of this host's worker processes, for hosts that run workers but no web app."""
        metrics.serve_worker_metrics(host, port)
        click.echo(f"metrics of {metrics.MULTIPROC_DIR} on http://{host}:{port}/metrics")
        while True:
            time.sleep(3600)

    @app.cli.command("backup")
    @click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
    def backup_command(path: Path | None) -> None:
        """pg_dump the database (custom format) to PATH, or to [operations] backup_dir with a UTC time stamp."""
        target = path or default_backup_path(_settings().operations.backup_dir)
        try:
            written = backup(_settings().database.url, target)
        except BackupError as e:
            _fail(str(e))
        click.echo(f"backup written to {written} ({written.stat().st_size} bytes)")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="Do not ask: the database's contents are replaced by the backup's.")
    def restore_command(path: Path, yes: bool) -> None:
        """Restore a `flask backup` file into the configured database (stop the workers and the web first)."""
        name = make_url(_settings().database.url).database
        if not yes and not click.confirm(f"Replace the contents of database {name} with {path}?"):
            _fail("nothing restored")
        try:
            restore(_settings().database.url, path)
        except BackupError as e:
            _fail(str(e))
        click.echo(f"restored {path} into {name}; start the workers: they re-enqueue unfinished campaigns")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
    def worker(burst: bool) -> None:
        """Run a gateway worker: SMPP session, RQ jobs, receipts and MO."""
        # The web process never runs a gateway worker: its SMPP session and job loop load only here.
        from app.worker import run_worker  # noqa: PLC0415 - a deliberate lazy import (see above)

        try:
            run_worker(_settings(), burst=burst)
        except SchemaBehind as e:
            _fail(str(e))
