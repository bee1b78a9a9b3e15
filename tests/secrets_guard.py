"""A suite-wide guard: no credential the emulator issued may reach a log line.

Registered from ``tests/conftest.py``, for every test.
Tokens are random, so a leak can only be caught by knowing every one issued: the
emulator does.
"""

from __future__ import annotations

from collections.abc import Iterator
import logging
from typing import Any

import pytest

from graph_emulator import GraphEmulator


class _Collector(logging.Handler):
    """Keep every record formatted, tracebacks included, as a handler would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Web servers' access logs (the emulator's, Home Assistant's) print request
        # URLs, and OAuth puts the one-use authorization code in the redirect's URL.
        if record.name != "aiohttp.access":
            self.lines.append(self.format(record))


def leaked(emulator: GraphEmulator, text: str) -> set[str]:
    """Return the issued credentials that appear in ``text``."""
    return {secret for secret in emulator.issued_secrets() if secret in text}


@pytest.fixture(autouse=True)
def no_secrets_in_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Log at DEBUG for the whole test, then look for what every emulator issued."""
    emulators: list[GraphEmulator] = []
    create = GraphEmulator.__init__

    def tracked(self: GraphEmulator, **kwargs: Any) -> None:
        create(self, **kwargs)
        emulators.append(self)

    monkeypatch.setattr(GraphEmulator, "__init__", tracked)
    collector = _Collector()
    root = logging.getLogger()
    level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(collector)
        root.setLevel(level)
    for emulator in emulators:
        found = leaked(emulator, "\n".join(collector.lines))
        where = {
            line.split(" ", 1)[0]
            for line in collector.lines
            if any(secret in line for secret in found)
        }
        assert not found, f"{len(found)} issued credential(s) logged by {where}"
