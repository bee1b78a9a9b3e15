"""The integration's time zone table (one table for both sides), loaded on its own.

Importing ``custom_components.teams_presence.graph.timezones`` the usual way runs the
integration package's ``__init__``, which imports Home Assistant: seconds of start-up
for ``python -m graph_emulator``, and a dependency the emulator doesn't otherwise
have. The module itself imports nothing but the standard library, so it is loaded
from its file; type checkers see the ordinary import.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from custom_components.teams_presence.graph.timezones import (
        UTC_NAME,
        WINDOWS_ZONES,
        zone_info,
    )
else:
    _NAME = "custom_components.teams_presence.graph.timezones"
    _PATH = (
        Path(__file__)
        .resolve()
        .parents[1]
        .joinpath(*_NAME.split("."))
        .with_suffix(".py")
    )

    def _load():
        """Reuse the module when the integration is loaded, else load its file."""
        if _NAME in sys.modules:
            return sys.modules[_NAME]
        spec = importlib.util.spec_from_file_location("graph_emulator._zones", _PATH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    _module = _load()
    UTC_NAME = _module.UTC_NAME
    WINDOWS_ZONES = _module.WINDOWS_ZONES
    zone_info = _module.zone_info

__all__ = ["UTC_NAME", "WINDOWS_ZONES", "zone_info"]
