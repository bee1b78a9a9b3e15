"""Fail when the integration imports a Home Assistant name that today's release lacks.

The suite runs on the newest release too, but only after its venv (Python 3.14) is
installed. Reading the newest wheel as text is a cheap early warning: it tells, before
anything else runs, that an API we use was removed or moved.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
import re
import sys
import zipfile

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "teams_presence_keeper"


def imported_names(source: Path) -> set[tuple[str, str | None]]:
    """Return (module, name) for every ``homeassistant`` import in ``source``.

    Imports inside ``try`` or guarded by ``getattr`` fallbacks are still listed: a
    name that exists in no version we support is a bug either way.
    """
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "homeassistant"
        ):
            found.update((str(node.module), alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(
                (alias.name, None)
                for alias in node.names
                if alias.name.startswith("homeassistant")
            )
    return found


_DEFINITION = re.compile(
    r"^(?:(?:async\s+)?def|class|type)\s+(\w+)|^(\w+)\s*[:=]", re.MULTILINE
)
_IMPORT = re.compile(r"^(?:from\s+\S+\s+)?import\s+(?:\(([^)]*)\)|(.*)$)", re.MULTILINE)


def defined_names(source: str) -> set[str]:
    """Names a module defines or imports at its top level (what ``from m import x`` sees).

    Read as text, not parsed: the newest release may use syntax this Python lacks.
    """
    names = {a or b for a, b in _DEFINITION.findall(source)}
    for block, line in _IMPORT.findall(source):
        for item in (block or line).replace("\n", ",").split(","):
            words = item.split("#")[0].split()
            if words:
                names.add(words[-1].split(".")[0])
    return names


def check(wheel: Path) -> list[str]:
    """Return one line per missing module or name."""
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
        for source in sorted(INTEGRATION.rglob("*.py")):
            for module, name in sorted(imported_names(source), key=str):
                path = module.replace(".", "/")
                module_file = next(
                    (p for p in (f"{path}.py", f"{path}/__init__.py") if p in files),
                    None,
                )
                where = source.relative_to(ROOT)
                if module_file is None:
                    problems.append(f"{where}: module {module} is gone")
                    continue
                submodules = (f"{path}/{name}.py", f"{path}/{name}/__init__.py")
                if name is None or any(sub in files for sub in submodules):
                    continue
                text = archive.read(module_file).decode("utf-8")
                if name not in defined_names(text):
                    problems.append(f"{where}: {module}.{name} is gone")
    return problems


def main() -> int:
    """Check the wheel given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wheel", type=Path, help="homeassistant wheel to check against")
    wheel = parser.parse_args().wheel
    problems = check(wheel)
    for problem in problems:
        print(problem)
    print(f"{wheel.name}: {len(problems)} missing Home Assistant names")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
