"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import text

from syrena_core.db import Base, engine_for
from syrena_core.models_registry import import_all_models


def _include(obj, name, obj_type, reflected, compare_to):
    if obj_type == "table" and reflected and compare_to is None:
        return False  # PostGIS's own tables
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)


def test_autogenerate_finds_no_difference_between_models_and_migrations(settings):
    import_all_models()
    with engine_for(settings.database.url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": _include, "compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_postgis_is_really_there(settings):
    with engine_for(settings.database.url).connect() as connection:
        version = connection.execute(text("SELECT postgis_full_version()")).scalar()
        inside = connection.execute(
            text(
                "SELECT ST_Covers(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 4326), "
                "ST_SetSRID(ST_MakePoint(0.5, 0.5), 4326))"
            )
        ).scalar()
    assert "POSTGIS=" in version
    assert inside is True


def test_spatial_columns_have_gist_indexes(settings):
    with engine_for(settings.database.url).connect() as connection:
        rows = (
            connection.execute(text("SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'"))
            .scalars()
            .all()
        )
    assert {"zone", "subscriber_location", "address_point", "campaign"} <= set(rows)
