"""Other people: their presence read in bulk, and the directory to find them in.

`POST /communications/getPresencesByUserId` ("cloudCommunications:
getPresencesByUserId"): delegated `Presence.Read.All` only, application
`Presence.Read.All` or `Presence.ReadWrite.All`; at most 650 ids; a presence for
each id of a user of the caller's tenant, none for any other id.

`GET /users` ("List users"): delegated `User.ReadBasic.All` or more, application
`User.Read.All` or more; `$search` needs `ConsistencyLevel: eventual` ("Advanced
query capabilities on Microsoft Entra ID objects"), `"property:text"` terms joined
by OR or AND, each matching words that start with the text.
"""

from __future__ import annotations

from collections.abc import Callable
import re
from typing import Any

from aiohttp import web

from ._http import read_body
from .graph_api import (
    READ_OTHER_USERS,
    READ_PRESENCE_OF_MANY,
    GraphApi,
    GraphError,
    GraphHost,
    presence_json,
    selected,
    user_selection,
)
from .presence import User
from .tokens import AccessToken

MAX_PRESENCE_IDS = 650
MAX_PAGE = 999
DEFAULT_PAGE = 100
SEARCHABLE = frozenset({"displayName", "mail", "userPrincipalName"})
"""The searchable properties the emulator's users have."""
_GUID = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.IGNORECASE)
_TERM = re.compile(r'\s*"(?P<term>[^"]*)"\s*')
_JOINER = re.compile(r"\s+(OR|AND)\s+")
_WORD = re.compile(r"[^\W_]+")
_NEEDS_CONSISTENCY = (
    "Request with $search query parameter only works through MSGraph with a special"
    " request header: 'ConsistencyLevel: eventual'"
)


def user_json(user: User) -> dict[str, Any]:
    """Render a user with Graph's default properties (a list's and a lookup's)."""
    given, _, surname = user.display_name.partition(" ")
    return {
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": given or None,
        "jobTitle": None,
        "mail": user.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": surname or None,
        "userPrincipalName": user.upn,
        "id": user.id,
    }


def _tenant_of(token: AccessToken) -> str:
    return token.user.tenant_id if token.user is not None else token.app.tenant_id


class PeopleApi:
    """The routes about other people, authorized and answering as `graph` does."""

    def __init__(self, host: GraphHost, graph: GraphApi) -> None:
        """Answer from `host`'s directory."""
        self._host = host
        self._graph = graph

    def routes(self) -> list[web.RouteDef]:
        """Return the bulk presence read and the list of users."""
        graph = self._graph
        return [
            web.post(
                "/v1.0/communications/getPresencesByUserId",
                graph.answering(self._presences_by_id),
            ),
            web.get("/v1.0/users", graph.answering(self._list_users)),
        ]

    async def _presences_by_id(self, request: web.Request) -> web.StreamResponse:
        token = self._graph.authorize(request, READ_PRESENCE_OF_MANY)
        body = await read_body(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise GraphError(
                400, "BadRequest", "The property 'ids' must be a list of user ids."
            )
        if not ids:
            raise GraphError(400, "BadRequest", "The list of user ids is empty.")
        if len(ids) > MAX_PRESENCE_IDS:
            raise GraphError(
                400,
                "BadRequest",
                f"The number of user ids must not exceed {MAX_PRESENCE_IDS}.",
            )
        if invalid := [i for i in ids if not _GUID.fullmatch(i)]:
            raise GraphError(
                400, "BadRequest", f"The user id '{invalid[0]}' is not a valid GUID."
            )
        tenant = _tenant_of(token)
        # Indexed once: 650 ids looked up one by one in a directory of 650 would
        # make the emulator, not the integration, the slow part of a read.
        in_tenant = {
            user.id.lower(): user
            for user in self._host.directory.users
            if user.tenant_id == tenant
        }
        people = [
            user
            for user_id in dict.fromkeys(i.lower() for i in ids)
            if (user := in_tenant.get(user_id)) is not None
        ]
        zone = self._host.read_time_zone
        return web.json_response(
            {
                "@odata.context": f"{request.url.origin()}/v1.0/$metadata"
                "#Collection(microsoft.graph.presence)",
                "value": [presence_json(user, zone) for user in people],
            }
        )

    async def _list_users(self, request: web.Request) -> web.StreamResponse:
        token = self._graph.authorize(request, READ_OTHER_USERS)
        names = user_selection(request)
        top = _top(request.query.get("$top"))
        tenant = _tenant_of(token)
        users = [
            user
            for user in self._host.directory.users
            if user.tenant_id == tenant and not user.personal
        ]
        search = request.query.get("$search")
        if search is not None:
            if request.headers.get("ConsistencyLevel", "").lower() != "eventual":
                raise GraphError(400, "Request_UnsupportedQuery", _NEEDS_CONSISTENCY)
            matches = _search(search)
            users = [user for user in users if matches(user)]
        body: dict[str, Any] = {
            "@odata.context": f"{request.url.origin()}/v1.0/$metadata#users",
            "value": [selected(user_json(user), names) for user in users[:top]],
        }
        if request.query.get("$count") == "true":
            body["@odata.count"] = len(users)
        return web.json_response(body)


def _top(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    if not value.isdigit() or not 0 < int(value) <= MAX_PAGE:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Invalid page size specified: '{value}'. Must be between 1 and {MAX_PAGE}"
            " inclusive.",
        )
    return int(value)


def _search(query: str) -> Callable[[User], bool]:
    """Parse `"prop:text" OR "prop:text"`; return whether a user matches it."""
    parts = _JOINER.split(query.strip())
    terms, joiners = parts[::2], set(parts[1::2])
    if len(joiners) > 1:
        raise GraphError(
            400, "Request_UnsupportedQuery", "Mixing OR and AND is not supported."
        )
    tests = [_term(term) for term in terms]
    combine = all if joiners == {"AND"} else any

    def matches(user: User) -> bool:
        return combine(test(user) for test in tests)

    return matches


def _term(text: str) -> Callable[[User], bool]:
    """Parse one `"property:text"` term into a test of a user."""
    quoted = _TERM.fullmatch(text)
    name, colon, value = (quoted["term"] if quoted else "").partition(":")
    if quoted is None or not colon:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Syntax error: '{text}' is not a quoted \"property:text\" search term.",
        )
    if name not in SEARCHABLE:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Unsupported or invalid query filter clause specified for property"
            f" '{name}' of resource 'User'.",
        )
    wanted = [word.casefold() for word in _WORD.findall(value)]

    def test(user: User) -> bool:
        words = [word.casefold() for word in _WORD.findall(str(user_json(user)[name]))]
        return bool(wanted) and all(
            any(word.startswith(prefix) for word in words) for prefix in wanted
        )

    return test
