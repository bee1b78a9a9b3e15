"""Breaking push for followed people: what the account's own rules already survive.

Real Home Assistant against the emulator, Graph delivering into the webhook (the
fixtures of ``test_push.py`` and ``test_people_push.py``).
"""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.common import PRESENCE, advance, state_of
from tests.test_people_push import (  # noqa: F401 - the fixtures of following people
    MEGAN,
    account,
    colleagues,
    follow,
    granted_scopes,
    people_reads,
)
from tests.test_push import (  # noqa: F401 - the fixtures of an account with push
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


async def test_a_person_s_change_no_notification_announced_trips_the_watchdog(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """A silent subscription is found by a followed person's change, as by the account's.

    The account itself may never change (a meeting room's display): the people's
    safety read finds Megan busy, no notification says so within a minute, so
    push is not trusted: everyone is polled at the Read interval.
    """
    megan, _ = colleagues
    await follow(hass, emulator, account, megan)
    people = account.runtime_data.people
    assert people is not None
    assert state_of(hass, UPDATE_MODE) == "push_external"
    emulator.subscriptions.silent = True
    emulator.set_client_session("teams", "Busy", "InACall", user=megan)

    await advance(hass, freezer, timedelta(minutes=15), step=timedelta(minutes=1))
    assert state_of(hass, MEGAN) == "busy"  # the safety read found it
    await advance(hass, freezer, timedelta(minutes=2), step=timedelta(seconds=10))

    assert state_of(hass, UPDATE_MODE) == "polling"
    assert people.update_interval == timedelta(seconds=30)
    assert push_of(account).counts["watchdog_fallbacks"] == 1
    reads = people_reads(emulator)
    await advance(hass, freezer, timedelta(minutes=5), step=timedelta(seconds=30))
    assert people_reads(emulator) - reads >= 9


async def test_a_person_s_change_read_for_during_a_throttle_is_read_after_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """Megan's second change within a minute is read for; Graph answers 429 to it.

    What the notification announced is read once Graph's wait is over, not at the
    safety read a quarter of an hour later.
    """
    megan, _ = colleagues
    await follow(hass, emulator, account, megan)
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=2))
    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    await settle(hass, emulator)
    assert state_of(hass, MEGAN) == "busy"
    reads = people_reads(emulator)

    freezer.tick(timedelta(seconds=20))
    emulator.throttle(1, retry_after=60)
    emulator.set_client_session("teams", "Away", "Away", user=megan)
    await settle(hass, emulator)
    assert people_reads(emulator) == reads + 1  # the read for it, throttled
    assert state_of(hass, MEGAN) == "busy"

    await advance_delivering(hass, freezer, emulator, timedelta(minutes=3))

    assert state_of(hass, MEGAN) == "away"
    assert state_of(hass, UPDATE_MODE) == "push_external"


async def test_the_account_s_change_read_for_during_a_throttle_is_read_after_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    push_entry: MockConfigEntry,  # noqa: F811
) -> None:
    """The same for the account's own second change within a minute."""
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=2))
    emulator.set_client_session("teams", "Busy", "InACall")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"

    freezer.tick(timedelta(seconds=20))
    emulator.throttle(1, retry_after=60)
    emulator.set_client_session("teams", "Away", "Away")
    await settle(hass, emulator)
    assert state_of(hass, PRESENCE) == "busy"

    await advance_delivering(hass, freezer, emulator, timedelta(minutes=3))

    assert state_of(hass, PRESENCE) == "away"


async def test_a_person_s_change_read_for_when_graph_fails_is_read_again_soon(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,  # noqa: F811
    colleagues: list[User],  # noqa: F811
) -> None:
    """The read for Megan's second change within a minute answers 503.

    It is made again at the Read interval, as polling would, not at the safety
    read a quarter of an hour later.
    """
    megan, _ = colleagues
    await follow(hass, emulator, account, megan)
    await advance_delivering(hass, freezer, emulator, timedelta(minutes=2))
    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    await settle(hass, emulator)
    assert state_of(hass, MEGAN) == "busy"

    freezer.tick(timedelta(seconds=20))
    emulator.fail(1, status=503)
    emulator.set_client_session("teams", "Away", "Away", user=megan)
    await settle(hass, emulator)
    assert emulator.requests[-1].status == 503

    await advance_delivering(hass, freezer, emulator, timedelta(minutes=2))

    assert state_of(hass, MEGAN) == "away"
