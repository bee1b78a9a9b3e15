"""Microsoft Graph's user and presence routes under /v1.0."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ._http import read_body
from ._timezones import UTC_NAME, zone_info
from .presence import (
    Clock,
    PresenceError,
    SessionNotFoundError,
    StatusMessage,
    User,
    WorkLocation,
    parse_duration,
)
from .rate_limit import RateLimit
from .tokens import AccessToken, Directory

GRAPH_PREFIX = "/v1.0/"
USER_PATHS = ("/v1.0/me", "/v1.0/users/{user}")
# Microsoft Graph's own application id, which its 401 challenges name.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
_REQUEST_ID = "request-id"
_CLIENT_REQUEST_ID = "client-request-id"
CLOUDS = frozenset({"global", "us_government", "us_government_dod", "china"})
"""The Microsoft clouds a Graph deployment can be, as the integration names them."""
# Where Graph offers writing each work-location layer; elsewhere the action does
# not exist, and Graph answers as for any unknown segment.
_WORK_LOCATION_CLOUDS = {
    "setManualLocation": frozenset({"global", "us_government", "us_government_dod"}),
    "setAutomaticLocation": frozenset({"global"}),
    "clearAutomaticLocation": frozenset({"global"}),
    "clearLocation": frozenset({"global", "us_government", "us_government_dod"}),
}
# Graph's documented throttling answer carries these beside the request ids.
_THROTTLED_INNER_ERROR = {
    "code": "429",
    "message": "Please retry after",
    "status": "429",
}


class GraphHost(Protocol):
    """What the Graph routes read at request time; tests change it as they go."""

    @property
    def clock(self) -> Clock:
        """The emulator's clock."""

    @property
    def directory(self) -> Directory:
        """Users, apps and tokens."""

    @property
    def read_time_zone(self) -> str | None:
        """The zone presence reads answer times in; None: the zone each was set in."""

    @property
    def cloud(self) -> str:
        """The Microsoft cloud this Graph is (one of `CLOUDS`)."""

    @property
    def presence_rate_limit(self) -> RateLimit:
        """The presence requests each app may send per tenant (429 beyond)."""


def graph_error(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    *,
    now: datetime,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Answer with an error in Graph's shape, ids and challenge included.

    Clients log `innerError` to report a failure to Microsoft, and read the
    `WWW-Authenticate` challenge of a 401 to learn where to get a token: a client
    that copes with the emulator's errors copes with Graph's.
    """
    request_id, client_request_id = request_ids(request)
    all_headers = dict(headers or {})
    if status == 401:
        all_headers["WWW-Authenticate"] = (
            f'Bearer realm="", authorization_uri="{request.scheme}://{request.host}'
            f'/common/oauth2/authorize", client_id="{GRAPH_APP_ID}"'
        )
    inner_error = {
        "date": f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%S}",
        _REQUEST_ID: request_id,
        _CLIENT_REQUEST_ID: client_request_id,
    }
    if status == 429:
        inner_error |= _THROTTLED_INNER_ERROR
    body = {"error": {"code": code, "message": message, "innerError": inner_error}}
    return web.json_response(body, status=status, headers=all_headers)


def request_ids(request: web.Request) -> tuple[str, str]:
    """Return the request's id and the client's id for it (echoed when sent).

    Graph echoes a client-request-id header and otherwise uses its own request id
    for both; the ids are fixed at the first call, so every answer agrees.
    """
    if _REQUEST_ID not in request:
        request[_REQUEST_ID] = str(uuid.uuid4())
        request[_CLIENT_REQUEST_ID] = (
            request.headers.get(_CLIENT_REQUEST_ID) or request[_REQUEST_ID]
        )
    return request[_REQUEST_ID], request[_CLIENT_REQUEST_ID]


def graph_middleware(clock: Clock) -> Middleware:
    """Stamp every Graph answer with its ids, and answer unknown routes as Graph does.

    Graph names the unknown segment in a 400 rather than answering a bare 404, so
    a client that mistypes a path learns it from the error, as it would from Graph.
    """

    @web.middleware
    async def identify(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(GRAPH_PREFIX):
            return await handler(request)
        request_id, client_request_id = request_ids(request)
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            segment = request.path.rstrip("/").rpartition("/")[2]
            response = graph_error(
                request,
                400,
                "BadRequest",
                f"Resource not found for the segment '{segment}'.",
                now=clock(),
            )
        except web.HTTPMethodNotAllowed:
            response = graph_error(
                request,
                405,
                "MethodNotAllowed",
                f"The HTTP method '{request.method}' is not supported here.",
                now=clock(),
            )
        response.headers[_REQUEST_ID] = request_id
        response.headers[_CLIENT_REQUEST_ID] = client_request_id
        return response

    return identify


class GraphError(Exception):
    """A refusal Graph answers with its own status and code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Keep the parts of the error answer."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


class ThrottledError(GraphError):
    """429 with Retry-After, as Graph throttles presence requests."""

    def __init__(self, retry_after: int) -> None:
        """Ask the caller to wait `retry_after` seconds."""
        super().__init__(
            429,
            "TooManyRequests",
            "Too many requests.",
            {"Retry-After": str(retry_after)},
        )


@dataclass(frozen=True)
class Permission:
    """Scopes (delegated) or roles (application) of which a call needs one.

    `presence`: the call counts against the presence rate limit.
    """

    delegated: frozenset[str]
    application: frozenset[str]
    presence: bool = False


READ_PRESENCE = Permission(
    frozenset({"Presence.Read", "Presence.ReadWrite"}),
    frozenset({"Presence.Read.All", "Presence.ReadWrite.All"}),
    presence=True,
)
READ_PRESENCE_OF_MANY = Permission(
    frozenset({"Presence.Read.All"}),
    frozenset({"Presence.Read.All", "Presence.ReadWrite.All"}),
    presence=True,
)
"""getPresencesByUserId: delegated Presence.Read.All only ("Higher privileged
permissions: Not available"); application Presence.Read.All or ReadWrite.All."""
WRITE_PRESENCE = Permission(
    frozenset({"Presence.ReadWrite"}),
    frozenset({"Presence.ReadWrite.All"}),
    presence=True,
)
WRITE_OWN_PRESENCE = Permission(
    frozenset({"Presence.ReadWrite"}), frozenset(), presence=True
)
"""Delegated only: no application permission grants it (work location)."""
_READ_ALL_USERS = frozenset(
    {
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
READ_OTHER_USERS = Permission(_READ_ALL_USERS | {"User.ReadBasic.All"}, _READ_ALL_USERS)
"""List users, and get a user other than the signed-in one ("List users", "Get user")."""
READ_USER = Permission(
    READ_OTHER_USERS.delegated | {"User.Read", "User.ReadWrite"}, _READ_ALL_USERS
)
"""Get user: User.Read reaches the signed-in user only."""


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


def _session_id(body: dict[str, Any], token: AccessToken) -> str:
    """Return the body's sessionId, which must be the calling application's id.

    Graph keys an application's presence session by the application (client) id;
    any other id would leave a stray session that nothing renews or clears.
    """
    session_id = _text(body, "sessionId")
    if session_id.lower() != token.app.client_id.lower():
        raise PresenceError(
            f"The sessionId '{session_id}' is not the id of the calling application."
        )
    return session_id


def _duration(body: dict[str, Any]) -> timedelta | None:
    if body.get("expirationDuration") is None:
        return None
    return parse_duration(_text(body, "expirationDuration"))


def _expiry(value: Any) -> tuple[datetime, str] | None:
    """Read a Graph dateTimeTimeZone: the moment, and the zone's name as given.

    A naive dateTime is wall time in timeZone, which may be "UTC", an IANA name or
    a Windows name ("Pacific Standard Time"), as Graph takes all three.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise PresenceError("expiryDateTime must have a dateTime.")
    name = value.get("timeZone")
    if name is None:
        name = UTC_NAME
    if not isinstance(name, str):
        raise PresenceError("expiryDateTime.timeZone must be a string.")
    try:
        zone = zone_info(name)
        moment = datetime.fromisoformat(value["dateTime"])
    except ValueError as err:
        raise PresenceError(f"Invalid expiryDateTime: {err}") from err
    aware = moment.astimezone(zone) if moment.tzinfo else moment.replace(tzinfo=zone)
    return aware, name


def _wall_time(moment: datetime) -> str:
    """Format as Graph does: seven fractional digits, no offset."""
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}0"


def _status_message_json(
    message: StatusMessage, read_time_zone: str | None
) -> dict[str, Any]:
    """Render a status message; its expiry in `read_time_zone`, else as it was set."""
    expiry = message.expiry
    expiry_json = None
    if expiry is not None:
        name = read_time_zone or message.expiry_time_zone
        expiry_json = {
            "dateTime": _wall_time(expiry.astimezone(zone_info(name))),
            "timeZone": name,
        }
    return {
        "message": {"content": message.content, "contentType": message.content_type},
        "expiryDateTime": expiry_json,
        "publishedDateTime": f"{_wall_time(message.published.astimezone(UTC))}Z",
    }


def _work_location(body: dict[str, Any]) -> WorkLocation:
    """Read the body of setManualLocation or setAutomaticLocation."""
    place_id = body.get("placeId")
    if place_id is not None and not isinstance(place_id, str):
        raise PresenceError("The property 'placeId' must be a string.")
    return WorkLocation(_text(body, "workLocationType"), place_id)


USER_PROPERTIES = frozenset(
    {
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
    }
)
"""The user properties the emulator knows: Graph's default set."""


def user_selection(request: web.Request) -> list[str] | None:
    """Return the user properties `$select` names (None: all); 400 for unknown ones."""
    select = request.query.get("$select")
    if select is None:
        return None
    names = [name.strip() for name in select.split(",")]
    if unknown := [name for name in names if name not in USER_PROPERTIES]:
        raise GraphError(
            400,
            "BadRequest",
            f"Could not find a property named '{unknown[0]}' on type"
            " 'microsoft.graph.user'.",
        )
    return names


def selected(user: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    """Keep the properties named (all for None)."""
    return user if names is None else {name: user.get(name) for name in names}


def presence_json(user: User, read_time_zone: str | None = None) -> dict[str, Any]:
    """Render a user's presence as GET .../presence answers."""
    availability, activity = user.presence.aggregate()
    message = user.presence.status_message
    out_of_office = user.presence.out_of_office
    shown = user.presence.work_location()
    return {
        "id": user.id,
        "availability": availability,
        "activity": activity,
        "statusMessage": None
        if message is None
        else _status_message_json(message, read_time_zone),
        "outOfOfficeSettings": {
            "message": out_of_office.message,
            "isOutOfOffice": out_of_office.is_out_of_office,
        },
        "sequenceNumber": user.presence.sequence_number(),
        "workLocation": {
            "placeId": shown.location.place_id,
            "source": shown.source,
            "workLocationType": shown.location.location_type,
        },
    }


class GraphApi:
    """The Graph routes, answering from the directory's users and tokens."""

    def __init__(self, host: GraphHost) -> None:
        """Answer from `host`, read at each request."""
        self._host = host
        self._directory = host.directory
        self._clock = host.clock

    def _answering_errors(self, handler: Handler) -> Handler:
        """Turn refusals raised by a handler into Graph error answers."""

        async def answer(request: web.Request) -> web.StreamResponse:
            headers = None
            try:
                return await handler(request)
            except GraphError as err:
                status, code, message = err.status, err.code, err.message
                headers = err.headers
            except PresenceError as err:
                status, code, message = 400, "BadRequest", str(err)
            except SessionNotFoundError as err:
                status, code, message = 404, "NotFound", str(err.args[0])
            return graph_error(
                request, status, code, message, now=self._clock(), headers=headers
            )

        return answer

    def answering(self, handler: Handler) -> Handler:
        """Answer refusals as Graph does, for routes defined in other modules."""
        return self._answering_errors(handler)

    def authorize(self, request: web.Request, permission: Permission) -> AccessToken:
        """Return the caller's token if it grants `permission` (else 401 or 403)."""
        return self._token(request, permission)

    def routes(self) -> list[web.RouteDef]:
        """Route definitions, for each app that serves Graph."""
        actions: dict[str, Handler] = {
            "setPresence": self._set_presence,
            "clearPresence": self._clear_presence,
            "setUserPreferredPresence": self._set_preferred,
            "clearUserPreferredPresence": self._clear_preferred,
            "setStatusMessage": self._set_status_message,
            "setManualLocation": self._set_manual_location,
            "setAutomaticLocation": self._set_automatic_location,
            "clearAutomaticLocation": self._clear_automatic_location,
            "clearLocation": self._clear_location,
        }
        routes = [
            web.get("/v1.0/organization", self._answering_errors(self._organization))
        ]
        for path in USER_PATHS:
            routes += [
                web.get(path, self._answering_errors(self._get_user)),
                web.get(f"{path}/presence", self._answering_errors(self._get_presence)),
            ]
            routes += [
                web.post(f"{path}/presence/{name}", self._answering_errors(handler))
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
        if token is None or self._directory.access_token_revoked(value.strip()):
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
        if permission.presence:
            self._admit_presence_request(token)
        return token

    def _admit_presence_request(self, token: AccessToken) -> None:
        """Refuse with 429 and Retry-After past the app's presence rate in its tenant."""
        tenant = token.user.tenant_id if token.user is not None else token.app.tenant_id
        wait = self._host.presence_rate_limit.admit(token.app.client_id, tenant)
        if wait is not None:
            raise ThrottledError(wait)

    def _subject(self, request: web.Request, permission: Permission) -> User:
        """Return the user the path names, as far as the token may act on them."""
        return self._caller(request, permission)[1]

    def _caller(
        self, request: web.Request, permission: Permission
    ) -> tuple[AccessToken, User]:
        """Return the caller's token and the user the path names."""
        token = self._token(request, permission)
        user = self._named_user(request, token)
        if token.user is not None and token.user is not user:
            raise GraphError(403, "Forbidden", "")
        return token, user

    def _named_user(self, request: web.Request, token: AccessToken) -> User:
        """Return the user the path names: /me, or an id or UPN (404 if none)."""
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
        """Get user: anyone of the caller's tenant, with a permission to read others."""
        token = self._token(request, READ_USER)
        names = user_selection(request)
        user = self._named_user(request, token)
        caller_tenant = (
            token.user.tenant_id if token.user is not None else token.app.tenant_id
        )
        if user.tenant_id != caller_tenant:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{request.match_info.get('user')}' does not exist or one"
                " of its queried reference-property objects are not present.",
            )
        if (
            token.user is not None
            and token.user is not user
            and not token.scopes & READ_OTHER_USERS.delegated
        ):
            raise GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        return web.json_response(
            selected(
                {
                    "id": user.id,
                    "displayName": user.display_name,
                    "userPrincipalName": user.upn,
                    "mail": user.mail,
                },
                names,
            )
        )

    async def _get_presence(self, request: web.Request) -> web.StreamResponse:
        user = self._subject(request, READ_PRESENCE)
        return web.json_response(presence_json(user, self._host.read_time_zone))

    async def _set_presence(self, request: web.Request) -> web.StreamResponse:
        token, user = self._caller(request, WRITE_PRESENCE)
        body = await self._json_object(request)
        user.presence.set_app_session(
            _session_id(body, token),
            _text(body, "availability"),
            _text(body, "activity"),
            _duration(body),
        )
        return web.Response()

    async def _clear_presence(self, request: web.Request) -> web.StreamResponse:
        token, user = self._caller(request, WRITE_PRESENCE)
        body = await self._json_object(request)
        user.presence.clear_app_session(_session_id(body, token))
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
        expiry, zone = _expiry(status.get("expiryDateTime")) or (None, UTC_NAME)
        user.presence.set_status_message(
            content, str(message.get("contentType") or "text"), expiry, zone
        )
        return web.Response()

    def _location_writer(self, request: web.Request) -> User:
        """Return the signed-in user, if this cloud's Graph has the action at all."""
        action = request.path.rpartition("/")[2]
        if self._host.cloud not in _WORK_LOCATION_CLOUDS[action]:
            raise web.HTTPNotFound  # Graph's 400 for an unknown segment
        return self._subject(request, WRITE_OWN_PRESENCE)

    async def _set_manual_location(self, request: web.Request) -> web.StreamResponse:
        user = self._location_writer(request)
        location = _work_location(await self._json_object(request))
        user.presence.manual_location = location
        return web.Response()

    async def _set_automatic_location(self, request: web.Request) -> web.StreamResponse:
        user = self._location_writer(request)
        location = _work_location(await self._json_object(request))
        user.presence.automatic_location = location
        return web.Response()

    async def _clear_automatic_location(
        self, request: web.Request
    ) -> web.StreamResponse:
        self._location_writer(request).presence.automatic_location = None
        return web.Response()

    async def _clear_location(self, request: web.Request) -> web.StreamResponse:
        self._location_writer(request).presence.clear_locations()
        return web.Response()
