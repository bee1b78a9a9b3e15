"""A burst for 650 followed people in one body: taken in without stalling Home Assistant.

The people are person subentries, as "Add person" stores them, added before the
account with Instant updates is set up (the fixtures of ``test_push.py``).
"""

from __future__ import annotations

from datetime import timedelta
import json
import time
from types import MappingProxyType

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.teams_presence_keeper.const import (
    CONF_DISPLAY_NAME,
    CONF_FOLLOW_PEOPLE,
    CONF_MAIL,
    CONF_USER_ID,
    PEOPLE_SCOPES,
    SUBENTRY_PERSON,
)
from custom_components.teams_presence_keeper.push_intake import max_body_bytes
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.common import state_of, step_until
from tests.test_push import (  # noqa: F401 - the fixtures of an account with push
    PUSH_SCOPES,
    UPDATE_MODE,
    advance_delivering,
    cloud,
    cloud_connected,
    external_url,
    options,
    push_entry,
    push_of,
    rich_refused,
    settle,
    with_cloud,
)
from tests.test_webhook_hostile import lifecycle_item

COUNT = 649
"""As many as the subscription carries with the account."""


@pytest.fixture
def granted_scopes() -> tuple[str, ...]:
    """Instant updates' consent, and following people's."""
    return (*PUSH_SCOPES, *PEOPLE_SCOPES)


@pytest.fixture
def team(emulator: GraphEmulator) -> list[User]:
    emulator.default_app.consented_scopes.update(PEOPLE_SCOPES)
    return [
        emulator.add_colleague(
            display_name=f"Colleague {n:04d}", upn=f"colleague{n:04d}@contoso.example"
        )
        for n in range(COUNT)
    ]


@pytest.fixture
def config_entry(
    hass: HomeAssistant, config_entry: MockConfigEntry, team: list[User]
) -> MockConfigEntry:
    """The account following the team, before push sets it up."""
    for person in team:
        hass.config_entries.async_add_subentry(
            config_entry,
            ConfigSubentry(
                data=MappingProxyType(
                    {
                        CONF_USER_ID: person.id,
                        CONF_DISPLAY_NAME: person.display_name,
                        CONF_MAIL: person.upn,
                    }
                ),
                subentry_type=SUBENTRY_PERSON,
                title=person.display_name,
                unique_id=person.id,
            ),
        )
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_FOLLOW_PEOPLE: True}
    )
    return config_entry


async def test_a_body_naming_everyone_followed_is_taken_in_at_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,  # noqa: F811
    team: list[User],
) -> None:
    """649 changes in one body (some 20 MB: each repeats the resource): applied, no read.

    Taken whole, not refused as too large; in seconds, not minutes of a stalled loop.
    """
    assert state_of(hass, UPDATE_MODE) == "push_external"
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=2))
    reads = len(emulator.graph_calls("getPresencesByUserId"))
    for person in team:
        person.presence.client_sessions["teams"] = ("Busy", "InACall")
    emulator.subscriptions.notice_changes()  # one body: Graph batches what is due

    start = time.clock_gettime(time.CLOCK_MONOTONIC)  # freezer fakes perf_counter
    await settle(hass, emulator)
    took = time.clock_gettime(time.CLOCK_MONOTONIC) - start

    assert state_of(hass, "sensor.colleague_0648_presence") == "busy"
    assert len(emulator.graph_calls("getPresencesByUserId")) == reads
    assert len(emulator.subscriptions.delivery.sent) >= 1
    # Each person's entities updated once, not once for everyone's change.
    assert took < 10, took


async def test_a_body_near_the_limit_is_taken_while_another_is_checked(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,  # noqa: F811
    team: list[User],
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The budget holds the largest body being checked and the next one arriving."""
    push = push_of(push_entry)
    limit = max_body_bytes(1 + COUNT)
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=2))
    item = json.dumps({"value": [await lifecycle_item(hass, emulator)]}).encode()
    calls = len(emulator.graph_calls("reauthorize"))
    emulator.delay(1, 2)  # the reauthorization the padded replay asks for
    padded = item + b" " * (limit - len(item) - 100)
    client = await hass_client_no_auth()
    response = await client.post(f"/api/webhook/{push.webhook_id}", data=padded)
    assert response.status == 202
    await step_until(
        hass, freezer, lambda: len(emulator.graph_calls("reauthorize")) == calls + 1
    )
    assert push.inbox.held_bytes == len(padded)  # still being checked

    for person in team:
        person.presence.client_sessions["teams"] = ("Busy", "InACall")
    await emulator.subscriptions.settle()  # one body: Graph batches what is due
    burst = emulator.subscriptions.delivery.sent[-1]
    assert burst.status == 202
    assert len(json.dumps(burst.body)) > limit * 3 // 4  # the largest Graph sends
    assert "dropped_busy" not in push.counts

    await step_until(hass, freezer, lambda: push.inbox.held_bytes == 0)
    await settle(hass, emulator)
    assert state_of(hass, "sensor.colleague_0648_presence") == "busy"
    assert len(emulator.graph_calls("reauthorize")) == calls + 1
