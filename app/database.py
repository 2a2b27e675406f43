"""One SQLAlchemy session per request, closed when the app context ends."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from syrena_core.db import session_factory


def db() -> Session:
    if "db_session" not in g:
        g.db_session = session_factory(current_app.config["SYRENA"].database.url)()
    return g.db_session


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()  # uncommitted work is rolled back: views commit explicitly


class MetadataHolder:
    """What Flask-Migrate asks of a `db`: the metadata of every table."""

    def __init__(self, metadata):
        self.metadata = metadata
