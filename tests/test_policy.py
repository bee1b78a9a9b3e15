"""The failure policy without Home Assistant: every error of every operation, a remedy.

A table of each error the Graph client or the sign-in raises against each
operation; then the account-wide throttle at and past its limits, each back-off and
its reset, and the stored throttle. The end-to-end runs through Home Assistant are
in ``test_reliability.py``, ``test_repairs.py``, ``test_push_life.py`` and others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from custom_components.teams_presence_keeper.auth.errors import (
    AppRegistrationError,
    SignInCertificateError,
    SignInRequiredError,
    SignInUnavailableError,
)
from custom_components.teams_presence_keeper.graph import (
    MAX_RETRY_AFTER,
    AppPresence,
    GraphAuthenticationError,
    GraphCertificateError,
    GraphConnectionError,
    GraphError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphServerError,
    GraphThrottledError,
    GraphValidationError,
    NotificationUrlError,
    PreferredPresence,
    SubscriptionConflictError,
)
from custom_components.teams_presence_keeper.keeper import SessionKeeper
from custom_components.teams_presence_keeper.policy import FailurePolicy, GraphWait
from custom_components.teams_presence_keeper.remedies import (
    ISSUE_APP_REGISTRATION,
    ISSUE_INSTANT_UPDATES_ADDRESS,
    ISSUE_INSTANT_UPDATES_CONSENT,
    ISSUE_MISSING_PERMISSION,
    Failure,
    Operation,
    Remedy,
)
from custom_components.teams_presence_keeper.session_records import SetSession

from .test_keeper import AWAY, BUSY, FIVE_MINUTES, HOUR, T0, at, keeper_holding

ERRORS: dict[str, Exception] = {
    "throttled": GraphThrottledError(
        "TooManyRequests", "Slow down", status=429, retry_after=90
    ),
    "unreachable": GraphConnectionError("timeout", "No answer"),
    "certificate": GraphCertificateError("graph.example", "self-signed certificate"),
    "server": GraphServerError("InternalServerError", "Oops", status=500),
    "unauthenticated": GraphAuthenticationError(
        "InvalidAuthenticationToken", "Expired", status=401
    ),
    "forbidden": GraphPermissionError("Forbidden", "", status=403),
    "not_found": GraphNotFoundError("NotFound", "No such session", status=404),
    "invalid": GraphValidationError("BadRequest", "Bad body", status=400),
    "url": NotificationUrlError(
        "ValidationError", "Subscription validation request failed", status=400
    ),
    "conflict": SubscriptionConflictError("Conflict", "Exists", status=409),
    "other": GraphError("Teapot", "I am a teapot", status=418),
    "sign_in_required": SignInRequiredError(),
    "sign_in_unavailable": SignInUnavailableError(),
    "sign_in_certificate": SignInCertificateError("login.example", "expired"),
    "app_registration": AppRegistrationError("public_client_disabled"),
}


@dataclass(frozen=True)
class Expected:
    """A remedy in short: seconds after T0 to retry, and the flags set."""

    failure: Failure
    retry: float | None = None
    key: str | None = None
    sign_in: bool = False
    repair: str | None = None
    done: bool = False
    keeps_data: bool = False


def remedy_in_short(remedy: Remedy) -> Expected:
    return Expected(
        remedy.failure,
        None if remedy.retry_at is None else (remedy.retry_at - T0).total_seconds(),
        remedy.error_key,
        remedy.sign_in_again,
        remedy.repair.translation_key if remedy.repair else None,
        remedy.done,
        remedy.keeps_data,
    )


THR, TRA, SIGN, APP, PERM, NOTF, OFF, REF = (
    Failure.THROTTLED,
    Failure.TRANSIENT,
    Failure.SIGN_IN,
    Failure.APP_REGISTRATION,
    Failure.MISSING_PERMISSION,
    Failure.NOT_FOUND,
    Failure.UNOFFERED,
    Failure.REFUSED,
)
APP_REPAIR = "public_client_disabled"
"""The app registration repair's words: the problem the sign-in named."""

TABLE: dict[Operation, dict[str, Expected]] = {
    Operation.READ: {
        "throttled": Expected(THR, 90, "throttled", keeps_data=True),
        "unreachable": Expected(TRA, None, "read_failed"),
        "certificate": Expected(TRA, None, "certificate_refused"),
        "server": Expected(TRA, None, "read_failed"),
        "unauthenticated": Expected(SIGN, None, "sign_in_required", sign_in=True),
        "forbidden": Expected(
            PERM, None, "read_failed", repair=ISSUE_MISSING_PERMISSION
        ),
        "not_found": Expected(NOTF, None, "read_failed"),
        "invalid": Expected(REF, None, "read_failed"),
        "url": Expected(REF, None, "read_failed"),
        "conflict": Expected(REF, None, "read_failed"),
        "other": Expected(REF, None, "read_failed"),
        "sign_in_required": Expected(SIGN, None, "sign_in_required", sign_in=True),
        "sign_in_unavailable": Expected(TRA, None, "sign_in_unavailable"),
        "sign_in_certificate": Expected(TRA, None, "certificate_refused"),
        "app_registration": Expected(
            APP, None, "public_client_disabled", repair=APP_REPAIR
        ),
    },
    Operation.WRITE: {
        "throttled": Expected(THR, 90),
        "unreachable": Expected(TRA, 5),
        "certificate": Expected(TRA, 5),
        "server": Expected(TRA, 5),
        "unauthenticated": Expected(SIGN, None, "sign_in_required", sign_in=True),
        "forbidden": Expected(
            PERM, 300, "graph_rejected", repair=ISSUE_MISSING_PERMISSION
        ),
        "not_found": Expected(NOTF, 300, "graph_rejected"),
        "invalid": Expected(REF, 300, "graph_rejected"),
        "url": Expected(REF, 300, "graph_rejected"),
        "conflict": Expected(REF, 300, "graph_rejected"),
        "other": Expected(REF, 300, "graph_rejected"),
        "sign_in_required": Expected(SIGN, None, "sign_in_required", sign_in=True),
        "sign_in_unavailable": Expected(TRA, 5),
        "sign_in_certificate": Expected(TRA, 5),
        "app_registration": Expected(APP, 5, repair=APP_REPAIR),
    },
    Operation.ACTION: {
        "throttled": Expected(THR, 90, "throttled_until"),
        "unreachable": Expected(TRA, None, "graph_unreachable"),
        "certificate": Expected(TRA, None, "certificate_refused"),
        "server": Expected(TRA, None, "graph_unreachable"),
        # No read follows a failed action: it asks for the sign-in itself.
        "unauthenticated": Expected(SIGN, None, "sign_in_required", sign_in=True),
        "forbidden": Expected(
            PERM, None, "graph_rejected", repair=ISSUE_MISSING_PERMISSION
        ),
        "not_found": Expected(NOTF, None, "graph_rejected"),
        "invalid": Expected(REF, None, "graph_rejected"),
        "url": Expected(REF, None, "graph_rejected"),
        "conflict": Expected(REF, None, "graph_rejected"),
        "other": Expected(REF, None, "graph_rejected"),
        "sign_in_required": Expected(SIGN, None, "sign_in_required", sign_in=True),
        "sign_in_unavailable": Expected(TRA, None, "sign_in_unavailable"),
        "sign_in_certificate": Expected(TRA, None, "certificate_refused"),
        "app_registration": Expected(
            APP, None, "public_client_disabled", repair=APP_REPAIR
        ),
    },
    Operation.SUBSCRIBE: {
        "throttled": Expected(THR, 90),
        "unreachable": Expected(TRA, 60),
        "certificate": Expected(TRA, 60),
        "server": Expected(TRA, 60),
        "unauthenticated": Expected(SIGN, 60, sign_in=True),
        "forbidden": Expected(
            PERM, 1800, sign_in=True, repair=ISSUE_INSTANT_UPDATES_CONSENT
        ),
        "not_found": Expected(NOTF, 60),
        "invalid": Expected(REF, 60),
        "url": Expected(REF, 60),
        "conflict": Expected(REF, 60),
        "other": Expected(REF, 60),
        "sign_in_required": Expected(SIGN, 60, sign_in=True),
        "sign_in_unavailable": Expected(TRA, 60),
        "sign_in_certificate": Expected(TRA, 60),
        "app_registration": Expected(APP, 60, repair=APP_REPAIR),
    },
    Operation.CLEAN_UP: {
        "throttled": Expected(THR),
        "unreachable": Expected(TRA),
        "certificate": Expected(TRA),
        "server": Expected(TRA),
        "unauthenticated": Expected(SIGN),
        "forbidden": Expected(PERM),
        "not_found": Expected(NOTF, done=True),
        "invalid": Expected(REF),
        "url": Expected(REF),
        "conflict": Expected(REF),
        "other": Expected(REF),
        "sign_in_required": Expected(SIGN),
        "sign_in_unavailable": Expected(TRA),
        "sign_in_certificate": Expected(TRA),
        "app_registration": Expected(APP),
    },
    Operation.CHECK_ACCOUNT: {
        "throttled": Expected(THR, None, "cannot_connect"),
        "unreachable": Expected(TRA, None, "cannot_connect"),
        "certificate": Expected(TRA, None, "certificate_refused"),
        "server": Expected(TRA, None, "cannot_connect"),
        "unauthenticated": Expected(SIGN, None, "unknown"),
        "forbidden": Expected(PERM, None, "missing_permission"),
        "not_found": Expected(NOTF, None, "user_not_found"),
        "invalid": Expected(REF, None, "unknown"),
        "url": Expected(REF, None, "unknown"),
        "conflict": Expected(REF, None, "unknown"),
        "other": Expected(REF, None, "unknown"),
        "sign_in_required": Expected(SIGN, None, "unknown"),
        "sign_in_unavailable": Expected(TRA, None, "cannot_connect"),
        "sign_in_certificate": Expected(TRA, None, "cannot_connect"),
        "app_registration": Expected(APP, None, "unknown"),
    },
    # "Add person": a form error; a lost sign-in ends the flow.
    Operation.FIND_PERSON: {
        "throttled": Expected(THR, None, "cannot_connect"),
        "unreachable": Expected(TRA, None, "cannot_connect"),
        "certificate": Expected(TRA, None, "cannot_connect"),
        "server": Expected(TRA, None, "cannot_connect"),
        "unauthenticated": Expected(SIGN, None, "refused", sign_in=True),
        "forbidden": Expected(PERM, None, "missing_app_permission"),
        "not_found": Expected(NOTF, None, "person_not_found"),
        "invalid": Expected(REF, None, "refused"),
        "url": Expected(REF, None, "refused"),
        "conflict": Expected(REF, None, "refused"),
        "other": Expected(REF, None, "refused"),
        "sign_in_required": Expected(SIGN, None, "refused", sign_in=True),
        "sign_in_unavailable": Expected(TRA, None, "sign_in_unavailable"),
        "sign_in_certificate": Expected(TRA, None, "certificate_refused"),
        "app_registration": Expected(APP, None, "public_client_disabled"),
    },
}


@pytest.mark.parametrize("error", ["forbidden", "not_found", "throttled", "other"])
def test_only_a_missing_permission_is_one_consent_may_grant(error: str) -> None:
    remedy = FailurePolicy().failed(ERRORS[error], Operation.FIND_PERSON, T0)
    assert remedy.consent is (error == "forbidden")


def test_a_429_looking_someone_up_makes_the_account_wait() -> None:
    policy = FailurePolicy()
    policy.failed(ERRORS["throttled"], Operation.FIND_PERSON, T0)
    assert policy.is_throttled(T0 + timedelta(seconds=1))


TABLE[Operation.END_SESSION] = TABLE[Operation.WRITE] | {
    # Ending what is gone already: what was wanted.
    "not_found": Expected(NOTF, done=True),
}
TABLE[Operation.WORK_LOCATION] = TABLE[Operation.ACTION] | {
    # Not the missing-permission repair: this tenant's Graph has no work location.
    "forbidden": Expected(OFF, None, "work_location_refused"),
    "not_found": Expected(OFF, None, "work_location_refused"),
}
TABLE[Operation.SUBSCRIBE_EXTERNAL] = TABLE[Operation.SUBSCRIBE] | {
    # Graph could not reach the external address: the address repair says so.
    "url": Expected(REF, 60, repair="instant_updates_unreachable"),
}


def test_the_table_covers_every_operation_and_every_error() -> None:
    assert set(TABLE) == set(Operation)
    assert all(set(row) == set(ERRORS) for row in TABLE.values())


@pytest.mark.parametrize(
    ("operation", "error", "expected"),
    [
        (operation, error, expected)
        for operation, row in TABLE.items()
        for error, expected in row.items()
    ],
)
def test_every_error_of_every_operation_has_its_remedy(
    operation: Operation, error: str, expected: Expected
) -> None:
    check_remedy(operation, error, expected)


def check_remedy(operation: Operation, error: str, expected: Expected) -> None:
    """Assert the remedy of ``error`` ending ``operation``, from a fresh policy."""
    remedy = FailurePolicy().failed(ERRORS[error], operation, T0)
    assert remedy_in_short(remedy) == expected
    assert remedy.operation is operation
    # Only a 429 of an account's own request changes what is stored.
    assert remedy.store is (
        error == "throttled"
        and operation not in (Operation.CLEAN_UP, Operation.CHECK_ACCOUNT)
    )


@pytest.mark.parametrize(
    ("error", "operation", "placeholders"),
    [
        ("invalid", Operation.ACTION, {"reason": "Bad body"}),
        # Graph sent no message: its code says why.
        ("forbidden", Operation.WRITE, {"reason": "Forbidden"}),
        ("forbidden", Operation.WORK_LOCATION, {"reason": "Forbidden"}),
        # A failed sign-in says why in its own words.
        ("sign_in_required", Operation.ACTION, {}),
        (
            "sign_in_certificate",
            Operation.ACTION,
            {"host": "login.example", "reason": "expired"},
        ),
        (
            "certificate",
            Operation.READ,
            {"host": "graph.example", "reason": "self-signed certificate"},
        ),
        (
            "certificate",
            Operation.CHECK_ACCOUNT,
            {"host": "graph.example", "reason": "self-signed certificate"},
        ),
        ("throttled", Operation.ACTION, {"time": T0 + timedelta(seconds=90)}),
        ("throttled", Operation.READ, {}),
        ("unauthenticated", Operation.READ, {}),
    ],
)
def test_the_caller_s_error_says_why(
    error: str, operation: Operation, placeholders: dict[str, Any]
) -> None:
    remedy = FailurePolicy().failed(ERRORS[error], operation, T0)
    assert dict(remedy.placeholders) == placeholders


async def test_a_refused_sign_in_certificate_names_its_host(
    hass: HomeAssistant,
) -> None:
    remedy = FailurePolicy().failed(ERRORS["sign_in_certificate"], Operation.ACTION, T0)
    assert dict(remedy.placeholders) == {"host": "login.example", "reason": "expired"}


async def test_the_repairs_say_what_they_name(hass: HomeAssistant) -> None:
    policy = FailurePolicy()
    url = policy.failed(ERRORS["url"], Operation.SUBSCRIBE_EXTERNAL, T0).repair
    assert url is not None
    assert (url.issue, url.warning, url.names_app, url.named) == (
        ISSUE_INSTANT_UPDATES_ADDRESS,
        True,
        True,
        ("url",),
    )
    missing = policy.failed(ERRORS["forbidden"], Operation.READ, T0).repair
    assert missing is not None
    assert (missing.issue, missing.warning, missing.names_app) == (
        ISSUE_MISSING_PERMISSION,
        False,
        False,
    )
    registration = policy.failed(ERRORS["app_registration"], Operation.READ, T0)
    assert registration.repair is not None
    assert registration.repair.issue == ISSUE_APP_REGISTRATION
    consent = policy.consent_missing()
    assert (consent.retry_at, consent.sign_in_again) == (None, True)
    assert consent.repair is not None
    assert consent.repair.issue == ISSUE_INSTANT_UPDATES_CONSENT


# The throttle


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        (90, 90),
        (None, 30),  # not said: the longest write retry
        (0, 1),  # a proxy's 0, answered again and again: not a loop
        (0.2, 1),
        (1, 1),
        (MAX_RETRY_AFTER, MAX_RETRY_AFTER),
        (MAX_RETRY_AFTER + 1, MAX_RETRY_AFTER),
        (1e300, MAX_RETRY_AFTER),  # no overflow
        (float("inf"), 30),
        (float("nan"), 30),
        (-5, 1),
    ],
)
def test_a_throttle_waits_as_asked_within_its_limits(
    retry_after: float | None, wait: float
) -> None:
    policy = FailurePolicy()
    assert policy.throttle(retry_after, T0) == T0 + timedelta(seconds=wait)
    assert policy.is_throttled(T0 + timedelta(seconds=wait - 0.5))
    assert not policy.is_throttled(T0 + timedelta(seconds=wait))


def test_throttling_holds_every_request_until_retry_after() -> None:
    keeper = SessionKeeper(HOUR)
    keeper.want(BUSY, T0)
    policy = FailurePolicy()
    assert policy.throttle(90, T0) == T0 + timedelta(seconds=90)
    assert policy.is_throttled(at(1))
    assert policy.next_wake(at(1), keeper.next_wake(at(1)), None) == T0 + timedelta(
        seconds=90
    )
    assert not policy.is_throttled(T0 + timedelta(seconds=90))
    assert keeper.due(T0 + timedelta(seconds=90)) == SetSession(BUSY, HOUR)


@pytest.mark.parametrize(
    "operation", [op for op in Operation if op not in (Operation.CLEAN_UP,)]
)
def test_while_throttled_nothing_is_sent(operation: Operation) -> None:
    policy = FailurePolicy()
    assert policy.held(operation, T0) is None
    policy.throttle(90, T0)
    held = policy.held(operation, at(1))
    assert held is not None
    assert held.failure is Failure.THROTTLED
    assert held.retry_at == T0 + timedelta(seconds=90)
    assert not held.store
    assert policy.held(operation, T0 + timedelta(seconds=90)) is None


@pytest.mark.parametrize(
    "operation",
    [Operation.ACTION, Operation.READ, Operation.WRITE, Operation.SUBSCRIBE],
)
def test_a_shorter_wait_answered_at_once_does_not_cut_a_longer_one(
    operation: Operation,
) -> None:
    """Requests sent together, each answered 429: every one's wait is kept."""
    policy = FailurePolicy()
    long = GraphThrottledError("TooManyRequests", "", status=429, retry_after=600)
    short = GraphThrottledError("TooManyRequests", "", status=429, retry_after=1)
    policy.failed(long, Operation.ACTION, T0)
    remedy = policy.failed(short, operation, T0)
    assert remedy.retry_at is not None
    assert remedy.retry_at >= T0 + timedelta(seconds=600)
    assert policy.is_throttled(T0 + timedelta(seconds=599))
    assert not policy.is_throttled(T0 + timedelta(seconds=600))


def test_a_wait_held_before_subscribing_does_not_back_off() -> None:
    policy = FailurePolicy()
    policy.throttle(90, T0)
    assert policy.held(Operation.SUBSCRIBE, T0) is not None
    assert policy.subscription_back_off(T0) == T0 + timedelta(minutes=1)


def test_a_subscription_s_throttle_waits_at_least_its_back_off() -> None:
    """A Retry-After of 0 (a proxy's) would have renewed again at once, and again."""
    policy = FailurePolicy()
    zero = GraphThrottledError("TooManyRequests", "", status=429, retry_after=0)
    assert policy.failed(zero, Operation.SUBSCRIBE, T0).retry_at == at(1)
    assert policy.failed(zero, Operation.SUBSCRIBE, T0).retry_at == at(2)


def test_a_throttle_lasts_at_most_the_longest_retry_after_whatever_the_clock() -> None:
    """A clock set back, or a store from a clock that ran ahead, holds for an hour."""
    policy = FailurePolicy()
    policy.throttle(60, T0)
    back = T0 - timedelta(days=1)
    assert policy.is_throttled(back)
    assert not policy.is_throttled(back + timedelta(seconds=MAX_RETRY_AFTER))

    restarted = FailurePolicy()
    restarted.restore({"throttled_until": (T0 + timedelta(days=30)).isoformat()}, T0)
    assert not restarted.is_throttled(T0 + timedelta(seconds=MAX_RETRY_AFTER))


@pytest.mark.parametrize(
    ("event", "ends"),
    [
        ("hold", at(2)),
        ("override", at(5)),
        # Graph drops the session while asking to wait: pending from then on.
        ("session", at(5)),
    ],
)
def test_a_throttle_still_wakes_when_what_is_shown_changes(
    event: str, ends: datetime
) -> None:
    """Nothing is sent before Retry-After ends, but what Home Assistant shows changes."""
    keeper = keeper_holding(BUSY, FIVE_MINUTES if event == "session" else HOUR)
    if event == "hold":
        keeper.want(AWAY, T0, until=ends)
    if event == "override":
        keeper.prefer(PreferredPresence.AWAY, FIVE_MINUTES, T0)
        request = keeper.due(T0)
        assert request is not None
        keeper.accepted(request, T0)
    policy = FailurePolicy()
    policy.throttle(600, T0)

    def wake(now: datetime) -> datetime | None:
        return policy.next_wake(
            now, keeper.next_wake(now), keeper.next_shown_change(now)
        )

    assert wake(T0) == ends
    assert policy.is_throttled(ends)
    assert wake(ends) == at(10)


def test_the_wish_in_force_during_a_throttle_is_the_one_after_the_hold() -> None:
    keeper = keeper_holding(BUSY, FIVE_MINUTES)
    keeper.want(AWAY, at(1), until=at(2))
    policy = FailurePolicy()
    policy.throttle(600, at(1))
    assert policy.is_throttled(at(2))
    assert keeper.wish.settled(at(2)).presence is BUSY
    # Graph still holds the session from before the hold: what is wanted now.
    assert keeper.app_presence_applied(at(2))


# The back-offs


def test_an_unreachable_graph_is_retried_ever_more_slowly() -> None:
    policy = FailurePolicy()
    waits = [
        (policy.failed(ERRORS["unreachable"], Operation.WRITE, T0).retry_at or T0) - T0
        for _ in range(6)
    ]
    assert [wait.total_seconds() for wait in waits] == [5, 10, 20, 30, 30, 30]
    assert (policy.write_failures, policy.writes_failing) == (6, True)
    policy.succeeded(Operation.WRITE)
    assert (policy.write_failures, policy.writes_failing) == (0, False)
    retry = policy.failed(ERRORS["server"], Operation.END_SESSION, T0).retry_at
    assert retry == T0 + timedelta(seconds=5)


def test_reads_and_subscriptions_leave_the_write_back_off_alone() -> None:
    policy = FailurePolicy()
    policy.failed(ERRORS["unreachable"], Operation.WRITE, T0)
    policy.succeeded(Operation.SUBSCRIBE)
    policy.failed(ERRORS["unreachable"], Operation.READ, T0)
    retry = policy.failed(ERRORS["unreachable"], Operation.WRITE, T0).retry_at
    assert retry == T0 + timedelta(seconds=10)


def test_a_failing_subscription_backs_off_doubling_to_30_minutes() -> None:
    policy = FailurePolicy()
    waits = [
        (policy.failed(ERRORS["server"], Operation.SUBSCRIBE, T0).retry_at or T0) - T0
        for _ in range(7)
    ]
    assert [wait / timedelta(minutes=1) for wait in waits] == [1, 2, 4, 8, 16, 30, 30]
    policy.succeeded(Operation.SUBSCRIBE_EXTERNAL)
    assert policy.subscription_back_off(T0) == at(1)
    assert policy.subscription_back_off(T0) == at(2)
    policy.succeeded(Operation.WRITE)
    assert policy.subscription_back_off(T0) == at(4)


def test_a_missing_consent_waits_30_minutes_without_backing_off() -> None:
    policy = FailurePolicy()
    for _ in range(3):
        remedy = policy.failed(ERRORS["forbidden"], Operation.SUBSCRIBE, T0)
        assert remedy.retry_at == at(30)
    assert policy.subscription_back_off(T0) == at(1)


@pytest.mark.parametrize(
    ("next_due", "retry"),
    [
        (None, at(5)),
        (T0, at(5)),  # due now: asked again later, not at once
        (at(-1), at(5)),
        (at(3), at(3)),  # the keep-alive comes first
        (at(40), at(40)),
    ],
)
def test_a_refused_keep_alive_is_asked_again_later(
    next_due: datetime | None, retry: datetime
) -> None:
    policy = FailurePolicy()
    remedy = policy.failed(ERRORS["invalid"], Operation.WRITE, T0, next_due=next_due)
    assert remedy.retry_at == retry
    assert not policy.writes_failing


@pytest.mark.parametrize(
    ("retry", "shown", "wake"),
    [
        (at(5), None, at(5)),
        (at(5), at(2), at(2)),
        (at(5), at(9), at(5)),
        (None, at(2), at(2)),
        (None, None, None),
    ],
)
def test_after_a_failure_the_writer_wakes_for_the_retry_or_what_is_shown(
    retry: datetime | None, shown: datetime | None, wake: datetime | None
) -> None:
    assert Remedy(Failure.TRANSIENT, Operation.WRITE, "", retry).wake(shown) == wake


# Restarts


def test_a_restart_keeps_graph_s_retry_after() -> None:
    """A reload or restart during a throttle sends nothing before it ends."""
    keeper = SessionKeeper(HOUR)
    keeper.want(AWAY, T0)
    policy = FailurePolicy()
    policy.throttle(300, T0)
    stored = {**keeper.as_dict(), **policy.as_dict()}

    reloaded = FailurePolicy()
    reloaded.restore(stored, at(1))
    assert reloaded.is_throttled(at(4.9))
    assert reloaded.next_wake(at(1), None, None) == at(5)
    assert not reloaded.is_throttled(at(5))

    after_it = FailurePolicy()
    after_it.restore(stored, at(6))
    assert after_it.throttled_until is None


def test_a_store_written_before_the_policy_restores_the_throttle() -> None:
    """The keeper's Store of an older version: the same key, read the same."""
    old_store = {
        "wish": {"presence": "away", "until": None, "after_hold": None},
        "session": None,
        "preferred": None,
        "preferred_wish": None,
        "throttled_until": "2026-12-01T09:05:00+00:00",
    }
    policy = FailurePolicy()
    policy.restore(old_store, at(1))
    assert policy.throttled_until == at(5)
    assert policy.as_dict() == {"throttled_until": old_store["throttled_until"]}
    keeper = SessionKeeper(HOUR)
    keeper.restore(old_store, at(1))
    assert keeper.wish.presence is AppPresence.AWAY
    assert "throttled_until" not in keeper.as_dict()


@pytest.mark.parametrize(
    ("stored", "until"),
    [
        ({}, None),
        ({"throttled_until": None}, None),
        ({"throttled_until": "soon"}, None),
        ({"throttled_until": 12}, None),
        ({"throttled_until": ["2026-12-01T09:05:00+00:00"]}, None),
        # Written without a zone: UTC, as it was written.
        ({"throttled_until": "2026-12-01T09:05:00"}, at(5)),
        (["throttled_until"], None),
        (None, None),
    ],
)
def test_a_stored_throttle_it_cannot_read_is_dropped(
    stored: object, until: datetime | None
) -> None:
    policy = FailurePolicy()
    policy.restore(stored, T0)
    assert policy.throttled_until == until


@pytest.mark.parametrize(
    ("stored", "until"),
    [
        (None, at(10)),
        ({"throttled_until": "soon"}, at(10)),
        ({"throttled_until": at(5).isoformat()}, at(10)),
        ({"throttled_until": at(20).isoformat()}, at(20)),
    ],
)
def test_a_wait_learnt_after_the_store_was_written_stands_if_longer(
    stored: object, until: datetime
) -> None:
    """A 429 that landed after the unload, shared with the entry that replaced it."""
    wait = GraphWait()
    FailurePolicy(wait).throttle(600, T0)
    reloaded = FailurePolicy(wait)
    reloaded.restore(stored, at(1))
    assert reloaded.throttled_until == until
