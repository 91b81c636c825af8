from datetime import datetime

import pytest

from bot.handoff.hours import BusinessHours

HOURS = BusinessHours.from_mapping({
    "timezone": "America/New_York",
    "weekly": {"monday": "08:00-20:00", "saturday": "09:00-17:00", "sunday": "closed"},
    "holidays": ["2026-12-25"],
})


@pytest.mark.parametrize("utc, expected", [
    (datetime(2026, 10, 5, 12, 0), True),    # Monday 8:00 EDT: opens
    (datetime(2026, 10, 5, 11, 59), False),  # Monday 7:59 EDT
    (datetime(2026, 10, 6, 0, 0), False),    # Monday 20:00 EDT: closed again
    (datetime(2026, 10, 6, 14, 0), False),   # Tuesday: no hours in this table
    (datetime(2026, 12, 26, 15, 0), True),   # Saturday 10:00 EST (winter time)
    (datetime(2026, 12, 21, 14, 0), True),   # Monday 9:00 EST
])
def test_open_in_the_team_time_zone(utc, expected):
    assert HOURS.is_open(utc) is expected


def test_holidays_are_closed_and_next_opening_skips_them():
    assert not HOURS.is_open(datetime(2026, 12, 25, 15, 0))  # Friday holiday (Fridays have no hours here anyway)
    hours = BusinessHours.from_mapping({"timezone": "UTC", "weekly": {"friday": "08:00-20:00", "monday": "08:00-20:00"},
                                        "holidays": ["2026-12-25"]})
    assert not hours.is_open(datetime(2026, 12, 25, 10, 0))
    assert hours.next_open(datetime(2026, 12, 24, 21, 0)) == datetime(2026, 12, 28, 8, 0)
    assert hours.describe(datetime(2026, 12, 24, 21, 0)) == "Monday at 8:00 (UTC)"
    assert hours.describe(datetime(2026, 12, 28, 6, 0)) == "today at 8:00 (UTC)"


@pytest.mark.parametrize("config, message", [
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"weekly": {"funday": "08:00-10:00"}}, "unknown day"),
    ({"weekly": {"monday": "8-20"}}, "expected 'HH:MM-HH:MM'"),
    ({"weekly": {"monday": "20:00-08:00"}}, "closes before it opens"),
    ({"holidays": ["christmas"]}, "is not a date"),
    ({"tz": "UTC"}, "unknown setting"),
])
def test_bad_settings_say_what_is_wrong(config, message):
    with pytest.raises(ValueError, match=message):
        BusinessHours.from_mapping(config)


def test_a_week_without_hours_never_opens():
    assert BusinessHours.from_mapping({"timezone": "UTC"}).next_open(datetime(2026, 1, 1)) is None
