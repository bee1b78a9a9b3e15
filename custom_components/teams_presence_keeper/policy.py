"""What to do about a failure, as plain rules: no Home Assistant here.

Given an error of the Graph client or the sign-in and the operation it ended, the
policy returns a `Remedy`: the kind of failure, when to try again (or not by
itself), what the caller is told, whether to sign in again, which repair to raise,
and whether the failure is what was wanted anyway. It is the only place a remedy
is chosen; Home Assistant's side (``problems.py``) only carries remedies out.

It also keeps what a remedy depends on for one account: the wait a 429 asked of
every request (stored with the keeper's state, under ``throttled_until``) and the
back-off of writes and of the subscription.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
import math
from typing import Any

from .auth.errors import SignInRequiredError, SignInUnavailableError
from .const import LOGGER
from .graph import (
    MAX_RETRY_AFTER,
    GraphError,
    GraphThrottledError,
    NotificationUrlError,
)
from .remedies import (
    CALLER_ERRORS,
    CONSENT_REPAIR,
    ONE_OFF,
    UNREACHABLE_REPAIR,
    Failure,
    Operation,
    Remedy,
    account_check_failed,
    classify,
    person_lookup_failed,
    read_failed,
    reason,
    repair_for,
    telling_caller,
    throttled,
)

FAILURES = (GraphError, SignInRequiredError, SignInUnavailableError)
"""What talking to Graph or Entra ID can raise: the policy has a remedy for each."""

WRITE_RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=10),
    timedelta(seconds=20),
    timedelta(seconds=30),
)
"""Waits between retries of a failed write while Graph is unreachable."""
REFUSED_RETRY = timedelta(minutes=5)
"""When Graph refuses a keep-alive (say, a permission was removed), ask again this late."""
SUBSCRIPTION_FIRST_RETRY = timedelta(minutes=1)
SUBSCRIPTION_LAST_RETRY = timedelta(minutes=30)
"""A failed subscription is tried again 1 minute later, doubling up to this."""
CONSENT_RETRY = SUBSCRIPTION_LAST_RETRY
"""Graph refused the subscription (403): the consent is missing, asked again this late."""
THROTTLED_WITHOUT_RETRY_AFTER = WRITE_RETRY_DELAYS[-1]
"""How long to wait after a 429 that did not say how long."""
THROTTLED_AT_LEAST = timedelta(seconds=1)
"""The shortest wait after a 429: ``Retry-After: 0``, answered again and again, must
not become a loop of requests as fast as Graph answers."""
THROTTLED_AT_MOST = timedelta(seconds=MAX_RETRY_AFTER)
"""The longest wait after a 429, whatever the clock did since (set back, or ahead
when the store was written): the client takes no longer Retry-After."""

_SUBSCRIBING = (Operation.SUBSCRIBE, Operation.SUBSCRIBE_EXTERNAL)


@dataclass(slots=True)
class GraphWait:
    """Until when Graph asked an account to wait.

    Shared by the account's parts before and after a reload, so a 429 that lands
    late still holds the next ones.
    """

    until: datetime | None = None


class FailurePolicy:
    """One account's remedies, the wait Graph asked of it, and its back-offs."""

    def __init__(self, wait: GraphWait | None = None) -> None:
        """Start with no failure counted; ``wait`` is the account's, if shared."""
        self._wait = wait if wait is not None else GraphWait()
        self.write_failures = 0
        """Writes that failed in a row because Graph was unreachable."""
        self._subscription_retry = SUBSCRIPTION_FIRST_RETRY

    @property
    def throttled_until(self) -> datetime | None:
        """When the wait Graph asked for ends; ``None``: no wait."""
        return self._wait.until

    @throttled_until.setter
    def throttled_until(self, until: datetime | None) -> None:
        self._wait.until = until

    # Before sending

    def is_throttled(self, now: datetime) -> bool:
        """Whether Graph asked this account to wait past ``now``.

        A wait longer than any Graph asks for is the clock's doing (set back since):
        it is cut to the longest.
        """
        if self.throttled_until is None or now >= self.throttled_until:
            return False
        self.throttled_until = min(self.throttled_until, now + THROTTLED_AT_MOST)
        return True

    def held(self, operation: Operation, now: datetime) -> Remedy | None:
        """Return what to do instead of sending now, if Graph asked to wait."""
        if not self.is_throttled(now):
            return None
        return throttled(
            operation, "waiting for Graph's Retry-After", self.throttled_until or now
        )

    def next_wake(
        self, now: datetime, due: datetime | None, shown_change: datetime | None
    ) -> datetime | None:
        """When the writer wakes: ``due``, or while Graph asks to wait, its end.

        What is shown changes by itself (``shown_change``) even while it waits.
        """
        if not self.is_throttled(now):
            return due
        return min(
            (m for m in (self.throttled_until, shown_change) if m is not None),
            default=None,
        )

    @property
    def writes_failing(self) -> bool:
        """Whether the last writes failed because Graph was unreachable."""
        return self.write_failures > 0

    # After a failure

    def failed(
        self,
        err: BaseException,
        operation: Operation,
        now: datetime,
        *,
        next_due: datetime | None = None,
    ) -> Remedy:
        """Return the remedy of ``err``, which ended ``operation`` at ``now``.

        ``next_due`` is when a write would be due again anyway (a refused keep-alive
        is asked again then, or 5 minutes later, not at once).
        """
        failure = classify(err)
        if operation is Operation.CHECK_ACCOUNT:
            return account_check_failed(err, failure)
        if operation is Operation.FIND_PERSON:
            remedy = person_lookup_failed(err, failure)
            if isinstance(err, GraphThrottledError):
                # Graph asked the app to wait: every request of the account waits.
                self.throttle(err.retry_after, now)
                return replace(remedy, store=True)
            return remedy
        if failure is Failure.NOT_FOUND and operation in (
            Operation.END_SESSION,
            Operation.CLEAN_UP,
        ):
            return Remedy(failure, operation, reason(err), done=True)
        if operation is Operation.CLEAN_UP:
            return Remedy(failure, operation, reason(err))
        if isinstance(err, GraphThrottledError):
            until = self.throttle(err.retry_after, now)
            if operation in _SUBSCRIBING:
                # Never sooner than the back-off: a Retry-After of 0 (a proxy's)
                # would renew again at once, and again.
                until = max(until, self.subscription_back_off(now))
            return replace(throttled(operation, reason(err), until), store=True)
        if operation in _SUBSCRIBING:
            return self._subscription_failed(err, failure, operation, now)
        if operation is Operation.WORK_LOCATION and failure in (
            Failure.MISSING_PERMISSION,
            Failure.NOT_FOUND,
        ):
            return Remedy(
                Failure.UNOFFERED,
                operation,
                reason(err),
                error_key="work_location_refused",
                placeholders={"reason": reason(err)},
            )
        if operation is Operation.READ:
            return read_failed(err, failure)
        if operation in ONE_OFF:
            # No read follows a failed one-off request: it asks for the sign-in.
            return telling_caller(
                err,
                failure,
                operation,
                CALLER_ERRORS.get(failure, "graph_rejected"),
                sign_in_again=failure is Failure.SIGN_IN,
                repair=repair_for(err, failure),
            )
        return self._write_failed(err, failure, operation, now, next_due)

    def throttle(self, retry_after: float | None, now: datetime) -> datetime:
        """Graph answered 429: every request waits until the returned moment.

        No Retry-After (or one no clock can use) waits 30 s; one shorter than a
        second waits a second, one longer than Graph's longest an hour. A wait
        already asked for that ends later stands: requests sent together are
        answered one by one, and a shorter wait would cut the longer one short.
        """
        if retry_after is None or not math.isfinite(retry_after):
            wait = THROTTLED_WITHOUT_RETRY_AFTER
        else:
            seconds = min(retry_after, THROTTLED_AT_MOST.total_seconds())
            wait = max(timedelta(seconds=seconds), THROTTLED_AT_LEAST)
        until = now + wait
        if self.is_throttled(now) and self.throttled_until is not None:
            until = max(until, self.throttled_until)
        self.throttled_until = until
        return until

    def _write_failed(
        self,
        err: BaseException,
        failure: Failure,
        operation: Operation,
        now: datetime,
        next_due: datetime | None,
    ) -> Remedy:
        """Keep a failed write's wish and retry an outage; tell the caller the rest."""
        repair = repair_for(err, failure)
        if failure in (Failure.TRANSIENT, Failure.APP_REGISTRATION):
            delay = WRITE_RETRY_DELAYS[
                min(self.write_failures, len(WRITE_RETRY_DELAYS) - 1)
            ]
            self.write_failures += 1
            return Remedy(
                failure, operation, reason(err), retry_at=now + delay, repair=repair
            )
        key = CALLER_ERRORS.get(failure, "graph_rejected")
        if failure is Failure.SIGN_IN:
            # Nothing can be sent until the user signs in again.
            return telling_caller(err, failure, operation, key, sign_in_again=True)
        # Refused: Graph keeps the session it had, and so the keep-alive; a
        # refused keep-alive is asked again later, not at once.
        retry = next_due if next_due and next_due > now else now + REFUSED_RETRY
        return telling_caller(
            err, failure, operation, key, retry_at=retry, repair=repair
        )

    def _subscription_failed(
        self,
        err: BaseException,
        failure: Failure,
        operation: Operation,
        now: datetime,
    ) -> Remedy:
        """Poll after a failed subscription, and try again after the back-off."""
        if failure is Failure.MISSING_PERMISSION:
            consent = self.consent_missing(now + CONSENT_RETRY, reason(err))
            return replace(consent, operation=operation)
        repair = repair_for(err, failure)
        if (
            isinstance(err, NotificationUrlError)
            and operation is Operation.SUBSCRIBE_EXTERNAL
        ):
            repair = UNREACHABLE_REPAIR
        return Remedy(
            failure,
            operation,
            reason(err),
            retry_at=self.subscription_back_off(now),
            sign_in_again=failure is Failure.SIGN_IN,
            repair=repair,
        )

    def consent_missing(
        self, retry_at: datetime | None = None, why: str = "consent missing"
    ) -> Remedy:
        """Instant updates lack their consent: ask for it by signing in again.

        The repair says what an administrator must grant if it is refused.
        """
        return Remedy(
            Failure.MISSING_PERMISSION,
            Operation.SUBSCRIBE,
            why,
            retry_at=retry_at,
            sign_in_again=True,
            repair=CONSENT_REPAIR,
        )

    def subscription_back_off(self, now: datetime) -> datetime:
        """Say when to subscribe again: 1 minute after the first failure, doubling to 30."""
        wait = self._subscription_retry
        self._subscription_retry = min(wait * 2, SUBSCRIPTION_LAST_RETRY)
        return now + wait

    # After a success

    def succeeded(self, operation: Operation) -> None:
        """Start an operation's back-off over: it worked."""
        if operation in _SUBSCRIBING:
            self._subscription_retry = SUBSCRIPTION_FIRST_RETRY
        elif operation in (Operation.WRITE, Operation.END_SESSION):
            self.write_failures = 0

    # Restarts

    def as_dict(self) -> dict[str, Any]:
        """Return what outlives a restart: the wait Graph asked for."""
        return {
            "throttled_until": (
                self.throttled_until.isoformat() if self.throttled_until else None
            )
        }

    def restore(self, stored: object, now: datetime) -> None:
        """Load what ``as_dict`` saved (in the keeper's store); one that ended is over.

        A throttle still running holds every request after a reload or a restart;
        an unreadable one is dropped and logged. A wait learnt since it was stored
        (a 429 that landed after the unload) stands if it ends later.
        """
        running = self.throttled_until if self.is_throttled(now) else None
        self.throttled_until = _stored_wait(stored)
        if not self.is_throttled(now):
            self.throttled_until = None
        if running is not None and (
            self.throttled_until is None or running > self.throttled_until
        ):
            self.throttled_until = running


def _stored_wait(stored: object) -> datetime | None:
    """Read the stored ``throttled_until``; an unreadable one is dropped and logged."""
    text = stored.get("throttled_until") if isinstance(stored, dict) else None
    if not text:
        return None
    try:
        until = datetime.fromisoformat(text)
    except (ValueError, TypeError) as err:
        LOGGER.warning(
            "Dropped the stored throttled_until, which could not be read: %s", err
        )
        return None
    return until if until.tzinfo else until.replace(tzinfo=UTC)
