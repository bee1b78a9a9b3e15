"""Property-based: whatever an automation sends, Graph only ever sees valid requests.

One test per surface draws many inputs inside a single Home Assistant instance, so
the async fixtures are set up once and state is checked per draw. Required fields
are always drawn and values cluster just inside and just outside each limit, so most
draws pass the action's checks and reach the (strict) emulator: that is where a
value the checks let through but Graph refuses would show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
import re
import sys
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.teams_presence_keeper.const import (
    CONF_CLEAR_ON_REMOVE,
    CONF_EXPIRATION,
    CONF_READ_INTERVAL,
    DOMAIN,
)
from custom_components.teams_presence_keeper.graph import (
    MAX_EXPIRATION_MINUTES,
    MAX_STATUS_MESSAGE_LENGTH,
    MIN_EXPIRATION_MINUTES,
    AppPresence,
    PreferredPresence,
)
from custom_components.teams_presence_keeper.services import MAX_AHEAD
from graph_emulator import GraphEmulator

GRAPH_PAIRS = {
    ("Available", "Available"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Away", "Away"),
    ("DoNotDisturb", "Presenting"),
}
DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")
ANYTHING = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6),
    st.datetimes().map(str),
    # Huge or infinite durations overflow in cv.time_period (reported, not fixed here).
    st.dictionaries(
        st.sampled_from(["minutes", "hours", "seconds"]), st.integers(-(10**6), 10**6)
    ),
)
MAX_AHEAD_SECONDS = int(MAX_AHEAD.total_seconds())


@dataclass(frozen=True)
class FromNow:
    """A moment drawn relative to the call, so "just in the future" stays so."""

    seconds: int

    def resolve(self) -> str:
        return (dt_util.utcnow() + timedelta(seconds=self.seconds)).isoformat()


@dataclass(frozen=True)
class Limits:
    """An action's fields: values just inside and just outside each limit."""

    inside: dict[str, list[Any]]
    outside: dict[str, list[Any]]
    required: frozenset[str]
    # Fields that may not come together (the second is dropped from valid draws).
    exclusive: tuple[str, str] | None = None


# Moments just inside and just outside "in the future, at most MAX_AHEAD away".
FUTURE_INSIDE = [FromNow(120), FromNow(3600), FromNow(MAX_AHEAD_SECONDS - 120)]
FUTURE_OUTSIDE = [FromNow(-1), FromNow(-3600), FromNow(MAX_AHEAD_SECONDS + 120)]
LIMITS = {
    "set_presence": Limits(
        inside={
            "presence": [p.value for p in AppPresence],
            "expiration": [
                MIN_EXPIRATION_MINUTES,
                MIN_EXPIRATION_MINUTES + 1,
                MAX_EXPIRATION_MINUTES - 1,
                MAX_EXPIRATION_MINUTES,
            ],
            "hold_for": [{"seconds": 1}, {"minutes": 30}, {"days": MAX_AHEAD.days}],
            "until": FUTURE_INSIDE,
        },
        outside={
            "presence": ["none", "Busy", "", "busy-in-a-call"],
            "expiration": [
                MIN_EXPIRATION_MINUTES - 1,
                MAX_EXPIRATION_MINUTES + 1,
                0,
                -MIN_EXPIRATION_MINUTES,
            ],
            "hold_for": [
                {"seconds": 0},
                {"seconds": -1},
                {"days": MAX_AHEAD.days, "seconds": 1},
            ],
            "until": FUTURE_OUTSIDE,
        },
        required=frozenset({"presence"}),
        exclusive=("hold_for", "until"),
    ),
    "set_preferred_presence": Limits(
        inside={
            "presence": [p.value for p in PreferredPresence],
            "expiration": [
                {"minutes": MIN_EXPIRATION_MINUTES},
                {"hours": 8},
                {"days": MAX_AHEAD.days},
            ],
        },
        outside={
            "presence": ["offwork", "Busy", "available_inactive"],
            "expiration": [
                {"minutes": MIN_EXPIRATION_MINUTES - 1, "seconds": 59},
                {"days": MAX_AHEAD.days, "seconds": 1},
                {"seconds": 0},
            ],
        },
        required=frozenset({"presence"}),
    ),
    "set_status_message": Limits(
        inside={
            "message": [
                "x",
                "Deep work 🎧",
                "y" * (MAX_STATUS_MESSAGE_LENGTH - 1),
                "z" * MAX_STATUS_MESSAGE_LENGTH,
            ],
            "expires_at": FUTURE_INSIDE,
        },
        outside={
            "message": ["", "   ", "w" * (MAX_STATUS_MESSAGE_LENGTH + 1)],
            "expires_at": FUTURE_OUTSIDE,
        },
        required=frozenset({"message"}),
    ),
}
# The Graph operation each action writes through.
OPERATIONS = {
    "set_presence": "setPresence",
    "set_preferred_presence": "setUserPreferredPresence",
    "set_status_message": "setStatusMessage",
}
WRITES = tuple(OPERATIONS.values())
# Undoes an action between draws where the integration skips a write Graph already
# holds (the same app presence twice), so that every valid draw writes.
RESETS = {"set_presence": "clear_presence"}


@dataclass(frozen=True)
class Draw:
    """A valid input, and one field's value just outside its limit or anything."""

    valid: dict[str, Any]
    field: str
    outside: Any
    anything: Any


def draws(limits: Limits) -> st.SearchStrategy[Draw]:
    """Draw complete inputs: required fields always, optional ones or not."""
    valid = st.fixed_dictionaries(
        {name: st.sampled_from(limits.inside[name]) for name in limits.required},
        optional={
            name: st.sampled_from(values)
            for name, values in limits.inside.items()
            if name not in limits.required
        },
    )
    # The field, and a value just outside that same field's limit.
    field_and_outside = st.sampled_from(sorted(limits.inside)).flatmap(
        lambda name: st.tuples(st.just(name), st.sampled_from(limits.outside[name]))
    )
    return st.builds(
        lambda valid, pair, anything: Draw(valid, pair[0], pair[1], anything),
        valid,
        field_and_outside,
        ANYTHING,
    )


def is_valid_turn(turn: int) -> bool:
    """Whether `call_data` leaves the `turn`-th draw valid."""
    return turn % 5 < 3


def call_data(draw: Draw, limits: Limits, turn: int) -> dict[str, Any]:
    """The action's data for the `turn`-th draw.

    Of every five turns, three are valid, one has a field just outside its limit
    and one a field set to anything at all: the valid ones must pass the action's
    checks and reach Graph, the others must (mostly) be refused before it.
    """
    data = dict(draw.valid)
    if limits.exclusive and set(limits.exclusive) <= data.keys():
        del data[limits.exclusive[1]]
    if is_valid_turn(turn):
        pass
    elif turn % 5 == 3:
        data[draw.field] = draw.outside
    else:
        data[draw.field] = draw.anything
    return {
        key: value.resolve() if isinstance(value, FromNow) else value
        for key, value in data.items()
    }


def duration_ok(text: str) -> bool:
    match = DURATION.match(text)
    if match is None:
        return False
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return timedelta(minutes=5) <= total <= timedelta(hours=4)


def assert_graph_saw_only_valid_writes(emulator: GraphEmulator) -> None:
    """Graph accepted every write: the strict emulator answers 400 to any slip.

    setPresence is also checked here by hand, so that a laxer emulator could not
    hide a bad pair or duration.
    """
    for name in WRITES:
        for call in emulator.graph_calls(name):
            assert call.status == 200, (name, call.body)
    for call in emulator.graph_calls("setPresence"):
        body = call.body
        assert (body["availability"], body["activity"]) in GRAPH_PAIRS, body
        assert duration_ok(body["expirationDuration"]), body


@pytest.mark.parametrize("service", list(LIMITS))
async def test_actions_reject_bad_input_before_graph(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    service: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    limits = LIMITS[service]
    collected: list[Draw] = []

    @settings(
        max_examples=60,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(draws(limits))
    def collect(draw: Draw) -> None:
        collected.append(draw)

    collect()
    reached = 0
    missed: list[dict[str, Any]] = []
    for turn, draw in enumerate(collected):
        data = call_data(draw, limits, turn)
        states = {s.entity_id: s.state for s in hass.states.async_all()}
        before = len(emulator.requests)
        try:
            await hass.services.async_call(
                DOMAIN,
                service,
                {"config_entry_id": setup_integration.entry_id, **data},
                blocking=True,
            )
        except (ServiceValidationError, vol.Invalid):
            assert len(emulator.requests) == before, data
            assert {s.entity_id: s.state for s in hass.states.async_all()} == states
        await hass.async_block_till_done()
        operation = f"/{OPERATIONS[service]}"
        if any(call.path.endswith(operation) for call in emulator.requests[before:]):
            reached += 1
        elif is_valid_turn(turn):
            missed.append(data)
        if (reset := RESETS.get(service)) is not None:
            await hass.services.async_call(
                DOMAIN,
                reset,
                {"config_entry_id": setup_integration.entry_id},
                blocking=True,
            )
    assert_graph_saw_only_valid_writes(emulator)
    share = reached / len(collected)
    with capsys.disabled():
        sys.stdout.write(
            f"\n{service}: {reached} of {len(collected)} draws reached Graph"
            f" ({share:.0%})\n"
        )
    # Draws that never reach Graph test the validation only: every valid one must
    # go through, so that Graph (strict) judges what the checks let pass.
    assert missed == []
    assert share >= 0.5, f"only {reached} of {len(collected)} draws reached Graph"


async def test_options_flow_only_answers_with_forms(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    draws: list[dict[str, Any]] = []

    @settings(max_examples=50, deadline=None, database=None)
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                CONF_READ_INTERVAL: st.one_of(st.integers(0, 5000), ANYTHING),
                CONF_EXPIRATION: st.one_of(st.integers(0, 300), ANYTHING),
                CONF_CLEAR_ON_REMOVE: st.one_of(st.booleans(), ANYTHING),
            },
        )
    )
    def collect(data: dict[str, Any]) -> None:
        draws.append(data)

    collect()
    for data in draws:
        options = dict(setup_integration.options)
        flow = await hass.config_entries.options.async_init(setup_integration.entry_id)
        try:
            result = await hass.config_entries.options.async_configure(
                flow["flow_id"], data
            )
        except vol.Invalid:
            assert dict(setup_integration.options) == options
            hass.config_entries.options.async_abort(flow["flow_id"])
            continue
        if result["type"] is FlowResultType.FORM:
            assert dict(setup_integration.options) == options
            hass.config_entries.options.async_abort(flow["flow_id"])
            continue
        assert result["type"] is FlowResultType.CREATE_ENTRY
        new = setup_integration.options
        assert 10 <= new[CONF_READ_INTERVAL] <= 3600
        assert 5 <= new[CONF_EXPIRATION] <= 240
        await hass.async_block_till_done()
