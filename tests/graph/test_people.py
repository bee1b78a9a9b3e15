"""Other people through the client: bulk presence reads and the directory, over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import uuid

from aiohttp import ClientSession
import pytest

from custom_components.teams_presence_keeper.graph import (
    MAX_PRESENCE_IDS,
    Activity,
    Availability,
    DirectoryPerson,
    GraphNotFoundError,
    GraphPermissionError,
    GraphPresenceClient,
    GraphServerError,
    GraphThrottledError,
    GraphValidationError,
    PresenceBatch,
    presence_id_batches,
)
from custom_components.teams_presence_keeper.remedies import Failure, classify
from graph_emulator import GraphEmulator
from graph_emulator.presence import User
from tests.contract.conftest import DocumentedGraph

A, B, C = (str(uuid.UUID(int=n)) for n in (1, 2, 3))


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


def client_with(
    emulator: GraphEmulator, http: ClientSession, token: str
) -> GraphPresenceClient:
    async def token_provider() -> str:
        return token

    return GraphPresenceClient(http, token_provider, base_url=emulator.graph_url)


@pytest.fixture
def reader(emulator: GraphEmulator, http: ClientSession) -> GraphPresenceClient:
    """A delegated client that may read everyone's presence and look people up."""
    scopes = ("Presence.Read.All", "User.ReadBasic.All")
    return client_with(emulator, http, emulator.issue_token(scopes=scopes))


@pytest.fixture
def megan(emulator: GraphEmulator) -> User:
    megan = emulator.add_colleague(
        display_name="Megan Bowen",
        upn="meganb@contoso.example",
        availability="Busy",
        activity="InACall",
    )
    emulator.set_out_of_office(True, "Back Monday", user=megan)
    return megan


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([], []),
        ([A], [[A]]),
        ([A, B, A.upper(), C, B], [[A, B, C]]),
        (
            [str(uuid.UUID(int=n)) for n in range(650)],
            [[str(uuid.UUID(int=n)) for n in range(650)]],
        ),
        (
            [str(uuid.UUID(int=n)) for n in range(1301)],
            [
                [str(uuid.UUID(int=n)) for n in range(650)],
                [str(uuid.UUID(int=n)) for n in range(650, 1300)],
                [str(uuid.UUID(int=1300))],
            ],
        ),
    ],
)
def test_ids_split_into_batches_graph_takes(
    ids: list[str], expected: list[list[str]]
) -> None:
    """Each id once (the first spelling), in order, at most 650 a batch."""
    assert presence_id_batches(ids) == expected
    assert all(len(batch) <= MAX_PRESENCE_IDS for batch in expected)


async def test_a_batch_reads_each_person_and_names_the_missing(
    reader: GraphPresenceClient, emulator: GraphEmulator, megan: User
) -> None:
    me, nobody = emulator.default_user.id, str(uuid.uuid4())
    batch = await reader.get_presences([megan.id.upper(), nobody, me])
    [call] = emulator.graph_calls("getPresencesByUserId")
    assert call.body == {"ids": [megan.id.upper(), nobody, me]}
    assert isinstance(batch, PresenceBatch)
    assert batch.missing == frozenset({nobody})
    assert set(batch.presences) == {megan.id.upper(), me}
    read = batch.presences[megan.id.upper()]
    assert (read.availability, read.activity) == (Availability.BUSY, Activity.IN_A_CALL)
    assert (read.out_of_office, read.out_of_office_message) == (True, "Back Monday")
    assert read.work_location is not None
    assert read.sequence_number is not None
    mine = batch.presences[me]
    assert (mine.availability, mine.activity) == (
        Availability.OFFLINE,
        Activity.OFFLINE,
    )


@pytest.mark.parametrize(
    ("ids", "code"),
    [
        ([str(uuid.UUID(int=n)) for n in range(651)], "too_many_ids"),
        ([A, "meganb@contoso.example"], "invalid_object_id"),
        ([A, "x') or ('"], "invalid_object_id"),
    ],
)
async def test_what_graph_would_refuse_is_refused_before_sending(
    reader: GraphPresenceClient, emulator: GraphEmulator, ids: list[str], code: str
) -> None:
    with pytest.raises(GraphValidationError) as refused:
        await reader.get_presences(ids)
    assert refused.value.code == code
    assert emulator.graph_calls("getPresencesByUserId") == []


async def test_no_ids_no_request(
    reader: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    assert await reader.get_presences([]) == PresenceBatch({}, frozenset())
    assert emulator.graph_calls("getPresencesByUserId") == []


async def test_bulk_read_refusals_are_typed(
    emulator: GraphEmulator, http: ClientSession, megan: User
) -> None:
    own_only = client_with(
        emulator, http, emulator.issue_token(scopes=("Presence.Read",))
    )
    with pytest.raises(GraphPermissionError) as refused:
        await own_only.get_presences([megan.id])
    assert classify(refused.value) is Failure.MISSING_PERMISSION

    app = client_with(
        emulator, http, emulator.issue_app_token(roles=("Presence.Read.All",))
    )
    assert set((await app.get_presences([megan.id])).presences) == {megan.id}
    emulator.presence_rate_limit.limit = 1
    with pytest.raises(GraphThrottledError) as throttled:
        await app.get_presences([megan.id])
    assert throttled.value.retry_after == 30.0


async def test_find_a_person_by_id_or_e_mail(
    reader: GraphPresenceClient, emulator: GraphEmulator, megan: User
) -> None:
    expected = DirectoryPerson(
        megan.id, "Megan Bowen", "meganb@contoso.example", "meganb@contoso.example"
    )
    assert await reader.find_person(megan.id) == expected
    assert await reader.find_person(" MeganB@Contoso.example ") == expected
    [by_mail] = emulator.graph_calls("MeganB@Contoso.example")
    assert by_mail.query == {"$select": "id,displayName,mail,userPrincipalName"}
    with pytest.raises(GraphNotFoundError):
        await reader.find_person("nobody@contoso.example")
    with pytest.raises(GraphValidationError):
        await reader.find_person("  ")


async def test_finding_someone_else_needs_more_than_user_read(
    emulator: GraphEmulator, http: ClientSession, megan: User
) -> None:
    own_only = client_with(emulator, http, emulator.issue_token(scopes=("User.Read",)))
    assert (await own_only.find_person(emulator.default_user.upn)).id == (
        emulator.default_user.id
    )
    with pytest.raises(GraphPermissionError):
        await own_only.find_person(megan.id)
    with pytest.raises(GraphPermissionError):
        await own_only.search_people("meg")


async def test_search_people_by_name_or_mail(
    reader: GraphPresenceClient, emulator: GraphEmulator, megan: User
) -> None:
    found = await reader.search_people('  Meg" \\ ', limit=5)
    assert [person.id for person in found] == [megan.id]
    [call] = [r for r in emulator.requests if r.path == "/v1.0/users"]
    assert call.query == {
        "$search": '"displayName:Meg" OR "mail:Meg" OR "userPrincipalName:Meg"',
        "$select": "id,displayName,mail,userPrincipalName",
        "$top": "5",
    }
    assert call.status == 200  # with ConsistencyLevel: eventual, or Graph says 400
    assert [p.display_name for p in await reader.search_people("adelev@")] == [
        "Adele Vance"
    ]
    assert await reader.search_people("zzz") == []


@pytest.mark.parametrize(
    ("text", "limit"), [("", 5), (' " ', 5), ("meg", 0), ("meg", 1000)]
)
async def test_search_refused_before_sending(
    reader: GraphPresenceClient, emulator: GraphEmulator, text: str, limit: int
) -> None:
    with pytest.raises(GraphValidationError):
        await reader.search_people(text, limit=limit)
    assert not [r for r in emulator.requests if r.path == "/v1.0/users"]


@pytest.mark.parametrize(
    ("operation", "body", "code"),
    [
        ("presences", {"value": {"id": A}}, "malformed_presences"),
        ("presences", {"value": ["Busy"]}, "malformed_presences"),
        (
            "presences",
            {"value": [{"id": A, "availability": None, "activity": "Busy"}]},
            "malformed_presence",
        ),
        ("presences", {}, "malformed_presences"),
        ("search", {"value": [{"displayName": "No id"}]}, "malformed_user"),
        ("search", {"value": ["Megan"]}, "malformed_user"),
        ("search", {"value": None}, "malformed_users"),
        ("find", {"displayName": "No id"}, "malformed_user"),
    ],
)
async def test_answers_of_the_wrong_shape_are_graph_s_failure(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
    operation: str,
    body: object,
    code: str,
) -> None:
    graph, client = documented_graph
    graph.body = body
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "presences": lambda: client.get_presences([A]),
        "search": lambda: client.search_people("meg"),
        "find": lambda: client.find_person(A),
    }
    with pytest.raises(GraphServerError) as failed:
        await calls[operation]()
    assert failed.value.code == code


@pytest.mark.parametrize(
    "answer",
    [
        [("Busy", "0000000002"), ("Available", "0000000001")],
        [("Available", "0000000001"), ("Busy", "0000000002")],
    ],
)
async def test_a_person_answered_twice_shows_the_newer_presence(
    documented_graph: tuple[DocumentedGraph, GraphPresenceClient],
    answer: list[tuple[str, str]],
) -> None:
    """Graph stamps each presence: the older of two for one person is not shown."""
    graph, client = documented_graph
    graph.body = {
        "value": [
            {
                "id": A.upper() if n else A,
                "availability": availability,
                "activity": availability,
                "sequenceNumber": stamp,
            }
            for n, (availability, stamp) in enumerate(answer)
        ]
    }
    batch = await client.get_presences([A])
    assert batch.presences[A].availability is Availability.BUSY
    assert batch.missing == frozenset()
