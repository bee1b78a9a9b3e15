"""A change-notification subscription as Graph returns it, and the presence it names.

One user's presence (``communications/presences/{id}``) or up to 650 people's
(``communications/presences?$filter=id in ('{id}', ...)``), by directory object id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
import re
from typing import Any

from .errors import GraphValidationError
from .people import MAX_PRESENCE_IDS, check_object_id, presence_id_batches


def presence_resource(user_id: str) -> str:
    """Return the resource of one user's presence, as a subscription names it."""
    return f"communications/presences/{user_id}"


def presences_resource(user_ids: Iterable[str]) -> str:
    """Return the resource of up to 650 people's presence, as Graph documents it.

    ``communications/presences?$filter=id in ('{id}', '{id}', ...)``: object ids
    only (each once, in order), which the filter quotes.
    """
    batches = presence_id_batches(user_ids)
    if len(batches) != 1:
        raise GraphValidationError(
            "presence_ids_out_of_range",
            f"A presence subscription names 1 to {MAX_PRESENCE_IDS} people,"
            f" got {sum(map(len, batches))}",
        )
    quoted = ", ".join(f"'{check_object_id(user_id)}'" for user_id in batches[0])
    return f"communications/presences?$filter=id in ({quoted})"


_ONE_PRESENCE = re.compile(r"/?communications/presences/(?P<id>[^/?]+)", re.IGNORECASE)
_MANY_PRESENCES = re.compile(
    r"/?communications/presences\?\$filter=id\s+in\s*\((?P<ids>[^)]*)\)",
    re.IGNORECASE,
)
_QUOTED_ID = re.compile(r"\s*'([^']+)'\s*")


@dataclass(frozen=True, slots=True)
class Subscription:
    """A change-notification subscription as Graph returns it."""

    id: str
    resource: str
    change_type: str
    notification_url: str
    expires_at: datetime
    lifecycle_notification_url: str | None = None
    client_state: str | None = None
    include_resource_data: bool = False
    encryption_certificate_id: str | None = None
    application_id: str | None = None
    creator_id: str | None = None

    @classmethod
    def from_graph(cls, body: object) -> Subscription:
        """Build from a Graph ``subscription``; ``ValueError`` if it isn't one."""
        data: dict[str, Any] = body if isinstance(body, dict) else {}
        return cls(
            id=_text(data, "id"),
            resource=_text(data, "resource"),
            change_type=_text(data, "changeType"),
            notification_url=_text(data, "notificationUrl"),
            expires_at=datetime.fromisoformat(
                _text(data, "expirationDateTime")
            ).astimezone(UTC),
            lifecycle_notification_url=data.get("lifecycleNotificationUrl"),
            client_state=data.get("clientState"),
            include_resource_data=bool(data.get("includeResourceData")),
            encryption_certificate_id=data.get("encryptionCertificateId"),
            application_id=data.get("applicationId"),
            creator_id=data.get("creatorId"),
        )

    def is_for_presence_of(self, user_id: str) -> bool:
        """Whether it is the subscription to ``user_id``'s presence."""
        return self.resource.lstrip("/").lower() == presence_resource(user_id).lower()

    @property
    def presence_ids(self) -> frozenset[str]:
        """The people whose presence it carries, lower case; none if not presence.

        Graph cannot change a subscription's resource: to follow another set of
        people, compare this with the set wanted and ``resubscribe``.
        """
        if one := _ONE_PRESENCE.fullmatch(self.resource):
            return frozenset({one["id"].lower()})
        many = _MANY_PRESENCES.fullmatch(self.resource)
        if many is None:
            return frozenset()
        quoted = many["ids"].split(",")
        ids = [match[1] for part in quoted if (match := _QUOTED_ID.fullmatch(part))]
        return (
            frozenset(i.lower() for i in ids)
            if len(ids) == len(quoted)
            else frozenset()
        )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing")
    return value
