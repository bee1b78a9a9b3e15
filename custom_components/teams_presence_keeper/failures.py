"""One answer to "what kind of failure is this?", for reads, writes, actions and flows.

Each kind has one remedy: wait as Graph asked, retry, sign in again, raise a repair
the user can act on, or give up and say why. ``message()`` says why to the user.
"""

from __future__ import annotations

from enum import StrEnum

from homeassistant.exceptions import HomeAssistantError

from .auth.errors import (
    AppRegistrationError,
    SignInCertificateError,
    SignInFailure,
    SignInRequiredError,
    SignInUnavailableError,
)
from .const import DOMAIN
from .graph import (
    GraphAuthenticationError,
    GraphCertificateError,
    GraphConnectionError,
    GraphError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphServerError,
    GraphThrottledError,
)

FAILURES = (GraphError, SignInRequiredError, SignInUnavailableError)
"""What talking to Graph or Entra ID can raise: every one has a kind below."""


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
    REFUSED = "refused"
    """Graph refused the request itself (400 and the rest): retrying will not help."""


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


def retry_after(err: BaseException) -> float | None:
    """Seconds Graph asked to wait, if it said."""
    return err.retry_after if isinstance(err, GraphThrottledError) else None


def reason(err: BaseException) -> str:
    """Graph's own words for a failure, or the sign-in's (its translated message)."""
    if isinstance(err, GraphError):
        return err.reason
    if isinstance(err, SignInFailure):
        return str(
            HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=err.translation_placeholders,
            )
        )
    return str(err)


def message(err: BaseException, key: str) -> tuple[str, dict[str, str]]:
    """Return the translation key and placeholders that tell a user about ``err``.

    ``key`` is what the caller says of a failure of its kind, with Graph's
    ``reason``; a refused TLS certificate says so instead, naming the host, to
    whoever asks (a read, an action, a write).
    """
    if isinstance(err, (GraphCertificateError, SignInCertificateError)):
        return "certificate_refused", {"host": err.host, "reason": err.reason}
    return key, {"reason": reason(err)}
