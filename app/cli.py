"""The `flask` commands operators and scripts use (see README)."""
from __future__ import annotations

import csv
import json
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
def import_zones(file: Path, name_property: str, repair: bool) -> None:
    """Import zones from a GeoJSON FeatureCollection: all of them, or none when one is invalid."""
    from zones.exceptions import ZoneError
    from zones.service import create_zone
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        _fail(f"{file} is not GeoJSON: {e}")
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        _fail(f"{file} is not a GeoJSON FeatureCollection")
    try:
        with session_scope(_settings().database.url) as session:
            for n, feature in enumerate(features, start=1):
                name = ((feature or {}).get("properties") or {}).get(name_property)
                try:
                    create_zone(session, name, feature, repair=repair)
                except ZoneError as e:
                    raise ZoneError(f"feature {n} ({name!r}): {e}"
                                    + ("" if repair else " — use --repair to fix invalid polygons")) from None
    except ZoneError as e:
        _fail(f"nothing imported; {e}")
    click.echo(f"imported {len(features)} zones from {file}")


@addresses_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_addresses(file: Path) -> None:
    """Import address points from CSV (street, housenumber, postcode, city, lon, lat)."""
    from subscribers.gazetteer import AddressImportError, import_address_points
    try:
        with session_scope(_settings().database.url) as session, file.open(encoding="utf-8", newline="") as f:
            count = import_address_points(session, csv.DictReader(f))
    except AddressImportError as e:
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
    serve_forever(SimulatorOptions(host=host, port=port, control_host=host,
                                   control_port=control_port if control_port is not None else s.simulator.control_port,
                                   system_id=s.smsc.system_id, password=s.smsc.password,
                                   receipt_delay=s.simulator.receipt_delay,
                                   delivered_ratio=s.simulator.delivered_ratio))


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
