"""Reading Graph's JSON: a field of the type Graph documents, or a malformed body.

A body of the wrong shape is refused with ``MalformedPresenceError``, which the
client turns into Graph's failure (a server error), never a crash.
"""

from __future__ import annotations

from typing import Any


class MalformedPresenceError(ValueError):
    """A presence body whose parts have the wrong type."""


def typed_field[T](data: dict[str, Any], key: str, kind: type[T]) -> T | None:
    """Return ``data[key]`` if it is a ``kind``, or ``None`` if it is absent."""
    if data.get(key) is None:
        return None
    return required_field(data, key, kind)


def required_field[T](data: dict[str, Any], key: str, kind: type[T]) -> T:
    """Return ``data[key]``, which must be a ``kind``."""
    value = data.get(key)
    if not isinstance(value, kind):
        raise MalformedPresenceError(f"{key} is {type(value).__name__}")
    return value
