"""Add a person to follow, through the real subentry flow against the emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
    SubentryFlowContext,
    SubentryFlowResult,
)
from homeassistant.const import CONF_CLIENT_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    start_reauth_flow,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.teams_presence_keeper.auth.entry import (
    delegated_scopes,
    lacks_people_consent,
)
from custom_components.teams_presence_keeper.const import (
    CONF_FOLLOW_PEOPLE,
    CONF_INSTANT_UPDATES,
    CONF_TENANT,
    DEFAULT_TENANT,
)
from custom_components.teams_presence_keeper.graph import CLOUD_ENDPOINTS, Cloud
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from graph_emulator.server import RecordedRequest
from tests.colleagues import add_colleagues, follow
from tests.common import reauth_flows, token_granting
from tests.conftest import TOKEN_LIFETIME_SECONDS
from tests.sign_in_helpers import (
    CLIENT_ID,
    async_application_entry,
    async_browser_sign_in,
    async_device_code_entry,
    async_wait_for_device_code,
)

PEOPLE_SCOPES = ("Presence.Read.All", "User.ReadBasic.All")
SIGNED_IN_SCOPES = ("Presence.ReadWrite", "User.Read")


@pytest.fixture
def granted_scopes() -> tuple[str, ...]:
    """What the stored sign-in was granted."""
    return (*SIGNED_IN_SCOPES, *PEOPLE_SCOPES)


@pytest.fixture
def colleagues(emulator: GraphEmulator) -> list[User]:
    """Megan Bowen and Lee Gu, in the account's tenant."""
    return add_colleagues(emulator)


@pytest.fixture
async def account(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    granted_scopes: tuple[str, ...],
    colleagues: list[User],
) -> MockConfigEntry:
    """The browser account, signed in with ``granted_scopes`` and running."""
    token = token_granting(
        emulator,
        config_entry.data["token"],
        granted_scopes,
        timedelta(seconds=TOKEN_LIFETIME_SECONDS),
    )
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": token}
    )
    emulator.default_app.consented_scopes.update(granted_scopes)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


async def start(
    hass: HomeAssistant, entry: ConfigEntry, subentry_id: str | None = None
) -> SubentryFlowResult:
    """Start "Add person", or reconfigure a person, as the entry's page does."""
    context: SubentryFlowContext = {"source": SOURCE_USER}
    if subentry_id is not None:
        context = {"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    return await hass.config_entries.subentries.async_init(
        (entry.entry_id, "person"), context=context
    )


async def configure(
    hass: HomeAssistant, result: SubentryFlowResult, user_input: dict[str, Any]
) -> SubentryFlowResult:
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], user_input
    )
    await hass.async_block_till_done()  # a person added or changed reloads the account
    return result


async def add(
    hass: HomeAssistant, entry: ConfigEntry, query: str
) -> SubentryFlowResult:
    """Start the flow and submit ``query``."""
    result = await start(hass, entry)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await configure(hass, result, {"query": query})


async def add_picked(
    hass: HomeAssistant, entry: ConfigEntry, query: str, person: User
) -> SubentryFlowResult:
    """Search ``query`` and pick ``person`` from the results."""
    result = await add(hass, entry, query)
    assert result["step_id"] == "pick"
    return await configure(hass, result, {"person": person.id})


def people_requests(emulator: GraphEmulator) -> list[RecordedRequest]:
    """Directory searches and lookups, and the bulk presence reads."""
    return [
        r
        for r in emulator.requests
        if r.server == "graph"
        and (
            r.path.startswith("/v1.0/users")
            or r.path == "/v1.0/communications/getPresencesByUserId"
        )
        and r.path != f"/v1.0/users/{emulator.default_user.id}/presence"
    ]


def pick_options(result: SubentryFlowResult) -> list[dict[str, str]]:
    schema = result["data_schema"]
    assert schema is not None
    [selector] = schema.schema.values()
    options: list[dict[str, str]] = selector.config["options"]
    return options


def person_subentries(
    entry: ConfigEntry,
) -> list[tuple[str | None, str, dict[str, Any]]]:
    return [
        (subentry.unique_id, subentry.title, dict(subentry.data))
        for subentry in entry.subentries.values()
        if subentry.subentry_type == "person"
    ]


def stored(person: User) -> dict[str, Any]:
    return {
        "user_id": person.id,
        "display_name": person.display_name,
        "mail": person.upn,
        "user_principal_name": person.upn,
    }


async def test_search_and_pick(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
) -> None:
    megan, _ = colleagues
    emulator.requests.clear()
    result = await add(hass, account, "  Megan ")

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pick"
    assert pick_options(result) == [
        {"value": megan.id, "label": "Megan Bowen (meganb@contoso.example)"}
    ]
    [search] = people_requests(emulator)
    assert (search.method, search.path, search.status) == ("GET", "/v1.0/users", 200)
    assert search.query["$search"] == (
        '"displayName:Megan" OR "mail:Megan" OR "userPrincipalName:Megan"'
    )
    assert search.query["$top"] == "25"
    assert search.headers["ConsistencyLevel"] == "eventual"

    result = await configure(hass, result, {"person": megan.id})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Megan Bowen"
    assert person_subentries(account) == [(megan.id, "Megan Bowen", stored(megan))]
    read = people_requests(emulator)[-1]
    assert (read.path, read.body, read.status) == (
        "/v1.0/communications/getPresencesByUserId",
        {"ids": [megan.id]},
        200,
    )
    assert account.data[CONF_FOLLOW_PEOPLE] is True
    assert account.state is ConfigEntryState.LOADED


async def test_several_found_are_offered_by_name_and_mail(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry
) -> None:
    other = emulator.add_colleague(display_name="Lee Gu", upn="lee.gu@contoso.example")
    result = await add(hass, account, "Lee")
    assert [option["label"] for option in pick_options(result)] == [
        "Lee Gu (leeg@contoso.example)",
        "Lee Gu (lee.gu@contoso.example)",
    ]
    result = await configure(hass, result, {"person": other.id})
    assert person_subentries(account) == [(other.id, "Lee Gu", stored(other))]


async def test_an_email_address_is_looked_up(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
) -> None:
    _, lee = colleagues
    emulator.requests.clear()
    result = await add(hass, account, "LeeG@contoso.example")

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert person_subentries(account) == [(lee.id, "Lee Gu", stored(lee))]
    lookup, read, followed = people_requests(emulator)
    assert (lookup.method, lookup.path, lookup.status) == (
        "GET",
        "/v1.0/users/LeeG@contoso.example",
        200,
    )
    assert read.body == {"ids": [lee.id]}
    assert followed.body == {"ids": [lee.id]}  # the reloaded account follows Lee


@pytest.mark.parametrize("query", ["Nobody", "nobody@contoso.example"])
async def test_nobody_found(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry, query: str
) -> None:
    result = await add(hass, account, query)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "person_not_found"}
    assert [r.status for r in people_requests(emulator)] == [
        200 if "@" not in query else 404
    ]
    assert person_subentries(account) == []


@pytest.mark.parametrize("query", ["Adele", "AdeleV@contoso.example"])
async def test_the_accounts_own_user_is_refused(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry, query: str
) -> None:
    assert emulator.default_user.upn.lower() == query.lower() or "@" not in query
    result = await add(hass, account, query)
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "own_account"}
    assert person_subentries(account) == []


@pytest.mark.parametrize("second", ["Megan", "meganb@contoso.example"])
async def test_someone_followed_already(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
    second: str,
) -> None:
    megan, _ = colleagues
    assert (await add(hass, account, "meganb@contoso.example"))["type"] is (
        FlowResultType.CREATE_ENTRY
    )
    result = await add(hass, account, second)
    if result["type"] is FlowResultType.FORM:
        result = await configure(hass, result, {"person": megan.id})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(person_subentries(account)) == 1


async def test_graph_down(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry
) -> None:
    emulator.fail(1, 503)
    result = await add(hass, account, "Megan")
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "cannot_connect"}
    assert result["description_placeholders"] is not None
    assert "ServiceUnavailable" in result["description_placeholders"]["reason"]

    await emulator.refuse_connections()
    result = await configure(hass, result, {"query": "Megan"})
    assert result["errors"] == {"base": "cannot_connect"}

    await emulator.accept_connections()
    result = await configure(hass, result, {"query": "Megan"})
    assert result["step_id"] == "pick"


async def test_not_loaded(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    result = await start(hass, config_entry)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"
    assert result["description_placeholders"] == {
        "account": "Adele Vance",
        "scopes": "Presence.Read.All, User.ReadBasic.All",
        "permissions": "Presence.Read.All, User.Read.All",
        "reason": "",
        "most": "649",
        "people": "0",
    }


@pytest.mark.parametrize("granted_scopes", [SIGNED_IN_SCOPES])
async def test_missing_consent_asks_to_sign_in_again_then_works(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
    hass_client_no_auth: ClientSessionGenerator,
    current_request_with_host: None,
) -> None:
    megan, _ = colleagues
    emulator.requests.clear()
    result = await start(hass, account)

    assert result["step_id"] == "consent"
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["scopes"] == (
        "Presence.Read.All, User.ReadBasic.All"
    )
    assert people_requests(emulator) == []  # known to be refused: not asked
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "consent_asked"
    assert account.data[CONF_FOLLOW_PEOPLE] is True

    [reauth] = reauth_flows(hass)
    assert reauth["step_id"] == "reauth_people"
    emulator.default_app.consented_scopes.update(PEOPLE_SCOPES)  # the user accepts
    reauth = await hass.config_entries.flow.async_configure(reauth["flow_id"], {})
    reauth = await hass.config_entries.flow.async_configure(
        reauth["flow_id"], {CONF_TENANT: DEFAULT_TENANT}
    )
    asked = parse_qs(urlsplit(reauth["url"]).query)["scope"][0].split()
    assert {*SIGNED_IN_SCOPES, *PEOPLE_SCOPES} <= set(asked)
    reauth = await async_browser_sign_in(hass, hass_client_no_auth, reauth)
    await hass.async_block_till_done()
    assert reauth["reason"] == "reauth_successful"
    assert account.data[CONF_FOLLOW_PEOPLE] is True
    assert account.state is ConfigEntryState.LOADED

    result = await add_picked(hass, account, "Megan", megan)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert person_subentries(account) == [(megan.id, "Megan Bowen", stored(megan))]


async def test_graphs_refusal_asks_for_consent_when_the_sign_in_names_no_scopes(
    hass: HomeAssistant, emulator: GraphEmulator, config_entry: MockConfigEntry
) -> None:
    """The stored token does not say what it grants: Graph's 403 does."""
    add_colleagues(emulator)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    result = await start(hass, config_entry)
    assert result["step_id"] == "user"
    result = await configure(hass, result, {"query": "Megan"})

    assert [r.status for r in people_requests(emulator)] == [403]
    assert result["step_id"] == "consent"
    result = await configure(hass, result, {})
    assert result["reason"] == "consent_asked"
    assert [flow["step_id"] for flow in reauth_flows(hass)] == ["reauth_confirm"]


@pytest.mark.parametrize("granted_scopes", [(*SIGNED_IN_SCOPES, "User.ReadBasic.All")])
async def test_a_missing_presence_permission_is_found_before_saving(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry
) -> None:
    """Found by lookup, but unreadable: consent first, not a person never read."""
    emulator.default_app.consented_scopes.add("Presence.Read.All")
    account_data = {**account.data}
    account_data["token"] = {**account_data["token"], "scope": ""}
    hass.config_entries.async_update_entry(account, data=account_data)

    result = await add(hass, account, "meganb@contoso.example")

    assert [(r.path, r.status) for r in people_requests(emulator)][-1] == (
        "/v1.0/communications/getPresencesByUserId",
        403,
    )
    assert result["step_id"] == "consent"
    assert person_subentries(account) == []


@pytest.mark.usefixtures("enable_custom_integrations", "sign_in_guards")
@pytest.mark.parametrize("entries_set_up_for_real", [True])
@pytest.mark.parametrize(
    ("roles", "error"),
    [
        ({"Presence.ReadWrite.All", "User.Read.All"}, None),
        ({"Presence.Read.All", "User.Read.All"}, None),
        ({"Presence.ReadWrite.All"}, "missing_app_permission"),
    ],
)
async def test_application_account(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    roles: set[str],
    error: str | None,
) -> None:
    """No consent step: a 403 says which application permissions to grant."""
    megan, _ = add_colleagues(emulator)
    entry = await async_application_entry(hass, emulator)
    await hass.async_block_till_done()
    emulator.default_app.app_roles = roles
    assert await hass.config_entries.async_reload(entry.entry_id)  # a new app token
    await hass.async_block_till_done()

    result = await add(hass, entry, "Megan")

    if error is None:
        assert result["step_id"] == "pick"
        result = await configure(hass, result, {"person": megan.id})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert person_subentries(entry) == [(megan.id, "Megan Bowen", stored(megan))]
        assert CONF_FOLLOW_PEOPLE not in entry.data
        return
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["permissions"] == (
        "Presence.Read.All, User.Read.All"
    )
    assert [(r.path, r.status) for r in people_requests(emulator)][-1] == (
        "/v1.0/users",
        403,
    )
    assert reauth_flows(hass) == []


async def test_reconfigure_picks_someone_else(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
) -> None:
    _, lee = colleagues
    await add(hass, account, "meganb@contoso.example")
    [subentry_id] = account.subentries

    result = await start(hass, account, subentry_id)
    assert result["step_id"] == "reconfigure"
    assert result["data_schema"] is not None
    [query] = result["data_schema"].schema
    assert query.description == {"suggested_value": "meganb@contoso.example"}
    result = await configure(hass, result, {"query": "Lee"})
    result = await configure(hass, result, {"person": lee.id})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert person_subentries(account) == [(lee.id, "Lee Gu", stored(lee))]


async def test_reconfigure_the_same_person_keeps_a_rename(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    account: MockConfigEntry,
    colleagues: list[User],
) -> None:
    megan, _ = colleagues
    await add(hass, account, "meganb@contoso.example")
    [subentry] = account.subentries.values()
    hass.config_entries.async_update_subentry(account, subentry, title="The boss")
    await hass.async_block_till_done()  # renamed: the account reloads
    megan.display_name = "Megan Bowen-Smith"

    result = await start(hass, account, subentry.subentry_id)
    result = await configure(hass, result, {"query": "meganb@contoso.example"})

    assert result["reason"] == "reconfigure_successful"
    assert person_subentries(account) == [
        (megan.id, "The boss", stored(megan) | {"display_name": "Megan Bowen-Smith"})
    ]


async def test_person_subentries_are_renamed_reconfigured_and_removed_by_home_assistant(
    hass: HomeAssistant, account: MockConfigEntry
) -> None:
    assert account.supported_subentry_types == {
        "person": {"supports_reconfigure": True}
    }
    await add(hass, account, "meganb@contoso.example")
    [subentry_id] = account.subentries
    assert hass.config_entries.async_remove_subentry(account, subentry_id)
    assert person_subentries(account) == []


@pytest.mark.parametrize(
    ("cloud", "instant_updates", "people", "expected"),
    [
        (Cloud.GLOBAL, False, False, ["Presence.ReadWrite", "User.Read"]),
        (
            Cloud.GLOBAL,
            False,
            True,
            [
                "Presence.ReadWrite",
                "User.Read",
                "Presence.Read.All",
                "User.ReadBasic.All",
            ],
        ),
        (
            Cloud.GLOBAL,
            True,
            True,
            [
                "Presence.ReadWrite",
                "User.Read",
                "Presence.Read.All",
                "User.ReadBasic.All",
            ],
        ),
        (
            Cloud.US_GOVERNMENT,
            False,
            True,
            [
                "https://graph.microsoft.us/Presence.ReadWrite",
                "https://graph.microsoft.us/User.Read",
                "https://graph.microsoft.us/Presence.Read.All",
                "https://graph.microsoft.us/User.ReadBasic.All",
            ],
        ),
    ],
)
def test_delegated_scopes_for_people(
    cloud: Cloud, instant_updates: bool, people: bool, expected: list[str]
) -> None:
    assert (
        delegated_scopes(
            CLOUD_ENDPOINTS[cloud], instant_updates=instant_updates, people=people
        )
        == expected
    )


@pytest.mark.usefixtures("sign_in_guards")
async def test_device_code_sign_in_again_asks_for_the_people_permissions(
    hass: HomeAssistant, emulator: GraphEmulator
) -> None:
    entry = await async_device_code_entry(hass, emulator)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_FOLLOW_PEOPLE: True}
    )
    assert lacks_people_consent(entry)
    emulator.default_app.consented_scopes.update(PEOPLE_SCOPES)
    emulator.requests.clear()

    result = await start_reauth_flow(hass, entry)
    assert result["step_id"] == "reauth_people"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TENANT: DEFAULT_TENANT, CONF_CLIENT_ID: CLIENT_ID}
    )
    result = await async_wait_for_device_code(hass, result)

    assert result["reason"] == "reauth_successful"
    [device_code] = [r for r in emulator.requests if r.path.endswith("/devicecode")]
    assert set(PEOPLE_SCOPES) <= set(device_code.body["scope"].split())
    assert not lacks_people_consent(entry)


async def test_graphs_wait_holds_the_search_and_the_account(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry
) -> None:
    """A 429 to a search makes the account wait too, and nothing is sent meanwhile."""
    emulator.throttle(1, retry_after=120)
    result = await add(hass, account, "Megan")
    assert result["errors"] == {"base": "cannot_connect"}

    emulator.requests.clear()
    result = await configure(hass, result, {"query": "Megan"})
    assert result["errors"] == {"base": "cannot_connect"}
    await account.runtime_data.coordinator.async_refresh()
    assert [r.path for r in emulator.requests if r.server == "graph"] == []


async def test_the_sign_in_service_down_is_said_in_words_not_a_message_key(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry
) -> None:
    """A sign-in failure carries a message key: the form says it, not the key."""
    hass.config_entries.async_update_entry(
        account,
        data={**account.data, "token": {**account.data["token"], "expires_at": 0}},
    )
    emulator.throttle_sign_in(1, status=503)
    result = await add(hass, account, "Megan")

    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "sign_in_unavailable"}
    assert result["description_placeholders"] is not None
    assert "sign_in_unavailable" not in result["description_placeholders"].values()
    assert not people_requests(emulator)


async def test_an_account_removed_while_picking_ends_the_flow(
    hass: HomeAssistant, account: MockConfigEntry, colleagues: list[User]
) -> None:
    megan, _ = colleagues
    result = await add(hass, account, "Megan")
    assert result["step_id"] == "pick"
    assert await hass.config_entries.async_remove(account.entry_id)

    result = await configure(hass, result, {"person": megan.id})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"


@pytest.mark.parametrize("granted_scopes", [SIGNED_IN_SCOPES])
async def test_an_account_removed_before_consent_ends_the_flow(
    hass: HomeAssistant, account: MockConfigEntry
) -> None:
    result = await start(hass, account)
    assert result["step_id"] == "consent"
    assert await hass.config_entries.async_remove(account.entry_id)

    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"
    assert reauth_flows(hass) == []


@pytest.mark.parametrize("query", ["", "   ", '"', '" "'])
async def test_nothing_to_search_for_asks_again_without_blaming_graph(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry, query: str
) -> None:
    emulator.requests.clear()
    result = await add(hass, account, query)
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "person_not_found"}
    assert people_requests(emulator) == []


async def test_a_sign_in_gone_ends_the_flow_and_asks_for_it(
    hass: HomeAssistant, emulator: GraphEmulator, account: MockConfigEntry
) -> None:
    """The abort says to sign in again from the integration's page: it is asked there."""
    emulator.revoke_access_tokens()
    result = await add(hass, account, "Megan")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "sign_in_again"
    await hass.async_block_till_done()
    assert reauth_flows(hass)


def many_colleagues(emulator: GraphEmulator, count: int) -> list[User]:
    """``count`` more colleagues in the account's tenant."""
    return [
        emulator.add_colleague(
            display_name=f"Colleague {n:04d}", upn=f"colleague{n:04d}@contoso.example"
        )
        for n in range(count)
    ]


async def follow_and_start(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    entry: MockConfigEntry,
    count: int,
    *,
    instant_updates: bool,
) -> None:
    """Run ``entry`` following ``count`` people, with Instant updates as given."""
    follow(hass, emulator, entry, many_colleagues(emulator, count))
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_INSTANT_UPDATES: instant_updates}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_instant_updates_follows_649_people_at_most(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    colleagues: list[User],
) -> None:
    """The 650th person would be left out of the account's one subscription.

    Graph names at most 650 ids in it, and the account's own is one: "Add person"
    says so before anything is searched.
    """
    await follow_and_start(hass, emulator, config_entry, 649, instant_updates=True)
    sent = len(people_requests(emulator))

    result = await start(hass, config_entry)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "instant_updates_full"
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["most"] == "649"
    assert len(people_requests(emulator)) == sent
    assert len(person_subentries(config_entry)) == 649


async def test_someone_added_meanwhile_fills_instant_updates(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    colleagues: list[User],
) -> None:
    """A flow opened at 648 people ends when another added the 649th meanwhile."""
    await follow_and_start(hass, emulator, config_entry, 648, instant_updates=True)
    megan, lee = colleagues
    opened = await start(hass, config_entry)
    assert opened["type"] is FlowResultType.FORM

    assert (await add_picked(hass, config_entry, "Lee", lee))["type"] is (
        FlowResultType.CREATE_ENTRY
    )
    result = await configure(hass, opened, {"query": megan.upn})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "instant_updates_full"
    assert megan.id not in {
        user_id for user_id, _, _ in person_subentries(config_entry)
    }
    assert len(person_subentries(config_entry)) == 649


async def test_without_instant_updates_650_people_and_more_are_followed(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    colleagues: list[User],
) -> None:
    """Polled, everyone is read in batches of 650: no limit from the subscription."""
    await follow_and_start(hass, emulator, config_entry, 650, instant_updates=False)
    megan, _ = colleagues

    result = await add(hass, config_entry, megan.upn)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(person_subentries(config_entry)) == 651


@pytest.mark.parametrize(
    ("count", "instant_updates", "error"),
    [
        (650, True, "instant_updates_too_many_people"),
        (649, True, None),
        (650, False, None),
    ],
)
async def test_instant_updates_is_refused_while_too_many_are_followed(
    hass: HomeAssistant,
    emulator: GraphEmulator,
    config_entry: MockConfigEntry,
    count: int,
    instant_updates: bool,
    error: str | None,
) -> None:
    """Turning Instant updates on at 650 people says why, and changes nothing."""
    await follow_and_start(hass, emulator, config_entry, count, instant_updates=False)
    before = dict(config_entry.options)

    form = await hass.config_entries.options.async_init(config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        form["flow_id"], {**before, CONF_INSTANT_UPDATES: instant_updates}
    )
    await hass.async_block_till_done()

    if error is None:
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert config_entry.options[CONF_INSTANT_UPDATES] is instant_updates
        return
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"] is not None
    assert result["description_placeholders"]["people"] == "650"
    assert result["description_placeholders"]["most"] == "649"
    assert dict(config_entry.options) == before
