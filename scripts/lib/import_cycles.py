"""List every import cycle of the integration's modules; fail if there is one.

import-linter's ``acyclic_siblings`` contract (.importlinter) looks at the siblings of
each package and names imports to remove; this lists each cycle itself, module by
module, with the lines that close it, including a module's cycle with its own
package and imports only made for type checking. Run by scripts/lint and scripts/test
with the import-linter venv's Python (grimp is import-linter's graph library).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import itertools
import sys

# In import-linter's venv only; mypy runs in the lint venv, which has no grimp.
import grimp  # type: ignore[import-not-found]

PACKAGE = "custom_components.teams_presence_keeper"


def _cycles(imports: Mapping[str, set[str]]) -> Iterator[list[str]]:
    """Yield each elementary cycle once, starting at its smallest module name."""
    for start in sorted(imports):
        path = [start]
        stack = [iter(sorted(imports[start]))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                path.pop()
            elif following == start:
                yield [*path, start]
            elif following > start and following not in path:
                path.append(following)
                stack.append(iter(sorted(imports[following])))


def _line(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    """Where ``importer`` imports ``imported``: the first line that does."""
    details = graph.get_import_details(importer=importer, imported=imported)
    if not details:
        return "?"
    return f"l.{details[0]['line_number']} {details[0]['line_contents']}"


def main() -> int:
    """Print the cycles; exit 1 if there is any."""
    graph = grimp.build_graph(
        PACKAGE, exclude_type_checking_imports=False, cache_dir=None
    )
    imports = {
        module: graph.find_modules_directly_imported_by(module)
        for module in graph.modules
    }
    found = list(_cycles(imports))
    for cycle in found:
        print(" -> ".join(module.removeprefix(f"{PACKAGE}.") for module in cycle))
        for importer, imported in itertools.pairwise(cycle):
            print(
                f"    {importer.removeprefix(f'{PACKAGE}.')}: {_line(graph, importer, imported)}"
            )
    print(f"{len(found)} import cycle(s) in {PACKAGE}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
