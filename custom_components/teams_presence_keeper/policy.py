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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import math
from typing import Any

from .auth.errors import (
    AppRegistrationError,
    SignInFailure,
    SignInRequiredError,
    SignInUnavailableError,
)
from .const import LOGGER
from .graph import (
    MAX_RETRY_AFTER,
    GraphAuthenticationError,
    GraphCertificateError,
    GraphConnectionError,
    GraphError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphServerError,
    GraphThrottledError,
    NotificationUrlError,
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

ISSUE_MISSING_PERMISSION = "missing_permission"
ISSUE_APP_REGISTRATION = "app_registration"
ISSUE_INSTANT_UPDATES_CONSENT = "instant_updates_consent"
ISSUE_INSTANT_UPDATES_ADDRESS = "instant_updates_address"
ISSUE_INSTANT_UPDATES_UNREACHABLE = "instant_updates_unreachable"
"""The address repair's words when Graph could not reach the external URL."""


class Failure(StrEnum):
    """The kinds of failure, by what to do about them."""

    THROTTLED = "throttled"
    """Graph asked to wait (429): every request waits for its Retry-After."""
    TRANSIENT = "transient"
    """Unreachable, a timeout, a 5xx, the sign-in service down, a refused TLS
    certificate (a proxy until the machine trusts it): retry later."""
    SIGN_IN = "sign_in"
    """The sign-in is gone for good (a 401 after a fresh token, a refused refresh)."""
    APP_REGISTRATION = "app_registration"
    """The app registration no longer allows the sign-in method: a repair, and retry."""
    MISSING_PERMISSION = "missing_permission"
    """Graph answered 403: the app lacks a permission or its consent."""
    NOT_FOUND = "not_found"
    """Graph answered 404: no such user, or no such session."""
    UNOFFERED = "unoffered"
    """A work-location write answered 403 or 404: this tenant's Graph has none."""
    REFUSED = "refused"
    """Graph refused the request itself (400 and the rest): retrying will not help."""


class Operation(StrEnum):
    """What failed: the same error calls for another remedy in each."""

    READ = "read"
    """The coordinator's read of presence: Home Assistant's schedule retries it."""
    WRITE = "write"
    """Setting or keeping alive the app session or the preferred presence: retried
    by the writer on its own, the wish kept meanwhile."""
    END_SESSION = "end_session"
    """The writer ending the app session: one already gone is what was wanted."""
    ACTION = "action"
    """A one-off request a caller waits for (the status message)."""
    WORK_LOCATION = "work_location"
    """A one-off work-location write: 403 or 404 means the tenant has none."""
    SUBSCRIBE = "subscribe"
    """Creating or renewing the subscription at a cloudhook."""
    SUBSCRIBE_EXTERNAL = "subscribe_external"
    """Creating or renewing the subscription at the external address."""
    CLEAN_UP = "clean_up"
    """Ending what an account leaves in Graph (its session at removal, a
    subscription): gone already is what was wanted; anything else is logged."""
    CHECK_ACCOUNT = "check_account"
    """The config flow reading the account it signed in to: a form error."""


@dataclass(frozen=True, slots=True)
class Repair:
    """A repair issue to raise: its kind, its words, and whether it only warns."""

    issue: str
    translation_key: str
    warning: bool = False
    names_app: bool = True
    """Its words name the app registration (its client id)."""
    named: tuple[str, ...] = ()
    """What else its words name, given by whoever carries it out (``url``)."""


@dataclass(frozen=True, slots=True)
class Remedy:
    """What to do about one failure of one operation."""

    failure: Failure
    operation: Operation
    reason: str
    """Graph's own words for the failure, or the sign-in's: for logs."""
    retry_at: datetime | None = None
    """When to try again by itself; ``None``: not by itself (a read follows its
    schedule, a sign-in waits for the user, a refusal for the next wish)."""
    error_key: str | None = None
    """What the caller is told (a translation key); ``None``: the caller is not
    failed (the wish is kept and retried, or nobody waits)."""
    placeholders: Mapping[str, str | datetime] = field(default_factory=dict)
    """The caller's error's placeholders; a moment is shown in local time."""
    sign_in_again: bool = False
    repair: Repair | None = None
    done: bool = False
    """The failure is what was wanted anyway (ending what is gone already)."""
    keeps_data: bool = False
    """A read: what was read last still stands (a wait Graph asked for)."""
    store: bool = False
    """The policy's stored part changed: store it, so a reload or restart waits too."""

    def wake(self, shown_change: datetime | None) -> datetime | None:
        """When to wake: the retry, or sooner what is shown changes by itself."""
        return min(
            (moment for moment in (self.retry_at, shown_change) if moment is not None),
            default=None,
        )


def classify(err: BaseException) -> Failure:
    """Return the kind of a failure raised by the Graph client or the sign-in."""
    if isinstance(err, GraphThrottledError):
        return Failure.THROTTLED
    if isinstance(err, AppRegistrationError):
        return Failure.APP_REGISTRATION
    if isinstance(
        err, (GraphConnectionError, GraphServerError, SignInUnavailableError)
    ):
        return Failure.TRANSIENT
    if isinstance(err, (GraphAuthenticationError, SignInRequiredError)):
        return Failure.SIGN_IN
    if isinstance(err, GraphPermissionError):
        return Failure.MISSING_PERMISSION
    if isinstance(err, GraphNotFoundError):
        return Failure.NOT_FOUND
    return Failure.REFUSED


def reason(err: BaseException) -> str:
    """Graph's own words for a failure, or (for logs) the sign-in's message key."""
    return err.reason if isinstance(err, GraphError) else str(err)


def _caller_words(err: BaseException, key: str) -> tuple[str, dict[str, str]]:
    """Return the translation key and placeholders telling a caller ``key``.

    A refused TLS certificate says so instead, naming the host, to whoever asks;
    a failed sign-in says why in its own words (its message names what to do).
    """
    if isinstance(err, GraphCertificateError):
        return "certificate_refused", {"host": err.host, "reason": err.reason}
    if isinstance(err, SignInFailure):
        return err.translation_key, dict(err.translation_placeholders)
    return key, {"reason": reason(err)}


_CALLER_ERRORS = {
    Failure.SIGN_IN: "sign_in_required",
    Failure.THROTTLED: "graph_unreachable",
    Failure.TRANSIENT: "graph_unreachable",
    Failure.APP_REGISTRATION: "graph_unreachable",
}
"""The translated error a caller sees, by kind; any other is Graph's refusal."""

_CHECK_ERRORS = {
    Failure.MISSING_PERMISSION: "missing_permission",
    Failure.NOT_FOUND: "user_not_found",
    Failure.TRANSIENT: "cannot_connect",
    Failure.THROTTLED: "cannot_connect",
}
"""The form error when reading the account fails, by kind; any other is unknown."""

_MISSING_PERMISSION = Repair(
    ISSUE_MISSING_PERMISSION, ISSUE_MISSING_PERMISSION, names_app=False
)
_CONSENT = Repair(
    ISSUE_INSTANT_UPDATES_CONSENT, ISSUE_INSTANT_UPDATES_CONSENT, warning=True
)
_UNREACHABLE = Repair(
    ISSUE_INSTANT_UPDATES_ADDRESS,
    ISSUE_INSTANT_UPDATES_UNREACHABLE,
    warning=True,
    named=("url",),
)
_SUBSCRIBING = (Operation.SUBSCRIBE, Operation.SUBSCRIBE_EXTERNAL)
_ONE_OFF = (Operation.ACTION, Operation.WORK_LOCATION)


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
        return self._throttled(
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
            return self._checked(err, failure)
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
            return replace(self._throttled(operation, reason(err), until), store=True)
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
            return self._read_failed(err, failure)
        if operation in _ONE_OFF:
            # No read follows a failed one-off request: it asks for the sign-in.
            return _telling_caller(
                err,
                failure,
                operation,
                _CALLER_ERRORS.get(failure, "graph_rejected"),
                sign_in_again=failure is Failure.SIGN_IN,
                repair=_repair(err, failure),
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

    @staticmethod
    def _throttled(operation: Operation, why: str, until: datetime) -> Remedy:
        """Wait as Graph asked: until ``until``.

        A one-off caller is told until when, a read keeps what it read, a write
        keeps its wish.
        """
        if operation is Operation.READ:
            return Remedy(
                Failure.THROTTLED,
                operation,
                why,
                retry_at=until,
                error_key="throttled",
                keeps_data=True,
            )
        return Remedy(
            Failure.THROTTLED,
            operation,
            why,
            retry_at=until,
            error_key="throttled_until" if operation in _ONE_OFF else None,
            placeholders={"time": until} if operation in _ONE_OFF else {},
        )

    def _read_failed(self, err: BaseException, failure: Failure) -> Remedy:
        """Fail a read: Home Assistant's schedule retries it; sign in again if gone."""
        if failure is Failure.SIGN_IN:
            return Remedy(
                failure,
                Operation.READ,
                reason(err),
                error_key="sign_in_required",
                sign_in_again=True,
            )
        return _telling_caller(
            err, failure, Operation.READ, "read_failed", repair=_repair(err, failure)
        )

    def _write_failed(
        self,
        err: BaseException,
        failure: Failure,
        operation: Operation,
        now: datetime,
        next_due: datetime | None,
    ) -> Remedy:
        """Keep a failed write's wish and retry an outage; tell the caller the rest."""
        repair = _repair(err, failure)
        if failure in (Failure.TRANSIENT, Failure.APP_REGISTRATION):
            delay = WRITE_RETRY_DELAYS[
                min(self.write_failures, len(WRITE_RETRY_DELAYS) - 1)
            ]
            self.write_failures += 1
            return Remedy(
                failure, operation, reason(err), retry_at=now + delay, repair=repair
            )
        key = _CALLER_ERRORS.get(failure, "graph_rejected")
        if failure is Failure.SIGN_IN:
            # Nothing can be sent until the user signs in again.
            return _telling_caller(err, failure, operation, key, sign_in_again=True)
        # Refused: Graph keeps the session it had, and so the keep-alive; a
        # refused keep-alive is asked again later, not at once.
        retry = next_due if next_due and next_due > now else now + REFUSED_RETRY
        return _telling_caller(
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
        repair = _repair(err, failure)
        if (
            isinstance(err, NotificationUrlError)
            and operation is Operation.SUBSCRIBE_EXTERNAL
        ):
            repair = _UNREACHABLE
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
            repair=_CONSENT,
        )

    def subscription_back_off(self, now: datetime) -> datetime:
        """Say when to subscribe again: 1 minute after the first failure, doubling to 30."""
        wait = self._subscription_retry
        self._subscription_retry = min(wait * 2, SUBSCRIPTION_LAST_RETRY)
        return now + wait

    @staticmethod
    def _checked(err: BaseException, failure: Failure) -> Remedy:
        """Return the config flow's form error for a failed read of the account."""
        if isinstance(err, GraphCertificateError):
            key, placeholders = _caller_words(err, "")
        else:
            key, placeholders = _CHECK_ERRORS.get(failure, "unknown"), {}
        return Remedy(
            failure,
            Operation.CHECK_ACCOUNT,
            reason(err),
            error_key=key,
            placeholders=placeholders,
        )

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


def _telling_caller(
    err: BaseException,
    failure: Failure,
    operation: Operation,
    key: str,
    *,
    retry_at: datetime | None = None,
    sign_in_again: bool = False,
    repair: Repair | None = None,
) -> Remedy:
    """Return a remedy that tells the caller ``key`` about ``err`` (see `_caller_words`)."""
    key, placeholders = _caller_words(err, key)
    return Remedy(
        failure,
        operation,
        reason(err),
        retry_at=retry_at,
        error_key=key,
        placeholders=placeholders,
        sign_in_again=sign_in_again,
        repair=repair,
    )


def _repair(err: BaseException, failure: Failure) -> Repair | None:
    """Return the repair a failure asks of the user, if any."""
    if failure is Failure.MISSING_PERMISSION:
        return _MISSING_PERMISSION
    if isinstance(err, AppRegistrationError):
        return Repair(ISSUE_APP_REGISTRATION, err.problem)
    return None
