"""Faults the keeper must ride out: the wish survives, Graph's rules are honoured.

Complements ``test_keep_alive.py`` (a 20-minute outage, one 429, one 500, a restart
during a hold) with storms, runs, answers too slow to wait for, and sign-in failures.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import itertools
import logging
import time

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)

from custom_components.teams_presence_keeper.const import DOMAIN
from custom_components.teams_presence_keeper.graph.transport import DEFAULT_TIMEOUT
from graph_emulator import GraphEmulator, RecordedRequest
from tests.sign_in_guard import SIGN_IN_GUARDS
from tests.sign_in_helpers import (
    async_device_code_entry,
)

from .common import (
    APP_PRESENCE,
    PRESENCE,
    advance,
    call,
    reauth_flows,
    select,
    set_calls,
    state_of,
    step_until,
)

BUSY = ("Busy", "InACall")


def graph_requests(emulator: GraphEmulator, since: int) -> list[RecordedRequest]:
    """Graph requests (not sign-in) logged after the first ``since`` requests."""
    return [
        r
        for r in emulator.requests[since:]
        if r.server == "graph" and "/v1.0/" in r.path
    ]


def assert_no_crash(caplog: pytest.LogCaptureFixture) -> None:
    """Faults are handled: no error carries a traceback, nothing went unretrieved."""
    crashes = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.exc_info
    ]
    assert crashes == []
    assert "never retrieved" not in caplog.text


@pytest.mark.usefixtures("setup_integration")
async def test_storm_of_throttles_honours_every_retry_after(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits = [1, 5, 30, 2, 60, 10, 3, 45, 7, 20]
    for wait in waits:
        emulator.throttle(1, retry_after=wait)
    start = len(emulator.requests)
    await select(hass, "busy_in_a_call")
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"

    await advance(hass, freezer, timedelta(seconds=300), step=timedelta(seconds=1))

    requests = graph_requests(emulator, start)
    throttled = [r for r in requests if r.status == 429]
    assert len(throttled) == len(waits)
    for index, (answer, wait) in enumerate(zip(throttled, waits, strict=True)):
        # A request sent at the same frozen instant was already in flight.
        later = [r.time for r in requests if r.time > answer.time]
        if index < len(waits) - 1 or later:
            assert min(later) - answer.time >= timedelta(seconds=wait)
    assert emulator.presence() == BUSY
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert_no_crash(caplog)


@pytest.mark.usefixtures("setup_integration")
async def test_run_of_server_errors_backs_off_and_restores(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.fail(8, status=503)
    start = dt_util.utcnow()
    await select(hass, "busy_in_a_call")
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"

    await advance(hass, freezer, timedelta(minutes=5), step=timedelta(seconds=1))

    failed = [c for c in emulator.graph_calls("setPresence") if c.status == 503]
    assert failed
    gaps = [b.time - a.time for a, b in itertools.pairwise(failed)]
    # Backing off, never hammering: each retry waits at least as long as the last.
    assert gaps == sorted(gaps)
    assert all(gap >= timedelta(seconds=5) for gap in gaps)
    assert set_calls(emulator)[-1].time > start
    assert emulator.presence() == BUSY
    assert_no_crash(caplog)


@pytest.mark.usefixtures("setup_integration")
async def test_answers_slower_than_the_timeout_are_given_up_and_retried(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.latency = 3 * DEFAULT_TIMEOUT
    start = len(emulator.requests)
    asked = dt_util.utcnow()
    selecting = asyncio.ensure_future(select(hass, "busy_in_a_call"))

    # The select waits no longer than the client's timeout, and keeps the wish.
    answered = await step_until(hass, freezer, selecting.done)
    selecting.result()
    assert (
        timedelta(seconds=DEFAULT_TIMEOUT)
        <= answered - asked
        <= timedelta(seconds=DEFAULT_TIMEOUT + 2)
    )
    [unanswered] = [
        r for r in graph_requests(emulator, start) if r.path.endswith("/setPresence")
    ]
    assert unanswered.status == 0
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"

    # Graph is quick again: the next retry sets the wish.
    emulator.latency = 0
    restored = await step_until(
        hass, freezer, lambda: any(c.time > asked for c in set_calls(emulator))
    )
    assert restored - answered >= timedelta(seconds=5)
    assert emulator.presence() == BUSY

    # Reads that time out make the sensors unavailable; the app presence stays.
    emulator.latency = 3 * DEFAULT_TIMEOUT
    await step_until(
        hass, freezer, lambda: state_of(hass, PRESENCE) == STATE_UNAVAILABLE
    )
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    emulator.latency = 0
    await step_until(hass, freezer, lambda: state_of(hass, PRESENCE) == "busy")

    # The late answers still in the emulator come and go, harmlessly.
    await advance(hass, freezer, timedelta(minutes=5))
    assert emulator.presence() == BUSY
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert state_of(hass, PRESENCE) == "busy"
    assert_no_crash(caplog)


@pytest.fixture
def refreshable_token(
    hass: HomeAssistant, emulator: GraphEmulator, config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Give the account a real refresh token and an access token about to expire."""
    token = {
        **config_entry.data["token"],
        "access_token": emulator.issue_token(lifetime=timedelta(minutes=1)),
        "refresh_token": emulator.issue_refresh_token(),
        "expires_in": 60,
        "expires_at": time.time() + 60,
    }
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": token}
    )
    return config_entry


def expire_access_token(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Make the next request refresh the token first."""
    token = {**entry.data["token"], "expires_at": time.time() - 1}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})


@pytest.mark.usefixtures("refreshable_token")
async def test_revoked_refresh_token_asks_to_sign_in_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await select(hass, "busy_in_a_call")
    await advance(hass, freezer, timedelta(minutes=5))
    # The token was refreshed through the emulator, and the hold went on.
    assert config_entry.data["token"]["access_token"] in emulator.issued_secrets()
    assert emulator.presence() == BUSY
    assert reauth_flows(hass) == []

    emulator.revoke_refresh_tokens()
    emulator.token_lifetime = timedelta(minutes=1)
    expire_access_token(hass, config_entry)
    await advance(hass, freezer, timedelta(minutes=10))

    assert reauth_flows(hass)
    assert config_entry.state is ConfigEntryState.LOADED
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert_no_crash(caplog)


@pytest.mark.usefixtures("refreshable_token")
async def test_revoked_before_start_up_asks_to_sign_in_again(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.revoke_refresh_tokens()
    expire_access_token(hass, config_entry)
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert reauth_flows(hass)
    assert_no_crash(caplog)


@pytest.mark.usefixtures("refreshable_token")
async def test_sign_in_down_during_refresh_is_transient(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await select(hass, "busy_in_a_call")
    emulator.login_down = True
    # The access token lapses while sign-in is down: nothing can be sent.
    await advance(hass, freezer, timedelta(minutes=10))
    assert state_of(hass, PRESENCE) == STATE_UNAVAILABLE
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert reauth_flows(hass) == []

    emulator.login_down = False
    back = dt_util.utcnow()
    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=5))
    reads = [c for c in emulator.graph_calls("presence") if c.time >= back]
    assert [c for c in reads if c.status == 200]
    assert state_of(hass, PRESENCE) == "busy"
    assert emulator.presence() == BUSY
    assert state_of(hass, APP_PRESENCE) == "busy_in_a_call"
    assert reauth_flows(hass) == []
    assert_no_crash(caplog)


async def test_retry_after_on_a_one_off_action_holds_every_request(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    service, data = "set_status_message", {"message": "In the lab"}
    emulator.throttle(1, retry_after=90)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            service,
            {"config_entry_id": setup_integration.entry_id, **data},
            blocking=True,
        )
    assert err.value.translation_key == "throttled_until"
    throttled = len(emulator.requests)

    # Reads wait as Graph asked, and so does the action asked again meanwhile.
    await advance(hass, freezer, timedelta(seconds=80))
    assert graph_requests(emulator, throttled) == []
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(
            DOMAIN,
            service,
            {"config_entry_id": setup_integration.entry_id, **data},
            blocking=True,
        )
    assert graph_requests(emulator, throttled) == []

    await advance(hass, freezer, timedelta(seconds=30))
    assert graph_requests(emulator, throttled)
    await hass.services.async_call(
        DOMAIN,
        service,
        {"config_entry_id": setup_integration.entry_id, **data},
        blocking=True,
    )


async def test_one_off_action_waits_out_a_throttle_raised_by_a_read(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
) -> None:
    emulator.throttle(1, retry_after=120)
    await advance(
        hass, freezer, setup_integration.runtime_data.coordinator.update_interval
    )
    throttled = len(emulator.requests)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_status_message",
            {"config_entry_id": setup_integration.entry_id, "message": "Lunch"},
            blocking=True,
        )
    assert err.value.translation_key == "throttled_until"
    assert graph_requests(emulator, throttled) == []


@pytest.mark.usefixtures("refreshable_token")
async def test_rejected_token_is_refreshed_before_asking_to_sign_in(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
) -> None:
    """One 401 means "get a new token", not "sign in again": only a refusal after it."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await select(hass, "busy_in_a_call")
    emulator.revoke_access_tokens()
    await select(hass, "away")
    assert emulator.presence() == ("Away", "Away")
    await advance(hass, freezer, timedelta(minutes=1))
    assert state_of(hass, PRESENCE) == "away"
    assert reauth_flows(hass) == []

    # With the refresh token gone too, the new sign-in is what is needed.
    emulator.revoke_refresh_tokens()
    emulator.revoke_access_tokens()
    await advance(hass, freezer, timedelta(minutes=1))
    assert reauth_flows(hass)


@SIGN_IN_GUARDS
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_rejected_token_is_refreshed_by_msal_too(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, emulator: GraphEmulator
) -> None:
    await async_device_code_entry(hass, emulator)
    await hass.async_block_till_done()
    await select(hass, "busy_in_a_call")
    emulator.revoke_access_tokens()
    await select(hass, "away")
    assert emulator.presence() == ("Away", "Away")
    assert reauth_flows(hass) == []


async def test_malformed_presence_is_a_server_error(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    setup_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Logged once, sensors unavailable, back when the body is good: no traceback."""
    interval = setup_integration.runtime_data.coordinator.update_interval
    assert interval is not None
    before = state_of(hass, PRESENCE)
    emulator.malform_reads()  # every read, each kind of breakage in turn
    await advance(hass, freezer, interval * 10, step=interval)
    assert state_of(hass, PRESENCE) == STATE_UNAVAILABLE
    assert_no_crash(caplog)
    failures = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and "presence" in r.getMessage()
    ]
    assert len(failures) == 1

    emulator.malform_reads(0)
    await advance(hass, freezer, interval, step=interval)
    assert state_of(hass, PRESENCE) == before


@pytest.mark.usefixtures("refreshable_token")
async def test_an_action_that_finds_the_sign_in_gone_asks_to_sign_in_again(
    hass: HomeAssistant, emulator: GraphEmulator, config_entry: MockConfigEntry
) -> None:
    """The caller is told to sign in again, and the sign-in is asked for at once."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    emulator.revoke_refresh_tokens()
    emulator.revoke_access_tokens()
    with pytest.raises(HomeAssistantError) as raised:
        await call(hass, config_entry, "set_status_message", message="Back soon")
    assert raised.value.translation_key == "sign_in_required"
    await hass.async_block_till_done()
    assert reauth_flows(hass)
