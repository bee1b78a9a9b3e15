"""Selects that choose the app presence and the user-preferred presence.

The app presence is Home Assistant's own session: one device among the user's
others, and Teams shows the busiest of them. The user-preferred presence overrides
every device until it expires, even while Home Assistant is off. Each select shows
whether Teams has its choice yet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import TeamsPresenceConfigEntry, TeamsPresenceCoordinator
from .entity import TeamsPresenceEntity
from .graph import AppPresence, PreferredPresence
from .keeper import SessionKeeper

# Writes are serialised and merged by the coordinator (a burst of choices ends in
# one write of the last), so Home Assistant must not queue the actions one by one.
PARALLEL_UPDATES = 0
NONE_OPTION = "none"
"""No app session, or no preferred presence: the other sessions decide."""
APPLIED = "applied"
PENDING = "pending"
"""Whether Teams has the choice yet (``in_teams``): pending until Graph accepts it."""


@dataclass(frozen=True, kw_only=True)
class TeamsPresenceSelectDescription(SelectEntityDescription):
    """How a select reads its wish and hands a new one to the coordinator."""

    choices: type[StrEnum]
    current_fn: Callable[[TeamsPresenceCoordinator], StrEnum | None]
    select_fn: Callable[
        [TeamsPresenceCoordinator, str | None, Context | None], Awaitable[None]
    ]
    attributes_fn: Callable[[SessionKeeper, datetime], dict[str, Any]]
    """What the state alone does not say: whether Teams has it, and until when."""


def _app_presence_attributes(keeper: SessionKeeper, now: datetime) -> dict[str, Any]:
    wish = keeper.wish.settled(now)
    return {
        "in_teams": APPLIED if keeper.app_presence_applied(now) else PENDING,
        "hold_until": wish.until,
        "after_hold": (wish.after_hold or NONE_OPTION) if wish.until else None,
    }


def _preferred_presence_attributes(
    keeper: SessionKeeper, now: datetime
) -> dict[str, Any]:
    return {
        "in_teams": PENDING if keeper.preferred_wish is not None else APPLIED,
        "expires_at": keeper.preferred_expires_at(now),
    }


SELECTS = (
    TeamsPresenceSelectDescription(
        key="app_presence",
        translation_key="app_presence",
        choices=AppPresence,
        current_fn=lambda coordinator: coordinator.wish.presence,
        select_fn=lambda coordinator, option, context: (
            coordinator.async_set_app_presence(
                AppPresence(option) if option else None, context=context
            )
        ),
        attributes_fn=_app_presence_attributes,
    ),
    TeamsPresenceSelectDescription(
        key="preferred_presence",
        translation_key="preferred_presence",
        choices=PreferredPresence,
        current_fn=lambda coordinator: coordinator.preferred_presence,
        select_fn=lambda coordinator, option, context: (
            coordinator.async_set_preferred_presence(
                PreferredPresence(option) if option else None, context=context
            )
        ),
        attributes_fn=_preferred_presence_attributes,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the presence selects of an account."""
    async_add_entities(
        TeamsPresenceSelect(entry.runtime_data, description) for description in SELECTS
    )


class TeamsPresenceSelect(TeamsPresenceEntity, SelectEntity):
    """Shows the wished presence; choosing one sets and holds it."""

    entity_description: TeamsPresenceSelectDescription

    def __init__(
        self,
        coordinator: TeamsPresenceCoordinator,
        description: TeamsPresenceSelectDescription,
    ) -> None:
        """List ``none`` and every pair Graph accepts, and nothing else."""
        super().__init__(coordinator, description)
        self._attr_options = [
            NONE_OPTION,
            *(choice.value for choice in description.choices),
        ]

    @property
    def available(self) -> bool:
        """A wish can be made while reads fail: the writer keeps it until Graph is back."""
        return True

    @property
    def current_option(self) -> str:
        """The wished presence, which the coordinator keeps alive."""
        current = self.entity_description.current_fn(self.coordinator)
        return NONE_OPTION if current is None else current.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Whether Teams has the choice yet, and when it ends."""
        return self.entity_description.attributes_fn(
            self.coordinator.keeper, dt_util.utcnow()
        )

    async def async_select_option(self, option: str) -> None:
        """Hand the wish to the coordinator; Graph's refusal raises and changes nothing.

        Under the context Home Assistant gave this choice, so the states it changes
        name who chose.
        """
        await self.entity_description.select_fn(
            self.coordinator, None if option == NONE_OPTION else option, self._context
        )
