"""Whether pushed presence is fresh: the rules of Instant updates, as one machine.

Pure (no Home Assistant): the coordinator feeds it every notification, read,
subscription, failure and watchdog alarm, and carries out what it says. A rich
notification carries the new availability and activity but no sequence number, and
Graph may deliver notifications late (a minute at most), out of order, and, after a
delivery failed, again for up to 4 hours. The rules that keep the sensor from going
back to an older state without a read in the usual case:

- After any time push did not work (a start, an outage, a watchdog fallback) push is
  trusted again only through a new subscription. What Graph retries from before
  names the old subscription, so it is dropped: one read right after subscribing
  covers every change it could carry, and a new subscription has no failed
  deliveries of its own to retry.
- Within a subscription a notification that arrives within a minute of another
  about the same person may have swapped places with it: it is read for, unless it
  says what is shown.
- A read must not undo a pushed change it never saw; a change a read finds that no
  notification announced within a minute trips the watchdog: push is then silent,
  polled at the Read interval, until a notification of a new subscription arrives.
- Reads for notifications are coalesced: those asked for during one are one more.

The account and each person it follows share one subscription, its health and its
gaps; the order rules hold per person (two people changing within a minute is no
swap), and a person's read is the one batched read of everyone followed, coalesced
apart from the account's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .graph import (
    MAX_PRESENCE_IDS,
    LifecycleEvent,
    LifecycleNotice,
    PresenceChange,
    PresenceSnapshot,
)

WORST_DELIVERY_TIME = timedelta(minutes=1)
"""Graph's documented worst: a change a read found must be announced by then, and two
notifications that arrive closer together than this may have swapped places."""
SAFETY_READ_INTERVAL = timedelta(minutes=15)
"""Reads while push is healthy: status message and work location may not notify."""
PUSHED_PEOPLE_AT_MOST = MAX_PRESENCE_IDS - 1
"""People an account with Instant updates follows: Graph names at most 650 ids in the
one subscription an account has, and the account's own is one of them. The flows
refuse more, so push never leaves anyone to be polled."""


def pushes_everyone(people: int) -> bool:
    """Whether the account's one subscription can carry ``people`` followed, and it."""
    return people <= PUSHED_PEOPLE_AT_MOST


class Verdict(StrEnum):
    """What to do with a notification of a presence change."""

    APPLY = "apply"
    """Show its availability and activity: nothing older can follow it."""
    READ = "read"
    """Read presence: it names no presence (basic), or it may be out of order."""
    ALREADY_SHOWN = "already_shown"
    """It says what is shown: applied or not, nothing would change."""
    OLD_SUBSCRIPTION = "old_subscription"
    """From a subscription made before the last gap: a retry, older than the read
    made after subscribing again."""


class Lifecycle(StrEnum):
    """What to do with a lifecycle notice."""

    READ = "read"
    """Graph dropped notifications: what they carried is read, not waited for."""
    GAP = "gap"
    """Graph ended the subscription: a new one now, polling till then."""
    REAUTHORIZE = "reauthorize"
    """Answer Graph's reauthorization request."""
    NOT_HELD = "not_held"
    """About a subscription replaced since, or never ours: nothing to answer."""


@dataclass(frozen=True, slots=True)
class Read:
    """What a read leaves shown; ``watch_until``: it armed the watchdog till then."""

    shown: PresenceSnapshot
    watch_until: datetime | None = None


_ACCOUNT = ""
"""The key of the account's own presence among the people's object ids."""


class ReadBurst:
    """Reads for notifications, coalesced: those asked for during one are one more."""

    def __init__(self, counts: Counter[str]) -> None:
        """Count the coalesced reads in ``counts``."""
        self._counts = counts
        self._reading = False
        self._again = False

    @property
    def reading(self) -> bool:
        """Whether a read for notifications is in flight."""
        return self._reading

    def want(self) -> bool:
        """Ask for a read: True to start one now.

        False while one is in flight: it reads once more.
        """
        if self._reading:
            self._counts["coalesced"] += 1
            self._again = True
            return False
        self._reading = self._again = True
        return True

    def again(self) -> bool:
        """Whether the reads go on: once more if one asked meanwhile."""
        again, self._again = self._again, False
        return again

    def done(self) -> None:
        """End the reads: the next notification starts one."""
        self._reading = self._again = False


@dataclass(frozen=True, slots=True)
class _Pushed:
    """``change`` applied at ``at`` on top of the read Graph stamped ``onto``."""

    change: PresenceChange
    at: datetime
    onto: str | None


class PushFreshness:
    """Decides, for one account, what pushed and read presence says is current.

    Starts as after a gap: Graph may retry what failed to arrive while Home
    Assistant was down, so the first subscription must be a new one; push is not
    healthy until one works.
    """

    def __init__(self, read_interval: timedelta) -> None:
        """Poll at ``read_interval`` (the option) while push is not healthy."""
        self._read_interval = read_interval
        self._subscription_id: str | None = None
        self._interrupted = True
        self._healthy = False
        self._silent = False
        self._last_arrival: dict[str, datetime] = {}
        """By person (the account: ``_ACCOUNT``), within the subscription."""
        self._pushed: dict[str, _Pushed] = {}
        """By person: the change last applied (one each: a few KiB for 650)."""
        self._watch_until: datetime | None = None
        self.last_notification: datetime | None = None
        """When the last notification of a change was accepted."""
        self.counts: Counter[str] = Counter()
        """Accepted; confirmed by a read, already shown, from an old subscription;
        coalesced reads; lifecycle notices; watchdog fallbacks."""
        self.reads = ReadBurst(self.counts)
        """Reads of the account's own presence for notifications."""
        self.people_reads = ReadBurst(self.counts)
        """The people's batched reads for notifications: a burst costs one."""

    @property
    def healthy(self) -> bool:
        """Whether push works: presence is then read only as a safety net."""
        return self._healthy

    @property
    def silent(self) -> bool:
        """A change went unannounced: polling until a notification arrives."""
        return self._silent

    @property
    def wants_new_subscription(self) -> bool:
        """Whether the next subscription must be a new one (not a renewal)."""
        return self._interrupted

    @property
    def watch_until(self) -> datetime | None:
        """When the watchdog falls back unless a notification calms it first."""
        return self._watch_until

    @property
    def read_interval(self) -> timedelta:
        """The polling interval that applies now.

        Healthy: every 15 minutes, or at a longer Read interval (push never reads
        more); otherwise at the Read interval.
        """
        if self._healthy:
            return max(SAFETY_READ_INTERVAL, self._read_interval)
        return self._read_interval

    @property
    def retry_interval(self) -> timedelta:
        """When a read for a notification that failed is made again: the Read interval."""
        return self._read_interval

    def people_read_interval(self, all_subscribed: bool) -> timedelta:
        """Return the people's polling interval: the account's while push carries all.

        Graph names at most 650 people in a subscription, the account among them:
        beyond that, someone is never pushed, so everyone's one batched read keeps
        the Read interval.
        """
        return self.read_interval if all_subscribed else self._read_interval

    # The subscription's life

    def on_subscribed(self, subscription_id: str) -> None:
        """Trust only the new subscription's notifications from now on.

        The caller reads once: no notification announces a change made before it
        existed. A change a read found unannounced was the old one's to announce.
        """
        self._subscription_id = subscription_id
        self._interrupted = False
        self._last_arrival.clear()
        self._watch_until = None

    def on_working(self) -> None:
        """Note that the subscription was made or renewed: push is healthy.

        Unless silent since the watchdog tripped: then a notification decides.
        """
        if not self._silent:
            self._healthy = True

    def on_failure(self) -> bool:
        """Push stopped working: a delivery may fail from now on, and be retried.

        Returns whether push was healthy: the caller reads at once.
        """
        was, self._healthy, self._interrupted = self._healthy, False, True
        return was

    # What arrives

    def on_change(
        self, change: PresenceChange, shown: PresenceSnapshot | None, now: datetime
    ) -> Verdict:
        """Say what to do with ``change``, arriving at ``now`` while ``shown`` is shown.

        A notification of the trusted subscription shows that push works: it calms
        the watchdog and ends a silence.
        """
        return self._on_change(_ACCOUNT, change, shown, now)

    def on_person_change(
        self, change: PresenceChange, shown: PresenceSnapshot | None, now: datetime
    ) -> Verdict:
        """Say what to do with ``change`` of a followed person, shown as ``shown``.

        The same rules as for the account's own presence, kept per person: a
        ``Verdict.READ`` is for the people's batched read.
        """
        return self._on_change(change.user_id.lower(), change, shown, now)

    def _on_change(
        self,
        person: str,
        change: PresenceChange,
        shown: PresenceSnapshot | None,
        now: datetime,
    ) -> Verdict:
        self.last_notification = now
        self.counts["accepted"] += 1
        if self._trusts(change.subscription_id):
            self._watch_until = None
            self._silent = False
            self._healthy = True
        verdict = self._verdict(person, change, shown, now)
        if verdict is Verdict.READ:
            if change.presence is not None:
                self.counts["confirmed_by_read"] += 1
        elif verdict is not Verdict.APPLY:
            self.counts[verdict.value] += 1
        return verdict

    def _trusts(self, subscription_id: str) -> bool:
        return subscription_id == self._subscription_id and not self._interrupted

    def _verdict(
        self,
        person: str,
        change: PresenceChange,
        shown: PresenceSnapshot | None,
        now: datetime,
    ) -> Verdict:
        if change.subscription_id != self._subscription_id:
            return Verdict.OLD_SUBSCRIPTION
        previous = self._last_arrival.get(person)
        self._last_arrival[person] = now
        if change.presence is None or shown is None:
            return Verdict.READ
        if change.applied_to(shown) == shown:
            return Verdict.ALREADY_SHOWN
        if self._interrupted or (
            previous is not None and now - previous < WORST_DELIVERY_TIME
        ):
            return Verdict.READ
        self._pushed[person] = _Pushed(change, now, shown.sequence_number)
        return Verdict.APPLY

    def on_lifecycle(self, notice: LifecycleNotice, held: str | None) -> Lifecycle:
        """Say what to do with ``notice``, while Graph holds subscription ``held``.

        Only the subscription Graph holds for us is answered: one replaced since (a
        retry) or never ours has nothing left to answer.
        """
        if notice.subscription_id != held:
            self.counts["lifecycle_other_subscription"] += 1
            return Lifecycle.NOT_HELD
        match notice.event:
            case LifecycleEvent.MISSED:
                self.counts["lifecycle_missed"] += 1
                return Lifecycle.READ
            case LifecycleEvent.SUBSCRIPTION_REMOVED:
                self.counts["lifecycle_removed"] += 1
                self.on_failure()
                return Lifecycle.GAP
        return Lifecycle.REAUTHORIZE

    # Reads

    def on_read(
        self,
        previous: PresenceSnapshot | None,
        snapshot: PresenceSnapshot,
        started: datetime,
        now: datetime,
    ) -> Read:
        """Say what a read that started at ``started`` and ended ``now`` leaves shown.

        The read, unless it may predate the change last pushed: it started before
        that notification arrived, or Graph stamped it no newer than the read the
        change was applied to (a replica lagging behind). Then the change stays, on
        top of the rest of the read. A change from ``previous`` that no
        notification asked this read for arms the watchdog, while push is healthy.
        """
        shown = self._keep_pushed(_ACCOUNT, snapshot, started)
        if (
            self._healthy
            and not self.reads.reading
            and self._watch_until is None
            and previous is not None
            and (previous.availability, previous.activity)
            != (shown.availability, shown.activity)
        ):
            self._watch_until = now + WORST_DELIVERY_TIME
            return Read(shown, self._watch_until)
        return Read(shown)

    def on_people_read(
        self, read: Mapping[str, PresenceSnapshot], started: datetime
    ) -> dict[str, PresenceSnapshot]:
        """Say what a batched read of the people, started at ``started``, leaves shown.

        Per person, as ``on_read``: a read that may predate a person's pushed
        change keeps that change on top of the rest of what it read.
        """
        return {
            person: self._keep_pushed(person, snapshot, started)
            for person, snapshot in read.items()
        }

    def on_people_shown(
        self,
        previous: Mapping[str, PresenceSnapshot],
        shown: Mapping[str, PresenceSnapshot],
        now: datetime,
    ) -> datetime | None:
        """Arm the watchdog when a people read found a change no notification asked for.

        As ``on_read`` for the account: the one subscription carries everyone, so a
        followed person's change unannounced within a minute shows it silent too
        (an account that never changes, a meeting room's, would never find it).
        Returns when the watchdog falls back, if it armed it.
        """
        if (
            not self._healthy
            or self.people_reads.reading
            or self._watch_until is not None
        ):
            return None
        if any(
            (before := previous.get(person)) is not None
            and (before.availability, before.activity)
            != (snapshot.availability, snapshot.activity)
            for person, snapshot in shown.items()
        ):
            self._watch_until = now + WORST_DELIVERY_TIME
        return self._watch_until

    def _keep_pushed(
        self, person: str, snapshot: PresenceSnapshot, started: datetime
    ) -> PresenceSnapshot:
        pushed = self._pushed.get(person)
        if pushed is None:
            return snapshot
        lagging = (
            snapshot.sequence_number is not None
            and pushed.onto is not None
            and snapshot.sequence_number <= pushed.onto
        )
        if started >= pushed.at and not lagging:
            return snapshot
        return pushed.change.applied_to(snapshot)

    def on_watchdog(self) -> bool:
        """End the watchdog's minute: return whether push falls back to polling.

        Not when a notification calmed it, nor when push was down meanwhile (its
        next subscription is a new one anyway). A fallback is a gap: silent, and a
        new subscription, whose notification ends the silence.
        """
        watching, self._watch_until = self._watch_until is not None, None
        if not watching or not self._healthy:
            return False
        self._silent = True
        self.counts["watchdog_fallbacks"] += 1
        self.on_failure()
        return True
