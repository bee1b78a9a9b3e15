"""Make a venv's phacc work with the Home Assistant installed beside it, if they differ.

Run by scripts/lib/env.sh in each test venv after installing, as
``python scripts/lib/phacc_compat.py HA_VERSION``. When phacc
(pytest-homeassistant-custom-component) pins that very version, it does nothing and
removes the venv's ``.phacc-compat`` marker. Otherwise (compat mode: Home Assistant was
overridden to a release no phacc pins yet) it writes the marker, which makes env.sh import
``homeassistant`` before pytest loads phacc (2026.11 aliases httpx to httpx2 at import and
refuses once httpx is imported, which phacc's respx does), and it points phacc's import of
``_clear_logger_overwrites`` at ``homeassistant.components.logger.helpers``, where 2026.11
moved it. Only the venv changes, never the checkout.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
import re
import sys

PHACC = "pytest-homeassistant-custom-component"
MARKER = Path(sys.prefix) / ".phacc-compat"
LOGGER_IMPORT = re.compile(
    r"from homeassistant\.components\.logger import (\([^)]*\)|[^\n]*)\n"
)
MOVED = "_clear_logger_overwrites"


def pinned_version() -> str:
    """Return the Home Assistant version phacc requires (``==`` pin)."""
    for requirement in importlib.metadata.requires(PHACC) or []:
        match = re.fullmatch(r"homeassistant\s*==\s*([^\s;]+)", requirement.strip())
        if match:
            return match.group(1)
    return ""


def logger_helpers_moved() -> bool:
    """Tell whether ``_clear_logger_overwrites`` lives in ``logger.helpers`` only."""
    from homeassistant.components import logger  # noqa: PLC0415

    return not hasattr(logger, MOVED)


def point_common_at_helpers() -> bool:
    """Rewrite phacc's common.py import of the moved name; return whether it changed."""
    spec = importlib.util.find_spec("pytest_homeassistant_custom_component.common")
    if spec is None or spec.origin is None:
        return False
    common = Path(spec.origin)
    text = common.read_text(encoding="utf-8")
    match = LOGGER_IMPORT.search(text)
    if match is None or MOVED not in match.group(1):
        return False
    names = [
        name.strip()
        for name in match.group(1).strip("()").split(",")
        if name.strip() and name.strip() != MOVED
    ]
    replacement = f"from homeassistant.components.logger.helpers import {MOVED}\n"
    if names:
        joined = ", ".join(names)
        replacement = (
            f"from homeassistant.components.logger import {joined}\n{replacement}"
        )
    common.write_text(
        text[: match.start()] + replacement + text[match.end() :], encoding="utf-8"
    )
    return True


def main() -> None:
    """Switch compat mode on or off for this venv (see the module's docstring)."""
    version = sys.argv[1]
    pin = pinned_version()
    if pin == version:
        MARKER.unlink(missing_ok=True)
        return
    MARKER.write_text(f"phacc pins homeassistant {pin}, running {version}\n")
    print(f"compat mode: phacc pins homeassistant {pin}, running {version}")
    if logger_helpers_moved() and point_common_at_helpers():
        print(f"compat mode: phacc's common.py imports {MOVED} from logger.helpers")


if __name__ == "__main__":
    main()
