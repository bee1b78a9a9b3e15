"""Microsoft Graph's user and presence routes under /v1.0."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from aiohttp.typedefs import Handler

from ._http import read_body
from .presence import (
    Clock,
    PresenceError,
    SessionNotFoundError,
    StatusMessage,
    User,
    parse_duration,
)
from .tokens import AccessToken, Directory

USER_PATHS = ("/v1.0/me", "/v1.0/users/{user}")


def graph_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """Answer with an error in Graph's shape."""
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


class GraphError(Exception):
    """A refusal Graph answers with its own status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        """Keep the parts of the error answer."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Permission:
    """Scopes (delegated) or roles (application) of which a call needs one."""

    delegated: frozenset[str]
    application: frozenset[str]


READ_PRESENCE = Permission(
    frozenset({"Presence.Read", "Presence.ReadWrite"}),
    frozenset({"Presence.Read.All", "Presence.ReadWrite.All"}),
)
WRITE_PRESENCE = Permission(
    frozenset({"Presence.ReadWrite"}), frozenset({"Presence.ReadWrite.All"})
)
READ_USER = Permission(frozenset({"User.Read"}), frozenset({"User.Read.All"}))


def _answering_errors(handler: Handler) -> Handler:
    """Turn refusals raised by a handler into Graph error answers."""

    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except GraphError as err:
            return graph_error(err.status, err.code, err.message)
        except PresenceError as err:
            return graph_error(400, "BadRequest", str(err))
        except SessionNotFoundError as err:
            return graph_error(404, "NotFound", str(err.args[0]))

    return answer


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise PresenceError(f"The property '{name}' is required and must be a string.")
    return value


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise PresenceError(f"The property '{name}' is required and must be an object.")
    return value


def _duration(body: dict[str, Any]) -> timedelta | None:
    if body.get("expirationDuration") is None:
        return None
    return parse_duration(_text(body, "expirationDuration"))


def _expiry(value: Any) -> datetime | None:
    """Read a Graph dateTimeTimeZone; a naive dateTime is wall time in timeZone."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise PresenceError("expiryDateTime must have a dateTime.")
    try:
        zone = ZoneInfo(str(value.get("timeZone") or "UTC"))
        moment = datetime.fromisoformat(value["dateTime"])
    except (ValueError, ZoneInfoNotFoundError) as err:
        raise PresenceError(f"Invalid expiryDateTime: {err}") from err
    return moment.astimezone(zone) if moment.tzinfo else moment.replace(tzinfo=zone)


def _wall_time(moment: datetime) -> str:
    """Format as Graph does: seven fractional digits, no offset."""
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}0"


def _status_message_json(message: StatusMessage) -> dict[str, Any]:
    expiry = message.expiry
    return {
        "message": {"content": message.content, "contentType": message.content_type},
        "expiryDateTime": None
        if expiry is None
        else {"dateTime": _wall_time(expiry), "timeZone": str(expiry.tzinfo)},
        "publishedDateTime": f"{_wall_time(message.published.astimezone(UTC))}Z",
    }


def presence_json(user: User) -> dict[str, Any]:
    """Render a user's presence as GET .../presence answers."""
    availability, activity = user.presence.aggregate()
    message = user.presence.status_message
    out_of_office = user.presence.out_of_office
    return {
        "id": user.id,
        "availability": availability,
        "activity": activity,
        "statusMessage": None if message is None else _status_message_json(message),
        "outOfOfficeSettings": {
            "message": out_of_office.message,
            "isOutOfOffice": out_of_office.is_out_of_office,
        },
    }


class GraphApi:
    """The Graph routes, answering from the directory's users and tokens."""

    def __init__(self, directory: Directory, clock: Clock) -> None:
        """Answer from `directory`, judging token expiry by `clock`."""
        self._directory = directory
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        """Route definitions, for each app that serves Graph."""
        actions: dict[str, Handler] = {
            "setPresence": self._set_presence,
            "clearPresence": self._clear_presence,
            "setUserPreferredPresence": self._set_preferred,
            "clearUserPreferredPresence": self._clear_preferred,
            "setStatusMessage": self._set_status_message,
        }
        routes = [web.get("/v1.0/organization", _answering_errors(self._organization))]
        for path in USER_PATHS:
            routes += [
                web.get(path, _answering_errors(self._get_user)),
                web.get(f"{path}/presence", _answering_errors(self._get_presence)),
            ]
            routes += [
                web.post(f"{path}/presence/{name}", _answering_errors(handler))
                for name, handler in actions.items()
            ]
        return routes

    def _token(self, request: web.Request, permission: Permission) -> AccessToken:
        """Authenticate the bearer token and check it grants `permission`."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise GraphError(
                401, "InvalidAuthenticationToken", "Access token is empty."
            )
        token = self._directory.access_token(value.strip())
        if token is None:
            raise GraphError(
                401, "InvalidAuthenticationToken", "Access token validation failure."
            )
        if self._clock() >= token.expires_at:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        granted = (
            token.scopes & permission.delegated
            if token.user is not None
            else token.roles & permission.application
        )
        if not granted:
            # Graph answers a missing permission with an empty message.
            raise GraphError(403, "Forbidden", "")
        return token

    def _subject(self, request: web.Request, permission: Permission) -> User:
        """Return the user the path names, as far as the token may act on them."""
        token = self._token(request, permission)
        key = request.match_info.get("user")
        if key is None:
            if token.user is None:
                raise GraphError(
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                )
            return token.user
        user = self._directory.find_user(key)
        if user is None:
            raise GraphError(
                404,
                "ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried"
                " reference-property objects are not present.",
            )
        if token.user is not None and token.user is not user:
            raise GraphError(403, "Forbidden", "")
        return user

    @staticmethod
    async def _json_object(request: web.Request) -> dict[str, Any]:
        body = await read_body(request)
        if not isinstance(body, dict):
            raise PresenceError("The request body must be a JSON object.")
        return body

    async def _organization(self, request: web.Request) -> web.StreamResponse:
        token = self._token(request, READ_USER)
        user = token.user
        tenant = self._directory.tenants[
            user.tenant_id if user is not None else token.app.tenant_id
        ]
        return web.json_response(
            {"value": [{"id": tenant.id, "displayName": tenant.display_name}]}
        )

    async def _get_user(self, request: web.Request) -> web.StreamResponse:
        user = self._subject(request, READ_USER)
        return web.json_response(
            {
                "id": user.id,
                "displayName": user.display_name,
                "userPrincipalName": user.upn,
                "mail": user.mail,
            }
        )

    async def _get_presence(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(presence_json(self._subject(request, READ_PRESENCE)))

    async def _set_presence(self, request: web.Request) -> web.StreamResponse:
        user = self._subject(request, WRITE_PRESENCE)
        body = await self._json_object(request)
        user.presence.set_app_session(
            _text(body, "sessionId"),
            _text(body, "availability"),
            _text(body, "activity"),
            _duration(body),
        )
        return web.Response()

    async def _clear_presence(self, request: web.Request) -> web.StreamResponse:
        user = self._subject(request, WRITE_PRESENCE)
        body = await self._json_object(request)
        user.presence.clear_app_session(_text(body, "sessionId"))
        return web.Response()

    async def _set_preferred(self, request: web.Request) -> web.StreamResponse:
        user = self._subject(request, WRITE_PRESENCE)
        body = await self._json_object(request)
        user.presence.set_preferred(
            _text(body, "availability"), _text(body, "activity"), _duration(body)
        )
        return web.Response()

    async def _clear_preferred(self, request: web.Request) -> web.StreamResponse:
        self._subject(request, WRITE_PRESENCE).presence.clear_preferred()
        return web.Response()

    async def _set_status_message(self, request: web.Request) -> web.StreamResponse:
        user = self._subject(request, WRITE_PRESENCE)
        body = await self._json_object(request)
        status = _object(body, "statusMessage")
        message = _object(status, "message")
        if not isinstance(content := message.get("content"), str):
            raise PresenceError("The property 'content' is required.")
        user.presence.set_status_message(
            content,
            str(message.get("contentType") or "text"),
            _expiry(status.get("expiryDateTime")),
        )
        return web.Response()
