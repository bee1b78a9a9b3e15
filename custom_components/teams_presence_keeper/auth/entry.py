"""What a stored entry (or a flow's data) asks of the sign-in: where, which scopes.

No Home Assistant here: an entry is read through the two mappings it has.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
from typing import Any, Final, Protocol, TypeGuard

from ..const import (
    AUTH_METHOD_BROWSER,
    AUTH_METHOD_DEVICE_CODE,
    CONF_AUTH_METHOD,
    CONF_CLOUD,
    CONF_FOLLOW_PEOPLE,
    CONF_GRAPH_URL,
    CONF_INSTANT_UPDATES,
    CONF_LOGIN_URL,
    CONF_TOKEN_CACHE,
    DEFAULT_INSTANT_UPDATES,
    DELEGATED_SCOPES,
    INSTANT_UPDATES_SCOPE,
    PEOPLE_SCOPES,
)
from ..graph import CLOUD_ENDPOINTS, Cloud, CloudEndpoints

STORED_TOKEN: Final = "token"  # noqa: S105 - the key, not a token
"""Where Home Assistant's OAuth2 helper keeps the browser sign-in's token."""
_ACCESS_TOKEN: Final = "access_token"  # noqa: S105 - the key, not a token


class StoredEntry(Protocol):
    """What is read of a config entry: its data and its options."""

    @property
    def data(self) -> Mapping[str, Any]:
        """What the sign-in stored."""

    @property
    def options(self) -> Mapping[str, Any]:
        """What the user chose."""


def endpoints_from_data(data: Mapping[str, Any]) -> CloudEndpoints:
    """Return the Graph and sign-in URLs an entry (or flow) was configured with."""
    if data.get(CONF_GRAPH_URL) and data.get(CONF_LOGIN_URL):
        return CloudEndpoints(data[CONF_GRAPH_URL], data[CONF_LOGIN_URL])
    return CLOUD_ENDPOINTS[Cloud(data.get(CONF_CLOUD, Cloud.GLOBAL))]


DELEGATED_METHODS: Final = frozenset({AUTH_METHOD_BROWSER, AUTH_METHOD_DEVICE_CODE})
"""Sign-ins that act as the user: only they may subscribe to presence changes."""

_NATIONAL_CLOUDS: Final = frozenset(
    endpoints
    for cloud, endpoints in CLOUD_ENDPOINTS.items()
    if cloud is not Cloud.GLOBAL
)


def delegated_scopes(
    endpoints: CloudEndpoints, *, instant_updates: bool = False, people: bool = False
) -> list[str]:
    """Return the delegated scopes as Entra ID expects them in this cloud.

    Short names stand for the global Microsoft Graph, and token answers name them
    short too, which is what msal's cache matches later requests against. A national
    cloud's Graph has to be named in full. ``instant_updates`` adds the permission
    presence subscriptions need, asked for only once the user turned the option on;
    ``people`` those following people needs, once the user chose to follow someone.
    """
    permissions = [*DELEGATED_SCOPES]
    if instant_updates:
        permissions.append(INSTANT_UPDATES_SCOPE)
    if people:
        permissions = list(dict.fromkeys([*permissions, *PEOPLE_SCOPES]))
    if endpoints in _NATIONAL_CLOUDS:
        return [endpoints.scope(permission) for permission in permissions]
    return permissions


def wants_instant_updates(entry: StoredEntry) -> bool:
    """Whether the entry signs in delegated and has the Instant updates option on."""
    return entry.data[CONF_AUTH_METHOD] in DELEGATED_METHODS and bool(
        entry.options.get(CONF_INSTANT_UPDATES, DEFAULT_INSTANT_UPDATES)
    )


def wants_people(entry: StoredEntry) -> bool:
    """Whether the entry signs in delegated and its user chose to follow people."""
    return entry.data[CONF_AUTH_METHOD] in DELEGATED_METHODS and bool(
        entry.data.get(CONF_FOLLOW_PEOPLE)
    )


def lacks_people_consent(entry: StoredEntry) -> bool:
    """Whether the stored sign-in was granted without what following people needs."""
    return _lacks_consent(entry, PEOPLE_SCOPES)


def lacks_instant_updates_consent(entry: StoredEntry) -> bool:
    """Whether the stored sign-in was granted without ``Presence.Read.All``."""
    return _lacks_consent(entry, (INSTANT_UPDATES_SCOPE,))


def _lacks_consent(entry: StoredEntry, scopes: tuple[str, ...]) -> bool:
    """Whether the stored sign-in was granted without one of ``scopes``.

    Entra ID names the granted scopes in each token answer (the browser method
    keeps it) and msal keeps them with each cached token (the device code). A token
    that names none is not judged here: Graph's 403 says it later.
    """
    granted: set[str] = set()
    if readable_token(token := entry.data.get(STORED_TOKEN)) and isinstance(
        token.get("scope"), str
    ):
        granted.update(token["scope"].split())
    if (cache := token_cache_state(entry.data.get(CONF_TOKEN_CACHE))) is not None:
        for item in cache.get("AccessToken", {}).values():
            granted.update(str(item.get("target", "")).split())
    names = {scope.rsplit("/", 1)[-1].lower() for scope in granted}
    return bool(names) and any(scope.lower() not in names for scope in scopes)


def readable_token(token: object) -> TypeGuard[dict[str, Any]]:
    """Whether a stored OAuth token has what Home Assistant's OAuth2 helper reads."""
    return (
        isinstance(token, dict)
        and isinstance(token.get(_ACCESS_TOKEN), str)
        and isinstance(token.get("refresh_token"), str)
        and isinstance(token.get("expires_at"), int | float)
    )


def token_cache_state(serialized: object) -> dict[str, dict[str, Any]] | None:
    """Parse a stored msal cache; ``None`` unless it has msal's shape (items by kind)."""
    try:
        state = json.loads(serialized) if isinstance(serialized, str) else None
    except ValueError:
        return None
    if isinstance(state, dict) and all(
        isinstance(items, dict) and all(isinstance(i, dict) for i in items.values())
        for items in state.values()
    ):
        return state
    return None
