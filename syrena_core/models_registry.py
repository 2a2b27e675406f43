"""Every package's tables in one metadata: importing this module imports each package's models, so
`Base.metadata` knows every table (alembic's env, create_app, the tests' fresh database, the benchmarks).

It is not part of syrena_core.db because every models module imports `Base` from db: db importing them back
(as `db.import_all_models` did, inside the function to dodge the cycle) made db ↔ */models.py an import cycle.
Here the arrows point one way only: registry → models → db."""

from __future__ import annotations

from sqlalchemy import MetaData

import billing.models  # noqa: F401  imported for its tables
import campaigns.models  # noqa: F401  imported for its tables
import feeds.models  # noqa: F401  imported for its tables
import smsc_gateway.models  # noqa: F401  imported for its tables
import subscribers.models  # noqa: F401  imported for its tables
import zones.models  # noqa: F401  imported for its tables
from syrena_core import accounts, audit  # noqa: F401  imported for their tables (users and tokens; the audit log)
from syrena_core.db import Base


def import_all_models() -> MetaData:
    """`Base.metadata`, knowing every table: the imports above did the work when this module was imported;
    callers call this to say that they need every table (and may use the metadata it returns)."""
    return Base.metadata
