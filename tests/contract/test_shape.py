"""The shape comparison itself: what it reports and what it lets pass."""

from __future__ import annotations

from typing import Any

import pytest

from .shape import shape_differences

DOCUMENTED = {
    "id": "String",
    "count": 3,
    "flag": False,
    "tags": ["String"],
    "note": None,
    "settings": {"@odata.type": "#microsoft.graph.outOfOfficeSettings"},
    "inner": {"date": "date-time"},
}
SAME = {
    "id": "x",
    "count": 7.5,
    "flag": True,
    "tags": ["a", "b"],
    "note": {"anything": 1},
    "settings": {"isOutOfOffice": True},
    "inner": {"date": "2025-06-02T09:00:00"},
}


def test_values_may_differ() -> None:
    assert shape_differences(SAME, DOCUMENTED) == []


@pytest.mark.parametrize(
    ("change", "difference"),
    [
        ({"id": 1}, "$.id: number, documented string"),
        ({"count": "3"}, "$.count: string, documented number"),
        ({"flag": 0}, "$.flag: number, documented boolean"),
        ({"tags": ["a", 2]}, "$.tags[1]: number, documented string"),
        ({"settings": None}, "$.settings: null, documented object"),
        ({"inner": {"date": None}}, "$.inner.date: null, documented string"),
        ({"inner": {"date": "d", "extra": 1}}, "$.inner.extra: not documented"),
        ({"more": 1}, "$.more: not documented"),
    ],
)
def test_differences_are_reported(change: dict[str, Any], difference: str) -> None:
    assert shape_differences({**SAME, **change}, DOCUMENTED) == [difference]


def test_a_missing_key_is_reported_even_when_extras_are_allowed() -> None:
    actual = {key: value for key, value in SAME.items() if key != "count"}
    assert shape_differences({**actual, "more": 1}, DOCUMENTED, exact=False) == [
        "$.count: missing"
    ]


def test_odata_annotations_are_no_properties() -> None:
    documented = {"@odata.type": "#microsoft.graph.userWorkLocation", "placeId": "S"}
    assert shape_differences({"placeId": "p"}, documented) == []
