"""The shared time zone table: Graph's three kinds of names, checked against tzdata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import zoneinfo

import pytest

from custom_components.teams_presence_keeper.graph.timezones import (
    WINDOWS_ZONES,
    zone_info,
)
from graph_emulator import _timezones

JANUARY = datetime(2025, 1, 15, 12, tzinfo=UTC)
JULY = datetime(2025, 7, 15, 12, tzinfo=UTC)


def offset(name: str, moment: datetime) -> timedelta:
    delta = moment.astimezone(zone_info(name)).utcoffset()
    assert delta is not None
    return delta


def test_the_common_windows_zones_are_all_there() -> None:
    assert len(WINDOWS_ZONES) >= 135
    assert {
        "Pacific Standard Time",
        "Eastern Standard Time",
        "W. Europe Standard Time",
        "GMT Standard Time",
        "Tokyo Standard Time",
        "AUS Eastern Standard Time",
    } <= WINDOWS_ZONES.keys()


@pytest.mark.parametrize("name", sorted(WINDOWS_ZONES))
def test_every_target_loads(name: str) -> None:
    """Each target loads from the tz database Python uses.

    The system's, or the tzdata package (Home Assistant always installs it), which
    keeps the compatibility links CLDR names.
    """
    target = WINDOWS_ZONES[name]
    assert zoneinfo.ZoneInfo.no_cache(target).key == target
    # "UTC" is also Graph's own name for UTC, which zoneinfo knows as such.
    assert zone_info(name).key == ("UTC" if name == "UTC" else target)


@pytest.mark.parametrize(
    ("name", "winter", "summer"),
    [
        ("Pacific Standard Time", -8, -7),
        ("Eastern Standard Time", -5, -4),
        ("US Mountain Standard Time", -7, -7),
        ("W. Europe Standard Time", 1, 2),
        ("GMT Standard Time", 0, 1),
        ("India Standard Time", 5.5, 5.5),
        ("Nepal Standard Time", 5.75, 5.75),
        ("AUS Eastern Standard Time", 11, 10),
        ("Dateline Standard Time", -12, -12),
        ("UTC+12", 12, 12),
        ("UTC-02", -2, -2),
        ("UTC", 0, 0),
        ("Europe/Paris", 1, 2),
        ("Asia/Tokyo", 9, 9),
    ],
)
def test_offsets_follow_the_zone(name: str, winter: float, summer: float) -> None:
    """Etc/GMT signs are inverted; the table must not be."""
    assert offset(name, JANUARY) == timedelta(hours=winter)
    assert offset(name, JULY) == timedelta(hours=summer)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars",
        "utc",
        "pacific standard time",
        "Pacific Standard Time ",
        "America",
        "localtime",
        "posixrules",
        "Factory",
        "../etc/passwd",
        "/etc/localtime",
        "zone.tab",
        "a\0b",
    ],
)
def test_unknown_names_are_value_errors(name: str) -> None:
    with pytest.raises(ValueError, match="Unknown time zone"):
        zone_info(name)


@pytest.mark.parametrize("name", [*sorted(WINDOWS_ZONES), "UTC", "Europe/Paris"])
def test_the_emulator_reads_each_name_as_the_integration(name: str) -> None:
    """The emulator takes its table from the library, not from the integration."""
    emulated = _timezones.zone_info(name)
    for moment in (JANUARY, JULY):
        assert offset(name, moment) == moment.astimezone(emulated).utcoffset()


@pytest.mark.parametrize("name", ["", "Mars", "localtime", "Factory", "zone.tab"])
def test_the_emulator_refuses_unknown_names(name: str) -> None:
    with pytest.raises(ValueError, match="Unknown time zone"):
        _timezones.zone_info(name)
