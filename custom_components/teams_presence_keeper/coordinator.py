"""One per account: reads presence, and is the only writer of what entities show.

What it reads, and what push brings: the webhook's checked notifications reach it
through one entry point, `async_pushed`, and it follows what ``push_freshness.py``
says (apply, read, or wait, and at which interval to poll). One subscription
carries the account and the people it follows: a followed person's change goes to
the people's coordinator (``people.py``), read for with its one batched read, and
polled at the interval push's health allows, as the account is. The session's wishes
are the writer's (``writer.py``), failures the policy's (``policy.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .const import CONF_USER_ID, DOMAIN, LOGGER
from .graph import (
    GraphPresenceClient,
    LifecycleNotice,
    PresenceChange,
    PresenceSnapshot,
)
from .people import PeopleCoordinator
from .policy import FAILURES
from .problems import AccountProblems
from .push_freshness import Lifecycle, PushFreshness, ReadBurst, Verdict
from .push_inbox import Pushed
from .remedies import Operation
from .unknown_values import UnknownValues


class PushSubscription(Protocol):
    """What the coordinator asks of the subscription's keeper (``push.py``)."""

    @property
    def subscription_id(self) -> str | None:
        """The subscription Graph holds for the account, if any."""

    @property
    def unreachable(self) -> bool:
        """Whether its last attempt failed for now (network, 5xx)."""

    @property
    def carries_all_people(self) -> bool:
        """Whether the subscription names everyone followed (Graph's limit: 650)."""

    def keep_soon(self) -> None:
        """Create or renew the subscription in the background."""

    async def async_reauthorize(self) -> None:
        """Answer Graph's reauthorization request."""


class TeamsPresenceCoordinator(DataUpdateCoordinator[PresenceSnapshot]):
    """Reads one account's presence and keeps its app session as wished."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: GraphPresenceClient,
        problems: AccountProblems,
        freshness: PushFreshness,
    ) -> None:
        """Read ``entry``'s presence through ``client``; ``problems`` carries out failures.

        ``freshness`` says what push brings is worth, and how often to poll.
        """
        self.freshness = freshness
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=self.freshness.read_interval,
            always_update=False,
        )
        self.client = client
        self.problems = problems
        self.policy = problems.policy
        self.push: PushSubscription | None = None
        """Graph's change notifications, with the Instant updates option."""
        self.people: PeopleCoordinator | None = None
        """The people the account follows, whose changes the same push carries."""
        self._user_id = str(entry.data[CONF_USER_ID]).lower()
        self._reconnect: Callable[[], None] | None = None
        self._unknown_values = UnknownValues()
        self._watchdog: CALLBACK_TYPE | None = None
        self._owed: set[Callable[[], None]] = set()
        """Reads for notifications Graph held or failed: made again once it may do."""
        self._after_wait: CALLBACK_TYPE | None = None

    @callback
    def when_graph_is_back(self, reconnect: Callable[[], None]) -> None:
        """Call ``reconnect`` when a read succeeds while writes were failing."""
        self._reconnect = reconnect

    async def async_shutdown(self) -> None:
        """Stop watching for what push did not announce, and stop reading."""
        self._calm_watchdog()
        if self._after_wait is not None:
            self._after_wait()
            self._after_wait = None
        await super().async_shutdown()

    async def _async_update_data(self) -> PresenceSnapshot:
        """Read the aggregated presence, unless Graph asked us to wait.

        A wait that outlived a reload or a restart holds the first read too: the
        entry is set up once it is over.
        """
        started = dt_util.utcnow()
        if (held := self.policy.held(Operation.READ, started)) is not None:
            return self.problems.read_failed(held, self.data)
        try:
            snapshot = await self.client.get_presence()
        except FAILURES as err:
            return self.problems.read_failed(
                self.problems.failed(err, Operation.READ), self.data, err
            )
        self.problems.resolved(wrote=False)
        if self.policy.writes_failing and self._reconnect is not None:
            # Graph is back: re-establish the session now, not at the next retry.
            self._reconnect()
        if (
            self.push is not None
            and self.push.unreachable
            and not self.last_update_success
        ):
            # The same for the subscription, when reads failed too: not after its
            # doubled back-off. Its own outage, while reads work, keeps the back-off.
            self.push.keep_soon()
        if self.data is not None and snapshot.is_older_than(self.data):
            LOGGER.debug("A read older than the last one arrived late; kept the last")
            return self.data
        read = self.freshness.on_read(self.data, snapshot, started, dt_util.utcnow())
        if read.watch_until is not None:
            self._watch(read.watch_until)
        return read.shown

    # What push brings: the webhook's one way in, and the subscription's news

    async def async_pushed(self, pushed: Sequence[Pushed]) -> None:
        """Take in what one body posted to the webhook held, checked, in order.

        Each change is applied, read for or dropped as the freshness rules say;
        Graph's reauthorization request is answered once per body, and the people
        read for once per body, however many of them it names.
        """
        reauthorize = read_people = False
        applied: list[PresenceChange] = []
        shown_after: dict[str, PresenceSnapshot] = {}
        for item in pushed:
            match item:
                case PresenceChange() if item.user_id.lower() == self._user_id:
                    self._take_change(item)
                case PresenceChange():
                    read_people |= self._take_person_change(item, applied, shown_after)
                case LifecycleNotice():
                    reauthorize |= self._take_notice(item)
        if applied and self.people is not None:
            self.people.apply_changes(applied)
        if read_people:
            self._read_people_for_push()
        if reauthorize and self.push is not None:
            await self.push.async_reauthorize()

    def _take_change(self, change: PresenceChange) -> None:
        was_healthy = self.freshness.healthy
        verdict = self.freshness.on_change(change, self.data, dt_util.utcnow())
        self._follow_push(was_healthy)
        if verdict is Verdict.APPLY:
            # Not async_set_updated_data: that would put off the safety read.
            self.data = change.applied_to(self.data)
        if verdict is Verdict.APPLY or self.freshness.healthy != was_healthy:
            self.async_update_listeners()
        if verdict is Verdict.READ:
            self._read_for_push()

    def _take_person_change(
        self,
        change: PresenceChange,
        applied: list[PresenceChange],
        shown_after: dict[str, PresenceSnapshot],
    ) -> bool:
        """Take a followed person's change, by the same rules kept per person.

        Returns whether the people are to be read for it; one to show goes to
        ``applied``, shown with the rest of the body's, and what it shows of its
        person to ``shown_after``, which the body's next change of them is judged
        against. A change of someone no longer followed (from before a reload) is
        dropped.
        """
        people = self.people
        if people is None or change.user_id.lower() not in people.followed:
            self.freshness.counts["not_followed"] += 1
            return False
        user_id = change.user_id.lower()
        shown = shown_after.get(user_id)
        if shown is None and people.data is not None:
            shown = people.data.presences.get(user_id)
        was_healthy = self.freshness.healthy
        verdict = self.freshness.on_person_change(change, shown, dt_util.utcnow())
        self._follow_push(was_healthy)
        if verdict is Verdict.APPLY:
            applied.append(change)
            if shown is not None:
                shown_after[user_id] = change.applied_to(shown)
        if self.freshness.healthy != was_healthy:
            self.async_update_listeners()
        return verdict is Verdict.READ

    def _take_notice(self, notice: LifecycleNotice) -> bool:
        """Do what a lifecycle notice asks; return whether to reauthorize."""
        held = self.push.subscription_id if self.push is not None else None
        was_healthy = self.freshness.healthy
        match self.freshness.on_lifecycle(notice, held):
            case Lifecycle.READ:
                self._read_for_push()
                self._read_people_for_push()
            case Lifecycle.GAP:
                self._follow_push(was_healthy)
                self.async_update_listeners()
                self._keep_subscription()
            case Lifecycle.REAUTHORIZE:
                return True
        return False

    @callback
    def push_subscribed(self, subscription_id: str) -> None:
        """Trust a new subscription's notifications; read what none announced."""
        self.freshness.on_subscribed(subscription_id)
        self._calm_watchdog()
        self._read_for_push()
        self._read_people_for_push()

    @callback
    def push_working(self) -> None:
        """Note that the subscription was made or renewed."""
        was_healthy = self.freshness.healthy
        self.freshness.on_working()
        self._follow_push(was_healthy)
        self.async_update_listeners()  # the mode shown: healthy, or a new address

    @callback
    def push_failed(self) -> None:
        """Push stopped working (a failure, no address, the cloud gone): poll."""
        self._follow_push(self.freshness.on_failure())
        self.async_update_listeners()

    def _follow_push(self, was_healthy: bool) -> None:
        """Poll as fast as push's health asks; read at once when it just failed.

        The one place the polling interval is set, the people's too.
        """
        self.update_interval = self.freshness.read_interval
        if self.people is not None:
            self.people.update_interval = self.freshness.people_read_interval(
                self.push is not None and self.push.carries_all_people
            )
        if self.freshness.watch_until is None:
            self._calm_watchdog()
        if was_healthy and not self.freshness.healthy:
            for coordinator in (self, self.people):
                if coordinator is not None:
                    self.config_entry.async_create_background_task(
                        self.hass, coordinator.async_request_refresh(), f"{DOMAIN} poll"
                    )

    @callback
    def people_read(
        self,
        previous: Mapping[str, PresenceSnapshot],
        shown: Mapping[str, PresenceSnapshot],
    ) -> None:
        """Watch for the notification of a person's change a people read found.

        Only while the subscription carries everyone followed: beyond Graph's 650
        ids some are never announced, and are polled anyway.
        """
        if self.push is None or not self.push.carries_all_people:
            return
        until = self.freshness.on_people_shown(previous, shown, dt_util.utcnow())
        if until is not None:
            self._watch(until)

    def _keep_subscription(self) -> None:
        if self.push is not None:
            self.push.keep_soon()

    @callback
    def _read_for_push(self) -> None:
        """Read once for a burst: notifications during a read ask for one more."""
        self._read_burst(
            self, self.freshness.reads, self._read_for_push, "notified read"
        )

    @callback
    def _read_people_for_push(self) -> None:
        """Read everyone followed once for a burst, however many people it named."""
        if self.people is not None:
            self._read_burst(
                self.people,
                self.freshness.people_reads,
                self._read_people_for_push,
                "notified people read",
            )

    def _read_burst(
        self,
        reader: DataUpdateCoordinator[Any],
        burst: ReadBurst,
        again: Callable[[], None],
        name: str,
    ) -> None:
        """Start ``reader``'s reads for ``burst`` unless they run already.

        ``again`` asks for them anew if Graph held or failed the last (see
        `_owe_if_unread`).
        """
        if burst.want():
            self.config_entry.async_create_background_task(
                self.hass,
                self._async_read_burst(reader, burst, again),
                f"{DOMAIN} {name}",
            )

    async def _async_read_burst(
        self,
        reader: DataUpdateCoordinator[Any],
        burst: ReadBurst,
        again: Callable[[], None],
    ) -> None:
        try:
            while burst.again():
                await reader.async_refresh()
        finally:
            burst.done()
        self._owe_if_unread(again, read=reader.last_update_success)

    def _owe_if_unread(self, again: Callable[[], None], *, read: bool) -> None:
        """Read ``again`` if the read for a notification was held, or failed (``read``).

        When Graph's wait is over, or at the Read interval after a failure: what
        the notification announced is not to wait for the next safety read.
        """
        now = dt_util.utcnow()
        if self.policy.is_throttled(now):
            until = self.policy.throttled_until or now
        elif not read:
            until = now + self.freshness.retry_interval
        else:
            return
        self._owed.add(again)
        if self._after_wait is None:
            self._after_wait = async_track_point_in_utc_time(
                self.hass, self._wait_over, until
            )

    @callback
    def _wait_over(self, _now: datetime) -> None:
        self._after_wait = None
        owed, self._owed = self._owed, set()
        for read in owed:
            read()

    def _watch(self, until: datetime) -> None:
        """Fall back to polling at ``until`` unless a notification comes first."""
        self._calm_watchdog()
        self._watchdog = async_track_point_in_utc_time(
            self.hass, self._watchdog_alarm, until
        )

    def _calm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog()
            self._watchdog = None

    @callback
    def _watchdog_alarm(self, _now: datetime) -> None:
        self._watchdog = None
        if not self.freshness.on_watchdog():
            return
        if self.freshness.counts["watchdog_fallbacks"] == 1:
            LOGGER.warning(
                "Graph did not announce a Teams presence change within a minute:"
                " reading presence at the Read interval until notifications arrive"
            )
        self._follow_push(was_healthy=True)
        self.async_update_listeners()
        self._keep_subscription()  # a new subscription, as after any gap

    @callback
    def async_update_listeners(self) -> None:
        """Update the entities; first log what Graph sent that this version does not know.

        Here, so a value that arrives by push is logged as one that was read.
        """
        if self.data is not None:
            self._unknown_values.log(self.data)
        super().async_update_listeners()
