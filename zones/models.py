from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, text
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
    # Sorted as Polish readers expect (Ł after L): the ICU collation created by migration 0010.
    name: Mapped[str] = mapped_column(String(120, collation="polish"))
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


class ZonePart(Base):
    """A zone's geometry cut into pieces of at most 64 vertices (ST_Subdivide), for counting a whole city's
    subscribers at once: a point is tested against a small piece, not a 700-vertex boundary. Derived from the
    zone's geometry only, rebuilt by a trigger on zone (migration 0010) in the statement that writes it."""

    __tablename__ = "zone_part"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"), index=True)
    geom = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=True), nullable=False)
