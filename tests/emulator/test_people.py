"""Other people on the emulator: bulk presence reads, the directory, throttling.

Each refusal is one Graph documents ("cloudCommunications: getPresencesByUserId",
"List users", "Get user", "Advanced query capabilities on Microsoft Entra ID
objects", the presence rate limit), shown by the status and code that come back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
import uuid

import aiohttp
import pytest

from graph_emulator import GraphEmulator
from graph_emulator.presence import User

from .conftest import Answer, FakeClock, GraphClient

BULK = "/communications/getPresencesByUserId"
SEARCH = '/users?$search="displayName:meg"'
EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.fixture
def megan(emulator: GraphEmulator) -> User:
    return emulator.add_colleague(
        display_name="Megan Bowen",
        upn="meganb@contoso.example",
        availability="Busy",
        activity="InACall",
    )


@pytest.fixture
def stranger(emulator: GraphEmulator) -> User:
    """Someone of another tenant: never visible from Contoso."""
    other = emulator.add_user(
        display_name="Megan Other",
        upn="megan@fabrikam.example",
        tenant_id=str(uuid.uuid4()),
    )
    emulator.set_client_session("teams", "Available", "Available", user=other)
    return other


def delegated(
    session: aiohttp.ClientSession, emulator: GraphEmulator, *scopes: str
) -> GraphClient:
    return GraphClient(session, emulator.issue_token(scopes=scopes))


def application(
    session: aiohttp.ClientSession, emulator: GraphEmulator, *roles: str
) -> GraphClient:
    return GraphClient(session, emulator.issue_app_token(roles=roles))


def holding(
    session: aiohttp.ClientSession, emulator: GraphEmulator, kind: str, permission: str
) -> GraphClient:
    """A client whose token grants `permission` alone, delegated or application."""
    issue = delegated if kind == "delegated" else application
    return issue(session, emulator, permission)


async def bulk_read(client: GraphClient, ids: Iterable[str]) -> Answer:
    return await client.post(BULK, {"ids": list(ids)})


# getPresencesByUserId


@pytest.mark.parametrize(
    ("kind", "permission", "status"),
    [
        ("delegated", "Presence.Read.All", 200),
        ("delegated", "Presence.Read", 403),
        ("delegated", "Presence.ReadWrite", 403),
        ("delegated", "User.ReadBasic.All", 403),
        ("application", "Presence.Read.All", 200),
        ("application", "Presence.ReadWrite.All", 200),
        ("application", "User.Read.All", 403),
    ],
)
async def test_bulk_read_permissions(
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    megan: User,
    kind: str,
    permission: str,
    status: int,
) -> None:
    """Delegated: Presence.Read.All only ("Higher privileged: Not available")."""
    answer = await bulk_read(holding(session, emulator, kind, permission), [megan.id])
    assert answer.status == status
    if status == 403:
        assert answer.body["error"]["code"] == "Forbidden"


async def test_bulk_read_answers_each_known_person_and_leaves_out_the_rest(
    session: aiohttp.ClientSession, emulator: GraphEmulator, megan: User, stranger: User
) -> None:
    reader = delegated(session, emulator, "Presence.Read.All")
    unknown = str(uuid.uuid4())
    me = emulator.default_user.id
    answer = await bulk_read(reader, [megan.id.upper(), unknown, me, stranger.id, me])
    assert answer.status == 200
    assert [
        (p["id"], p["availability"], p["activity"]) for p in answer.body["value"]
    ] == [
        (megan.id, "Busy", "InACall"),
        (me, "Offline", "Offline"),
    ]
    assert set(answer.body["value"][0]) >= {"statusMessage", "outOfOfficeSettings"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ids": [str(uuid.uuid4()) for _ in range(651)]}, "must not exceed 650"),
        ({"ids": []}, "empty"),
        ({"ids": ["meganb@contoso.example"]}, "not a valid GUID"),
        ({"ids": [42]}, "list of user ids"),
        ({"userIds": []}, "list of user ids"),
        (["not", "an", "object"], "list of user ids"),
    ],
)
async def test_bulk_read_refusals(
    session: aiohttp.ClientSession, emulator: GraphEmulator, body: object, message: str
) -> None:
    reader = delegated(session, emulator, "Presence.Read.All")
    answer = await reader.post(BULK, body)
    assert (answer.status, answer.body["error"]["code"]) == (400, "BadRequest")
    assert message in answer.body["error"]["message"]


async def test_650_ids_are_read(
    session: aiohttp.ClientSession, emulator: GraphEmulator, megan: User
) -> None:
    ids = [megan.id, *(str(uuid.uuid4()) for _ in range(649))]
    answer = await bulk_read(delegated(session, emulator, "Presence.Read.All"), ids)
    assert (answer.status, len(answer.body["value"])) == (200, 1)


async def test_a_colleague_s_presence_changes_and_they_can_leave(
    session: aiohttp.ClientSession, emulator: GraphEmulator, megan: User
) -> None:
    reader = delegated(session, emulator, "Presence.Read.All")
    emulator.set_client_session("teams", "Away", "Away", user=megan)
    [read] = (await bulk_read(reader, [megan.id])).body["value"]
    assert (read["availability"], read["activity"]) == ("Away", "Away")
    emulator.remove_user(megan)
    assert (await bulk_read(reader, [megan.id])).body["value"] == []
    lookup = await delegated(session, emulator, "User.ReadBasic.All").get(
        f"/users/{megan.id}"
    )
    assert lookup.status == 404


# Throttling: 1,500 presence requests per 30 s per application per tenant


async def test_presence_requests_are_throttled_per_app_and_tenant(
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    clock: FakeClock,
    megan: User,
) -> None:
    emulator.presence_rate_limit.limit = 3
    reader = delegated(
        session, emulator, "Presence.Read.All", "Presence.ReadWrite", "User.Read"
    )
    assert (await reader.get("/me/presence")).status == 200
    clock.advance(seconds=10)
    assert (await bulk_read(reader, [megan.id])).status == 200
    assert (
        await reader.get(f"/users/{emulator.default_user.id}/presence")
    ).status == 200
    clock.advance(seconds=5)
    throttled = await bulk_read(reader, [megan.id])
    assert throttled.status == 429
    assert throttled.body["error"]["code"] == "TooManyRequests"
    assert throttled.headers["Retry-After"] == "15"  # the first leaves the window then

    other_app = emulator.add_app(client_id=str(uuid.uuid4()))
    other = GraphClient(
        session, emulator.issue_token(scopes=("Presence.Read.All",), app=other_app)
    )
    assert (await bulk_read(other, [megan.id])).status == 200  # its own budget
    assert (await reader.get("/me")).status == 200  # not a presence request

    clock.advance(seconds=15)
    assert (await bulk_read(reader, [megan.id])).status == 200


async def test_the_default_limit_is_graph_s() -> None:
    emulator = GraphEmulator()
    assert (
        emulator.presence_rate_limit.limit,
        emulator.presence_rate_limit.window,
    ) == (
        1500,
        timedelta(seconds=30),
    )


# The directory: GET /users?$search and GET /users/{id | userPrincipalName}


@pytest.mark.parametrize(
    ("kind", "permission", "status"),
    [
        ("delegated", "User.ReadBasic.All", 200),
        ("delegated", "User.Read.All", 200),
        ("delegated", "Directory.Read.All", 200),
        ("delegated", "User.Read", 403),
        ("delegated", "Presence.Read.All", 403),
        ("application", "User.Read.All", 200),
        ("application", "Directory.Read.All", 200),
        ("application", "User.ReadBasic.All", 403),
    ],
)
async def test_search_permissions(
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    megan: User,
    kind: str,
    permission: str,
    status: int,
) -> None:
    client = holding(session, emulator, kind, permission)
    answer = await client.request("GET", SEARCH, headers=EVENTUAL)
    assert answer.status == status


async def test_search_needs_consistency_level_eventual(
    session: aiohttp.ClientSession, emulator: GraphEmulator, megan: User
) -> None:
    searcher = delegated(session, emulator, "User.ReadBasic.All")
    answer = await searcher.get(SEARCH)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "Request_UnsupportedQuery"
    assert "ConsistencyLevel: eventual" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ('"displayName:meg"', ["Megan Bowen"]),
        ('"displayName:bow"', ["Megan Bowen"]),
        ('"displayName:egan"', []),
        ('"mail:meganb@contoso"', ["Megan Bowen"]),
        ('"displayName:adele" OR "mail:meganb"', ["Adele Vance", "Megan Bowen"]),
        ('"displayName:adele" AND "mail:meganb"', []),
        ('"userPrincipalName:adelev"', ["Adele Vance"]),
    ],
)
async def test_search_matches_words_that_start_so_in_the_tenant(
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    megan: User,
    stranger: User,
    search: str,
    found: list[str],
) -> None:
    searcher = delegated(session, emulator, "User.ReadBasic.All")
    answer = await searcher.request(
        "GET", f"/users?$search={search}&$select=id,displayName", headers=EVENTUAL
    )
    assert answer.status == 200
    assert [user["displayName"] for user in answer.body["value"]] == found
    assert all(set(user) == {"id", "displayName"} for user in answer.body["value"])


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('$search="meg"', "Request_UnsupportedQuery"),
        ("$search=meg", "Request_UnsupportedQuery"),
        ('$search="jobTitle:boss"', "Request_UnsupportedQuery"),
        (
            '$search="displayName:a" OR "mail:b" AND "mail:c"',
            "Request_UnsupportedQuery",
        ),
        ('$search="displayName:meg"&$top=1000', "Request_UnsupportedQuery"),
        ('$search="displayName:meg"&$select=id,password', "BadRequest"),
    ],
)
async def test_search_refusals(
    session: aiohttp.ClientSession, emulator: GraphEmulator, query: str, code: str
) -> None:
    searcher = delegated(session, emulator, "User.ReadBasic.All")
    answer = await searcher.request("GET", f"/users?{query}", headers=EVENTUAL)
    assert (answer.status, answer.body["error"]["code"]) == (400, code)


@pytest.mark.parametrize(
    ("kind", "permission", "status"),
    [
        ("delegated", "User.ReadBasic.All", 200),
        ("delegated", "User.Read.All", 200),
        ("delegated", "User.Read", 403),
        ("application", "User.Read.All", 200),
        ("application", "User.ReadBasic.All", 403),
    ],
)
async def test_lookup_of_someone_else(
    session: aiohttp.ClientSession,
    emulator: GraphEmulator,
    megan: User,
    kind: str,
    permission: str,
    status: int,
) -> None:
    """User.Read reaches the signed-in user only ("Get user")."""
    client = holding(session, emulator, kind, permission)
    for key in (megan.id, "MeganB@contoso.example"):
        answer = await client.get(f"/users/{key}?$select=id,displayName,mail")
        assert answer.status == status
        if status == 200:
            assert answer.body == {
                "id": megan.id,
                "displayName": "Megan Bowen",
                "mail": "meganb@contoso.example",
            }


async def test_lookup_of_oneself_needs_only_user_read(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    me = emulator.default_user
    answer = await delegated(session, emulator, "User.Read").get(f"/users/{me.upn}")
    assert (answer.status, answer.body["id"]) == (200, me.id)


@pytest.mark.parametrize("key", ["nobody@contoso.example", "megan@fabrikam.example"])
async def test_lookup_of_nobody_in_the_tenant_is_404(
    session: aiohttp.ClientSession, emulator: GraphEmulator, stranger: User, key: str
) -> None:
    answer = await delegated(session, emulator, "User.ReadBasic.All").get(
        f"/users/{key}"
    )
    assert answer.status == 404
