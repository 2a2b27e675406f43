from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from syrena_core.db import Base, utcnow

DEFAULT_COLOUR = "#d7263d"


class Zone(Base):
    __tablename__ = "zone"
    __table_args__ = (
        # Two live zones may not share a name; an archived zone's name may be used again.
        Index("uq_zone_name_live", "name", unique=True, postgresql_where=text("archived_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    # Residents subscribe by texting this code (e.g. "START WILDA"). Unique also among archived zones,
    # so an old code never silently starts meaning another place.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    colour: Mapped[str] = mapped_column(String(7), default=DEFAULT_COLOUR, server_default=DEFAULT_COLOUR)
    description: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), onupdate=utcnow)
    # Deleting a zone archives it: campaigns that targeted it keep their history.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None
