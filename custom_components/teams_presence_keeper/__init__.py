"""Microsoft Teams presence for Home Assistant, through Microsoft Graph."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from .account_store import GRAPH_WAITS, AccountStore, graph_wait, wish_store
from .actions import OneOffRequests
from .auth.entry import endpoints_from_data, wants_instant_updates
from .auth.tokens import async_get_account_access
from .const import (
    CONF_CLEAR_ON_REMOVE,
    CONF_EXPIRATION,
    CONF_READ_INTERVAL,
    DEFAULT_CLEAR_ON_REMOVE,
    DEFAULT_EXPIRATION_MINUTES,
    DEFAULT_READ_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .coordinator import TeamsPresenceCoordinator
from .graph import GraphSubscriptionClient
from .keeper import SessionKeeper
from .people import (
    PeopleCoordinator,
    async_follow_new_ids,
    async_link_devices,
    followed_people,
)
from .policy import FAILURES, FailurePolicy
from .problems import (
    AccountProblems,
    async_delete_instant_updates_issues,
    async_delete_issues,
    async_delete_people_issues,
)
from .push import PushManager, async_end_push
from .push_freshness import PushFreshness
from .remedies import Operation
from .runtime import TeamsPresenceAccount, TeamsPresenceConfigEntry
from .services import async_setup_services
from .work_location import WorkLocationWriter
from .writer import AppSessionWriter, async_end_sessions_landing

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS = [Platform.BINARY_SENSOR, Platform.SELECT, Platform.SENSOR]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, for every account."""
    async_setup_services(hass)
    # For every account, loaded or not (disabled, waiting to sign in again).
    async_dispatcher_connect(
        hass, SIGNAL_CONFIG_ENTRY_CHANGED, partial(_forget_unfollowed, hass)
    )
    return True


@callback
def _forget_unfollowed(
    hass: HomeAssistant, change: ConfigEntryChange, entry: ConfigEntry
) -> None:
    """Remove the missing-person repair of anyone an account stopped following."""
    if entry.domain == DOMAIN and change is ConfigEntryChange.UPDATED:
        async_delete_people_issues(hass, entry, followed_people(entry))


async def async_setup_entry(
    hass: HomeAssistant, entry: TeamsPresenceConfigEntry
) -> bool:
    """Connect an account: read its presence and re-assert the wished app session."""
    client, client_id = await _async_client(hass, entry)
    account = await _async_assemble(hass, entry, client, client_id)
    # Before the first read: a setup that fails stops and stores what it began.
    entry.async_on_unload(account.async_stop)
    await account.coordinator.async_config_entry_first_refresh()
    async_delete_people_issues(hass, entry, followed_people(entry))
    if account.people is not None:
        # The account works while people cannot be read: no setup failure for them.
        await account.people.async_refresh()
    entry.runtime_data = account
    # Not an update listener: those may not be used with an options flow that reloads.
    entry.async_on_unload(
        async_dispatcher_connect(
            hass, SIGNAL_CONFIG_ENTRY_CHANGED, partial(_entry_changed, hass, entry)
        )
    )
    if wants_instant_updates(entry):
        account.push = account.coordinator.push = PushManager(
            account.coordinator,
            client,
            account.problems,
            account.freshness,
            client_id=client_id,
            login_url=endpoints_from_data(entry.data).login_url,
            people=account.people.readable if account.people else (),
        )
        await account.push.async_start()
    else:  # turned off: end what it left in Graph, and what it asked of the user
        async_delete_instant_updates_issues(hass, entry)
        entry.async_create_background_task(
            hass,
            async_end_push(hass, entry, partial(_async_client_only, hass, entry)),
            f"{DOMAIN} end push",
        )
    account.writer.async_start()
    async_follow_new_ids(hass, entry, followed_people(entry))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if account.people is not None:
        async_link_devices(hass, entry, account.people.followed)
    return True


async def _async_assemble(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    client: GraphSubscriptionClient,
    client_id: str,
) -> TeamsPresenceAccount:
    """Build an account's parts, each with the collaborators it needs.

    The wish and Graph's wait are restored first: a wait that outlived a reload
    holds the first read too.
    """
    keeper = SessionKeeper(
        timedelta(
            minutes=entry.options.get(CONF_EXPIRATION, DEFAULT_EXPIRATION_MINUTES)
        )
    )
    policy = FailurePolicy(graph_wait(hass, entry))
    store = AccountStore(hass, entry, keeper, policy)
    await store.async_restore()
    problems = AccountProblems(hass, entry, client_id, policy, store.save)
    read_interval = timedelta(
        seconds=entry.options.get(CONF_READ_INTERVAL, DEFAULT_READ_INTERVAL)
    )
    freshness = PushFreshness(read_interval)
    coordinator = TeamsPresenceCoordinator(hass, entry, client, problems, freshness)
    writer = AppSessionWriter(
        hass,
        entry.entry_id,
        client=client,
        keeper=keeper,
        problems=problems,
        store=store,
        view=coordinator,
        session_id=client_id,
    )
    coordinator.when_graph_is_back(partial(writer.sync_in_background, name="reconnect"))
    requests = OneOffRequests(client, policy, problems, coordinator)
    people = (
        PeopleCoordinator(
            hass, entry, client, problems, freshness, on_read=coordinator.people_read
        )
        if followed_people(entry)
        else None
    )
    coordinator.people = people
    return TeamsPresenceAccount(
        people=people,
        client=client,
        keeper=keeper,
        policy=policy,
        problems=problems,
        store=store,
        freshness=freshness,
        coordinator=coordinator,
        writer=writer,
        requests=requests,
        work_location=WorkLocationWriter(
            requests, entry.title, entry.data, coordinator
        ),
    )


@callback
def _entry_changed(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    change: ConfigEntryChange,
    changed: ConfigEntry,
) -> None:
    """Reload when a person is added, removed or renamed; not for a token refresh."""
    if (
        change is not ConfigEntryChange.UPDATED
        or changed is not entry
        or entry.state is not ConfigEntryState.LOADED
    ):
        return
    running = entry.runtime_data.people
    if followed_people(entry) != (running.followed if running else {}):
        hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_unload_entry(
    hass: HomeAssistant, entry: TeamsPresenceConfigEntry
) -> bool:
    """Unload an account; Graph keeps the app session until it expires (no flicker)."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(
    hass: HomeAssistant, entry: TeamsPresenceConfigEntry
) -> None:
    """Forget the wish and the repairs, and clear the app session if asked to."""
    async_delete_issues(hass, entry)
    hass.data.get(GRAPH_WAITS, {}).pop(entry.entry_id, None)
    await wish_store(hass, entry).async_remove()
    await async_end_push(hass, entry, partial(_async_client_only, hass, entry))
    if not entry.options.get(CONF_CLEAR_ON_REMOVE, DEFAULT_CLEAR_ON_REMOVE):
        return
    if await async_end_sessions_landing(hass, entry.entry_id):
        return  # cleared as the write on its way lands, not before it
    try:
        client, session_id = await _async_client(hass, entry)
        await client.clear_presence(session_id)
    except (*FAILURES, HomeAssistantError) as err:
        remedy = FailurePolicy().failed(err, Operation.CLEAN_UP, dt_util.utcnow())
        if remedy.done:
            LOGGER.debug("No app session to clear")
        else:
            LOGGER.warning("Could not clear the Teams app presence: %s", remedy.reason)


async def _async_client_only(
    hass: HomeAssistant, entry: TeamsPresenceConfigEntry
) -> GraphSubscriptionClient:
    return (await _async_client(hass, entry))[0]


async def _async_client(
    hass: HomeAssistant, entry: TeamsPresenceConfigEntry
) -> tuple[GraphSubscriptionClient, str]:
    """Return the Graph client for an entry and its app session id."""
    access = await async_get_account_access(hass, entry)
    client = GraphSubscriptionClient(
        async_get_clientsession(hass),
        access.get_access_token,
        token_refresher=access.refresh_access_token,
        base_url=access.endpoints.graph_url,
        user=access.user,
    )
    return client, access.client_id
