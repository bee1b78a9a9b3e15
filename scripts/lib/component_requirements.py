"""Print the requirements of Home Assistant components the tests set up for real.

pytest-homeassistant-custom-component installs Home Assistant without its components'
requirements. The tests set up Home Assistant Cloud (``mock_cloud``), whose import pulls
in the components it depends on or may load after; their pins come from this venv's own
manifests, so each Home Assistant version gets the versions it ships with.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

import homeassistant.components

COMPONENTS = Path(homeassistant.components.__file__).parent
TESTED_FOR_REAL = ("cloud",)
NOT_IMPORTED = frozenset({"matter"})
"""Loaded by what Cloud may load only when a Matter server is set up: never in tests."""


def requirements(names: tuple[str, ...]) -> list[str]:
    """Return the requirements of these components and of all they may load."""
    seen: set[str] = set()
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen or name in NOT_IMPORTED:
            continue
        seen.add(name)
        manifest = json.loads((COMPONENTS / name / "manifest.json").read_text())
        found.update(manifest.get("requirements", []))
        pending += manifest.get("dependencies", []) + manifest.get(
            "after_dependencies", []
        )
    return sorted(found)


if __name__ == "__main__":
    sys.stdout.write("".join(f"{line}\n" for line in requirements(TESTED_FOR_REAL)))
