"""An async client for Microsoft Graph's presence API: one method per operation.

It knows URLs, bodies and error shapes, and nothing of Home Assistant: the caller
injects the aiohttp session and a coroutine that returns a valid access token
(``transport.py`` sends each request). It never retries; retry policy belongs to
whoever holds the wish. Other people's presence and the directory: ``people.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import GraphNotFoundError, GraphValidationError
from .models import (
    MAX_STATUS_MESSAGE_LENGTH,
    AppPresence,
    GraphUser,
    PreferredPresence,
    PresenceSnapshot,
    check_expiration,
    iso8601_duration,
)
from .people import PeopleOperations
from .work_locations import WorkLocationUpdate


class GraphPresenceClient(PeopleOperations):
    """Reads and sets one user's presence."""

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


def _check_session_id(session_id: str) -> None:
    if not session_id.strip():
        raise GraphValidationError(
            "empty_session_id", "The session id must be the application's id"
        )
