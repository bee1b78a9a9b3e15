"""The keeper's rules without Home Assistant: which request is due, and when to wake.

Each case is a short script of moments and events against a fresh keeper; the
end-to-end runs through Home Assistant are in ``test_keep_alive.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.teams_presence_keeper.const import REFRESH_MARGIN
from custom_components.teams_presence_keeper.graph import AppPresence, PreferredPresence
from custom_components.teams_presence_keeper.keeper import SessionKeeper
from custom_components.teams_presence_keeper.session_records import (
    ClearPreferred,
    EndSession,
    SessionRequest,
    SetPreferred,
    SetSession,
    Wish,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
AVAILABLE = AppPresence.AVAILABLE
BUSY = AppPresence.BUSY_IN_A_CALL
AWAY = AppPresence.AWAY


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def keeper_holding(
    presence: AppPresence, expiration: timedelta = HOUR
) -> SessionKeeper:
    """A keeper whose wish Graph accepted at T0."""
    keeper = SessionKeeper(expiration)
    keeper.want(presence, T0)
    request = keeper.due(T0)
    assert request == SetSession(presence, expiration)
    keeper.accepted(request, T0)
    return keeper


def run_for(
    keeper: SessionKeeper, duration: timedelta
) -> list[tuple[datetime, SessionRequest]]:
    """Wake when the keeper says, send what is due, Graph accepting every request."""
    sent = []
    now = T0
    while (wake := keeper.next_wake(now)) is not None and wake <= T0 + duration:
        now = wake
        if (request := keeper.due(now)) is not None:
            keeper.accepted(request, now)
            sent.append((now, request))
    return sent


@pytest.mark.parametrize(
    ("presence", "expiration", "calls"),
    [
        # Available fades 5 min after a set: the first set, then one every 4:40
        # (the 20 s margin leaves room for a slow request), 103 in all (96 at best).
        (AVAILABLE, HOUR, 103),
        # Others last until expiry: one refresh 20 s before each (8 and 2 at best).
        (BUSY, HOUR, 9),
        (BUSY, 4 * HOUR, 3),
    ],
)
def test_eight_hours_take_one_refresh_per_lapse(
    presence: AppPresence, expiration: timedelta, calls: int
) -> None:
    keeper = keeper_holding(presence, expiration)
    sent = run_for(keeper, 8 * HOUR)
    assert 1 + len(sent) == calls
    lifetime = timedelta(minutes=5) if presence is AVAILABLE else expiration
    previous = T0
    for moment, request in sent:
        assert request == SetSession(presence, expiration)
        assert moment - previous == lifetime - REFRESH_MARGIN
        previous = moment


def test_nothing_is_due_while_graph_holds_the_session() -> None:
    keeper = keeper_holding(BUSY)
    assert keeper.due(at(30)) is None
    assert keeper.due(at(30), force=True) == SetSession(BUSY, HOUR)


def test_a_shorter_expiration_is_sent_at_once() -> None:
    keeper = keeper_holding(BUSY, 4 * HOUR)
    keeper.want(BUSY, at(1), expiration=timedelta(minutes=5))
    assert keeper.due(at(1)) == SetSession(BUSY, timedelta(minutes=5))


def test_a_burst_of_wishes_sends_only_the_last() -> None:
    keeper = keeper_holding(AVAILABLE)
    for presence in (AWAY, BUSY, AVAILABLE, AppPresence.DO_NOT_DISTURB_PRESENTING):
        keeper.want(presence, at(1))
    assert keeper.due(at(1)) == SetSession(AppPresence.DO_NOT_DISTURB_PRESENTING, HOUR)


FIVE_MINUTES = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("before", "expiration", "after_deadline"),
    [
        (None, None, EndSession()),
        (AVAILABLE, None, SetSession(AVAILABLE, HOUR)),
        # The expiration wanted before the hold comes back with its presence: if
        # Home Assistant stopped, Teams would show Busy twelve times longer.
        (BUSY, FIVE_MINUTES, SetSession(BUSY, FIVE_MINUTES)),
    ],
)
def test_a_hold_returns_to_what_was_wanted_before(
    before: AppPresence | None,
    expiration: timedelta | None,
    after_deadline: SessionRequest,
) -> None:
    keeper = SessionKeeper(HOUR)
    if before is not None:
        keeper.want(before, T0, expiration=expiration)
        keeper.accepted(SetSession(before, expiration or HOUR), T0)
    keeper.want(AWAY, at(1), until=at(46))
    request = keeper.due(at(1))
    # The session outlives the hold only a little, should Home Assistant stop.
    assert request == SetSession(AWAY, timedelta(minutes=46))
    keeper.accepted(request, at(1))
    assert keeper.next_wake(at(1)) == at(46)
    assert keeper.due(at(46)) == after_deadline
    assert keeper.wish == Wish(before, expiration=expiration)


def test_a_hold_within_a_hold_returns_to_what_was_wanted_before_both() -> None:
    keeper = SessionKeeper(HOUR)
    keeper.want(BUSY, T0, expiration=FIVE_MINUTES)
    keeper.want(AWAY, at(1), until=at(30))
    keeper.want(AppPresence.DO_NOT_DISTURB_PRESENTING, at(2), until=at(20))
    assert keeper.wish.settled(at(20)) == Wish(BUSY, expiration=FIVE_MINUTES)


@pytest.mark.parametrize(
    "stored",
    [
        Wish(AWAY, until=at(30), after_hold=BUSY, after_hold_expiration=FIVE_MINUTES),
        Wish(AWAY, until=at(30), expiration=FIVE_MINUTES),
        Wish(BUSY, expiration=4 * HOUR),
        Wish(),
    ],
)
def test_a_wish_outlives_the_store_whole(stored: Wish) -> None:
    assert Wish.from_dict(stored.as_dict()) == stored


def test_a_closed_keeper_asks_for_nothing() -> None:
    keeper = keeper_holding(AVAILABLE)
    keeper.close()
    assert keeper.due(at(10), force=True) is None
    assert keeper.next_wake(at(10)) is None


def test_a_restart_keeps_the_wish_but_not_a_finished_hold() -> None:
    keeper = keeper_holding(AVAILABLE)
    keeper.want(BUSY, at(1), until=at(11))
    keeper.prefer(PreferredPresence.DO_NOT_DISTURB, None, at(1))
    stored = keeper.as_dict()

    restarted = SessionKeeper(HOUR)
    restarted.restore(stored, at(5))
    assert restarted.wish == keeper.wish
    assert restarted.session == keeper.session
    assert restarted.preferred_presence(at(5)) is PreferredPresence.DO_NOT_DISTURB

    after_the_hold = SessionKeeper(HOUR)
    after_the_hold.restore(stored, at(20))
    assert after_the_hold.wish == Wish(AVAILABLE)


def test_a_wish_stored_by_version_0_1_0_is_read() -> None:
    stored = {"presence": "busy_in_a_call", "until": at(30).isoformat(), "then": "away"}
    assert Wish.from_dict(stored) == Wish(BUSY, until=at(30), after_hold=AWAY)


def test_a_hold_stored_without_the_expiration_before_it_returns_to_the_option() -> None:
    """A store written before the expiration was kept: the entry's option, as then."""
    stored = {
        "presence": "away",
        "until": at(30).isoformat(),
        "after_hold": "busy_in_a_call",
        "expiration": None,
    }
    assert Wish.from_dict(stored).settled(at(30)) == Wish(BUSY)


def test_the_preferred_presence_lasts_its_default_expiration() -> None:
    keeper = SessionKeeper(HOUR)
    keeper.prefer(PreferredPresence.BUSY, None, T0)
    assert keeper.preferred_presence(T0 + timedelta(hours=23)) is PreferredPresence.BUSY
    assert keeper.preferred_presence(T0 + timedelta(hours=24)) is None


def test_a_preferred_presence_goes_first_and_ends_when_wished() -> None:
    """Sent late (an outage), it is sent for what is left, so it ends on time."""
    keeper = SessionKeeper(HOUR)
    keeper.want(BUSY, T0)
    keeper.prefer(PreferredPresence.DO_NOT_DISTURB, 2 * HOUR, T0)
    request = keeper.due(at(30))
    assert isinstance(request, SetPreferred)
    assert request.presence is PreferredPresence.DO_NOT_DISTURB
    assert request.expiration == timedelta(minutes=90)
    assert keeper.accepted(request, at(30))
    assert keeper.preferred_wish is None
    assert keeper.preferred_expires_at(at(31)) == at(120)
    assert isinstance(keeper.due(at(30)), SetSession)


def test_a_preferred_presence_that_ended_unsent_is_dropped() -> None:
    keeper = SessionKeeper(HOUR)
    keeper.prefer(PreferredPresence.BUSY, timedelta(minutes=10), T0)
    assert keeper.due(at(9.5)) is None
    assert keeper.preferred_wish is None
    assert keeper.preferred_presence(at(9.5)) is None


def test_a_newer_preferred_wish_is_not_met_by_an_older_request() -> None:
    keeper = SessionKeeper(HOUR)
    keeper.prefer(PreferredPresence.BUSY, None, T0)
    sent = keeper.due(T0)
    assert isinstance(sent, SetPreferred)
    keeper.prefer(None, None, at(1))  # chosen while the first was on its way
    keeper.accepted(sent, at(1))
    newer = keeper.preferred_wish
    assert newer is not None
    assert keeper.due(at(1)) == ClearPreferred(newer)
    assert keeper.preferred_presence(at(1)) is None


def test_undo_restores_a_wish_only_if_no_other_replaced_it() -> None:
    keeper = keeper_holding(AVAILABLE)
    undo = keeper.want(BUSY, at(1))
    undo()
    assert keeper.wish == Wish(AVAILABLE)
    undo = keeper.want(BUSY, at(2))
    keeper.want(AWAY, at(3))
    undo()
    assert keeper.wish == Wish(AWAY)
    undo_preferred = keeper.prefer(PreferredPresence.AWAY, None, at(4))
    undo_preferred()
    assert keeper.preferred_wish is None


def test_applied_follows_what_graph_accepted() -> None:
    keeper = keeper_holding(AVAILABLE)
    assert keeper.app_presence_applied(at(1))
    keeper.want(BUSY, at(1))
    assert not keeper.app_presence_applied(at(1))
    request = keeper.due(at(1))
    assert request is not None
    keeper.accepted(request, at(1))
    assert keeper.app_presence_applied(at(1))


@pytest.mark.parametrize(
    ("presence", "expiration", "lapses"),
    [
        # Graph drops the session at its expiry; Available fades after 5 minutes.
        (BUSY, FIVE_MINUTES, at(5)),
        (BUSY, HOUR, at(60)),
        (AVAILABLE, HOUR, at(5)),
    ],
)
def test_applied_ends_when_graph_drops_the_session(
    presence: AppPresence, expiration: timedelta, lapses: datetime
) -> None:
    """Writes failing since: Graph no longer holds what Home Assistant wants."""
    keeper = keeper_holding(presence, expiration)
    assert keeper.app_presence_applied(lapses - timedelta(seconds=1))
    assert not keeper.app_presence_applied(lapses)


def test_no_session_wanted_is_applied_once_the_session_expired() -> None:
    keeper = keeper_holding(BUSY, FIVE_MINUTES)
    keeper.want(None, at(1))
    assert not keeper.app_presence_applied(at(4))
    assert keeper.app_presence_applied(at(5))


@pytest.mark.parametrize("sent", [True, False])
def test_the_end_of_a_preferred_presence_is_a_wake(sent: bool) -> None:
    """So what Home Assistant shows ends with it, whatever a read says."""
    keeper = SessionKeeper(HOUR)
    keeper.prefer(PreferredPresence.DO_NOT_DISTURB, timedelta(minutes=10), T0)
    if sent:
        request = keeper.due(T0)
        assert request is not None
        keeper.accepted(request, T0)
    assert keeper.next_wake(T0) == at(10)
    assert keeper.preferred_presence(at(10)) is None
    assert keeper.next_wake(at(10)) is None


def test_the_nearest_of_a_refresh_and_an_override_s_end_wakes() -> None:
    keeper = keeper_holding(BUSY)
    keeper.prefer(PreferredPresence.BUSY, timedelta(minutes=10), T0)
    request = keeper.due(T0)
    assert request is not None
    keeper.accepted(request, T0)
    assert keeper.next_wake(T0) == at(10)
    assert keeper.next_wake(at(10)) == at(60) - REFRESH_MARGIN
