"""The freshness rules of Instant updates without Home Assistant.

Each case is a short script against a fresh ``PushFreshness``: what a notification
gets (apply, read, or drop), what a read leaves shown and whether it arms the
watchdog, push's health and the read interval through subscriptions, failures,
watchdog alarms and lifecycle notices, and how reads for notifications coalesce.
The same rules through Home Assistant's webhook are in ``test_push_budget.py`` and
``test_push.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.teams_presence_keeper.graph import (
    Activity,
    Availability,
    LifecycleEvent,
    LifecycleNotice,
    PresenceChange,
    PresenceSnapshot,
)
from custom_components.teams_presence_keeper.push_freshness import (
    SAFETY_READ_INTERVAL,
    WORST_DELIVERY_TIME,
    Lifecycle,
    PushFreshness,
    Read,
    Verdict,
)

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


READ_INTERVAL = timedelta(seconds=30)


def subscribed() -> PushFreshness:
    """A machine whose new subscription works since T0."""
    order = PushFreshness(READ_INTERVAL)
    order.on_subscribed(NEW)
    order.on_working()
    return order


def test_a_start_wants_a_new_subscription_and_trusts_nothing() -> None:
    order = PushFreshness(READ_INTERVAL)
    assert order.wants_new_subscription
    assert not order.healthy
    assert order.on_change(rich(BUSY), AVAILABLE, T0) is Verdict.OLD_SUBSCRIPTION
    assert not order.healthy


def test_a_new_subscription_is_trusted_until_push_fails() -> None:
    order = subscribed()
    before = (order.wants_new_subscription, order.on_change(rich(BUSY), AVAILABLE, T0))
    order.on_failure()
    # Its notifications are read for now, and no longer show that push works.
    after = (order.wants_new_subscription, order.on_change(rich(AWAY), BUSY, at(120)))
    assert (before, after) == ((False, Verdict.APPLY), (True, Verdict.READ))
    assert not order.healthy


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

    shown = order.on_read(None, read, at(second), at(second)).shown

    # Kept: Busy, the rest (the status message) as read.
    assert shown == (rich(BUSY).applied_to(read) if kept else read)


def test_a_read_stands_when_nothing_was_pushed() -> None:
    order = subscribed()
    assert order.on_change(rich(BUSY), None, T0) is Verdict.READ
    assert order.on_read(None, AVAILABLE, T0, T0).shown is AVAILABLE


def test_a_push_onto_an_unstamped_read_yields_to_a_later_read() -> None:
    order = subscribed()
    unstamped = replace(AVAILABLE, sequence_number=None)
    assert order.on_change(rich(BUSY), unstamped, T0) is Verdict.APPLY
    later = replace(AVAILABLE, sequence_number="0001")
    assert order.on_read(None, later, at(1), at(1)).shown is later


def test_nothing_applied_from_an_old_subscription_survives_a_read() -> None:
    order = subscribed()
    assert order.on_change(rich(BUSY, OLD), AVAILABLE, T0) is Verdict.OLD_SUBSCRIPTION
    assert order.on_read(None, AVAILABLE, at(-1), at(1)).shown is AVAILABLE


# Health and the read interval. Each: the steps from a start, then whether push is
# healthy, whether it is silent, and whether the next subscription must be new.
def unannounced(order: PushFreshness) -> None:
    """A read finds a change no notification announced."""
    order.on_read(AVAILABLE, BUSY, T0, T0)


def notified(subscription: str) -> Callable[[PushFreshness], None]:
    def notify(order: PushFreshness) -> None:
        order.on_change(rich(AWAY, subscription), BUSY, at(30))

    return notify


def removed(order: PushFreshness) -> None:
    notice = LifecycleNotice(NEW, LifecycleEvent.SUBSCRIPTION_REMOVED)
    assert order.on_lifecycle(notice, held=NEW) is Lifecycle.GAP


STEPS: dict[str, Callable[[PushFreshness], object]] = {
    "subscribed": lambda order: order.on_subscribed(NEW),
    "working": PushFreshness.on_working,
    "failed": PushFreshness.on_failure,
    "unannounced": unannounced,
    "alarm": PushFreshness.on_watchdog,
    "notified": notified(NEW),
    "retried from before": notified(OLD),
    "removed": removed,
}
HEALTH = {
    "a start": ([], False, False, True),
    "a subscription that works": (["subscribed", "working"], True, False, False),
    "a failure": (["subscribed", "working", "failed"], False, False, True),
    "the watchdog's alarm": (
        ["subscribed", "working", "unannounced", "alarm"],
        False,
        True,
        True,
    ),
    "silent: a new subscription that works is not enough": (
        ["subscribed", "working", "unannounced", "alarm", "subscribed", "working"],
        False,
        True,
        False,
    ),
    "silent: a retry into the old subscription is not enough": (
        ["subscribed", "working", "unannounced", "alarm", "retried from before"],
        False,
        True,
        True,
    ),
    "silent: the new subscription's notification ends it": (
        [
            "subscribed",
            "working",
            "unannounced",
            "alarm",
            "subscribed",
            "working",
            "notified",
        ],
        True,
        False,
        False,
    ),
    "a notification calms the watchdog": (
        ["subscribed", "working", "unannounced", "notified", "alarm"],
        True,
        False,
        False,
    ),
    "the watchdog stays quiet when push failed meanwhile": (
        ["subscribed", "working", "unannounced", "failed", "alarm"],
        False,
        False,
        True,
    ),
    "a new subscription calms the watchdog": (
        ["subscribed", "working", "unannounced", "subscribed", "alarm"],
        True,
        False,
        False,
    ),
    "Graph removed the subscription": (
        ["subscribed", "working", "removed"],
        False,
        False,
        True,
    ),
}


@pytest.mark.parametrize(
    ("steps", "healthy", "silent", "wants_new"), HEALTH.values(), ids=HEALTH
)
def test_health_through_the_subscription_life(
    steps: list[str], healthy: bool, silent: bool, wants_new: bool
) -> None:
    order = PushFreshness(READ_INTERVAL)
    for step in steps:
        STEPS[step](order)
    assert (order.healthy, order.silent, order.wants_new_subscription) == (
        healthy,
        silent,
        wants_new,
    )
    assert order.read_interval == (SAFETY_READ_INTERVAL if healthy else READ_INTERVAL)


# Each: the Read interval option; the interval while push works, and while not.
INTERVALS = {
    "shorter than 15 minutes": (timedelta(seconds=30), SAFETY_READ_INTERVAL),
    "15 minutes": (SAFETY_READ_INTERVAL, SAFETY_READ_INTERVAL),
    "longer: push never reads more": (timedelta(minutes=20), timedelta(minutes=20)),
}


@pytest.mark.parametrize(("option", "healthy"), INTERVALS.values(), ids=INTERVALS)
def test_which_read_interval_applies(option: timedelta, healthy: timedelta) -> None:
    order = PushFreshness(option)
    unhealthy = order.read_interval
    order.on_subscribed(NEW)
    order.on_working()
    assert (unhealthy, order.read_interval) == (option, healthy)


def test_a_failure_says_whether_push_was_healthy() -> None:
    """The caller reads at once only when push just stopped working."""
    order = subscribed()
    assert [order.on_failure(), order.on_failure()] == [True, False]


def test_the_watchdog_falls_back_once_per_alarm() -> None:
    order = subscribed()
    unannounced(order)
    assert [order.on_watchdog(), order.on_watchdog()] == [True, False]
    assert order.counts == {"watchdog_fallbacks": 1}


# Each: a read of BUSY after ``previous`` was shown, in what situation; whether it
# arms the watchdog (a minute from the read's end).
WATCHES = {
    "a change no notification announced": (AVAILABLE, "healthy", True),
    "while push is not healthy": (AVAILABLE, "unhealthy", False),
    "the first read": (None, "healthy", False),
    "only the status message changed": (
        replace(BUSY, status_message="Back at 2"),
        "healthy",
        False,
    ),
    "a read for a notification": (AVAILABLE, "reading for a notification", False),
    "already armed: the first minute stands": (AVAILABLE, "armed", False),
}


@pytest.mark.parametrize(
    ("previous", "situation", "arms"), WATCHES.values(), ids=WATCHES
)
def test_when_a_read_arms_the_watchdog(
    previous: PresenceSnapshot | None, situation: str, arms: bool
) -> None:
    order = subscribed() if situation != "unhealthy" else PushFreshness(READ_INTERVAL)
    if situation == "reading for a notification":
        assert order.reads.want()
    if situation == "armed":
        order.on_read(AVAILABLE, BUSY, T0, T0)

    read = order.on_read(previous, BUSY, at(5), at(6))

    assert read == Read(BUSY, at(6) + WORST_DELIVERY_TIME if arms else None)
    assert order.watch_until == (
        at(6) + WORST_DELIVERY_TIME
        if arms
        else T0 + WORST_DELIVERY_TIME
        if situation == "armed"
        else None
    )


# Each: the event of a notice about the subscription held or another; what to do.
LIFECYCLE = {
    "missed: read": (LifecycleEvent.MISSED, NEW, Lifecycle.READ, "lifecycle_missed"),
    "removed: a gap": (
        LifecycleEvent.SUBSCRIPTION_REMOVED,
        NEW,
        Lifecycle.GAP,
        "lifecycle_removed",
    ),
    "reauthorization required": (
        LifecycleEvent.REAUTHORIZATION_REQUIRED,
        NEW,
        Lifecycle.REAUTHORIZE,
        None,
    ),
    "about a subscription replaced since": (
        LifecycleEvent.REAUTHORIZATION_REQUIRED,
        OLD,
        Lifecycle.NOT_HELD,
        "lifecycle_other_subscription",
    ),
    "removed, about another one": (
        LifecycleEvent.SUBSCRIPTION_REMOVED,
        OLD,
        Lifecycle.NOT_HELD,
        "lifecycle_other_subscription",
    ),
}


@pytest.mark.parametrize(
    ("event", "about", "action", "counted"), LIFECYCLE.values(), ids=LIFECYCLE
)
def test_what_a_lifecycle_notice_asks(
    event: LifecycleEvent, about: str, action: Lifecycle, counted: str | None
) -> None:
    order = subscribed()
    assert order.on_lifecycle(LifecycleNotice(about, event), held=NEW) is action
    assert order.counts == ({counted: 1} if counted else {})
    assert order.healthy is (action is not Lifecycle.GAP)


def test_reads_for_a_burst_of_notifications_coalesce() -> None:
    """The first starts a read; those during it ask for one more, together."""
    order = subscribed()
    started = order.reads.want()
    first = order.reads.again()
    during = [order.reads.want(), order.reads.want()]
    again = [order.reads.again(), order.reads.again()]
    order.reads.done()
    assert (started, first, during, again) == (
        True,
        True,
        [False, False],
        [True, False],
    )
    assert order.counts == {"coalesced": 2}
    assert order.reads.want()  # the next notification after them starts a read


def test_counts_of_what_notifications_got() -> None:
    order = subscribed()
    for subscription, pushed, second in [
        (NEW, BUSY, 0),
        (NEW, AWAY, 10),
        (NEW, AVAILABLE, 100),
        (OLD, BUSY, 200),
        (NEW, None, 300),
    ]:
        order.on_change(
            PresenceChange(subscription, USER, pushed), AVAILABLE, at(second)
        )
    assert order.counts == {
        "accepted": 5,
        "confirmed_by_read": 1,
        "already_shown": 1,
        "old_subscription": 1,
    }
    assert order.last_notification == at(300)


# Following people: one subscription for the account and everyone it follows; the
# order rules per person. Each: notifications (whose: "me" for the account's own,
# else a person's id; second it arrives) of a change from AVAILABLE; the verdicts.
PEOPLE_SCRIPTS = {
    "two people within a minute: no swap, both applied": (
        [("megan", BUSY, 0), ("lee", AWAY, 1)],
        [Verdict.APPLY, Verdict.APPLY],
    ),
    "the account and a person within a minute: both applied": (
        [("me", BUSY, 0), ("megan", AWAY, 1)],
        [Verdict.APPLY, Verdict.APPLY],
    ),
    "one person twice within a minute: the second is read for": (
        [("megan", BUSY, 0), ("lee", BUSY, 10), ("megan", AWAY, 30)],
        [Verdict.APPLY, Verdict.APPLY, Verdict.READ],
    ),
    "an id in other letters is the same person": (
        [("megan", BUSY, 0), ("MEGAN", AWAY, 30)],
        [Verdict.APPLY, Verdict.READ],
    ),
    "650 people in the same second: none read for": (
        [(f"person-{n}", BUSY, 0) for n in range(650)],
        [Verdict.APPLY] * 650,
    ),
}


@pytest.mark.parametrize(
    ("notifications", "verdicts"), PEOPLE_SCRIPTS.values(), ids=PEOPLE_SCRIPTS
)
def test_what_each_person_s_notification_gets(
    notifications: list[tuple[str, PresenceSnapshot, float]],
    verdicts: list[Verdict],
) -> None:
    order = subscribed()
    shown: dict[str, PresenceSnapshot] = {}
    seen = []
    for whose, pushed, second in notifications:
        key = whose.lower()
        change = PresenceChange(NEW, USER if whose == "me" else whose, pushed)
        before = shown.get(key, AVAILABLE)
        decide = order.on_change if whose == "me" else order.on_person_change
        seen.append(verdict := decide(change, before, at(second)))
        if verdict is Verdict.APPLY:
            shown[key] = change.applied_to(before)
    assert seen == verdicts


def test_a_people_read_keeps_each_person_s_pushed_change() -> None:
    """A batched read that started before Megan's push keeps it; Lee's is read."""
    order = subscribed()
    megan = PresenceChange(NEW, "Megan", BUSY)
    assert order.on_person_change(megan, AVAILABLE, at(5)) is Verdict.APPLY
    read = {"megan": AVAILABLE, "lee": AWAY}

    shown = order.on_people_read(read, at(1))

    assert shown == {"megan": megan.applied_to(AVAILABLE), "lee": AWAY}
    newer = {"megan": replace(AVAILABLE, sequence_number="0002"), "lee": AWAY}
    assert order.on_people_read(newer, at(6)) == newer


def test_a_person_s_push_never_holds_the_account_s_read() -> None:
    order = subscribed()
    person = PresenceChange(NEW, "megan", BUSY)
    assert order.on_person_change(person, AVAILABLE, at(5)) is Verdict.APPLY
    assert order.on_read(None, AVAILABLE, at(1), at(1)).shown is AVAILABLE


def test_people_reads_coalesce_apart_from_the_account_s() -> None:
    """A burst for many people is one batched read; the account's reads its own."""
    order = subscribed()
    asked = [order.people_reads.want() for _ in range(100)]
    assert (asked.count(True), order.reads.want()) == (1, True)
    assert order.counts["coalesced"] == 99
    assert (order.people_reads.again(), order.people_reads.again()) == (True, False)
    order.people_reads.done()
    assert order.people_reads.want()


@pytest.mark.parametrize(
    ("healthy", "all_subscribed", "interval"),
    [
        (True, True, SAFETY_READ_INTERVAL),
        (True, False, READ_INTERVAL),
        (False, True, READ_INTERVAL),
        (False, False, READ_INTERVAL),
    ],
)
def test_which_read_interval_applies_to_the_people(
    healthy: bool, all_subscribed: bool, interval: timedelta
) -> None:
    """Someone the subscription cannot name (over 650) keeps everyone's reads."""
    order = subscribed() if healthy else PushFreshness(READ_INTERVAL)
    assert order.people_read_interval(all_subscribed) == interval


def test_a_person_s_unannounced_change_arms_the_watchdog_once() -> None:
    """As the account's: not for a read asked for by a notification, nor when unhealthy."""
    order = subscribed()
    before = {"megan": AVAILABLE, "lee": AWAY}
    assert order.on_people_shown(before, before, at(1)) is None
    assert order.people_reads.want()
    assert order.on_people_shown(before, {**before, "megan": BUSY}, at(2)) is None
    order.people_reads.done()

    until = order.on_people_shown(before, {**before, "megan": BUSY}, at(3))

    assert until == at(3) + WORST_DELIVERY_TIME
    assert order.on_read(AVAILABLE, BUSY, at(4), at(4)) == Read(BUSY)
    assert order.on_watchdog()
    assert order.on_people_shown(before, {**before, "lee": BUSY}, at(70)) is None
