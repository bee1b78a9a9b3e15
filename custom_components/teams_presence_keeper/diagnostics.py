"""Diagnostics: what a supporter needs to see, with secrets and identities redacted.

Redacted: tokens and secrets; who the account is (tenant, app registration, user,
names); the addresses of custom endpoints; what the user wrote (status and
out-of-office messages, the work place). Error texts keep their words but lose
any of these values they quote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET, CONF_TOKEN
from homeassistant.core import HomeAssistant
from yarl import URL

from .const import (
    CONF_GRAPH_URL,
    CONF_LOGIN_URL,
    CONF_TARGET_USER,
    CONF_TENANT,
    CONF_TENANT_ID,
    CONF_TOKEN_CACHE,
    CONF_USER_ID,
)
from .push import PushManager
from .runtime import TeamsPresenceConfigEntry

IDENTITY = (CONF_TENANT, CONF_TENANT_ID, CONF_CLIENT_ID, CONF_USER_ID, CONF_TARGET_USER)
"""Who the account is: the tenant (as typed, and its id), the app, the user."""
ADDRESSES = (CONF_GRAPH_URL, CONF_LOGIN_URL)
"""Custom endpoints (a proxy, a test server): their hosts name an organization."""
TO_REDACT = {
    *IDENTITY,
    *ADDRESSES,
    CONF_TOKEN,
    CONF_CLIENT_SECRET,
    CONF_TOKEN_CACHE,
    "auth_implementation",  # application credentials are named after the client id
    "access_token",
    "refresh_token",
    "id_token",
    "unique_id",
    "title",
    "status_message",
    "out_of_office_message",
    "place_id",
    "mail",
    "user_principal_name",
    "display_name",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: TeamsPresenceConfigEntry
) -> dict[str, Any]:
    """Return the entry's configuration and the keeper's state."""
    account = entry.runtime_data
    coordinator = account.coordinator
    keeper = account.keeper
    session = keeper.session
    identifying = _identifying(entry.title, entry.data)
    updates = {"updates": _updates(account.push)} if account.push else {}
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "wish": keeper.wish.as_dict(),
            "app_session": session.as_dict() if session else None,
            "preferred": keeper.preferred.as_dict() if keeper.preferred else None,
            "next_sync": _iso(account.writer.next_sync),
            "last_write": _iso(account.writer.last_write),
            "throttled_until": _iso(account.policy.throttled_until),
            "last_read_success": coordinator.last_update_success,
            "presence": asdict(coordinator.data) if coordinator.data else None,
            "recent_errors": [
                _scrub(error, identifying) for error in account.problems.recent
            ],
            **updates,
        },
        TO_REDACT,
    )


def _updates(push: PushManager) -> dict[str, Any]:
    """How presence arrives with Instant updates; the webhook's address is a secret."""
    return {
        "mode": push.mode,
        "subscription_expires": push.subscription.get("expires"),
        "rich_notifications": push.subscription.get("certificate_id") is not None,
        "last_notification": _iso(push.last_notification),
        "counts": dict(sorted(push.counts.items())),
    }


def _identifying(title: str, data: Mapping[str, Any]) -> set[str]:
    """Return the values an error text may quote that say who or where it is."""
    values = {str(data[key]) for key in IDENTITY if data.get(key)}
    values.update(
        host for key in ADDRESSES if data.get(key) and (host := URL(data[key]).host)
    )
    if title:
        values.add(title)
    return values


def _scrub(text: str, values: Iterable[str]) -> str:
    """Replace each of ``values`` in ``text``, longest first (one may contain another)."""
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
