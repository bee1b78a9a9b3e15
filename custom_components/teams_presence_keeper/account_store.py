"""Where an account's wish, session, preferred presence and Graph's wait outlive restarts."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, STORAGE_VERSION
from .keeper import SessionKeeper
from .policy import FailurePolicy, GraphWait

GRAPH_WAITS: HassKey[dict[str, GraphWait]] = HassKey(f"{DOMAIN}_graph_waits")
"""Each account's wait Graph asked for, by entry id: it outlives a reload, so a 429
that lands after the unload holds the entry that replaced it (forgotten at removal)."""


def graph_wait(hass: HomeAssistant, entry: ConfigEntry) -> GraphWait:
    """Return the wait Graph asked of an entry's account, kept across reloads."""
    return hass.data.setdefault(GRAPH_WAITS, {}).setdefault(entry.entry_id, GraphWait())


def wish_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Return the Store of an entry's account state (removed with the account)."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")


class AccountStore:
    """Stores the keeper's state and the policy's wait, together, as one dict."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        keeper: SessionKeeper,
        policy: FailurePolicy,
    ) -> None:
        """Store ``keeper`` and ``policy`` of ``entry``."""
        self._store = wish_store(hass, entry)
        self._keeper = keeper
        self._policy = policy

    async def async_restore(self) -> None:
        """Load what was stored; a hold or a wait that ended while down is over."""
        stored = await self._store.async_load() or {}
        self._keeper.restore(stored, now := dt_util.utcnow())
        self._policy.restore(stored, now)

    @callback
    def save(self) -> None:
        """Store soon; a burst of changes writes once.

        Not after unload (a write that lands late): the unload stored it last, and
        the Store is the next entry's, or removed with the account.
        """
        if not self._keeper.closed:
            self._store.async_delay_save(self._as_dict, 1)

    async def async_save_now(self) -> None:
        """Store now: the account unloads."""
        await self._store.async_save(self._as_dict())

    def _as_dict(self) -> dict[str, Any]:
        return {**self._keeper.as_dict(), **self._policy.as_dict()}
