"""Collects the benchmark's figures and writes them where ``scripts/bench.py`` reads."""

from __future__ import annotations

from collections.abc import Iterator
import json
import os
from pathlib import Path
from typing import Any

from homeassistant import const
import pytest

# The suite's fixtures: the emulator and an account signed in against it.
from tests.conftest import (  # noqa: F401
    config_entry,
    emulator,
    options,
    setup_integration,
)

# An account with Instant updates, Graph delivering into Home Assistant's webhook.
from tests.test_push import (  # noqa: F401
    cloud,
    cloud_connected,
    external_url,
    granted_scopes,
    push_entry,
    rich_refused,
    with_cloud,
)


@pytest.fixture(scope="session")
def results() -> Iterator[dict[str, Any]]:
    """Figures by name; written as JSON once every measurement ran."""
    figures: dict[str, Any] = {"home_assistant": const.__version__}
    yield figures
    Path(os.environ.get("BENCH_OUTPUT", "bench-results.json")).write_text(
        json.dumps(figures, indent=2, sort_keys=True)
    )
