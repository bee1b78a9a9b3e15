"""The words of the failure policy: kinds, operations, remedies and repairs.

What a failure is (`classify`), how Graph or the sign-in put it (`reason`), and what
a caller or the user is told about it (the caller's words, the repairs), and the
remedies that depend on no state (a wait Graph asked for, a failed read, a failed
check of the account). No Home Assistant and no state here: `policy.FailurePolicy`
chooses a remedy with these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .auth.errors import (
    AppRegistrationError,
    SignInFailure,
    SignInRequiredError,
    SignInUnavailableError,
)
from .graph import (
    GraphAuthenticationError,
    GraphCertificateError,
    GraphConnectionError,
    GraphError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphServerError,
    GraphThrottledError,
    GraphValidationError,
)

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
    FIND_PERSON = "find_person"
    """The "Add person" flow looking someone up or reading them: a form error;
    a missing permission is one consent may grant."""


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
    consent: bool = False
    """A permission is missing that signing in again with consent may grant (a
    delegated account's user can; an application's, only an administrator)."""

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


CALLER_ERRORS = {
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

_MISSING_PERMISSION_REPAIR = Repair(
    ISSUE_MISSING_PERMISSION, ISSUE_MISSING_PERMISSION, names_app=False
)
CONSENT_REPAIR = Repair(
    ISSUE_INSTANT_UPDATES_CONSENT,
    ISSUE_INSTANT_UPDATES_CONSENT,
    warning=True,
)
UNREACHABLE_REPAIR = Repair(
    ISSUE_INSTANT_UPDATES_ADDRESS,
    ISSUE_INSTANT_UPDATES_UNREACHABLE,
    warning=True,
    named=("url",),
)


ONE_OFF = (Operation.ACTION, Operation.WORK_LOCATION)
"""The operations a caller waits for, and is told about."""


def throttled(operation: Operation, why: str, until: datetime) -> Remedy:
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
    if operation is Operation.FIND_PERSON:
        return Remedy(
            Failure.THROTTLED,
            operation,
            why,
            retry_at=until,
            error_key="cannot_connect",
            placeholders={"reason": why},
        )
    return Remedy(
        Failure.THROTTLED,
        operation,
        why,
        retry_at=until,
        error_key="throttled_until" if operation in ONE_OFF else None,
        placeholders={"time": until} if operation in ONE_OFF else {},
    )


def read_failed(err: BaseException, failure: Failure) -> Remedy:
    """Fail a read: Home Assistant's schedule retries it; sign in again if gone."""
    if failure is Failure.SIGN_IN:
        return Remedy(
            failure,
            Operation.READ,
            reason(err),
            error_key="sign_in_required",
            sign_in_again=True,
        )
    return telling_caller(
        err, failure, Operation.READ, "read_failed", repair=repair_for(err, failure)
    )


_FIND_PERSON_ERRORS = {
    Failure.THROTTLED: "cannot_connect",
    Failure.TRANSIENT: "cannot_connect",
    Failure.APP_REGISTRATION: "cannot_connect",
    Failure.NOT_FOUND: "person_not_found",
    Failure.MISSING_PERMISSION: "missing_app_permission",
}
"""The "Add person" form error by kind; any other is Graph's refusal."""
_SIGN_IN_FORM_ERRORS = frozenset(
    {"sign_in_unavailable", "certificate_refused", "public_client_disabled"}
)
"""The form errors of a sign-in that gave no token for now, by its message key."""


def person_lookup_failed(err: BaseException, failure: Failure) -> Remedy:
    """Return the "Add person" flow's form error, or: sign in again, or consent.

    A sign-in that gave no token for now says why in its own words; what the
    client refused before sending (nothing to search for) was never Graph's.
    """
    key = _FIND_PERSON_ERRORS.get(failure, "refused")
    placeholders: dict[str, str] = {"reason": reason(err)}
    if isinstance(err, SignInFailure) and failure is not Failure.SIGN_IN:
        key = (
            err.translation_key
            if err.translation_key in _SIGN_IN_FORM_ERRORS
            else "sign_in_unavailable"
        )
        placeholders = dict(err.translation_placeholders)
    elif isinstance(err, GraphValidationError) and err.status is None:
        key = "person_not_found"
    return Remedy(
        failure,
        Operation.FIND_PERSON,
        reason(err),
        error_key=key,
        placeholders=placeholders,
        sign_in_again=failure is Failure.SIGN_IN,
        consent=failure is Failure.MISSING_PERMISSION,
    )


def account_check_failed(err: BaseException, failure: Failure) -> Remedy:
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


def telling_caller(
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


def repair_for(err: BaseException, failure: Failure) -> Repair | None:
    """Return the repair a failure asks of the user, if any."""
    if failure is Failure.MISSING_PERMISSION:
        return _MISSING_PERMISSION_REPAIR
    if isinstance(err, AppRegistrationError):
        return Repair(ISSUE_APP_REGISTRATION, err.problem)
    return None
