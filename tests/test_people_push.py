"""Following people with Instant updates: one subscription for the account and them.

Colleagues are added and removed through the real "Add person" subentry flow; Graph's
side is the emulator, delivering into Home Assistant's webhook (the fixtures of
``test_push.py``). What reaches the emulator is asserted: the one subscription's
resource, the requests about it, and the batched reads of the people.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import ClientSession
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.teams_presence_keeper.const import PEOPLE_SCOPES
from custom_components.teams_presence_keeper.graph import (
    GraphSubscriptionClient,
    presences_resource,
)
from custom_components.teams_presence_keeper.push_freshness import (
    SAFETY_READ_INTERVAL,
)
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.colleagues import add_colleagues
from tests.common import advance, state_of
from tests.sign_in_helpers import async_application_entry
from tests.test_person_flow import add
from tests.test_push import (  # noqa: F401 - the fixtures of an account with push
    PUSH_SCOPES,
    UPDATE_MODE,
    advance_delivering,
    cloud,
    cloud_connected,
    external_url,
    options,
    presence_reads,
    push_entry,
    push_of,
    rich_refused,
    settle,
    subscription_requests,
    with_cloud,
)

MEGAN = "sensor.megan_bowen_presence"
LEE = "sensor.lee_gu_presence"


@pytest.fixture
def granted_scopes() -> tuple[str, ...]:
    """Instant updates' consent, and following people's."""
    return (*PUSH_SCOPES, *PEOPLE_SCOPES)


@pytest.fixture
def account(push_entry: MockConfigEntry) -> MockConfigEntry:  # noqa: F811
    """The account with Instant updates, Graph delivering into Home Assistant."""
    return push_entry


@pytest.fixture
def colleagues(emulator: GraphEmulator) -> list[User]:
    """Megan Bowen and Lee Gu, in the account's tenant; the app may look them up."""
    emulator.default_app.consented_scopes.update(PEOPLE_SCOPES)
    return add_colleagues(emulator)


def people_reads(emulator: GraphEmulator) -> int:
    return len(emulator.graph_calls("getPresencesByUserId"))


async def follow(
    hass: HomeAssistant, emulator: GraphEmulator, entry: ConfigEntry, person: User
) -> None:
    """Add ``person`` by e-mail address through "Add person"; the account reloads."""
    result = await add(hass, entry, person.upn)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await settle(hass, emulator)


def held_resources(emulator: GraphEmulator) -> list[str]:
    """The resource of each presence subscription Graph holds."""
    return [subscription.resource for subscription in emulator.subscriptions.all()]


def everyone(emulator: GraphEmulator, *people: User) -> str:
    return presences_resource([emulator.default_user.id, *(p.id for p in people)])


async def test_a_colleague_follows_by_push_in_the_account_s_subscription(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
) -> None:
    """The account's subscription becomes the bulk one; Megan's change is pushed."""
    megan, _ = colleagues
    me = emulator.default_user.id
    assert held_resources(emulator) == [f"communications/presences/{me}"]

    await follow(hass, emulator, account, megan)

    assert held_resources(emulator) == [everyone(emulator, megan)]
    assert state_of(hass, MEGAN) == "available"
    assert state_of(hass, UPDATE_MODE) == "push_external"
    reads, account_reads = people_reads(emulator), presence_reads(emulator)
    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    await settle(hass, emulator)
    assert state_of(hass, MEGAN) == "busy"
    # Applied as it came: no read, hers or the account's.
    assert (people_reads(emulator), presence_reads(emulator)) == (reads, account_reads)

    # Healthy push reads the people at the safety interval, changes or not.
    for minute in range(60):
        if minute % 5 == 0:
            state = ("Away", "Away") if minute % 10 else ("Busy", "InACall")
            emulator.set_client_session("teams", *state, user=megan)
        await advance_delivering(hass, freezer, emulator, timedelta(minutes=1))
    assert state_of(hass, MEGAN) == "away"
    assert people_reads(emulator) - reads == timedelta(hours=1) // SAFETY_READ_INTERVAL
    assert len(emulator.subscriptions.all()) == 1


async def test_a_burst_for_many_people_costs_one_read(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
) -> None:
    """Ten people change twice within a minute: one batched read, not ten.

    Each one's second change may have swapped places with their first (the order
    rule, per person): read for, all in the one read Graph's batch asks for.
    """
    team = [
        *colleagues,
        *(
            emulator.add_colleague(
                display_name=f"Colleague {n}", upn=f"colleague{n}@contoso.example"
            )
            for n in range(8)
        ),
    ]
    for person in team:
        await follow(hass, emulator, account, person)
    assert held_resources(emulator) == [everyone(emulator, *team)]
    people = account.runtime_data.people
    assert people is not None
    freezer.tick(timedelta(minutes=2))

    def everyone_shows(availability: str, activity: str) -> None:
        """One change each, in one notification (Graph batches what is due)."""
        for person in team:
            person.presence.client_sessions["teams"] = (availability, activity)

    reads, account_reads = people_reads(emulator), presence_reads(emulator)
    everyone_shows("Busy", "InACall")
    await settle(hass, emulator)
    assert people_reads(emulator) == reads  # first changes: applied as they came

    freezer.tick(timedelta(seconds=30))
    everyone_shows("Away", "Away")
    await settle(hass, emulator)

    assert people_reads(emulator) == reads + 1
    assert presence_reads(emulator) == account_reads
    assert {people.data.presences[person.id].availability.value for person in team} == {
        "Away"
    }
    assert push_of(account).counts["confirmed_by_read"] == len(team)


async def test_removing_a_colleague_shrinks_the_subscription(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
) -> None:
    """One subscription throughout: the old one deleted, then one for who is left.

    Everyone is read once after it: changes in between are not notified.
    """
    megan, lee = colleagues
    await follow(hass, emulator, account, megan)
    await follow(hass, emulator, account, lee)
    assert held_resources(emulator) == [everyone(emulator, megan, lee)]
    [lee_subentry] = [
        subentry.subentry_id
        for subentry in account.subentries.values()
        if subentry.unique_id == lee.id
    ]
    [old] = emulator.subscriptions.all()
    emulator.requests.clear()

    assert hass.config_entries.async_remove_subentry(account, lee_subentry)
    await settle(hass, emulator)

    assert held_resources(emulator) == [everyone(emulator, megan)]
    assert subscription_requests(emulator) == [("DELETE", 204), ("POST", 201)]
    # Read at the reload, and once the new subscription exists: her alone.
    assert [
        request.path.removeprefix("/v1.0")
        for request in emulator.requests
        if request.server == "graph"
        and ("/subscriptions" in request.path or "Presences" in request.path)
    ] == [
        "/communications/getPresencesByUserId",
        f"/subscriptions/{old.id}",
        "/subscriptions",
        "/communications/getPresencesByUserId",
    ]
    assert [r.body for r in emulator.graph_calls("getPresencesByUserId")] == [
        {"ids": [megan.id]}
    ] * 2
    assert state_of(hass, MEGAN) == "available"
    assert hass.states.get(LEE) is None
    assert state_of(hass, UPDATE_MODE) == "push_external"


async def test_a_conflict_with_a_stale_bulk_subscription_is_resolved(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
) -> None:
    """409: a bulk subscription this Home Assistant forgot (a restored backup).

    It is found although it names more than the account, deleted, and the one
    wanted made: still one subscription, ours.
    """
    megan, lee = colleagues
    push = push_of(account)
    token = emulator.issue_token(scopes=("Presence.Read.All",))

    async def token_provider() -> str:
        return token

    async with ClientSession() as http:
        graph = GraphSubscriptionClient(
            http, token_provider, base_url=emulator.graph_url
        )
        await graph.end_subscription(push.subscription["id"])
        stale = await graph.create_presences_subscription(
            [emulator.default_user.id, lee.id],
            push.subscription["url"],
            client_state="a-state-this-home-assistant-never-had",
        )
        push.subscription = {}  # what the restored backup remembers
        emulator.requests.clear()

        await follow(hass, emulator, account, megan)

    [held] = emulator.subscriptions.all()
    assert held.resource == everyone(emulator, megan)
    assert held.id != stale.id
    assert held.client_state == push_of(account).client_state
    assert subscription_requests(emulator) == [
        ("POST", 409),
        ("GET", 200),
        ("DELETE", 204),
        ("POST", 201),
    ]
    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    await settle(hass, emulator)
    assert state_of(hass, MEGAN) == "busy"


@pytest.mark.usefixtures("enable_custom_integrations", "sign_in_guards")
@pytest.mark.parametrize("entries_set_up_for_real", [True])
async def test_an_application_account_polls_its_people(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    emulator: GraphEmulator,
) -> None:
    """Graph pushes nothing to application permissions: no subscription, reads.

    One batched read of the people per Read interval (30 s by default).
    """
    megan, _ = add_colleagues(emulator)
    emulator.default_app.app_roles = {"Presence.ReadWrite.All", "User.Read.All"}
    entry = await async_application_entry(hass, emulator)
    await hass.async_block_till_done()
    result = await add(hass, entry, megan.upn)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert state_of(hass, MEGAN) == "available"
    reads = people_reads(emulator)

    emulator.set_client_session("teams", "Busy", "InACall", user=megan)
    await advance(hass, freezer, timedelta(minutes=5), step=timedelta(seconds=30))

    assert state_of(hass, MEGAN) == "busy"
    assert people_reads(emulator) - reads == 10
    assert subscription_requests(emulator) == []
    assert emulator.subscriptions.all() == []
