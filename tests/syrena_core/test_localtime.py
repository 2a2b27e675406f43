"""The city's wall-clock time: shown with CET/CEST, typed times read in [app] timezone, and the two nights a
year the clocks change (Europe/Warsaw: 2027-03-28 02:00 → 03:00; 2026-10-25 and 2027-10-31 03:00 → 02:00)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syrena_core.config import ConfigError, Settings, load_settings, replace
from syrena_core.localtime import NonexistentLocalTime, bound_from_local, from_local, local_iso, local_text, rfc3339

WARSAW = "Europe/Warsaw"


@pytest.mark.parametrize(
    ("stored", "text", "iso"),
    [
        (datetime(2026, 12, 6, 22, 15, tzinfo=UTC), "2026-12-06 23:15 CET", "2026-12-06T23:15:00+01:00"),
        (datetime(2026, 7, 1, 10, 0, tzinfo=UTC), "2026-07-01 12:00 CEST", "2026-07-01T12:00:00+02:00"),
        (datetime(2026, 12, 31, 23, 30), "2027-01-01 00:30 CET", "2027-01-01T00:30:00+01:00"),  # naive = UTC
    ],
)
def test_a_stored_utc_time_reads_as_warsaw_time(stored, text, iso):
    assert local_text(stored, WARSAW) == text
    assert local_iso(stored, WARSAW) == iso


def test_both_passes_of_the_repeated_autumn_hour_are_told_apart_by_their_abbreviation():
    first, second = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert local_text(first, WARSAW) == "2026-10-25 02:30 CEST"
    assert local_text(second, WARSAW) == "2026-10-25 02:30 CET"


@pytest.mark.parametrize(
    ("typed", "utc"),
    [
        (datetime(2027, 1, 15, 8, 30), datetime(2027, 1, 15, 7, 30, tzinfo=UTC)),
        (datetime(2027, 6, 15, 8, 30), datetime(2027, 6, 15, 6, 30, tzinfo=UTC)),
        (datetime(2027, 3, 28, 1, 59), datetime(2027, 3, 28, 0, 59, tzinfo=UTC)),  # just before the jump
        (datetime(2027, 3, 28, 3, 0), datetime(2027, 3, 28, 1, 0, tzinfo=UTC)),  # the first time after it
        # 02:30 happens twice on the fall-back nights: the first pass (still CEST, +02:00) is meant.
        (datetime(2026, 10, 25, 2, 30), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (datetime(2027, 10, 31, 2, 30), datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
        (datetime(2027, 10, 31, 3, 0), datetime(2027, 10, 31, 2, 0, tzinfo=UTC)),  # after both passes: CET
    ],
)
def test_a_typed_time_is_warsaw_wall_clock_time(typed, utc):
    assert from_local(typed, WARSAW) == utc


def test_a_time_skipped_by_the_spring_jump_is_refused_saying_which_times_exist():
    with pytest.raises(NonexistentLocalTime) as refused:
        from_local(datetime(2027, 3, 28, 2, 30), WARSAW)
    assert (refused.value.gap_start, refused.value.gap_end) == (datetime(2027, 3, 28, 2, 0), datetime(2027, 3, 28, 3))
    assert str(refused.value) == (
        "2027-03-28 02:30 does not exist in Europe/Warsaw: that night the clocks go forward from 02:00 to 03:00. "
        "Choose 03:00 or later, or a time before 02:00"
    )


def test_a_time_with_an_offset_is_only_converted_and_atom_dates_are_rfc_3339():
    assert from_local(datetime.fromisoformat("2027-03-28T02:30:00+01:00"), WARSAW) == datetime(
        2027, 3, 28, 1, 30, tzinfo=UTC
    )
    assert rfc3339(datetime(2026, 7, 1, 10, 0, 0, 5, tzinfo=UTC)) == "2026-07-01T10:00:00+00:00"


def test_app_timezone_is_the_one_home_of_local_time(tmp_path):
    assert Settings().app.timezone == WARSAW
    path = tmp_path / "syrena.toml"
    path.write_text('[app]\ntimezone = "Europe/Kyiv"\n')
    kyiv = load_settings(path, environ={})
    assert (kyiv.campaigns.timezone, kyiv.billing.timezone) == ("Europe/Kyiv", "Europe/Kyiv")  # they follow
    path.write_text('[app]\ntimezone = "Europe/Kyiv"\n[billing]\ntimezone = "UTC"\n')
    own = load_settings(path, environ={})
    assert (own.campaigns.timezone, own.billing.timezone) == ("Europe/Kyiv", "UTC")  # an override stays
    moved = replace(kyiv, app=replace(kyiv.app, timezone="Europe/Lisbon"))
    assert moved.campaigns.timezone == "Europe/Lisbon"
    assert replace(own, app=replace(own.app, timezone="Europe/Lisbon")).billing.timezone == "UTC"


@pytest.mark.parametrize("section", ["app", "campaigns", "billing"])
def test_a_bad_time_zone_name_stops_the_start(tmp_path, section):
    path = tmp_path / "syrena.toml"
    path.write_text(f'[{section}]\ntimezone = "Europe/Poznan"\n')
    with pytest.raises(ConfigError, match=rf'\[{section}\] timezone: not a time zone name such as "Europe/Warsaw"'):
        load_settings(path, environ={})


def test_a_filter_bound_in_the_spring_gap_starts_where_the_day_goes_on():
    assert bound_from_local(datetime(2027, 3, 28, 2, 30), WARSAW) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)  # 03:00
    assert bound_from_local(datetime(2027, 3, 28), WARSAW) == datetime(2027, 3, 27, 23, 0, tzinfo=UTC)
