"""Sending one request to Microsoft Graph, as every operation of the client does.

The caller injects the aiohttp session and a coroutine that returns a valid access
token; after a 401 the request goes once more with a new token. An error answer
becomes its typed error, keeping Graph's code, message and Retry-After; nothing is
retried otherwise. Presences read from an answer get their expiry's zone here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from http import HTTPStatus
import json
import math
from typing import Any, Final
from urllib.parse import quote

from aiohttp import ClientError, ClientResponse, ClientSession, ClientTimeout

from .clouds import CLOUD_ENDPOINTS, Cloud
from .errors import (
    GraphAuthenticationError,
    GraphConnectionError,
    GraphError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphServerError,
    GraphThrottledError,
    GraphValidationError,
    certificate_refusal,
)
from .fields import MalformedPresenceError
from .models import PresenceSnapshot, expiry_zone_name
from .timezones import UTC_NAME, zone_info

TokenProvider = Callable[[], Awaitable[str]]
"""Returns an access token for Graph (a cached one while it is valid)."""

GRAPH_GLOBAL: Final = CLOUD_ENDPOINTS[Cloud.GLOBAL].graph_url
ME: Final = "me"
DEFAULT_TIMEOUT: Final = 20.0
MAX_RETRY_AFTER: Final = 3600.0
"""The longest wait, in seconds, a Retry-After is taken for.

Graph's throttles ask for seconds, a few minutes at most; an hour or more is a broken
header (or a proxy's), not a throttle. Obeying it would stop every read and let every
app session (4 hours at most) lapse, and a huge value overflows the clock. An hour
still honours any real throttle many times over.
"""

_ERRORS_BY_STATUS: Final[dict[int, type[GraphError]]] = {
    HTTPStatus.BAD_REQUEST: GraphValidationError,
    HTTPStatus.UNAUTHORIZED: GraphAuthenticationError,
    HTTPStatus.FORBIDDEN: GraphPermissionError,
    HTTPStatus.NOT_FOUND: GraphNotFoundError,
}


class GraphTransport:
    """Sends one user's requests to Graph and reads the presences they answer."""

    def __init__(
        self,
        session: ClientSession,
        token_provider: TokenProvider,
        *,
        token_refresher: TokenProvider | None = None,
        base_url: str = GRAPH_GLOBAL,
        user: str = ME,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Act on ``user`` (``me``, an object id or a UPN) through ``base_url``.

        ``token_refresher`` returns a new token, not a cached one: after a 401 the
        request is sent once more with it, since a token can be revoked or rejected
        before it expires. Only a second 401 is the caller's to see.
        """
        self._session = session
        self._token_provider = token_provider
        self._token_refresher = token_refresher
        self._zones: dict[str, tzinfo | None] = {UTC_NAME: UTC}
        """Zones resolved so far; ``None`` for a name this machine doesn't know."""
        self._user_path = "/me" if user == ME else f"/users/{quote(user, safe='')}"
        self._base = f"{base_url.rstrip('/')}/v1.0"
        self._timeout = ClientTimeout(total=timeout)

    async def _snapshot(self, data: dict[str, Any]) -> PresenceSnapshot:
        """Parse a presence; a malformed one is Graph's failure."""
        try:
            return PresenceSnapshot.from_graph(
                data, await self._zone(expiry_zone_name(data))
            )
        except MalformedPresenceError as err:
            raise GraphServerError(
                "malformed_presence", f"Graph sent a presence of the wrong shape: {err}"
            ) from err

    async def _zone(self, name: str) -> tzinfo | None:
        """Resolve a zone once, off the event loop: loading one reads the disk."""
        if name not in self._zones:
            try:
                self._zones[name] = await asyncio.to_thread(zone_info, name)
            except ValueError:
                self._zones[name] = (
                    None  # unknown here: no expiry rather than a wrong one
                )
        return self._zones[name]

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its JSON object (empty for no body)."""
        request = _Request(method, path, body, params or {}, headers or {})
        try:
            return await self._send(request, await self._token_provider())
        except GraphAuthenticationError:
            if self._token_refresher is None:
                raise
        return await self._send(request, await self._token_refresher())

    async def _send(self, request: _Request, token: str) -> dict[str, Any]:
        method, path = request.method, request.path
        try:
            async with self._session.request(
                method,
                f"{self._base}{path}",
                json=request.body,
                params=request.params or None,
                headers={**request.headers, "Authorization": f"Bearer {token}"},
                timeout=self._timeout,
            ) as response:
                if response.status >= 400:
                    raise await _error_from_response(response)
                text = await response.text()
        except TimeoutError as err:
            raise GraphConnectionError(
                "timeout", f"Graph did not answer {method} {path} in time"
            ) from err
        except ClientError as err:
            if (refusal := certificate_refusal(err)) is not None:
                raise refusal from err
            raise GraphConnectionError("connection_error", str(err)) from err
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError as err:
            raise GraphServerError("invalid_json", "Graph sent invalid JSON") from err
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True, slots=True)
class _Request:
    """What one request sends, kept to send it again with a new token."""

    method: str
    path: str
    body: dict[str, Any] | None
    params: Mapping[str, str]
    headers: Mapping[str, str]


async def _error_from_response(response: ClientResponse) -> GraphError:
    """Map an error response to its typed exception, keeping Graph's code and message."""
    code, message = await _read_error_body(response)
    status = response.status
    if status == HTTPStatus.TOO_MANY_REQUESTS or (
        status == HTTPStatus.SERVICE_UNAVAILABLE and "Retry-After" in response.headers
    ):
        return GraphThrottledError(
            code,
            message,
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status >= 500:
        return GraphServerError(code, message, status=status)
    error_class = _ERRORS_BY_STATUS.get(status, GraphError)
    return error_class(code, message, status=status)


async def _read_error_body(response: ClientResponse) -> tuple[str | None, str | None]:
    try:
        data = json.loads(await response.text())
        error = data["error"]
        return error.get("code"), error.get("message")
    except (ValueError, KeyError, TypeError, AttributeError, ClientError):
        return None, None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse Retry-After as seconds or as an HTTP date, at most ``MAX_RETRY_AFTER``.

    ``None`` when absent or unreadable (not a number, not a date, NaN).
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)
