"""Work location: the sensor, the select and the actions against the emulator.

Also where Graph does not offer it (application permission, other clouds, a tenant
that answers 403 or 404, reads without a work location), and the version stamp
that keeps an older read from overwriting a newer one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import json
import socket
from typing import Any

from aiohttp import ClientSession, web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import (
    CONF_CLOUD,
    CONF_GRAPH_URL,
    DOMAIN,
)
from custom_components.teams_presence_keeper.graph import (
    GraphError,
    GraphPermissionError,
    GraphPresenceClient,
    GraphValidationError,
    WorkLocationType,
    WorkLocationUpdate,
)
from graph_emulator import GraphEmulator, RecordedRequest
from tests.sign_in_guard import SIGN_IN_GUARDS
from tests.sign_in_helpers import async_application_entry

from .common import select, state_of

SENSOR = "sensor.adele_vance_work_location"
SELECT = "select.adele_vance_work_location"
OUT_OF_OFFICE = "binary_sensor.adele_vance_out_of_office"
STATUS_MESSAGE = "sensor.adele_vance_status_message"
WRITES = ("setManualLocation", "setAutomaticLocation", "clearAutomaticLocation")
"""The work-location writes; ``clearLocation`` ends with one of their names."""


def location_writes(emulator: GraphEmulator) -> list[RecordedRequest]:
    """Every work-location request that reached Graph, in order."""
    return [
        request
        for request in emulator.requests
        if request.path.endswith(("Location", *WRITES))
    ]


def shown(hass: HomeAssistant) -> tuple[str, Any, Any]:
    """The Work location sensor's state, source and place."""
    state = hass.states.get(SENSOR)
    assert state is not None
    return state.state, state.attributes["source"], state.attributes["place_id"]


async def call(
    hass: HomeAssistant,
    entry: ConfigEntry,
    service: str,
    **data: Any,
) -> None:
    await hass.services.async_call(
        DOMAIN, service, {"config_entry_id": entry.entry_id, **data}, blocking=True
    )


async def refresh(hass: HomeAssistant, entry: ConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_sensor_shows_the_winning_layer(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    assert shown(hass) == ("unspecified", "none", None)
    assert state_of(hass, SELECT) == "automatic"

    emulator.set_scheduled_location("office", place_id="building-7")
    await refresh(hass, setup_integration)
    assert shown(hass) == ("office", "scheduled", "building-7")
    assert state_of(hass, SELECT) == "automatic"

    emulator.set_scheduled_location("timeOff")
    await refresh(hass, setup_integration)
    assert shown(hass) == ("time_off", "scheduled", None)


async def test_select_sets_the_manual_layer_and_automatic_clears_it(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    emulator.set_scheduled_location("office")
    context = Context()

    await select(hass, "remote", SELECT, context=context)
    [request] = location_writes(emulator)
    assert request.path == "/v1.0/me/presence/setManualLocation"
    assert request.body == {"workLocationType": "remote"}
    assert shown(hass) == ("remote", "manual", None)
    assert state_of(hass, SELECT) == "remote"
    sensor = hass.states.get(SENSOR)
    assert sensor is not None
    assert sensor.context.id == context.id  # the logbook names who chose

    await select(hass, "time_off", SELECT)
    assert location_writes(emulator)[-1].body == {"workLocationType": "timeOff"}
    assert shown(hass) == ("time_off", "manual", None)

    # Automatic: Graph drops the manual (and automatic) layer; the plan shows.
    await select(hass, "automatic", SELECT)
    assert location_writes(emulator)[-1].path == "/v1.0/me/presence/clearLocation"
    assert shown(hass) == ("office", "scheduled", None)
    assert state_of(hass, SELECT) == "automatic"


async def test_choosing_what_the_select_shows_sends_nothing(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    """Automatic while it shows automatic must not erase what an agent set.

    ``clearLocation`` would drop the automatic layer (the blueprint's) with the
    manual one; a place already chosen is kept, and so is its place id.
    """
    await call(
        hass,
        setup_integration,
        "set_work_location",
        location="office",
        layer="automatic",
    )
    assert shown(hass) == ("office", "automatic", None)
    assert state_of(hass, SELECT) == "automatic"
    requests = len(emulator.requests)

    await select(hass, "automatic", SELECT)
    assert emulator.requests[requests:] == []
    await refresh(hass, setup_integration)
    assert shown(hass) == ("office", "automatic", None)

    await call(
        hass, setup_integration, "set_work_location", location="remote", place_id="b7"
    )
    requests = len(emulator.requests)
    await select(hass, "remote", SELECT)
    assert emulator.requests[requests:] == []
    await refresh(hass, setup_integration)
    assert shown(hass) == ("remote", "manual", "b7")


async def test_actions_write_each_layer(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    # A user's choice by default: the manual layer.
    await call(
        hass, setup_integration, "set_work_location", location="office", place_id="b7"
    )
    assert location_writes(emulator)[-1].path.endswith("/setManualLocation")
    assert location_writes(emulator)[-1].body == {
        "workLocationType": "office",
        "placeId": "b7",
    }
    assert shown(hass) == ("office", "manual", "b7")

    # The automatic layer is kept, but the manual choice still wins.
    await call(
        hass,
        setup_integration,
        "set_work_location",
        location="remote",
        layer="automatic",
    )
    assert location_writes(emulator)[-1].path.endswith("/setAutomaticLocation")
    assert location_writes(emulator)[-1].body == {"workLocationType": "remote"}
    assert shown(hass) == ("office", "manual", "b7")

    await call(hass, setup_integration, "clear_work_location")
    assert location_writes(emulator)[-1].path.endswith("/clearLocation")
    assert shown(hass) == ("unspecified", "none", None)

    await call(
        hass,
        setup_integration,
        "set_work_location",
        location="remote",
        layer="automatic",
    )
    assert shown(hass) == ("remote", "automatic", None)
    assert state_of(hass, SELECT) == "automatic"
    await call(hass, setup_integration, "clear_work_location", layer="automatic")
    assert location_writes(emulator)[-1].path.endswith("/clearAutomaticLocation")
    assert shown(hass) == ("unspecified", "none", None)


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        ("set_work_location", {"location": "unspecified"}, "invalid_work_location"),
        ("set_work_location", {"location": "timeOff"}, "invalid_work_location"),
        ("set_work_location", {"location": "home"}, "invalid_work_location"),
        (
            "set_work_location",
            {"location": "office", "place_id": " "},
            "place_id_empty",
        ),
        (
            "set_work_location",
            {"location": "office", "layer": "scheduled"},
            "invalid_layer",
        ),
        ("clear_work_location", {"layer": "manual"}, "invalid_layer"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    service: str,
    data: dict[str, str],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, setup_integration, service, **data)
    assert refused.value.translation_key == key
    assert location_writes(emulator) == []


async def test_out_of_office_message_and_status_message_publication(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    emulator.set_out_of_office(True, "On leave until the 9th")
    await call(hass, setup_integration, "set_status_message", message="In the lab")
    state = hass.states.get(OUT_OF_OFFICE)
    assert state is not None
    assert state.state == "on"
    assert state.attributes["message"] == "On leave until the 9th"
    message = hass.states.get(STATUS_MESSAGE)
    assert message is not None
    assert message.attributes["published_at"] == dt_util.utcnow()

    emulator.set_out_of_office(False)
    await call(hass, setup_integration, "clear_status_message")
    state = hass.states.get(OUT_OF_OFFICE)
    assert state is not None
    assert state.attributes["message"] is None
    message = hass.states.get(STATUS_MESSAGE)
    assert message is not None
    assert message.attributes["published_at"] is None


# Where Graph does not offer it.


async def graph_refusal(
    hass: HomeAssistant, emulator: GraphEmulator, token: str, user: str, layer: str
) -> Exception:
    """What Graph itself answers to a work-location write with ``token``."""
    client = GraphPresenceClient(
        async_get_clientsession(hass),
        lambda: asyncio.sleep(0, token),
        base_url=emulator.graph_url,
        user=user,
    )
    write = (
        client.set_manual_location
        if layer == "manual"
        else client.set_automatic_location
    )
    with pytest.raises(GraphError) as refused:
        await write(WorkLocationUpdate(WorkLocationType.REMOTE))
    return refused.value


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_application_permission_has_no_work_location_writes(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry = await async_application_entry(hass, emulator)
    await hass.async_block_till_done()

    assert hass.states.get(SELECT) is None
    assert state_of(hass, SENSOR) == "unspecified"  # reads work: Presence.Read.All
    for service, data in (
        ("set_work_location", {"location": "office"}),
        ("set_work_location", {"location": "office", "layer": "automatic"}),
        ("clear_work_location", {}),
    ):
        with pytest.raises(ServiceValidationError) as refused:
            await call(hass, entry, service, **data)
        assert refused.value.translation_key == "work_location_application"
        assert refused.value.translation_placeholders == {"account": entry.title}
    assert location_writes(emulator) == []

    # What Graph answers an app token, had it been sent: 403.
    refusal = await graph_refusal(
        hass, emulator, emulator.issue_app_token(), emulator.default_user.id, "manual"
    )
    assert isinstance(refusal, GraphPermissionError)
    assert refusal.status == 403


@pytest.mark.parametrize(
    ("cloud", "select_exists", "refused"),
    [
        ("us_government", True, {"automatic": "automatic_location_cloud"}),
        (
            "us_government_dod",
            True,
            {"automatic": "automatic_location_cloud"},
        ),
        (
            "china",
            False,
            {
                "manual": "manual_location_cloud",
                "automatic": "automatic_location_cloud",
            },
        ),
    ],
)
async def test_clouds_without_work_location_writes(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    cloud: str,
    select_exists: bool,
    refused: dict[str, str],
) -> None:
    emulator.cloud = cloud
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_CLOUD: cloud}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    assert (hass.states.get(SELECT) is not None) is select_exists
    for layer, key in refused.items():
        with pytest.raises(ServiceValidationError) as refusal:
            await call(
                hass, config_entry, "set_work_location", location="office", layer=layer
            )
        assert refusal.value.translation_key == key
    assert location_writes(emulator) == []
    if select_exists:
        await select(hass, "office", SELECT)
        assert location_writes(emulator)[-1].path.endswith("/setManualLocation")
        assert shown(hass) == ("office", "manual", None)

    # What Graph answers there, had it been sent: 400, no such action.
    for layer in refused:
        answer = await graph_refusal(
            hass, emulator, emulator.issue_token(), "me", layer
        )
        assert isinstance(answer, GraphValidationError)
        assert answer.status == 400


async def test_tenant_refusing_work_location_makes_the_select_unavailable(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """403 (here: the sign-in lacks Presence.ReadWrite): one log line, no repair."""
    token = {
        **config_entry.data["token"],
        "access_token": emulator.issue_token(scopes=("Presence.Read", "User.Read")),
    }
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": token}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    with pytest.raises(HomeAssistantError) as refused:
        await select(hass, "office", SELECT)
    assert refused.value.translation_key == "work_location_refused"
    assert state_of(hass, SELECT) == STATE_UNAVAILABLE
    await select(hass, "office", SELECT)  # Home Assistant skips it now
    assert [r.status for r in location_writes(emulator)] == [403]
    with pytest.raises(HomeAssistantError) as refused:
        await call(hass, config_entry, "set_work_location", location="office")
    assert refused.value.translation_key == "work_location_refused"
    assert [r.status for r in location_writes(emulator)] == [403, 403]
    assert caplog.text.count("does not offer work location") == 1
    assert ir.async_get(hass).issues == {}
    assert state_of(hass, SENSOR) == "unspecified"  # reads go on


async def test_a_write_that_works_again_brings_the_select_back(
    hass: HomeAssistant, emulator: GraphEmulator, setup_integration: MockConfigEntry
) -> None:
    emulator.fail(1, 404)
    with pytest.raises(HomeAssistantError) as refused:
        await call(hass, setup_integration, "set_work_location", location="remote")
    assert refused.value.translation_key == "work_location_refused"
    assert state_of(hass, SELECT) == STATE_UNAVAILABLE

    await call(hass, setup_integration, "set_work_location", location="remote")
    assert state_of(hass, SELECT) == "remote"
    assert shown(hass) == ("remote", "manual", None)


# Reads as other tenants answer them, and answers out of order.


class GraphRelay:
    """A loopback hop between Home Assistant and the emulator.

    It can answer a presence read from a replica that lags (the answer to an
    earlier read, so older than one already delivered), and reword reads as a
    tenant whose Graph answers differently.
    """

    def __init__(self, target: str) -> None:
        """Relay every request to ``target``, the emulator's Graph URL."""
        self._target = target.rstrip("/")
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._reads: list[bytes] = []
        self.lag_next_read = False
        """Answer the next read as the first read was answered."""
        self.rewrite: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.stamps: list[str] = []
        """The sequence number of each read answered, in order."""
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._session = ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _relay(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {
            name: value
            for name in ("Authorization", "Content-Type")
            if (value := request.headers.get(name))
        }
        async with self._session.request(
            request.method,
            self._target + request.path_qs,
            headers=headers,
            data=await request.read(),
        ) as answer:
            status, body = answer.status, await answer.read()
            content_type = answer.headers.get("Content-Type")
        if request.method == "GET" and request.path.endswith("/presence"):
            self._reads.append(body)
            if self.lag_next_read:
                self.lag_next_read = False
                body = self._reads[0]
            read = json.loads(body)
            self.stamps.append(read.get("sequenceNumber", ""))
            if self.rewrite is not None:
                body = json.dumps(self.rewrite(read)).encode()
        return web.Response(
            status=status, body=body, headers={"Content-Type": content_type or ""}
        )


@pytest.fixture
async def relay(
    hass: HomeAssistant, emulator: GraphEmulator, config_entry: MockConfigEntry
) -> AsyncIterator[GraphRelay]:
    """The account, reading Graph through the relay (not yet set up)."""
    relay = GraphRelay(emulator.graph_url)
    await relay.start()
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_GRAPH_URL: relay.url}
    )
    yield relay
    await relay.stop()


async def set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_an_older_read_never_overwrites_a_newer_one(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    relay: GraphRelay,
) -> None:
    """A replica of Graph that lags answers as of before the office was planned."""
    await set_up(hass, config_entry)
    emulator.set_scheduled_location("office")
    await refresh(hass, config_entry)
    assert state_of(hass, SENSOR) == "office"

    relay.lag_next_read = True
    await refresh(hass, config_entry)
    newer, older = relay.stamps[-2:]
    assert older < newer
    assert state_of(hass, SENSOR) == "office"
    assert config_entry.runtime_data.coordinator.data.sequence_number == newer

    # The next up-to-date read is taken as usual.
    emulator.set_scheduled_location("remote")
    await refresh(hass, config_entry)
    assert state_of(hass, SENSOR) == "remote"


async def test_reads_without_work_location_create_no_work_location_entities(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    relay: GraphRelay,
    caplog: pytest.LogCaptureFixture,
) -> None:
    relay.rewrite = lambda read: {
        key: value for key, value in read.items() if key != "workLocation"
    }
    await set_up(hass, config_entry)
    assert hass.states.get(SENSOR) is None
    assert hass.states.get(SELECT) is None
    assert caplog.text.count("reads no work location") == 1
    await refresh(hass, config_entry)
    assert caplog.text.count("reads no work location") == 1
    assert state_of(hass, "sensor.adele_vance_presence") == "offline"


async def test_an_unknown_work_location_type_is_unknown_and_logged_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    relay: GraphRelay,
    caplog: pytest.LogCaptureFixture,
) -> None:
    relay.rewrite = lambda read: {
        **read,
        "workLocation": {"workLocationType": "hybrid", "source": "satellite"},
    }
    await set_up(hass, config_entry)
    await refresh(hass, config_entry)
    assert shown(hass) == (STATE_UNKNOWN, None, None)
    assert hass.states.get(SELECT) is not None
    assert state_of(hass, SELECT) == STATE_UNKNOWN
    assert caplog.text.count("unknown work location type") == 1
