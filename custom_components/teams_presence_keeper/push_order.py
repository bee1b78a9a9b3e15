"""Whether pushed presence may be shown as it came: the order rules of Instant updates.

Pure (no Home Assistant): ``push_inbox.py`` carries the verdicts out. A rich
notification carries the new availability and activity but no sequence number, and
Graph may deliver notifications late (a minute at most), out of order, and, after a
delivery failed, again for up to 4 hours. Two rules keep the sensor from going back
to an older state without a read in the usual case:

- After any time push did not work (a start, an outage, a watchdog fallback) push is
  trusted again only through a new subscription. What Graph retries from before
  names the old subscription, so it is dropped: one read right after subscribing
  covers every change it could carry, and a new subscription has no failed
  deliveries of its own to retry.
- Within a subscription a notification that arrives within a minute of another may
  have swapped places with it: it is read for, unless it says what is shown.

A read in turn must not undo a pushed change it never saw (``PushOrder.on_read``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .graph import PresenceChange, PresenceSnapshot

WORST_DELIVERY_TIME = timedelta(minutes=1)
"""Graph's documented worst: a change a read found must be announced by then, and two
notifications that arrive closer together than this may have swapped places."""


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


@dataclass(frozen=True, slots=True)
class _Pushed:
    """``change`` applied at ``at`` on top of the read Graph stamped ``onto``."""

    change: PresenceChange
    at: datetime
    onto: str | None


class PushOrder:
    """Decides, for one account, which notifications and reads say what is current.

    Starts as after a gap: Graph may retry what failed to arrive while Home
    Assistant was down, so the first subscription must be a new one.
    """

    def __init__(self) -> None:
        """Trust nothing until a new subscription exists."""
        self._subscription_id: str | None = None
        self._interrupted = True
        self._last_arrival: datetime | None = None
        self._pushed: _Pushed | None = None

    @property
    def wants_new_subscription(self) -> bool:
        """Whether the next subscription must be a new one (not a renewal)."""
        return self._interrupted

    def on_failure(self) -> None:
        """Push stopped working: a delivery may fail from now on, and be retried."""
        self._interrupted = True

    def on_subscribed(self, subscription_id: str) -> None:
        """Trust only the new subscription's notifications from now on.

        The caller reads once: no notification announces a change made before it
        existed.
        """
        self._subscription_id = subscription_id
        self._interrupted = False
        self._last_arrival = None

    def trusts(self, subscription_id: str) -> bool:
        """Whether a notification from ``subscription_id`` shows that push works."""
        return subscription_id == self._subscription_id and not self._interrupted

    def on_change(
        self, change: PresenceChange, shown: PresenceSnapshot | None, now: datetime
    ) -> Verdict:
        """Say what to do with ``change``, arriving at ``now`` while ``shown`` is shown."""
        if change.subscription_id != self._subscription_id:
            return Verdict.OLD_SUBSCRIPTION
        previous, self._last_arrival = self._last_arrival, now
        if change.presence is None or shown is None:
            return Verdict.READ
        if change.applied_to(shown) == shown:
            return Verdict.ALREADY_SHOWN
        if self._interrupted or (
            previous is not None and now - previous < WORST_DELIVERY_TIME
        ):
            return Verdict.READ
        self._pushed = _Pushed(change, now, shown.sequence_number)
        return Verdict.APPLY

    def on_read(
        self, snapshot: PresenceSnapshot, started: datetime
    ) -> PresenceSnapshot:
        """Return what a read that started at ``started`` leaves shown.

        The read, unless it may predate the change last pushed: it started before
        that notification arrived, or Graph stamped it no newer than the read the
        change was applied to (a replica lagging behind). Then the change stays,
        on top of the rest of the read.
        """
        pushed = self._pushed
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
