"""A suite-wide guard: Home Assistant must never report the integration as deprecated.

Home Assistant announces an API it will remove by logging a warning that names the
caller ("The deprecated function ... was called from teams_presence_keeper", "Detected that
custom integration 'teams_presence_keeper' ... This will stop working in ..."). Each such
report is a breakage scheduled for a coming release, so it fails the test that caused
it, on whichever release the suite runs.
"""

from __future__ import annotations

from collections.abc import Iterator
import logging

import pytest

from custom_components.teams_presence_keeper.const import DOMAIN

REPORT_MARKERS = (
    "deprecated",
    "Detected that custom integration",
    "will stop working",
    "Detected blocking call",  # blocking I/O in the event loop: reported the same way
)
OWN_LOGGERS = ("custom_components.", "graph_emulator", "tests.")


class _DeprecationReports(logging.Handler):
    """Collect warnings from Home Assistant that name this integration as the caller."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(OWN_LOGGERS):
            return
        text = record.getMessage()
        if DOMAIN in text and any(marker in text for marker in REPORT_MARKERS):
            self.reports.append(f"{record.name}: {text}")


@pytest.fixture(autouse=True)
def no_deprecation_reports() -> Iterator[None]:
    """Watch the whole test, Home Assistant's start and stop included."""
    collector = _DeprecationReports()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield
    finally:
        root.removeHandler(collector)
    assert not collector.reports, (
        "Home Assistant reported a deprecation:\n" + "\n".join(collector.reports)
    )
