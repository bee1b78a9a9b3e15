"""Run the benchmark inside Home Assistant's test harness and print a markdown table.

Usage: ``scripts/bench`` (or ``python scripts/bench.py [results.json]`` in a test venv).
The measurements live in ``bench/``, a pytest module the test suite never collects.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import sys
import tempfile
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MINUTE_HOLDS = (
    ("Available 8 h", "hold_available_60", "fades at 5 min"),
    ("Busy 8 h, 60 min expiration", "hold_busy_in_a_call_60", "lapses at 60 min"),
    ("Busy 8 h, 240 min expiration", "hold_busy_in_a_call_240", "lapses at 240 min"),
)


def run(output: Path) -> dict[str, Any]:
    """Run the benchmark module; its figures land in ``output``."""
    os.environ["BENCH_OUTPUT"] = str(output)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))  # bench/ imports the suite's fixtures from tests/
    code = pytest.main(["-q", "-p", "no:cacheprovider", "bench/"])
    if code != 0:
        sys.exit(f"benchmark failed (pytest exit {code})")
    figures: dict[str, Any] = json.loads(output.read_text())
    return figures


def table(r: dict[str, Any]) -> str:
    """Render the figures, each next to its target or its reference."""
    rows = ["| Measure | This machine | Reference / target |", "|---|---|---|"]
    for label, key, naive in MINUTE_HOLDS:
        hold = r[key]
        ratio = hold["calls"] / hold["minimum_before_lapse"]
        rows.append(
            f"| setPresence calls: {label} | {hold['calls']} ({ratio:.2f}x the minimum"
            f" {hold['minimum_before_lapse']}, or {hold['minimum']} with refreshes"
            f" landing exactly at the lapse; lapses seen: {hold['lapsed_checks']}) |"
            f" target <= 1.1x; one-shot setter: {naive}, measured lapse after"
            f" {hold['naive_lapsed_after_min']} min |"
        )
    delay = r["teams_change_delay_s"]
    rows += [
        (
            f"| Presence reads per hour (default 30 s interval) | {r['reads_per_hour']}"
            " | 120 nominal |"
        ),
        (
            f"| Teams-side change to sensor (50 changes) | mean {delay['mean']:.1f} s,"
            f" max {delay['max']} s | bounded by the read interval |"
        ),
    ]
    for label, key in (
        ("Select change to setPresence request", "select_to_request_ms"),
        ("Action call to setPresence request", "action_to_request_ms"),
    ):
        rows.append(
            f"| {label} (500 changes, wall clock) | median {r[key]['median']:.1f} ms,"
            f" p99 {r[key]['p99']:.1f} ms | median < 20 ms, p99 < 100 ms |"
        )
    rows.append(f"| Config entry setup | {r['setup_ms']:.1f} ms | |")
    for label, key in (
        ("setup", "slow_callbacks_setup"),
        ("one simulated hour of keep-alive", "slow_callbacks_hour"),
        ("1,000 changes (500 select + 500 action)", "slow_callbacks_changes"),
    ):
        slow = r[key]
        rows.append(
            f"| Callbacks over 50 ms during {label} | {slow['real_clock']}"
            f" (asyncio debug: {slow['asyncio_debug']}) | 0 |"
        )
    rows.append(
        f"| Memory added by setting up the entry | {r['rss_added_kib']} KiB RSS | |"
    )
    return "\n".join(rows)


def main() -> None:
    """Run, then print the table."""
    if len(sys.argv) > 1:
        figures = run(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            figures = run(Path(folder) / "bench.json")
    print(table(figures))


if __name__ == "__main__":
    main()
