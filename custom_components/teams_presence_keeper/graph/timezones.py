"""Time zone names as Microsoft Graph takes them: "UTC", IANA names and Windows names.

Graph's ``dateTimeTimeZone`` (a status message's ``expiryDateTime``) names its zone
either way, and answers in the zone it was given ("Pacific Standard Time" in
Microsoft's own example), so whoever reads Graph must understand Windows names too.
``WINDOWS_ZONES`` maps each Windows zone to its IANA equivalent: CLDR's
``windowsZones`` default (territory "001"), as tzlocal ships it and regenerates it
with CLDR's releases, rather than a copy kept by hand. Some of CLDR's names are
links kept for compatibility ("Asia/Calcutta"); they load from the tz database
Python uses (the system's, or the tzdata package Home Assistant always installs).
No Home Assistant imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, available_timezones

from tzlocal.windows_tz import win_tz

UTC_NAME = "UTC"

WINDOWS_ZONES: Mapping[str, str] = MappingProxyType(win_tz)

# Files in a tz database that load but name no zone anyone means.
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@cache
def _iana_names() -> frozenset[str]:
    """IANA names the tz database knows; read once, as listing it walks the disk."""
    return frozenset(available_timezones()) - _NOT_ZONES


def zone_info(name: str) -> ZoneInfo:
    """Return the zone a Graph ``timeZone`` names: "UTC", a Windows or an IANA name.

    Names are matched exactly, as ``ZoneInfo`` does; ``ValueError`` for any other,
    so a caller can answer a bad name as bad input rather than crash.
    """
    if name == UTC_NAME:
        return ZoneInfo(UTC_NAME)
    if (iana := WINDOWS_ZONES.get(name)) is not None:
        return ZoneInfo(iana)
    if name in _iana_names():
        return ZoneInfo(name)
    raise ValueError(f"Unknown time zone: {name!r}")
