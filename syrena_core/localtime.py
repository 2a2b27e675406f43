"""Local time: times are stored in UTC and shown to people, and typed by them, in [app] timezone.

`local_text` is how a time reads on every page ("2026-12-06 23:15 CET": the zone's abbreviation tells winter
from summer time, and which of the two 02:30s of the autumn night is meant); `local_iso` is its machine form
with the local offset (`<time datetime>`, 2026-12-06T23:15:00+01:00). `from_local` reads a wall-clock time
typed into a form (a datetime-local or date input, without an offset) as the city's time, in UTC:

- on the spring-forward night a time in the gap (02:30 on 2027-03-28 in Europe/Warsaw) does not exist:
  NonexistentLocalTime says so and which times do (an emergency system never silently moves a send);
- on the fall-back night a time in the repeated hour (02:30 on 2026-10-25) exists twice: the first one is
  meant (fold=0, still summer time, 00:30 UTC), and the time shown back carries its abbreviation (CEST).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


class NonexistentLocalTime(ValueError):
    """A wall-clock time skipped when the clocks go forward."""

    def __init__(self, moment: datetime, zone: str, gap_start: datetime, gap_end: datetime):
        self.moment, self.zone, self.gap_start, self.gap_end = moment, zone, gap_start, gap_end
        super().__init__(
            f"{moment:%Y-%m-%d %H:%M} does not exist in {zone}: that night the clocks go forward from "
            f"{gap_start:%H:%M} to {gap_end:%H:%M}. Choose {gap_end:%H:%M} or later, or a time before {gap_start:%H:%M}"
        )


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def as_utc(value: datetime) -> datetime:
    """An aware time in UTC; a naive one is taken as UTC (how the database and RQ hand them out)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """RFC 3339 (Atom's dates) in UTC, to the second: 2026-12-06T22:15:00+00:00."""
    return as_utc(value).isoformat(timespec="seconds")


def to_local(value: datetime, zone_name: str) -> datetime:
    return as_utc(value).astimezone(zone(zone_name))


def local_text(value: datetime, zone_name: str, seconds: bool = False) -> str:
    """ "2026-12-06 23:15 CET" (the abbreviation, or the offset where the zone has none, e.g. "-03")."""
    local = to_local(value, zone_name)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def local_iso(value: datetime, zone_name: str) -> str:
    """ISO 8601 with the local offset, to the second: 2026-12-06T23:15:00+01:00."""
    return to_local(value, zone_name).isoformat(timespec="seconds")


def from_local(wall: datetime, zone_name: str) -> datetime:
    """A wall-clock time typed in the city, in UTC. An aware time is only converted. Raises
    NonexistentLocalTime for a time skipped by the spring-forward jump; the repeated autumn hour is its first
    pass (fold=0)."""
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    tz = zone(zone_name)
    local = wall.replace(tzinfo=tz, fold=0)
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:  # it does not come back: a gap
        gap_start, gap_end = _gap(wall, tz)
        raise NonexistentLocalTime(wall, zone_name, gap_start, gap_end)
    return local.astimezone(UTC)


def bound_from_local(wall: datetime, zone_name: str) -> datetime:
    """A filter's bound typed in the city ("from 2027-03-28"), in UTC: like from_local, but a bound inside the
    spring gap is where the day goes on (the end of the gap) rather than an error."""
    try:
        return from_local(wall, zone_name)
    except NonexistentLocalTime as e:
        return from_local(e.gap_end, zone_name)


def _gap(wall: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The skipped wall-clock span around `wall`: [first skipped time, first time after the jump)."""
    early = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # read with the offset after the jump
    late = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)  # ... and with the one before it
    while late - early > timedelta(seconds=1):  # the jump lies in between: find it to the second
        middle = early + (late - early) / 2
        if middle.astimezone(tz).utcoffset() == early.astimezone(tz).utcoffset():
            early = middle
        else:
            late = middle
    after = late.astimezone(tz)
    before = after.utcoffset() or timedelta()
    jump = before - ((early.astimezone(tz).utcoffset()) or timedelta())
    start = (after - jump).replace(tzinfo=None)
    return start, after.replace(tzinfo=None)
