"""Breaks of Instant updates' order under adversarial lifecycle notices.

Graph is the emulator, delivering into Home Assistant's webhook (the fixtures of
``tests/test_push.py``); the budget is ``tests/test_push_budget.py``'s.
"""

# The fixtures imported from tests/test_push.py are the tests' parameters.
# ruff: noqa: F811

from __future__ import annotations

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from graph_emulator import GraphEmulator
from tests.common import PRESENCE, state_of
from tests.test_push import (  # noqa: F401 - the fixtures of an account with push
    UPDATE_MODE,
    cloud,
    cloud_connected,
    external_url,
    granted_scopes,
    options,
    push_entry,
    push_of,
    rich_refused,
    settle,
    with_cloud,
)


async def post_lifecycle(
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    event: str,
    subscription_id: str,
) -> None:
    """Post a lifecycle notice with the account's client state, as Graph would."""
    push = push_of(entry)
    client = await hass_client()
    notice = {
        "subscriptionId": subscription_id,
        "subscriptionExpirationDateTime": "2026-12-07T13:00:00Z",
        "tenantId": "aaaabbbb-0000-cccc-1111-dddd2222eeee",
        "clientState": push.client_state,
        "lifecycleEvent": event,
    }
    response = await client.post(
        f"/api/webhook/{push.webhook_id}", json={"value": [notice]}
    )
    assert response.status == 202


@pytest.mark.parametrize(
    "event", ["reauthorizationRequired", "missed", "subscriptionRemoved"]
)
async def test_a_lifecycle_notice_of_another_subscription_asks_graph_nothing(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    event: str,
) -> None:
    """A retry for a subscription replaced since, or one never ours: nothing to answer."""
    requests = len(emulator.requests)
    await post_lifecycle(hass_client_no_auth, push_entry, event, "replaced-one")
    await settle(hass, emulator)

    assert emulator.requests[requests:] == []
    assert state_of(hass, UPDATE_MODE) == "push_external"


async def test_missed_notifications_are_read_for(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Graph says it dropped notifications: what they carried is read, not waited for."""
    emulator.subscriptions.silent = True
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) != "busy"

    subscription = push_of(push_entry).subscription["id"]
    await post_lifecycle(hass_client_no_auth, push_entry, "missed", subscription)
    await settle(hass, emulator)

    assert state_of(hass, PRESENCE) == "busy"


async def test_a_removed_subscription_is_replaced_at_once(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Graph ended the subscription: a new one now, not at the next renewal."""
    push = push_of(push_entry)
    removed = push.subscription["id"]
    await post_lifecycle(
        hass_client_no_auth, push_entry, "subscriptionRemoved", removed
    )
    await settle(hass, emulator)

    assert push.subscription["id"] != removed
    assert emulator.graph_calls("reauthorize") == []
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"
