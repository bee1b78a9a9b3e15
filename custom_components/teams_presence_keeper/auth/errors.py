"""Why a sign-in gave no token: the errors and Entra ID's error tables.

No Home Assistant and no msal here: the failure policy and the pure modules import
these types. Each runtime error names the translated message that explains it;
Home Assistant's side says it in the user's words.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import re
import ssl
from typing import Any, Final
from urllib.parse import urlsplit

from requests.exceptions import SSLError

from ..graph import certificate_problem, certificate_refusal

AADSTS_ERRORS: Final[dict[int, str]] = {
    50020: "personal_account",  # a live.com account is not in the tenant
    500200: "personal_account",
    9002331: "personal_account",  # the app refuses the consumers endpoint
    65001: "consent_required",  # neither the user nor an admin consented
    65004: "authorization_declined",  # the user declined consent
    90094: "consent_required",  # only an administrator may consent
    700016: "app_not_found",  # unknown client id, or registered in another tenant
    90002: "tenant_not_found",
    900023: "tenant_not_found",  # neither a tenant id nor a domain
    7000218: "public_client_disabled",  # "Allow public client flows" is off
    7000215: "invalid_secret",
    7000222: "invalid_secret",  # the secret expired
    70019: "device_code_expired",
    70020: "authorization_declined",
}
"""Entra ID's AADSTS codes, as the flow's translated error keys: the only such map."""

_OAUTH_ERRORS: Final[dict[str, str]] = {
    "access_denied": "authorization_declined",
    "authorization_declined": "authorization_declined",
    "consent_required": "consent_required",
    "expired_token": "device_code_expired",
    # What msal returns when polling stops at the code's expiry (or is cancelled).
    "authorization_pending": "device_code_expired",
    "slow_down": "device_code_expired",
}
"""OAuth error values for answers that carry no known AADSTS code."""

APP_REGISTRATION_PROBLEMS: Final = frozenset({"public_client_disabled"})
"""Sign-in errors that a new sign-in would meet again: only a change to the app
registration fixes them, so they raise a repair issue rather than reauthentication."""

_AADSTS_CODE: Final = re.compile(r"AADSTS(\d+)")


def sign_in_error(answer: Mapping[str, Any]) -> str:
    """Return the flow error key for an Entra ID error answer (``unknown`` if new)."""
    codes = [int(code) for code in answer.get("error_codes") or ()]
    codes += map(int, _AADSTS_CODE.findall(str(answer.get("error_description"))))
    for code in codes:
        if code in AADSTS_ERRORS:
            return AADSTS_ERRORS[code]
    return _OAUTH_ERRORS.get(str(answer.get("error")), "sign_in_refused")


def entra_error_text(answer: Mapping[str, Any]) -> str:
    """Return Entra ID's own words for an error answer: its code and first line.

    Shown where no translated explanation exists, so the user (or an administrator)
    can look it up. Entra's description holds no secret, only trace and correlation ids.
    """
    description = str(answer.get("error_description") or "").strip().splitlines()
    return ": ".join(
        part
        for part in (
            str(answer.get("error") or ""),
            description[0] if description else "",
        )
        if part
    )


class SignInFailure(Exception):  # noqa: N818 - the base of the errors below
    """A token provider got no token: ``translation_key`` names the message why.

    Plain data, so that this module needs no Home Assistant: its side turns the
    key and ``translation_placeholders`` into the user's words.
    """

    def __init__(
        self, translation_key: str, placeholders: Mapping[str, str] | None = None
    ) -> None:
        """Fail for the message ``translation_key``, with its placeholders."""
        super().__init__(translation_key)
        self.translation_key = translation_key
        self.translation_placeholders = dict(placeholders or {})


class SignInRequiredError(SignInFailure):
    """The account's sign-in is gone for good (revoked, expired, password changed)."""

    def __init__(self) -> None:
        """Ask for a new sign-in."""
        super().__init__("sign_in_required")


class SignInUnavailableError(SignInFailure):
    """The sign-in service could not issue a token now; try again later."""

    def __init__(
        self,
        translation_key: str = "sign_in_unavailable",
        placeholders: Mapping[str, str] | None = None,
    ) -> None:
        """Fail for now; subclasses name a more precise message."""
        super().__init__(translation_key, placeholders)


class SignInCertificateError(SignInUnavailableError):
    """The sign-in service's TLS certificate was refused (often a re-signing proxy).

    Retried like an outage; the user is told which host, and why.
    """

    def __init__(self, host: str, reason: str) -> None:
        """Refuse for ``host``'s certificate, OpenSSL's ``reason`` given."""
        super().__init__("certificate_refused", {"host": host, "reason": reason})
        self.host = host
        self.reason = reason


class AppRegistrationError(SignInUnavailableError):
    """The app registration no longer allows this sign-in method.

    Retried like an outage, so the account recovers by itself once an administrator
    changes the registration back; ``problem`` names the repair issue that says how.
    """

    def __init__(self, problem: str) -> None:
        """Refuse for ``problem``, a key of `APP_REGISTRATION_PROBLEMS`."""
        super().__init__(problem)
        self.problem = problem


def refused_certificate(err: BaseException) -> tuple[str, str] | None:
    """Return the host whose TLS certificate was refused and why, if that is ``err``.

    aiohttp (Graph, Home Assistant's OAuth2 helper) and requests (msal) say it
    differently, and wrap it in their own errors; a proxy that re-signs the
    network's traffic makes both say it.
    """
    msal_request: SSLError | None = None
    for inner in _nested(err):
        if (refusal := certificate_refusal(inner)) is not None:
            return refusal.host, refusal.reason
        if isinstance(inner, SSLError):
            msal_request = inner
        elif isinstance(inner, ssl.SSLCertVerificationError) and msal_request:
            host = urlsplit(str(getattr(msal_request.request, "url", ""))).hostname
            return host or "", certificate_problem(inner)
    return None


def _nested(err: BaseException) -> Iterator[BaseException]:
    """Yield ``err``, then the errors it wraps (causes, arguments, urllib3's reason)."""
    pending: list[object] = [err]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if isinstance(current, BaseException) and id(current) not in seen:
            seen.add(id(current))
            yield current
            pending += [
                *current.args,
                current.__cause__,
                getattr(current, "reason", None),
            ]


class SignInRefused(Exception):  # noqa: N818 - a refusal, not an error of ours
    """A sign-in did not give a token: ``error`` is the flow's error key for why.

    ``entra_error`` holds Entra ID's own words where no translation says more.
    """

    def __init__(self, error: str, entra_error: str = "", *, host: str = "") -> None:
        """Keep the error key, Entra's words, and the host a refusal names."""
        super().__init__(error)
        self.error = error
        self.entra_error = entra_error
        self.host = host

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> SignInRefused:
        """Build from Entra ID's error answer."""
        return cls(sign_in_error(answer), entra_error_text(answer))

    @classmethod
    def unreachable(cls, err: BaseException) -> SignInRefused:
        """Build for a service that could not be reached, naming a refused certificate."""
        if (refusal := refused_certificate(err)) is not None:
            return cls("certificate_refused", host=refusal[0])
        return cls("cannot_connect")
