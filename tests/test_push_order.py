"""The order rules of Instant updates without Home Assistant: apply, read, or drop.

Each case is a short script against a fresh ``PushOrder``; the same rules through
Home Assistant's webhook are in ``test_push_budget.py`` and ``test_push.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.teams_presence_keeper.graph import (
    Activity,
    Availability,
    PresenceChange,
    PresenceSnapshot,
)
from custom_components.teams_presence_keeper.push_order import PushOrder, Verdict

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NEW, OLD = "new-subscription", "old-subscription"
USER = "user-id"


def presence(availability: str, activity: str, stamp: str | None) -> PresenceSnapshot:
    return PresenceSnapshot(
        availability=Availability.parse(availability),
        activity=Activity.parse(activity),
        raw_availability=availability,
        raw_activity=activity,
        status_message="Lunch",
        sequence_number=stamp,
    )


AVAILABLE = presence("Available", "Available", "0001")
BUSY = presence("Busy", "InACall", None)
AWAY = presence("Away", "Away", None)


def rich(shown: PresenceSnapshot, subscription: str = NEW) -> PresenceChange:
    """A rich notification as decrypted: availability and activity, no stamp."""
    return PresenceChange(subscription, USER, shown)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def subscribed() -> PushOrder:
    """An order that subscribed afresh at T0."""
    order = PushOrder()
    order.on_subscribed(NEW)
    return order


def test_a_start_wants_a_new_subscription_and_trusts_nothing() -> None:
    order = PushOrder()
    assert order.wants_new_subscription
    assert not order.trusts(NEW)
    assert order.on_change(rich(BUSY), AVAILABLE, T0) is Verdict.OLD_SUBSCRIPTION


def test_a_new_subscription_is_trusted_until_push_fails() -> None:
    order = subscribed()
    trusted = (order.wants_new_subscription, order.trusts(NEW), order.trusts(OLD))
    order.on_failure()
    assert trusted == (False, True, False)
    assert (order.wants_new_subscription, order.trusts(NEW)) == (True, False)


# Each: notifications (subscription, presence or None for a basic one, second it
# arrives) on top of AVAILABLE shown, after subscribing at T0; the verdicts.
SCRIPTS = {
    "rich, alone: applied": ([(NEW, BUSY, 0)], [Verdict.APPLY]),
    "basic: read": ([(NEW, None, 0)], [Verdict.READ]),
    "says what is shown": ([(NEW, AVAILABLE, 0)], [Verdict.ALREADY_SHOWN]),
    "a retry into the subscription before the gap": (
        [(OLD, BUSY, 0)],
        [Verdict.OLD_SUBSCRIPTION],
    ),
    "two within a minute: the second may be the older one": (
        [(NEW, BUSY, 0), (NEW, AWAY, 59)],
        [Verdict.APPLY, Verdict.READ],
    ),
    "two a minute apart: both applied": (
        [(NEW, BUSY, 0), (NEW, AWAY, 60)],
        [Verdict.APPLY, Verdict.APPLY],
    ),
    "a duplicate right behind its original": (
        [(NEW, BUSY, 0), (NEW, BUSY, 1)],
        [Verdict.APPLY, Verdict.ALREADY_SHOWN],
    ),
    "one close behind a notification that changed nothing is still read": (
        [(NEW, AVAILABLE, 0), (NEW, BUSY, 30)],
        [Verdict.ALREADY_SHOWN, Verdict.READ],
    ),
    "a retry from the old subscription does not count as the one before": (
        [(OLD, AWAY, 0), (NEW, BUSY, 10)],
        [Verdict.OLD_SUBSCRIPTION, Verdict.APPLY],
    ),
}


@pytest.mark.parametrize(("notifications", "verdicts"), SCRIPTS.values(), ids=SCRIPTS)
def test_what_each_notification_gets(
    notifications: list[tuple[str, PresenceSnapshot | None, float]],
    verdicts: list[Verdict],
) -> None:
    order, shown = subscribed(), AVAILABLE
    seen = []
    for subscription, pushed, second in notifications:
        change = PresenceChange(subscription, USER, pushed)
        seen.append(verdict := order.on_change(change, shown, at(second)))
        if verdict is Verdict.APPLY:
            shown = change.applied_to(shown)
    assert seen == verdicts


def test_nothing_shown_yet_is_read() -> None:
    assert subscribed().on_change(rich(BUSY), None, T0) is Verdict.READ


def test_our_subscription_after_push_failed_is_read() -> None:
    """Until subscribed again, Graph may retry into it what failed meanwhile."""
    order = subscribed()
    order.on_failure()
    assert order.on_change(rich(BUSY), AVAILABLE, T0) is Verdict.READ


def test_subscribing_again_forgets_the_last_arrival() -> None:
    order = subscribed()
    assert order.on_change(rich(BUSY), AVAILABLE, T0) is Verdict.APPLY
    order.on_failure()
    order.on_subscribed("newer-subscription")
    change = rich(AWAY, "newer-subscription")
    assert order.on_change(change, AVAILABLE, at(1)) is Verdict.APPLY


# Each: Busy pushed at T0 on top of AVAILABLE (stamped 0001); a read of Available
# starting at a second, stamped; whether the push stays shown.
READS = {
    "started before the push arrived": (-1, "0002", True),
    "started as it arrived, stamped newer": (0, "0002", False),
    "started after, stamped newer": (5, "0002", False),
    "started after, stamped as the read it was applied to (lagging)": (
        5,
        "0001",
        True,
    ),
    "started after, stamped older": (5, "0000", True),
    "started after, unstamped": (5, None, False),
}


@pytest.mark.parametrize(("second", "stamp", "kept"), READS.values(), ids=READS)
def test_a_read_after_a_push(second: float, stamp: str | None, kept: bool) -> None:
    order = subscribed()
    assert order.on_change(rich(BUSY), AVAILABLE, T0) is Verdict.APPLY
    read = replace(AVAILABLE, status_message="Back at 2", sequence_number=stamp)

    shown = order.on_read(read, at(second))

    # Kept: Busy, the rest (the status message) as read.
    assert shown == (rich(BUSY).applied_to(read) if kept else read)


def test_a_read_stands_when_nothing_was_pushed() -> None:
    order = subscribed()
    assert order.on_change(rich(BUSY), None, T0) is Verdict.READ
    assert order.on_read(AVAILABLE, T0) is AVAILABLE


def test_a_push_onto_an_unstamped_read_yields_to_a_later_read() -> None:
    order = subscribed()
    unstamped = replace(AVAILABLE, sequence_number=None)
    assert order.on_change(rich(BUSY), unstamped, T0) is Verdict.APPLY
    later = replace(AVAILABLE, sequence_number="0001")
    assert order.on_read(later, at(1)) is later
