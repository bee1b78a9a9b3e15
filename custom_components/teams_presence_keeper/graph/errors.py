"""Typed errors of the Graph presence client.

Each carries Graph's own ``code`` and ``message`` so callers can show the reason
without parsing a response themselves.
"""

from __future__ import annotations

import ssl

from aiohttp import ClientConnectorCertificateError


class GraphError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self, code: str | None, message: str | None, *, status: int | None = None
    ) -> None:
        """Keep Graph's code, message and HTTP status."""
        super().__init__(f"{status or ''} {code or ''}: {message or ''}".strip())
        self.code = code
        self.message = message
        self.status = status

    @property
    def reason(self) -> str:
        """Human-readable reason: Graph's message, or its code when the message is empty."""
        return self.message or self.code or str(self.status or "unknown")


class GraphValidationError(GraphError):
    """The request is invalid: refused before sending, or answered 400 by Graph."""


class GraphAuthenticationError(GraphError):
    """401: the access token is missing, expired or invalid."""


class GraphPermissionError(GraphError):
    """403: the token lacks a permission (often Presence.ReadWrite, with no message)."""


class GraphNotFoundError(GraphError):
    """404: unknown user, or no such presence session."""


class GraphThrottledError(GraphError):
    """429, or 503 with Retry-After: wait ``retry_after`` seconds before any request."""

    def __init__(
        self,
        code: str | None,
        message: str | None,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Keep how long Graph asked us to wait."""
        super().__init__(code, message, status=status)
        self.retry_after = retry_after


class GraphServerError(GraphError):
    """Graph failed on its side (5xx)."""


class GraphConnectionError(GraphError):
    """Graph could not be reached or did not answer in time."""


class GraphCertificateError(GraphConnectionError):
    """A TLS certificate was refused: often a proxy that re-signs the network's traffic.

    Retrying will not help until the machine trusts the proxy's certificate authority
    (or the clock is set right), so callers name ``host`` to the user.
    """

    def __init__(self, host: str, message: str) -> None:
        """Name the host whose certificate was refused, and why."""
        super().__init__("certificate_refused", message)
        self.host = host


def certificate_refusal(err: BaseException) -> GraphCertificateError | None:
    """Return what aiohttp's refused certificate means, if ``err`` is one."""
    if not isinstance(err, ClientConnectorCertificateError):
        return None
    return GraphCertificateError(err.host, certificate_problem(err.certificate_error))


def certificate_problem(err: BaseException) -> str:
    """Say why a certificate was refused, in OpenSSL's words where it gives them."""
    if isinstance(err, ssl.SSLCertVerificationError) and err.verify_message:
        return str(err.verify_message)
    return str(err)
