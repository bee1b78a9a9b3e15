"""The webhook's intake broken on purpose: unloads mid-body, headers only a relay passes.

As in ``test_webhook_hostile.py``: Home Assistant's real webhook view or the cloud
component's relay handler, Graph the emulator.
"""

from __future__ import annotations

import asyncio
import json

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.teams_presence_keeper.push_intake import (
    MAX_BODY_BYTES,
    READ_SECONDS,
)
from graph_emulator import GraphEmulator
from tests.cloud import CloudRelay
from tests.common import PRESENCE, select, state_of
from tests.test_push import (
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
from tests.test_webhook_hostile import (
    FITTING,
    assert_quiet,
    lifecycle_item,
    loud,
    post,
    streams_to,
    until,
)

__all__ = [
    "cloud",
    "cloud_connected",
    "external_url",
    "granted_scopes",
    "options",
    "push_entry",
    "rich_refused",
    "with_cloud",
]


async def test_a_body_posted_while_a_write_holds_the_unload_is_not_checked(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The unload waits for a write in flight; the webhook takes nothing meanwhile.

    A check started then ran in a task the unload had already cancelled the others
    of: it outlived the entry, holding its bytes and asking Graph for more.
    """
    push = push_of(push_entry)
    replayed = json.dumps({"value": [await lifecycle_item(hass, emulator)]})
    before = len(emulator.graph_calls("reauthorize"))
    emulator.delay(1, 2)  # the write in flight at the unload
    selecting = asyncio.ensure_future(select(hass, "busy_in_a_call"))
    await until(lambda: emulator.graph_calls("setPresence"))
    [writing] = emulator.graph_calls("setPresence")
    assert writing.answered is None
    unloading = asyncio.ensure_future(
        hass.config_entries.async_unload(push_entry.entry_id)
    )
    await asyncio.sleep(0.3)
    assert not unloading.done()
    emulator.delay(1, 5)  # the reauthorization the replay asks for, slowly
    response = await post(hass_client_no_auth, push.webhook_id, replayed)
    assert response.status == 202
    assert push.counts["dropped_busy"] == 1
    assert await unloading
    await selecting
    assert push.inbox.held_bytes == 0
    await settle(hass, emulator)
    assert len(emulator.graph_calls("reauthorize")) == before
    # Graph's own notification of the write finds the webhook gone (logged at info).
    assert loud(caplog.records) == []


@pytest.mark.parametrize("with_cloud", [True])
@pytest.mark.parametrize("external_url", [None])
@pytest.mark.parametrize(
    ("length", "status"),
    [
        ("9" * 5000, 413),  # past the digits Python converts (4300): ValueError
        ("0" * 5000 + "2", 202),
        ("1" * 4300, 413),
    ],
    ids=["too_many_digits", "leading_zeros", "most_digits_converted"],
)
async def test_a_relayed_content_length_of_any_size_is_answered(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    cloud: CloudRelay,
    caplog: pytest.LogCaptureFixture,
    length: str,
    status: int,
) -> None:
    """The relay passes the poster's headers as they came, none parsed by aiohttp.

    A length of more digits than Python converts raised out of the webhook: Home
    Assistant logged its id with the traceback.
    """
    push = push_of(push_entry)
    [hook] = cloud.cloudhooks.values()
    answer = await hass.data["cloud"].client.async_webhook_message(
        {
            "cloudhook_id": hook["cloudhook_id"],
            "body": "{}",
            "headers": {"Content-Type": "application/json", "Content-Length": length},
            "method": "POST",
            "query": "",
        }
    )
    assert answer["status"] == status
    await settle(hass, emulator)
    assert push.inbox.held_bytes == 0
    assert_quiet(caplog, push.webhook_id)


async def test_a_body_arriving_slower_than_graph_waits_lets_its_bytes_go(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Graph gives up on an answer after 3 s: a body still arriving then is no Graph's.

    A stranger's bodies stalled mid-stream held the whole budget for as long as
    their connections stayed open, and each notification of Graph was dropped.
    """
    push = push_of(push_entry)
    streams = await streams_to(push, hass_client_no_auth, caplog)
    stalled = [streams.post(b" ") for _ in range(FITTING)]
    await until(lambda: streams.handled() == FITTING)
    assert push.inbox.held_bytes == FITTING * MAX_BODY_BYTES

    await until(lambda: push.inbox.held_bytes == 0, seconds=2 * READ_SECONDS)
    assert push.counts == {"dropped_slow": FITTING}
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"
    assert push.counts["accepted"] == 1

    streams.gate.set()
    answers = await asyncio.gather(*stalled)
    assert {response.status for response in answers} == {408}
    assert_quiet(caplog, push.webhook_id)
