"""Actions: what reaches Graph, and bad input that never does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import DOMAIN
from graph_emulator import GraphEmulator

from .common import (
    APP_PRESENCE,
    CLIENT_ID,
    PREFERRED_PRESENCE,
    PRESENCE,
    advance,
    call,
    state_of,
)

STATUS_MESSAGE = "sensor.adele_vance_status_message"


async def test_set_presence_with_expiration(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    await call(hass, setup_integration, "set_presence", presence="away", expiration=30)
    assert emulator.graph_calls("setPresence")[-1].body == {
        "sessionId": CLIENT_ID,
        "availability": "Away",
        "activity": "Away",
        "expirationDuration": "PT30M",
    }
    assert state_of(hass, APP_PRESENCE) == "away"


async def test_set_presence_until(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    until = dt_util.utcnow() + timedelta(minutes=20)
    await call(
        hass,
        setup_integration,
        "set_presence",
        presence="busy_in_a_call",
        until=until.isoformat(),
    )
    await advance(hass, freezer, timedelta(minutes=21), step=timedelta(seconds=5))
    assert len(emulator.graph_calls("clearPresence")) == 1
    assert state_of(hass, APP_PRESENCE) == "none"


async def test_clear_presence(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    await call(hass, setup_integration, "set_presence", presence="available")
    await call(hass, setup_integration, "clear_presence")
    assert emulator.graph_calls("clearPresence")[-1].body == {"sessionId": CLIENT_ID}
    assert emulator.app_session(CLIENT_ID) is None
    assert state_of(hass, APP_PRESENCE) == "none"


async def test_preferred_presence(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    emulator.set_client_session("desktop", "Available", "Available")
    await call(
        hass,
        setup_integration,
        "set_preferred_presence",
        presence="do_not_disturb",
        expiration={"hours": 2},
    )
    assert emulator.graph_calls("setUserPreferredPresence")[-1].body == {
        "availability": "DoNotDisturb",
        "activity": "DoNotDisturb",
        "expirationDuration": "PT2H",
    }
    assert state_of(hass, PREFERRED_PRESENCE) == "do_not_disturb"
    assert state_of(hass, "sensor.adele_vance_presence") == "do_not_disturb"

    await call(hass, setup_integration, "clear_preferred_presence")
    assert emulator.graph_calls("clearUserPreferredPresence")[-1].body == {}
    assert state_of(hass, PREFERRED_PRESENCE) == "none"


async def test_status_message(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    expires = (dt_util.utcnow() + timedelta(days=200)).replace(microsecond=0)
    await call(
        hass,
        setup_integration,
        "set_status_message",
        message="Focus time",
        expires_at=expires.isoformat(),
    )
    assert emulator.graph_calls("setStatusMessage")[-1].body == {
        "statusMessage": {
            "message": {"content": "Focus time", "contentType": "text"},
            "expiryDateTime": {
                "dateTime": expires.strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC",
            },
        }
    }
    assert state_of(hass, STATUS_MESSAGE) == "Focus time"
    await call(hass, setup_integration, "clear_status_message")
    # No message is an empty message, not an unknown one.
    assert state_of(hass, STATUS_MESSAGE) == ""


async def test_get_presence(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    emulator.set_out_of_office(True, "Back Monday")
    await call(hass, setup_integration, "set_presence", presence="busy_in_a_call")
    response = await call(hass, setup_integration, "get_presence")
    # The sensors' values, so templates need no mapping.
    assert response["availability"] == state_of(hass, PRESENCE)
    assert response == {
        "availability": "busy",
        "activity": "in_a_call",
        "status_message": None,
        "status_message_expires": None,
        "out_of_office": True,
        "out_of_office_message": "Back Monday",
        "app_presence": "busy_in_a_call",
        "app_presence_until": None,
        "preferred_presence": None,
    }


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        ("set_presence", {"presence": "busy"}, "invalid_presence"),
        (
            "set_presence",
            {"presence": "away", "expiration": 4},
            "expiration_out_of_range",
        ),
        (
            "set_presence",
            {"presence": "away", "expiration": 241},
            "expiration_out_of_range",
        ),
        (
            "set_presence",
            {
                "presence": "away",
                "hold_for": {"minutes": 5},
                "until": "2099-01-01 10:00",
            },
            "hold_for_and_until",
        ),
        (
            "set_presence",
            {"presence": "away", "until": "2001-01-01 10:00"},
            "until_in_past",
        ),
        (
            "set_presence",
            {"presence": "away", "hold_for": {"seconds": 0}},
            "hold_not_positive",
        ),
        ("set_preferred_presence", {"presence": "presenting"}, "invalid_presence"),
        (
            "set_preferred_presence",
            {"presence": "busy", "expiration": {"minutes": 1}},
            "preferred_expiration_too_short",
        ),
        (
            "set_presence",
            {"presence": "away", "hold_for": {"days": 3_000_000}},
            "hold_for_too_long",
        ),
        (
            "set_presence",
            {"presence": "away", "until": "9999-12-31 23:59:59"},
            "until_too_far",
        ),
        (
            "set_preferred_presence",
            {"presence": "busy", "expiration": {"days": 3_000_000}},
            "preferred_expiration_too_long",
        ),
        (
            "set_status_message",
            {"message": "hi", "expires_at": "9999-12-31 23:59:59"},
            "expires_at_too_far",
        ),
        ("set_status_message", {"message": "  "}, "message_empty"),
        ("set_status_message", {"message": "x" * 281}, "message_too_long"),
        (
            "set_status_message",
            {"message": "hi", "expires_at": "2001-01-01 10:00"},
            "expires_at_in_past",
        ),
    ],
)
async def test_bad_input_never_reaches_graph(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    before = len(emulator.requests)
    states = {state.entity_id: state.state for state in hass.states.async_all()}
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, setup_integration, service, **data)
    assert err.value.translation_key == key
    assert err.value.translation_domain == DOMAIN
    assert str(err.value)  # translated, not just the key
    assert key not in str(err.value)
    assert len(emulator.requests) == before
    assert {state.entity_id: state.state for state in hass.states.async_all()} == states


async def test_unknown_entry(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "clear_presence",
            {"config_entry_id": "nope"},
            blocking=True,
        )
    assert err.value.translation_key == "entry_not_found"
    assert "nope" in str(err.value)


async def test_entry_not_loaded(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    assert await hass.config_entries.async_unload(setup_integration.entry_id)
    assert setup_integration.state is ConfigEntryState.NOT_LOADED
    before = len(emulator.requests)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, setup_integration, "set_presence", presence="away")
    assert err.value.translation_key == "entry_not_loaded"
    assert len(emulator.requests) == before


async def test_graph_refusal_is_translated_and_changes_nothing(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    read_only = emulator.issue_token(scopes=("Presence.Read", "User.Read"))
    token = {**setup_integration.data["token"], "access_token": read_only}
    hass.config_entries.async_update_entry(
        setup_integration, data={**setup_integration.data, "token": token}
    )
    for service, data in (
        ("set_presence", {"presence": "away"}),
        ("set_preferred_presence", {"presence": "busy"}),
        ("set_status_message", {"message": "hi"}),
    ):
        with pytest.raises(HomeAssistantError) as err:
            await call(hass, setup_integration, service, **data)
        assert err.value.translation_key == "graph_rejected"
        assert "refused" in str(err.value)
    assert state_of(hass, APP_PRESENCE) == "none"
    assert state_of(hass, PREFERRED_PRESENCE) == "none"


@pytest.mark.parametrize("zone", ["Pacific Standard Time", "Asia/Tokyo", "UTC"])
async def test_status_message_expiry_in_the_zone_graph_names(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    zone: str,
) -> None:
    """Graph may answer in a Windows zone (as in Microsoft's example), or an IANA one."""
    expires = (dt_util.utcnow() + timedelta(days=2)).replace(microsecond=0)
    emulator.read_time_zone = zone
    await call(
        hass,
        setup_integration,
        "set_status_message",
        message="Out for the day",
        expires_at=expires.isoformat(),
    )
    response = await call(hass, setup_integration, "get_presence")
    assert datetime.fromisoformat(response["status_message_expires"]) == expires
