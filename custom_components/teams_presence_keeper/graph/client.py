"""An async client for Microsoft Graph's presence API.

It knows URLs, bodies and error shapes, and nothing of Home Assistant: the caller
injects the aiohttp session and a coroutine that returns a valid access token. It
never retries; retry policy belongs to whoever holds the wish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from http import HTTPStatus
import json
import math
import re
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
from .models import (
    MAX_PRESENCE_IDS,
    MAX_STATUS_MESSAGE_LENGTH,
    AppPresence,
    DirectoryPerson,
    GraphUser,
    MalformedPresenceError,
    PreferredPresence,
    PresenceBatch,
    PresenceSnapshot,
    WorkLocationUpdate,
    check_expiration,
    check_object_id,
    expiry_zone_name,
    iso8601_duration,
    presence_id_batches,
)
from .timezones import UTC_NAME, zone_info

TokenProvider = Callable[[], Awaitable[str]]
"""Returns an access token for Graph (a cached one while it is valid)."""

GRAPH_GLOBAL: Final = CLOUD_ENDPOINTS[Cloud.GLOBAL].graph_url
ME: Final = "me"
DEFAULT_TIMEOUT: Final = 20.0
PERSON_FIELDS: Final = "id,displayName,mail,userPrincipalName"
"""What a directory lookup asks for: all a person needs, nothing private."""
MAX_SEARCH_RESULTS: Final = 999
"""The largest page Graph answers a list of users with."""
_SEARCHED_PROPERTIES: Final = ("displayName", "mail", "userPrincipalName")
_NOT_SEARCHABLE: Final = re.compile(r'["\\]')
"""Quotes and backslashes would end or escape a $search term: they are dropped."""
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


class GraphPresenceClient:
    """Reads and sets one user's presence."""

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

    async def get_user(self) -> GraphUser:
        """Return the user this client acts on."""
        return GraphUser.from_graph(await self._request("GET", self._user_path))

    async def get_tenant_id(self) -> str:
        """Return the id of the signed-in user's organization (delegated tokens only)."""
        data = await self._request("GET", "/organization")
        organizations = data.get("value") or []
        if not organizations:
            raise GraphNotFoundError("ResourceNotFound", "No organization returned")
        return str(organizations[0]["id"])

    async def get_presence(self) -> PresenceSnapshot:
        """Return the user's aggregated presence."""
        return await self._snapshot(
            await self._request("GET", f"{self._user_path}/presence")
        )

    async def get_presences(self, user_ids: Iterable[str]) -> PresenceBatch:
        """Read up to ``MAX_PRESENCE_IDS`` people's presence in one request.

        ``POST /communications/getPresencesByUserId`` needs ``Presence.Read.All``
        (delegated or application). Ids are object ids, each asked once; split
        more with ``presence_id_batches``. An id Graph answers nothing for is in
        ``missing``; an answer of the wrong shape is Graph's failure.
        """
        batches = presence_id_batches(user_ids)
        if len(batches) > 1:
            raise GraphValidationError(
                "too_many_ids",
                f"Graph reads at most {MAX_PRESENCE_IDS} people at once, got"
                f" {sum(map(len, batches))}: split them with presence_id_batches",
            )
        if not batches:
            return PresenceBatch({}, frozenset())
        [batch] = batches
        for user_id in batch:
            check_object_id(user_id)
        data = await self._request(
            "POST", "/communications/getPresencesByUserId", {"ids": batch}
        )
        items = data.get("value")
        if not isinstance(items, list):
            raise GraphServerError("malformed_presences", "No list of presences")
        asked = {user_id.lower(): user_id for user_id in batch}
        presences: dict[str, PresenceSnapshot] = {}
        for item in items:
            if not isinstance(item, dict):
                raise GraphServerError("malformed_presences", "A presence is no object")
            answered = asked.get(str(item.get("id")).lower())
            if answered is not None:  # an id not asked for is nobody's to show
                presences[answered] = await self._snapshot(item)
        return PresenceBatch(presences, frozenset(asked.values()) - presences.keys())

    async def find_person(self, id_or_mail: str) -> DirectoryPerson:
        """Look someone up by object id or user principal name (often the e-mail).

        ``GET /users/{id | userPrincipalName}``: delegated ``User.ReadBasic.All``
        (``User.Read`` reaches only the signed-in user), application
        ``User.Read.All``. ``GraphNotFoundError`` when nobody has it.
        """
        key = id_or_mail.strip()
        if not key:
            raise GraphValidationError(
                "empty_person", "Name an id or an e-mail address"
            )
        data = await self._request(
            "GET", f"/users/{quote(key, safe='')}", params={"$select": PERSON_FIELDS}
        )
        return _person(data)

    async def search_people(
        self, text: str, *, limit: int = 25
    ) -> list[DirectoryPerson]:
        """Find people whose name, mail or user principal name has a word starting so.

        ``GET /users?$search=...`` with ``ConsistencyLevel: eventual`` (Graph
        refuses a search without it): delegated ``User.ReadBasic.All``,
        application ``User.Read.All``. At most ``limit`` people, as Graph orders.
        """
        words = " ".join(_NOT_SEARCHABLE.sub(" ", text).split())
        if not words:
            raise GraphValidationError("empty_search", "A search needs some text")
        if not 0 < limit <= MAX_SEARCH_RESULTS:
            raise GraphValidationError(
                "search_limit_out_of_range",
                f"A search answers 1 to {MAX_SEARCH_RESULTS} people, got {limit}",
            )
        data = await self._request(
            "GET",
            "/users",
            params={
                "$search": " OR ".join(
                    f'"{name}:{words}"' for name in _SEARCHED_PROPERTIES
                ),
                "$select": PERSON_FIELDS,
                "$top": str(limit),
            },
            headers={"ConsistencyLevel": "eventual"},
        )
        items = data.get("value")
        if not isinstance(items, list):
            raise GraphServerError("malformed_users", "No list of users")
        return [_person(item) for item in items]

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

    async def set_presence(
        self,
        session_id: str,
        presence: AppPresence,
        expiration: timedelta | None = None,
    ) -> None:
        """Create or refresh the application's presence session."""
        _check_session_id(session_id)
        body: dict[str, Any] = {
            "sessionId": session_id,
            "availability": presence.availability.value,
            "activity": presence.activity.value,
        }
        if expiration is not None:
            check_expiration(expiration)
            body["expirationDuration"] = iso8601_duration(expiration)
        await self._request("POST", f"{self._user_path}/presence/setPresence", body)

    async def clear_presence(self, session_id: str) -> None:
        """Remove the application's presence session (404 when there is none)."""
        _check_session_id(session_id)
        await self._request(
            "POST",
            f"{self._user_path}/presence/clearPresence",
            {"sessionId": session_id},
        )

    async def set_preferred_presence(
        self, presence: PreferredPresence, expiration: timedelta | None = None
    ) -> None:
        """Set the user-level presence that overrides every session."""
        body: dict[str, Any] = {
            "availability": presence.availability.value,
            "activity": presence.activity.value,
        }
        if expiration is not None:
            body["expirationDuration"] = iso8601_duration(expiration)
        await self._request(
            "POST", f"{self._user_path}/presence/setUserPreferredPresence", body
        )

    async def clear_preferred_presence(self) -> None:
        """Remove the user-level presence override."""
        await self._request(
            "POST", f"{self._user_path}/presence/clearUserPreferredPresence", {}
        )

    async def set_status_message(
        self, message: str, expires_at: datetime | None = None
    ) -> None:
        """Publish a status message, optionally until ``expires_at``."""
        if not message.strip():
            raise GraphValidationError(
                "empty_status_message", "A status message needs some text"
            )
        if len(message) > MAX_STATUS_MESSAGE_LENGTH:
            raise GraphValidationError(
                "status_message_too_long",
                f"A status message has at most {MAX_STATUS_MESSAGE_LENGTH} "
                f"characters, got {len(message)}",
            )
        await self._post_status_message(message, expires_at)

    async def clear_status_message(self) -> None:
        """Remove the status message."""
        await self._post_status_message("", None)

    async def _post_status_message(
        self, content: str, expires_at: datetime | None
    ) -> None:
        status: dict[str, Any] = {
            "message": {"content": content, "contentType": "text"}
        }
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise GraphValidationError(
                    "naive_datetime", "The expiry needs a time zone"
                )
            status["expiryDateTime"] = {
                "dateTime": expires_at.astimezone(UTC).replace(tzinfo=None).isoformat(),
                "timeZone": "UTC",
            }
        await self._request(
            "POST",
            f"{self._user_path}/presence/setStatusMessage",
            {"statusMessage": status},
        )

    async def set_manual_location(self, location: WorkLocationUpdate) -> None:
        """Set the work location the user chose; it wins over every other layer."""
        await self._request(
            "POST",
            f"{self._user_path}/presence/setManualLocation",
            location.as_graph(),
        )

    async def set_automatic_location(self, location: WorkLocationUpdate) -> None:
        """Set the detected work location (global cloud only); manual still wins."""
        await self._request(
            "POST",
            f"{self._user_path}/presence/setAutomaticLocation",
            location.as_graph(),
        )

    async def clear_automatic_location(self) -> None:
        """Drop the detected work location; a manual one stays."""
        await self._request(
            "POST", f"{self._user_path}/presence/clearAutomaticLocation"
        )

    async def clear_location(self) -> None:
        """Drop the manual and the automatic work location: the plan shows again."""
        await self._request("POST", f"{self._user_path}/presence/clearLocation")

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


def _person(data: object) -> DirectoryPerson:
    """Read a person from Graph's answer; a malformed one is Graph's failure."""
    try:
        return DirectoryPerson.from_graph(data)
    except MalformedPresenceError as err:
        raise GraphServerError(
            "malformed_user", f"Graph sent a user of the wrong shape: {err}"
        ) from err


def _check_session_id(session_id: str) -> None:
    if not session_id.strip():
        raise GraphValidationError(
            "empty_session_id", "The session id must be the application's id"
        )


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
