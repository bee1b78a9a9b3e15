"""Compare JSON bodies by shape: the same keys and JSON types, whatever the values.

A body Microsoft documents and a body the emulator answers should differ only in
their values. Documented examples are often marked "truncated" (they show a
subset of the properties), so a comparison is either exact or of the documented
keys only. Two conventions of Microsoft's documentation are honoured: a
documented ``null`` says the property is nullable and so matches any value, and a
documented object that holds only ``@odata.type`` names a type and so matches
any object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_ODATA = "@odata."
_DOCUMENTED = Path(__file__).parent


def documented(name: str) -> Any:
    """Load a body copied from Microsoft's documentation ("graph/error.json")."""
    return json.loads((_DOCUMENTED / name).read_text(encoding="utf-8"))


def shape_differences(
    actual: Any, documented: Any, *, exact: bool = True, where: str = "$"
) -> list[str]:
    """Return where ``actual`` has another shape than ``documented`` (none: same).

    ``exact`` also reports keys the documentation does not show.
    """
    if documented is None:
        return []
    if _json_type(actual) != _json_type(documented):
        return [f"{where}: {_json_type(actual)}, documented {_json_type(documented)}"]
    if isinstance(documented, list) and documented:
        return [
            difference
            for index, item in enumerate(actual)
            for difference in shape_differences(
                item, documented[0], exact=exact, where=f"{where}[{index}]"
            )
        ]
    if not isinstance(documented, dict):
        return []
    properties = {
        key: value for key, value in documented.items() if not key.startswith(_ODATA)
    }
    if not properties:
        return []  # only a type name: any object of it
    differences = [f"{where}.{key}: missing" for key in properties if key not in actual]
    if exact:
        differences += [
            f"{where}.{key}: not documented"
            for key in actual
            if key not in properties and not key.startswith(_ODATA)
        ]
    for key, value in properties.items():
        if key in actual:
            differences += shape_differences(
                actual[key], value, exact=exact, where=f"{where}.{key}"
            )
    return differences


def _json_type(value: Any) -> str:
    """Name the JSON type of a decoded value (a bool is no number)."""
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
    raise TypeError(f"not a JSON value: {value!r}")
