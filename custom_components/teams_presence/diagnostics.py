"""Diagnostics: what a supporter needs to see, with every secret redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_CLIENT_SECRET, CONF_TOKEN
from homeassistant.core import HomeAssistant

from .const import CONF_TARGET_USER, CONF_TOKEN_CACHE, CONF_USER_ID
from .coordinator import TeamsPresenceConfigEntry

TO_REDACT = {
    CONF_TOKEN,
    CONF_CLIENT_SECRET,
    CONF_TOKEN_CACHE,
    CONF_USER_ID,
    CONF_TARGET_USER,
    "access_token",
    "refresh_token",
    "id_token",
    "unique_id",
    "title",
    "status_message",
    "out_of_office_message",
    "mail",
    "user_principal_name",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: TeamsPresenceConfigEntry
) -> dict[str, Any]:
    """Return the entry's configuration and the keeper's state."""
    coordinator = entry.runtime_data
    keeper = coordinator.keeper
    session = keeper.session
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
            "next_sync": _iso(coordinator.writer.next_sync),
            "last_write": _iso(coordinator.writer.last_write),
            "throttled_until": _iso(keeper.throttled_until),
            "last_read_success": coordinator.last_update_success,
            "presence": asdict(coordinator.data) if coordinator.data else None,
            "recent_errors": list(coordinator.problems.recent),
        },
        TO_REDACT,
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
