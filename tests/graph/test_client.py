"""Every client operation and error class, over real HTTP against the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import ClientSession
import pytest

from custom_components.teams_presence_keeper.graph import (
    AppPresence,
    Availability,
    GraphAuthenticationError,
    GraphConnectionError,
    GraphError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphPresenceClient,
    GraphServerError,
    GraphThrottledError,
    GraphValidationError,
    PreferredPresence,
    WorkLocation,
    WorkLocationLayer,
    WorkLocationSource,
    WorkLocationType,
    WorkLocationUpdate,
)
from custom_components.teams_presence_keeper.graph.clouds import Cloud
from custom_components.teams_presence_keeper.graph.fields import MalformedPresenceError
from custom_components.teams_presence_keeper.graph.models import (
    Activity,
    PresenceSnapshot,
    iso8601_duration,
)
from custom_components.teams_presence_keeper.graph.transport import parse_retry_after
from graph_emulator import GraphEmulator

APP_ID = "11111111-1111-1111-1111-111111111111"
PLACE = "eb706f15-137e-4722-b4d1-b601481d9251"


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    """A plain aiohttp session, as Home Assistant would inject its shared one."""
    async with ClientSession() as session:
        yield session


def make_client(
    emulator: GraphEmulator,
    http: ClientSession,
    token: str,
    *,
    user: str = "me",
    timeout: float = 5.0,
) -> GraphPresenceClient:
    async def token_provider() -> str:
        return token

    return GraphPresenceClient(
        http, token_provider, base_url=emulator.graph_url, user=user, timeout=timeout
    )


@pytest.fixture
def client(emulator: GraphEmulator, http: ClientSession) -> GraphPresenceClient:
    """A client with a token that may read and write presence."""
    return make_client(emulator, http, emulator.issue_token())


async def test_get_user_and_tenant(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    user = await client.get_user()
    assert user.id == emulator.default_user.id
    assert user.display_name == "Adele Vance"
    assert user.user_principal_name == "adelev@contoso.example"
    assert await client.get_tenant_id() == emulator.default_tenant_id


async def test_get_presence_of_user_without_sessions(
    client: GraphPresenceClient,
) -> None:
    presence = await client.get_presence()
    assert (presence.availability, presence.activity) == (
        Availability.OFFLINE,
        Activity.OFFLINE,
    )
    assert presence.out_of_office is False
    assert presence.status_message is None


@pytest.mark.parametrize("presence", list(AppPresence))
async def test_set_presence_sends_the_pair_and_expiration(
    client: GraphPresenceClient, emulator: GraphEmulator, presence: AppPresence
) -> None:
    await client.set_presence(APP_ID, presence, timedelta(minutes=90))
    assert emulator.graph_calls("setPresence")[-1].body == {
        "sessionId": APP_ID,
        "availability": presence.availability.value,
        "activity": presence.activity.value,
        "expirationDuration": "PT1H30M",
    }
    snapshot = await client.get_presence()
    assert snapshot.availability is presence.availability
    assert snapshot.activity is presence.activity


async def test_set_presence_without_expiration_omits_it(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    await client.set_presence(APP_ID, AppPresence.AVAILABLE)
    assert "expirationDuration" not in emulator.graph_calls("setPresence")[-1].body
    session = emulator.app_session(APP_ID)
    assert session is not None
    assert session.expires_at - session.last_set == timedelta(minutes=5)


async def test_clear_presence(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    await client.set_presence(APP_ID, AppPresence.BUSY_IN_A_CALL)
    await client.clear_presence(APP_ID)
    assert emulator.graph_calls("clearPresence")[-1].body == {"sessionId": APP_ID}
    assert emulator.app_session(APP_ID) is None
    with pytest.raises(GraphNotFoundError) as err:
        await client.clear_presence(APP_ID)
    assert err.value.status == 404


@pytest.mark.parametrize(
    ("presence", "availability", "activity"),
    [
        (PreferredPresence.AVAILABLE, "Available", "Available"),
        (PreferredPresence.BUSY, "Busy", "Busy"),
        (PreferredPresence.DO_NOT_DISTURB, "DoNotDisturb", "DoNotDisturb"),
        (PreferredPresence.BE_RIGHT_BACK, "BeRightBack", "BeRightBack"),
        (PreferredPresence.AWAY, "Away", "Away"),
        (PreferredPresence.OFFLINE, "Offline", "OffWork"),
    ],
)
async def test_preferred_presence(
    client: GraphPresenceClient,
    emulator: GraphEmulator,
    presence: PreferredPresence,
    availability: str,
    activity: str,
) -> None:
    emulator.set_client_session("desktop", "Available", "Available")
    await client.set_preferred_presence(presence, timedelta(hours=8))
    assert emulator.graph_calls("setUserPreferredPresence")[-1].body == {
        "availability": availability,
        "activity": activity,
        "expirationDuration": "PT8H",
    }
    assert emulator.presence() == (availability, activity)
    await client.clear_preferred_presence()
    assert emulator.graph_calls("clearUserPreferredPresence")[-1].body == {}
    assert emulator.presence() == ("Available", "Available")


async def test_status_message_set_and_clear(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    await client.set_status_message("Focus time", expires)
    assert emulator.graph_calls("setStatusMessage")[-1].body == {
        "statusMessage": {
            "message": {"content": "Focus time", "contentType": "text"},
            "expiryDateTime": {"dateTime": "2030-01-02T03:04:05", "timeZone": "UTC"},
        }
    }
    snapshot = await client.get_presence()
    assert snapshot.status_message == "Focus time"
    assert snapshot.status_message_expires == expires
    await client.clear_status_message()
    assert (await client.get_presence()).status_message is None


async def test_out_of_office_is_read(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    emulator.set_out_of_office(True, "Back Monday")
    snapshot = await client.get_presence()
    assert snapshot.out_of_office is True
    assert snapshot.out_of_office_message == "Back Monday"


async def test_newer_presence_properties_are_read(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    emulator.set_out_of_office(True, "Back Monday")
    before = await client.get_presence()
    await client.set_status_message("Focus time")
    after = await client.get_presence()
    assert after.status_message_published is not None
    assert after.status_message_published.tzinfo is not None
    assert after.out_of_office_message == "Back Monday"
    assert after.work_location == WorkLocation(
        WorkLocationType.UNSPECIFIED, WorkLocationSource.NONE
    )
    assert before.sequence_number is not None
    assert after.sequence_number is not None
    assert before.is_older_than(after)
    assert not after.is_older_than(before)
    assert not after.is_older_than(after)


def test_a_read_without_stamps_is_never_older() -> None:
    stamped = PresenceSnapshot.from_graph(
        {"availability": "Away", "activity": "Away", "sequenceNumber": "A2"}
    )
    unstamped = PresenceSnapshot.from_graph(
        {"availability": "Away", "activity": "Away"}
    )
    assert unstamped.sequence_number is None
    assert unstamped.work_location is None
    assert unstamped.status_message_published is None
    assert not unstamped.is_older_than(stamped)
    assert not stamped.is_older_than(unstamped)


async def test_manual_location_sends_the_documented_body(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    emulator.set_scheduled_location("remote")
    await client.set_manual_location(WorkLocationUpdate(WorkLocationType.OFFICE, PLACE))
    [call] = emulator.graph_calls("setManualLocation")
    assert (call.path, call.body) == (
        "/v1.0/me/presence/setManualLocation",
        {"workLocationType": "office", "placeId": PLACE},
    )
    assert (await client.get_presence()).work_location == WorkLocation(
        WorkLocationType.OFFICE, WorkLocationSource.MANUAL, PLACE
    )


async def test_automatic_location_loses_to_the_manual_one(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    await client.set_automatic_location(WorkLocationUpdate(WorkLocationType.TIME_OFF))
    assert emulator.graph_calls("setAutomaticLocation")[-1].body == {
        "workLocationType": "timeOff"
    }
    assert (await client.get_presence()).work_location == WorkLocation(
        WorkLocationType.TIME_OFF, WorkLocationSource.AUTOMATIC
    )
    await client.set_manual_location(WorkLocationUpdate(WorkLocationType.REMOTE))
    await client.clear_automatic_location()
    [clear] = emulator.graph_calls("clearAutomaticLocation")
    assert (clear.body, clear.status) == (None, 200)
    assert (await client.get_presence()).work_location == WorkLocation(
        WorkLocationType.REMOTE, WorkLocationSource.MANUAL
    )


async def test_clear_location_shows_the_plan_again(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    emulator.set_scheduled_location("timeOff")
    await client.set_manual_location(WorkLocationUpdate(WorkLocationType.OFFICE))
    await client.set_automatic_location(WorkLocationUpdate(WorkLocationType.REMOTE))
    await client.clear_location()
    [clear] = emulator.graph_calls("clearLocation")
    assert (clear.body, clear.status) == (None, 200)
    assert (await client.get_presence()).work_location == WorkLocation(
        WorkLocationType.TIME_OFF, WorkLocationSource.SCHEDULED
    )


@pytest.mark.parametrize(
    ("location_type", "place_id"),
    [(WorkLocationType.UNKNOWN, None), (WorkLocationType.OFFICE, " ")],
)
def test_work_location_update_is_checked_when_built(
    location_type: WorkLocationType, place_id: str | None
) -> None:
    with pytest.raises(GraphValidationError):
        WorkLocationUpdate(location_type, place_id)


@pytest.mark.parametrize("location_type", sorted(WorkLocationType))
def test_graph_spelling_round_trips(location_type: WorkLocationType) -> None:
    assert WorkLocationType.parse(location_type.graph_value) is location_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("timeOff", WorkLocationType.TIME_OFF),
        ("unknownFutureValue", WorkLocationType.UNKNOWN),
        ("home", WorkLocationType.UNKNOWN),
        (None, WorkLocationType.UNKNOWN),
    ],
)
def test_new_work_location_types_parse_to_unknown(
    text: str | None, expected: WorkLocationType
) -> None:
    assert WorkLocationType.parse(text) is expected


def test_new_sources_parse_to_unknown() -> None:
    assert WorkLocationSource.parse("none") is WorkLocationSource.NONE
    assert WorkLocationSource.parse("unknownFutureValue") is WorkLocationSource.UNKNOWN
    assert WorkLocationSource.parse(None) is WorkLocationSource.UNKNOWN


@pytest.mark.parametrize(
    "body",
    [
        {"workLocation": "office"},
        {"workLocation": {"workLocationType": 1}},
        {"workLocation": {"workLocationType": "office", "placeId": 7}},
        {"sequenceNumber": 12},
        {"statusMessage": {"publishedDateTime": "yesterday"}},
    ],
)
def test_newer_properties_of_the_wrong_shape_are_malformed(
    body: dict[str, object],
) -> None:
    with pytest.raises(MalformedPresenceError):
        PresenceSnapshot.from_graph(
            {"availability": "Away", "activity": "Away", **body}
        )


def test_which_clouds_offer_each_layer() -> None:
    assert WorkLocationLayer.MANUAL.clouds == {
        Cloud.GLOBAL,
        Cloud.US_GOVERNMENT,
        Cloud.US_GOVERNMENT_DOD,
    }
    assert WorkLocationLayer.AUTOMATIC.clouds == {Cloud.GLOBAL}


async def test_work_location_refusals_are_typed(
    emulator: GraphEmulator, http: ClientSession
) -> None:
    office = WorkLocationUpdate(WorkLocationType.OFFICE)
    app_only = make_client(
        emulator, http, emulator.issue_app_token(), user=emulator.default_user.id
    )
    with pytest.raises(GraphPermissionError):
        await app_only.set_manual_location(office)
    emulator.cloud = "us_government"
    client = make_client(emulator, http, emulator.issue_token())
    await client.set_manual_location(office)
    with pytest.raises(GraphValidationError) as err:
        await client.set_automatic_location(office)
    assert (
        err.value.message
        == "Resource not found for the segment 'setAutomaticLocation'."
    )


async def test_acting_on_a_user_by_upn(
    emulator: GraphEmulator, http: ClientSession
) -> None:
    room = emulator.add_user(display_name="Room 1", upn="room1@contoso.example")
    client = make_client(
        emulator,
        http,
        emulator.issue_token(room),
        user="room1@contoso.example",
    )
    assert (await client.get_user()).id == room.id
    await client.set_presence(APP_ID, AppPresence.AWAY)
    assert emulator.graph_calls("setPresence")[-1].path == (
        "/v1.0/users/room1@contoso.example/presence/setPresence"
    )
    assert emulator.presence(room) == ("Away", "Away")


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (
            lambda c: c.set_presence(APP_ID, AppPresence.AWAY, timedelta(minutes=4)),
            "expiration_out_of_range",
        ),
        (
            lambda c: c.set_presence(
                APP_ID, AppPresence.AWAY, timedelta(hours=4, seconds=1)
            ),
            "expiration_out_of_range",
        ),
        (lambda c: c.set_presence(" ", AppPresence.AWAY), "empty_session_id"),
        (lambda c: c.clear_presence(""), "empty_session_id"),
        (lambda c: c.set_status_message("x" * 281), "status_message_too_long"),
        (lambda c: c.set_status_message("   "), "empty_status_message"),
        (
            lambda c: c.set_status_message("hi", datetime(2030, 1, 1)),  # noqa: DTZ001
            "naive_datetime",
        ),
    ],
)
async def test_invalid_requests_are_refused_before_sending(
    client: GraphPresenceClient,
    emulator: GraphEmulator,
    call: Callable[[GraphPresenceClient], Awaitable[None]],
    code: str,
) -> None:
    with pytest.raises(GraphValidationError) as err:
        await call(client)
    assert err.value.code == code
    assert err.value.status is None
    assert emulator.requests == []


async def test_status_message_at_the_limit_is_sent(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    await client.set_status_message("x" * 280)
    assert (await client.get_presence()).status_message == "x" * 280


async def test_bad_request_from_graph_keeps_code_and_message(
    emulator: GraphEmulator, http: ClientSession
) -> None:
    """A 400 that slips past local checks (here: a raw bad pair) is typed."""
    client = make_client(emulator, http, emulator.issue_token())
    with pytest.raises(GraphValidationError) as err:
        await client._request(
            "POST",
            "/me/presence/setPresence",
            {"sessionId": APP_ID, "availability": "Busy", "activity": "Away"},
        )
    assert err.value.status == 400
    assert err.value.code
    assert err.value.message


@pytest.mark.parametrize("token", ["", "not-a-token"])
async def test_unauthenticated(
    emulator: GraphEmulator, http: ClientSession, token: str
) -> None:
    with pytest.raises(GraphAuthenticationError) as err:
        await make_client(emulator, http, token).get_presence()
    assert err.value.status == 401
    assert err.value.code == "InvalidAuthenticationToken"


async def test_expired_token(emulator: GraphEmulator, http: ClientSession) -> None:
    token = emulator.issue_token(lifetime=timedelta(seconds=-1))
    with pytest.raises(GraphAuthenticationError):
        await make_client(emulator, http, token).get_presence()


async def test_missing_presence_permission(
    emulator: GraphEmulator, http: ClientSession
) -> None:
    client = make_client(
        emulator, http, emulator.issue_token(scopes=("User.Read", "Presence.Read"))
    )
    await client.get_presence()
    with pytest.raises(GraphPermissionError) as err:
        await client.set_presence(APP_ID, AppPresence.BUSY_IN_A_CALL)
    assert err.value.status == 403
    assert err.value.reason == "Forbidden"


async def test_unknown_user(emulator: GraphEmulator, http: ClientSession) -> None:
    client = make_client(
        emulator,
        http,
        emulator.issue_token(),
        user="nobody@contoso.example",
    )
    with pytest.raises(GraphError) as err:
        await client.get_presence()
    assert err.value.status in (403, 404)


@pytest.mark.parametrize("status", [429, 503])
async def test_throttled_with_retry_after_seconds(
    client: GraphPresenceClient, emulator: GraphEmulator, status: int
) -> None:
    emulator.throttle(1, retry_after=120, status=status)
    with pytest.raises(GraphThrottledError) as err:
        await client.set_presence(APP_ID, AppPresence.AVAILABLE)
    assert err.value.status == status
    assert err.value.retry_after == 120
    await client.set_presence(APP_ID, AppPresence.AVAILABLE)


async def test_throttled_with_retry_after_date(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=90)
    emulator.throttle(1, retry_after=format_datetime(when, usegmt=True))
    with pytest.raises(GraphThrottledError) as err:
        await client.get_presence()
    assert err.value.retry_after is not None
    assert 80 <= err.value.retry_after <= 90


async def test_server_error(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    emulator.fail(1, status=500)
    with pytest.raises(GraphServerError) as err:
        await client.get_presence()
    assert err.value.status == 500


async def test_dropped_connection(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    """Aiohttp retries an idempotent read once; a second drop reaches us."""
    emulator.drop(2)
    with pytest.raises(GraphConnectionError):
        await client.get_presence()
    emulator.drop(1)
    with pytest.raises(GraphConnectionError):
        await client.set_presence(APP_ID, AppPresence.AWAY)
    await client.get_presence()


async def test_refused_connection(
    client: GraphPresenceClient, emulator: GraphEmulator
) -> None:
    await emulator.refuse_connections()
    with pytest.raises(GraphConnectionError) as err:
        await client.get_presence()
    assert err.value.code == "connection_error"
    await emulator.accept_connections()
    await client.get_presence()


async def test_timeout(emulator: GraphEmulator, http: ClientSession) -> None:
    client = make_client(emulator, http, emulator.issue_token(), timeout=0.2)
    emulator.latency = 1.0
    with pytest.raises(GraphConnectionError) as err:
        await client.get_presence()
    assert err.value.code == "timeout"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("7", 7.0),
        ("-3", 0.0),
        ("soon", None),
        ("Wed, 01 Jan 2031 00:01:00 GMT", 60.0),
        ("Wed, 01 Jan 2031 00:00:00 GMT", 0.0),
        # Absurd values: no real throttle asks for more than the ceiling.
        ("1e300", 3600.0),
        ("inf", 3600.0),
        ("-inf", 0.0),
        ("nan", None),
        pytest.param("9" * 400, 3600.0, id="a 400-digit number"),
        ("3601", 3600.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 3600.0),
        ("Mon, 01 Jan 1900 00:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2031, 1, 1, tzinfo=UTC)
    assert parse_retry_after(value, now) == expected


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(minutes=5), "PT5M"),
        (timedelta(hours=4), "PT4H"),
        (timedelta(hours=1, minutes=30, seconds=15), "PT1H30M15S"),
    ],
)
def test_iso8601_duration(duration: timedelta, text: str) -> None:
    assert iso8601_duration(duration) == text


def test_iso8601_duration_rejects_zero() -> None:
    with pytest.raises(GraphValidationError):
        iso8601_duration(timedelta(0))


@pytest.mark.parametrize(
    ("availability", "activity", "parsed", "unknown"),
    [
        ("Busy", "InACall", (Availability.BUSY, Activity.IN_A_CALL), (None, None)),
        ("busy", "inACall", (Availability.BUSY, Activity.IN_A_CALL), (None, None)),
        (
            "DONOTDISTURB",
            "presenting",
            (Availability.DO_NOT_DISTURB, Activity.PRESENTING),
            (None, None),
        ),
        (
            "presenceUnknown",
            "PRESENCEUNKNOWN",
            (Availability.PRESENCE_UNKNOWN, Activity.PRESENCE_UNKNOWN),
            (None, None),
        ),
        (
            "Busy",
            "InAWebinar",
            (Availability.BUSY, Activity.PRESENCE_UNKNOWN),
            (None, "InAWebinar"),
        ),
        (
            "Focusing",
            "busy",
            (Availability.PRESENCE_UNKNOWN, Activity.BUSY),
            ("Focusing", None),
        ),
    ],
)
def test_values_parse_in_any_casing_and_new_ones_keep_their_text(
    availability: str,
    activity: str,
    parsed: tuple[Availability, Activity],
    unknown: tuple[str | None, str | None],
) -> None:
    """Graph has changed a spelling before, and adds values: neither is lost."""
    snapshot = PresenceSnapshot.from_graph(
        {"availability": availability, "activity": activity}
    )
    assert (snapshot.availability, snapshot.activity) == parsed
    assert (snapshot.unknown_availability, snapshot.unknown_activity) == unknown


def test_unknown_values_map_to_unknown_and_keep_raw_text() -> None:
    snapshot = PresenceSnapshot.from_graph(
        {"availability": "Focusing", "activity": "Deep work", "statusMessage": None}
    )
    assert snapshot.availability is Availability.PRESENCE_UNKNOWN
    assert snapshot.activity is Activity.PRESENCE_UNKNOWN
    assert (snapshot.raw_availability, snapshot.raw_activity) == (
        "Focusing",
        "Deep work",
    )


def test_error_reason_falls_back_to_code_then_status() -> None:
    assert GraphError("Code", "Message").reason == "Message"
    assert GraphError("Code", "").reason == "Code"
    assert GraphError(None, None, status=500).reason == "500"
