"""Time zone names as Graph takes them, from tzlocal's copy of CLDR's table.

The emulator answers in the zone a request named, as Graph does. It takes the
Windows-to-IANA table from the library, not from the integration, so that the
integration's choice of table is tested against another reading of CLDR's.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from tzlocal.windows_tz import win_tz

UTC_NAME = "UTC"


@cache
def _zones() -> frozenset[str]:
    """Every name Graph takes: Windows names, and the tz database's zones."""
    return frozenset(win_tz) | (
        frozenset(available_timezones()) - {"Factory", "localtime", "posixrules"}
    )


def zone_info(name: str) -> ZoneInfo:
    """Return the zone a ``timeZone`` names; ``ValueError`` for an unknown name."""
    if name != UTC_NAME and name not in _zones():
        raise ValueError(f"Unknown time zone: {name!r}")
    return ZoneInfo(win_tz.get(name, name))


__all__ = ["UTC_NAME", "zone_info"]
