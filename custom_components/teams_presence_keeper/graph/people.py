"""People in the directory: many presences at once, and who someone is.

Graph reads up to 650 people's presence in one request (and subscribes to as many
in one subscription), by directory object id only; a lookup or a search finds
those ids by name or mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import re
from typing import Final
from urllib.parse import quote

from .errors import GraphServerError, GraphValidationError
from .fields import MalformedPresenceError, required_field, typed_field
from .models import PresenceSnapshot
from .transport import GraphTransport

MAX_PRESENCE_IDS = 650
"""Ids Graph takes in one ``getPresencesByUserId`` request, and in one subscription."""
_OBJECT_ID = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.IGNORECASE)


def is_object_id(user_id: str) -> bool:
    """Whether ``user_id`` is a directory object id (a GUID), as Graph asks for."""
    return _OBJECT_ID.fullmatch(user_id) is not None


def check_object_id(user_id: str) -> str:
    """Return ``user_id`` if it is a directory object id (a GUID), else refuse it.

    Graph's batched read and bulk subscription take object ids only, and a
    subscription's filter quotes them: anything else is refused before sending.
    """
    if not is_object_id(user_id):
        raise GraphValidationError(
            "invalid_object_id", f"A user's object id is a GUID, got {user_id!r}"
        )
    return user_id


def presence_id_batches(user_ids: Iterable[str]) -> list[list[str]]:
    """Split ids into batches Graph takes in one request, each id once, in order.

    Ids differing only in case are one user: the first spelling is kept.
    """
    seen: set[str] = set()
    unique: list[str] = []
    for user_id in user_ids:
        if (key := user_id.lower()) not in seen:
            seen.add(key)
            unique.append(user_id)
    return [
        unique[start : start + MAX_PRESENCE_IDS]
        for start in range(0, len(unique), MAX_PRESENCE_IDS)
    ]


@dataclass(frozen=True, slots=True)
class PresenceBatch:
    """One ``getPresencesByUserId`` answer: each asked id's presence, or missing.

    Graph documents the answer as a collection of presences and promises none for
    an id it does not know (a user who left the directory, a mistyped id): such
    ids are in ``missing``, never an error of the whole batch.
    """

    presences: Mapping[str, PresenceSnapshot]
    """Keyed by the id as it was asked for."""
    missing: frozenset[str]


@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """Someone in the directory, as a lookup or a search finds them."""

    id: str
    display_name: str | None
    mail: str | None
    user_principal_name: str | None

    @classmethod
    def from_graph(cls, data: object) -> DirectoryPerson:
        """Build from a Graph ``user``; raises ``MalformedPresenceError``."""
        if not isinstance(data, dict):
            raise MalformedPresenceError(f"user is {type(data).__name__}")
        return cls(
            id=required_field(data, "id", str),
            display_name=typed_field(data, "displayName", str),
            mail=typed_field(data, "mail", str),
            user_principal_name=typed_field(data, "userPrincipalName", str),
        )


PERSON_FIELDS: Final = "id,displayName,mail,userPrincipalName"
"""What a directory lookup asks for: all a person needs, nothing private."""
MAX_SEARCH_RESULTS: Final = 999
"""The largest page Graph answers a list of users with."""
_SEARCHED_PROPERTIES: Final = ("displayName", "mail", "userPrincipalName")
_NOT_SEARCHABLE: Final = re.compile(r'["\\]')
"""Quotes and backslashes would end or escape a $search term: they are dropped."""


class PeopleOperations(GraphTransport):
    """Reads many people's presence, and finds people in the directory."""

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
            if answered is None:  # an id not asked for is nobody's to show
                continue
            snapshot = await self._snapshot(item)
            # Someone answered twice: the older of the two is not theirs now.
            if (shown := presences.get(answered)) is None or not (
                snapshot.is_older_than(shown)
            ):
                presences[answered] = snapshot
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


def _person(data: object) -> DirectoryPerson:
    """Read a person from Graph's answer; a malformed one is Graph's failure."""
    try:
        return DirectoryPerson.from_graph(data)
    except MalformedPresenceError as err:
        raise GraphServerError(
            "malformed_user", f"Graph sent a user of the wrong shape: {err}"
        ) from err
