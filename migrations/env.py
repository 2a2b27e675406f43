"""Alembic environment: the database URL comes from Syrena's settings, the
tables from every package's models; GeoAlchemy2's helpers keep spatial
columns and their GiST indexes right in autogenerate."""

import logging
from logging.config import fileConfig

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from syrena_core.config import get_settings
from syrena_core.db import Base, sqlalchemy_url
from syrena_core.models_registry import import_all_models

config = context.config
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

import_all_models()
target_metadata = Base.metadata


def include_object(obj, name, obj_type, reflected, compare_to):
    # PostGIS brings tables of its own (topology, tiger…); only ours are managed here.
    if obj_type == "table" and reflected and compare_to is None:
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)


def _configure(**kwargs):
    context.configure(
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline():
    _configure(url=sqlalchemy_url(get_settings().database.url), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(sqlalchemy_url(get_settings().database.url))
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
