"""The presence rules, driven by the clock without any HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from graph_emulator import GraphEmulator, UserPresence
from graph_emulator.presence import PresenceError, SessionNotFoundError, parse_duration

from .conftest import FakeClock

APP = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def presence(clock: FakeClock) -> UserPresence:
    return UserPresence(clock)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT5M", timedelta(minutes=5)),
        ("PT1H", timedelta(hours=1)),
        ("PT1H30M", timedelta(minutes=90)),
        ("PT240M", timedelta(hours=4)),
        ("PT90S", timedelta(seconds=90)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "5M", "PT5", "PT5X", "P1DT", "pt5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(PresenceError):
        parse_duration(text)


def test_no_session_is_offline(presence: UserPresence) -> None:
    assert presence.aggregate() == ("Offline", "Offline")


@pytest.mark.parametrize(
    ("availability", "activity"),
    [
        ("Available", "Available"),
        ("Busy", "InACall"),
        ("Busy", "InAConferenceCall"),
        ("Away", "Away"),
        ("DoNotDisturb", "Presenting"),
    ],
)
def test_app_session_pairs(
    presence: UserPresence, availability: str, activity: str
) -> None:
    presence.set_app_session(APP, availability, activity)
    assert presence.aggregate() == (availability, activity)


@pytest.mark.parametrize(
    ("availability", "activity"),
    [
        ("Busy", "Busy"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack"),
        ("Available", "Away"),
        ("Offline", "OffWork"),
    ],
)
def test_app_session_rejects_other_pairs(
    presence: UserPresence, availability: str, activity: str
) -> None:
    with pytest.raises(PresenceError, match="not supported"):
        presence.set_app_session(APP, availability, activity)
    assert presence.app_session(APP) is None


@pytest.mark.parametrize(
    "expiration",
    [timedelta(minutes=4, seconds=59), timedelta(hours=4, seconds=1), timedelta(0)],
)
def test_app_session_expiration_range(
    presence: UserPresence, expiration: timedelta
) -> None:
    with pytest.raises(PresenceError, match="between 5 minutes and 4 hours"):
        presence.set_app_session(APP, "Busy", "InACall", expiration)


def test_app_session_default_expiry_is_five_minutes(
    presence: UserPresence, clock: FakeClock
) -> None:
    presence.set_app_session(APP, "Busy", "InACall")
    session = presence.app_session(APP)
    assert session is not None
    assert session.last_set == clock.now
    assert session.expires_at == clock.now + timedelta(minutes=5)
    clock.advance(minutes=4, seconds=59)
    assert presence.aggregate() == ("Busy", "InACall")
    clock.advance(seconds=1)
    assert presence.app_session(APP) is None
    assert presence.aggregate() == ("Offline", "Offline")


def test_available_fades_at_five_and_ten_minutes(
    presence: UserPresence, clock: FakeClock
) -> None:
    presence.set_app_session(APP, "Available", "Available", timedelta(hours=1))
    clock.advance(minutes=4, seconds=59)
    assert presence.aggregate() == ("Available", "Available")
    clock.advance(seconds=1)
    assert presence.aggregate() == ("Available", "AvailableInactive")
    clock.advance(minutes=4, seconds=59)
    assert presence.aggregate() == ("Available", "AvailableInactive")
    clock.advance(seconds=1)
    assert presence.aggregate() == ("Away", "Away")
    # The session itself still holds what was set.
    session = presence.app_session(APP)
    assert session is not None
    assert (session.availability, session.activity) == ("Available", "Available")


def test_other_states_do_not_fade(presence: UserPresence, clock: FakeClock) -> None:
    presence.set_app_session(APP, "Busy", "InACall", timedelta(hours=1))
    clock.advance(minutes=59)
    assert presence.aggregate() == ("Busy", "InACall")


def test_setting_again_resets_timeout_and_expiry(
    presence: UserPresence, clock: FakeClock
) -> None:
    presence.set_app_session(APP, "Available", "Available", timedelta(minutes=10))
    clock.advance(minutes=6)
    assert presence.aggregate() == ("Available", "AvailableInactive")
    presence.set_app_session(APP, "Available", "Available", timedelta(minutes=10))
    assert presence.aggregate() == ("Available", "Available")
    session = presence.app_session(APP)
    assert session is not None
    assert session.last_set == clock.now
    assert session.expires_at == clock.now + timedelta(minutes=10)
    clock.advance(minutes=9)
    assert presence.app_session(APP) is not None


def test_clear_app_session(presence: UserPresence, clock: FakeClock) -> None:
    presence.set_app_session(APP, "Busy", "InACall")
    presence.clear_app_session(APP)
    assert presence.aggregate() == ("Offline", "Offline")
    with pytest.raises(SessionNotFoundError):
        presence.clear_app_session(APP)
    presence.set_app_session(APP, "Busy", "InACall")
    clock.advance(minutes=5)
    with pytest.raises(SessionNotFoundError):
        presence.clear_app_session(APP)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([("DoNotDisturb", "Presenting"), ("Busy", "InACall")], "DoNotDisturb"),
        ([("Busy", "InACall"), ("Available", "Available")], "Busy"),
        ([("Away", "Away"), ("Available", "Available")], "Available"),
        ([("Away", "Away"), ("Offline", "Offline")], "Away"),
        ([("BusyIdle", "BusyIdle"), ("Available", "Available")], "BusyIdle"),
        (
            [("AvailableIdle", "Available"), ("BeRightBack", "BeRightBack")],
            "AvailableIdle",
        ),
        ([("BeRightBack", "BeRightBack"), ("Busy", "InAMeeting")], "Busy"),
    ],
)
def test_precedence_among_sessions(
    presence: UserPresence, states: list[tuple[str, str]], expected: str
) -> None:
    for index, state in enumerate(states):
        presence.client_sessions[f"client-{index}"] = state
    assert presence.aggregate()[0] == expected


def test_precedence_between_app_and_client_sessions(presence: UserPresence) -> None:
    presence.set_app_session(APP, "Away", "Away")
    presence.client_sessions["desktop"] = ("Available", "Available")
    assert presence.aggregate() == ("Available", "Available")
    presence.set_app_session(APP, "DoNotDisturb", "Presenting")
    assert presence.aggregate() == ("DoNotDisturb", "Presenting")


def test_faded_app_session_loses_to_available_client(
    presence: UserPresence, clock: FakeClock
) -> None:
    presence.set_app_session(APP, "Available", "Available", timedelta(hours=1))
    presence.client_sessions["mobile"] = ("Away", "Away")
    clock.advance(minutes=10)
    assert presence.aggregate() == ("Away", "Away")
    presence.client_sessions["desktop"] = ("Available", "Available")
    assert presence.aggregate() == ("Available", "Available")


def test_preferred_wins_only_while_a_session_is_live(
    presence: UserPresence, clock: FakeClock
) -> None:
    presence.set_preferred("DoNotDisturb", "DoNotDisturb")
    assert presence.aggregate() == ("Offline", "Offline")
    presence.set_app_session(APP, "Available", "Available")
    assert presence.aggregate() == ("DoNotDisturb", "DoNotDisturb")
    clock.advance(minutes=5)
    assert presence.aggregate() == ("Offline", "Offline")
    presence.client_sessions["desktop"] = ("Busy", "InAMeeting")
    assert presence.aggregate() == ("DoNotDisturb", "DoNotDisturb")
    presence.clear_preferred()
    assert presence.aggregate() == ("Busy", "InAMeeting")


def test_preferred_beats_a_higher_session(presence: UserPresence) -> None:
    presence.client_sessions["desktop"] = ("DoNotDisturb", "Presenting")
    presence.set_preferred("Away", "Away")
    assert presence.aggregate() == ("Away", "Away")
    presence.set_preferred("Offline", "OffWork")
    assert presence.aggregate() == ("Offline", "OffWork")


@pytest.mark.parametrize(
    ("availability", "activity", "lifetime"),
    [
        ("Busy", "Busy", timedelta(days=1)),
        ("DoNotDisturb", "DoNotDisturb", timedelta(days=1)),
        ("Available", "Available", timedelta(days=7)),
        ("BeRightBack", "BeRightBack", timedelta(days=7)),
        ("Away", "Away", timedelta(days=7)),
        ("Offline", "OffWork", timedelta(days=7)),
    ],
)
def test_preferred_default_expiry(
    presence: UserPresence,
    clock: FakeClock,
    availability: str,
    activity: str,
    lifetime: timedelta,
) -> None:
    presence.client_sessions["desktop"] = ("Available", "Available")
    presence.set_preferred(availability, activity)
    preferred = presence.preferred
    assert preferred is not None
    assert preferred.expires_at == clock.now + lifetime
    clock.now = preferred.expires_at - timedelta(seconds=1)
    assert presence.aggregate() == (availability, activity)
    clock.advance(seconds=1)
    assert presence.preferred is None
    assert presence.aggregate() == ("Available", "Available")


def test_preferred_explicit_expiry(presence: UserPresence, clock: FakeClock) -> None:
    presence.set_preferred("Busy", "Busy", timedelta(hours=2))
    preferred = presence.preferred
    assert preferred is not None
    assert preferred.expires_at == clock.now + timedelta(hours=2)
    with pytest.raises(PresenceError, match="positive"):
        presence.set_preferred("Busy", "Busy", timedelta(0))


@pytest.mark.parametrize(
    ("availability", "activity"),
    [("Busy", "InACall"), ("DoNotDisturb", "Presenting"), ("Offline", "Offline")],
)
def test_preferred_rejects_other_pairs(
    presence: UserPresence, availability: str, activity: str
) -> None:
    with pytest.raises(PresenceError, match="not supported"):
        presence.set_preferred(availability, activity)


def test_status_message(presence: UserPresence, clock: FakeClock) -> None:
    expiry = clock.now + timedelta(hours=1)
    presence.set_status_message("In the lab", "text", expiry)
    message = presence.status_message
    assert message is not None
    assert (message.content, message.published, message.expiry) == (
        "In the lab",
        clock.now,
        expiry,
    )
    clock.advance(minutes=59)
    assert presence.status_message is not None
    clock.advance(minutes=1)
    assert presence.status_message is None


def test_status_message_without_expiry_and_clearing(
    presence: UserPresence, clock: FakeClock
) -> None:
    presence.set_status_message("Here all year")
    clock.advance(days=365)
    assert presence.status_message is not None
    presence.set_status_message("")
    assert presence.status_message is None


def test_status_message_length(presence: UserPresence) -> None:
    presence.set_status_message("x" * 280)
    with pytest.raises(PresenceError, match="280"):
        presence.set_status_message("x" * 281)


def test_status_message_expiry_in_another_zone(
    presence: UserPresence, clock: FakeClock
) -> None:
    # 11:30 in Paris (UTC+2 in June) is 09:30 UTC.
    paris = datetime(2025, 6, 2, 11, 30, tzinfo=ZoneInfo("Europe/Paris"))
    presence.set_status_message("Back soon", expiry=paris)
    clock.now = datetime(2025, 6, 2, 9, 29, tzinfo=UTC)
    assert presence.status_message is not None
    clock.now = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
    assert presence.status_message is None


def test_emulator_presence_api(clock: FakeClock) -> None:
    emulator = GraphEmulator(clock=clock)
    colleague = emulator.add_user(
        display_name="Alex Wilber", upn="alexw@contoso.example"
    )
    emulator.set_client_session("desktop", "Busy", "InAMeeting")
    emulator.set_client_session("desktop", "Available", "Available", user=colleague)
    assert emulator.presence() == ("Busy", "InAMeeting")
    assert emulator.presence(colleague) == ("Available", "Available")
    emulator.remove_client_session("desktop")
    emulator.remove_client_session("no-such-client")
    assert emulator.presence() == ("Offline", "Offline")
    assert emulator.app_session(APP) is None
    emulator.default_user.presence.set_app_session(APP, "Busy", "InACall")
    session = emulator.app_session(APP)
    assert session is not None
    assert session.availability == "Busy"
    assert emulator.app_session(APP, user=colleague) is None
    emulator.set_out_of_office(True, "On leave")
    out_of_office = emulator.default_user.presence.out_of_office
    assert (out_of_office.is_out_of_office, out_of_office.message) == (True, "On leave")


def test_default_clock_reads_the_time_at_each_call() -> None:
    emulator = GraphEmulator()
    before = datetime.now(UTC)
    emulator.set_client_session("desktop", "Available", "Available")
    emulator.default_user.presence.set_app_session(APP, "Busy", "InACall")
    session = emulator.app_session(APP)
    assert session is not None
    assert before <= session.last_set <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("availability", "activity", "expiration", "sent_after", "lapsed"),
    [
        # Available fades 5 min after its last set, whatever the expiration.
        (
            "Available",
            "Available",
            timedelta(hours=1),
            timedelta(minutes=4, seconds=54),
            False,
        ),
        (
            "Available",
            "Available",
            timedelta(hours=1),
            timedelta(minutes=4, seconds=56),
            True,
        ),
        # Other states last until the session expires.
        (
            "Busy",
            "InACall",
            timedelta(minutes=60),
            timedelta(minutes=59, seconds=54),
            False,
        ),
        (
            "Busy",
            "InACall",
            timedelta(minutes=60),
            timedelta(minutes=59, seconds=56),
            True,
        ),
    ],
)
def test_a_slow_keep_alive_lands_after_the_lapse(
    presence: UserPresence,
    clock: FakeClock,
    availability: str,
    activity: str,
    expiration: timedelta,
    sent_after: timedelta,
    lapsed: bool,
) -> None:
    """A write takes effect `write_transit` after it is sent: a slow one, late."""
    presence.set_app_session(APP, availability, activity, expiration)
    presence.write_transit = timedelta(seconds=5)
    clock.advance(seconds=sent_after.total_seconds())
    presence.set_app_session(APP, availability, activity, expiration)
    assert bool(presence.lapses) is lapsed
    if lapsed:
        [lapse] = presence.lapses
        assert lapse.session_id == APP
        assert lapse.state != (availability, activity)
        assert lapse.at == clock() + timedelta(seconds=5)
