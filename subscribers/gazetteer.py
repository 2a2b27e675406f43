"""The address gazetteer: the city's address points, searchable by a normalised key."""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from sqlalchemy import insert
from sqlalchemy.orm import Session

from subscribers.models import AddressPoint
from zones.service import ascii_fold

REQUIRED = ("street", "housenumber", "lon", "lat")


class AddressImportError(ValueError):
    pass


def address_key(street: str, house_number: str, city: str = "") -> str:
    """'ul. Św. Marcina 12A' and 'swietego marcina 12a' should meet: fold case, accents and prefixes."""
    text = ascii_fold(f"{street} {house_number} {city}".lower())
    text = re.sub(r"\b(ul|al|os|pl)\.?\s", " ", text)
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def import_address_points(session: Session, rows: Iterable[Mapping[str, str]], batch: int = 5000) -> int:
    pending, count = [], 0
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        missing = [k for k in REQUIRED if not (row.get(k) or "").strip()]
        if missing:
            raise AddressImportError(f"line {n}: missing {', '.join(missing)}")
        try:
            lon, lat = float(row["lon"]), float(row["lat"])
        except ValueError:
            raise AddressImportError(f"line {n}: lon/lat are not numbers") from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise AddressImportError(f"line {n}: coordinates out of range")
        city = (row.get("city") or "").strip() or "Poznań"
        pending.append({"street": row["street"].strip(), "house_number": row["housenumber"].strip(),
                        "postcode": (row.get("postcode") or "").strip() or None, "city": city,
                        "normalised_key": address_key(row["street"], row["housenumber"]),
                        "geom": f"SRID=4326;POINT({lon} {lat})"})
        if len(pending) >= batch:
            session.connection().execute(insert(AddressPoint.__table__), pending)
            count, pending = count + len(pending), []
    if pending:
        session.connection().execute(insert(AddressPoint.__table__), pending)
        count += len(pending)
    return count
