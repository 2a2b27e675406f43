"""Refuse to run against a database whose schema is behind the code's migrations."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class SchemaBehind(RuntimeError):
    pass


def ensure_schema_current(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        raise SchemaBehind(
            f"the database is at {sorted(current) or 'no revision'}, the code needs {sorted(heads)}: "
            "run `flask db upgrade`"
        )
