"""The `flask` commands operators and scripts use (see README)."""
from __future__ import annotations

import csv
import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from syrena_core import accounts
from syrena_core.db import session_scope

users_cli = AppGroup("users", help="Staff accounts and API tokens.")
zones_cli = AppGroup("zones", help="City zones.")
addresses_cli = AppGroup("addresses", help="The address gazetteer.")
smsc_cli = AppGroup("smsc", help="The SMSC simulator.")
demo_cli = AppGroup("demo", help="Demo data.")


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
def create_token(email: str) -> None:
    """Issue a new API token; it is printed alone on the last line and never shown again."""
    with session_scope(_settings().database.url) as session:
        user = accounts.find_user(session, email)
        if user is None:
            _fail(f"no user {email}")
        token = accounts.issue_token(session, user)
    click.echo(f"API token for {email} ({user.role}):")
    click.echo(token)


@zones_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name-property", default="name", show_default=True, help="The feature property holding the name.")
@click.option("--repair", is_flag=True, help="Repair invalid polygons instead of refusing the file.")
@click.option("--skip", multiple=True, metavar="NAME",
              help="Leave out the feature with this name (e.g. a whole-city outline); repeatable.")
def import_zones(file: Path, name_property: str, repair: bool, skip: tuple[str, ...]) -> None:
    """Import zones from a GeoJSON FeatureCollection: all of them, or none when one is invalid."""
    from zones.exceptions import ZoneError, ZoneGeometryRepairable, ZoneImportFailed
    from zones.service import import_features, read_feature_collection
    try:
        features = read_feature_collection(file.read_bytes())
    except ZoneError as e:
        _fail(f"{file}: {e}")
    try:
        with session_scope(_settings().database.url) as session, click.progressbar(
                length=len(features), label=f"importing {len(features)} features", file=sys.stderr) as bar:
            saved = import_features(session, features, name_property=name_property, repair=repair, skip=skip,
                                    limits=_settings().zones, progress=bar.update)
            accounts.record(session, "zone.import", None, "zone", None,
                            {"file": file.name, "zones": [s.zone.id for s in saved]})
    except ZoneImportFailed as e:
        hint = " — use --repair to fix invalid polygons" if isinstance(e.cause, ZoneGeometryRepairable) else ""
        _fail(f"{e}{hint}")
    for s in saved:
        for change in s.repairs:
            click.echo(f"{s.zone.name}: {change}")
    skipped = len(features) - len(saved)
    click.echo(f"imported {len(saved)} zones from {file}" + (f" ({skipped} skipped)" if skipped else ""))


@addresses_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Empty the gazetteer first (a new edition of the register).")
def import_addresses(file: Path, replace: bool) -> None:
    """Import address points: CSV (street, housenumber, postcode, city, lon/lat or EPSG:2180 x/y) or GeoJSON
    Points; all of them, or none when one row is bad."""
    from subscribers.gazetteer import AddressImportError, import_address_points, read_address_file
    try:
        with session_scope(_settings().database.url) as session:
            count = import_address_points(session, read_address_file(file), replace=replace)
    except (AddressImportError, UnicodeDecodeError, csv.Error) as e:
        _fail(f"nothing imported; {e}")
    click.echo(f"imported {count} addresses from {file}")


@smsc_cli.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2775, show_default=True, type=int)
@click.option("--control-port", default=None, type=int, help="HTTP control port (default: [simulator] control_port).")
def simulate(host: str, port: int, control_port: int | None) -> None:
    """Run the bundled SMSC simulator: a real SMPP 3.4 server, with an HTTP control port."""
    from smsc_gateway.simulator import SimulatorOptions, serve_forever
    s = _settings()
    sim = s.simulator
    serve_forever(SimulatorOptions(host=host, port=port, control_host=host,
                                   control_port=control_port if control_port is not None else sim.control_port,
                                   system_id=s.smsc.system_id, password=s.smsc.password,
                                   receipt_delay=sim.receipt_delay, receipt_delay_max=sim.receipt_delay_max,
                                   delivered_ratio=sim.delivered_ratio, expired_ratio=sim.expired_ratio,
                                   receipt_form=sim.receipt_form, tps=sim.tps, error_ratio=sim.error_ratio,
                                   disconnect_ratio=sim.disconnect_ratio))


@demo_cli.command("load")
def load_demo() -> None:
    """Generate the demo city (12 zones, 10,000 subscribers), offline; does nothing if it is there."""
    from app.demo import load_demo_city
    with session_scope(_settings().database.url) as session:
        click.echo(load_demo_city(session))


def register(app: Flask) -> None:
    for group in (users_cli, zones_cli, addresses_cli, smsc_cli, demo_cli):
        app.cli.add_command(group)

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
    def worker(burst: bool) -> None:
        """Run a gateway worker: SMPP session, RQ jobs, receipts and MO."""
        from app.worker import run_worker
        from syrena_core.schema import SchemaBehind
        try:
            run_worker(_settings(), burst=burst)
        except SchemaBehind as e:
            _fail(str(e))
