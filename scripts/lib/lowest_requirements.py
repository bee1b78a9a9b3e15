"""Print the integration's requirements at the lowest versions its manifest allows.

The manifest declares ranges (``msal>=1.27.0,<2``) so that another integration
needing a different release can be installed beside ours. The minimum Home Assistant
release is tested with these lowest versions, the others with requirements_test.txt's
newest, so both ends of each range are proven.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import sys

MANIFEST = (
    Path(__file__).parents[2] / "custom_components/teams_presence_keeper/manifest.json"
)


def lowest(requirement: str) -> str:
    """``name>=1.2,<2`` -> ``name==1.2``; a requirement without a floor is an error."""
    match = re.fullmatch(r"([\w.-]+)>=([\w.]+)(,<[\w.]+)?", requirement)
    if match is None:
        raise ValueError(f"not a range with a floor: {requirement}")
    return f"{match[1]}=={match[2]}"


def main() -> None:
    """Print one pin a line."""
    requirements = json.loads(MANIFEST.read_text(encoding="utf-8"))["requirements"]
    sys.stdout.write("".join(f"{lowest(r)}\n" for r in requirements))


if __name__ == "__main__":
    main()
