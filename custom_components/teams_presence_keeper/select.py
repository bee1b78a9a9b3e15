"""Selects that choose the app presence and the user-preferred presence.

The app presence is Home Assistant's own session: one device among the user's
others, and Teams shows the busiest of them. The user-preferred presence overrides
every device until it expires, even while Home Assistant is off. Each select shows
whether Teams has its choice yet.

The work location is Teams' own setting, not a session: its select shows what Graph
reads, and a choice is sent once, as the user's manual choice.
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

from .entity import TeamsPresenceEntity
from .graph import (
    AppPresence,
    PreferredPresence,
    WorkLocationLayer,
    WorkLocationSource,
    WorkLocationType,
    WorkLocationUpdate,
)
from .keeper import SessionKeeper
from .runtime import TeamsPresenceAccount, TeamsPresenceConfigEntry
from .work_location import OFFERED_WORK_LOCATIONS

# Writes are serialised and merged by the writer (a burst of choices ends in
# one write of the last), so Home Assistant must not queue the actions one by one.
PARALLEL_UPDATES = 0
NONE_OPTION = "none"
"""No app session, or no preferred presence: the other sessions decide."""
APPLIED = "applied"
PENDING = "pending"
"""Whether Teams has the choice yet (``in_teams``): pending until Graph accepts it."""
AUTOMATIC_OPTION = "automatic"
"""No manual work location: the automatic layer (an agent such as the blueprint) or
the working-hours plan decides."""
WORK_LOCATION_SELECT = SelectEntityDescription(
    key="work_location",
    translation_key="work_location",
    options=[AUTOMATIC_OPTION, *(choice.value for choice in OFFERED_WORK_LOCATIONS)],
)


@dataclass(frozen=True, kw_only=True)
class TeamsPresenceSelectDescription(SelectEntityDescription):
    """How a select reads its wish and hands a new one to the account."""

    choices: type[StrEnum]
    current_fn: Callable[[TeamsPresenceAccount], StrEnum | None]
    select_fn: Callable[
        [TeamsPresenceAccount, str | None, Context | None], Awaitable[None]
    ]
    attributes_fn: Callable[[SessionKeeper, datetime], dict[str, Any]]
    """What the state alone does not say: whether Teams has it, and until when."""


def _app_presence_attributes(keeper: SessionKeeper, now: datetime) -> dict[str, Any]:
    """Whether Teams has it; while a hold runs, when it ends and what comes after."""
    wish = keeper.wish.settled(now)
    attributes: dict[str, Any] = {
        "in_teams": APPLIED if keeper.app_presence_applied(now) else PENDING
    }
    if wish.until is not None:
        attributes["hold_until"] = wish.until
        attributes["after_hold"] = wish.after_hold or NONE_OPTION
    return attributes


def _preferred_presence_attributes(
    keeper: SessionKeeper, now: datetime
) -> dict[str, Any]:
    """Whether Teams has it; while an override lasts, when it ends."""
    attributes: dict[str, Any] = {
        "in_teams": PENDING if keeper.preferred_pending(now) else APPLIED
    }
    if (expires_at := keeper.preferred_expires_at(now)) is not None:
        attributes["expires_at"] = expires_at
    return attributes


SELECTS = (
    TeamsPresenceSelectDescription(
        key="app_presence",
        translation_key="app_presence",
        choices=AppPresence,
        current_fn=lambda account: account.wish.presence,
        select_fn=lambda account, option, context: account.async_set_app_presence(
            AppPresence(option) if option else None, context=context
        ),
        attributes_fn=_app_presence_attributes,
    ),
    TeamsPresenceSelectDescription(
        key="preferred_presence",
        translation_key="preferred_presence",
        choices=PreferredPresence,
        current_fn=lambda account: account.preferred_presence,
        select_fn=lambda account, option, context: account.async_set_preferred_presence(
            PreferredPresence(option) if option else None, context=context
        ),
        attributes_fn=_preferred_presence_attributes,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeamsPresenceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the presence selects of an account, and its work location if Graph has it."""
    account = entry.runtime_data
    selects: list[SelectEntity] = [
        TeamsPresenceSelect(account, description) for description in SELECTS
    ]
    if (
        account.work_location.unoffered(WorkLocationLayer.MANUAL) is None
        and account.coordinator.data.work_location is not None
    ):
        selects.append(TeamsWorkLocationSelect(account, WORK_LOCATION_SELECT))
    async_add_entities(selects)


class TeamsPresenceSelect(TeamsPresenceEntity, SelectEntity):
    """Shows the wished presence; choosing one sets and holds it."""

    entity_description: TeamsPresenceSelectDescription

    def __init__(
        self,
        account: TeamsPresenceAccount,
        description: TeamsPresenceSelectDescription,
    ) -> None:
        """List ``none`` and every pair Graph accepts, and nothing else."""
        super().__init__(account, description)
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
        """The wished presence, which the writer keeps alive."""
        current = self.entity_description.current_fn(self.account)
        return NONE_OPTION if current is None else current.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Whether Teams has the choice yet, and when it ends."""
        return self.entity_description.attributes_fn(
            self.account.keeper, dt_util.utcnow()
        )

    async def async_select_option(self, option: str) -> None:
        """Hand the wish to the account; Graph's refusal raises and changes nothing.

        Under the context Home Assistant gave this choice, so the states it changes
        name who chose. ``none`` while it shows none, held in Teams, sends nothing:
        the user's own status chosen in Teams is the same preferred presence, and
        an automation choosing ``none`` again and again must not clear it.
        """
        if (
            option == NONE_OPTION == self.current_option
            and self.extra_state_attributes["in_teams"] == APPLIED
        ):
            return
        await self.entity_description.select_fn(
            self.account, None if option == NONE_OPTION else option, self._context
        )


class TeamsWorkLocationSelect(TeamsPresenceEntity, SelectEntity):
    """Where the user chose to work; ``automatic`` leaves it to the other layers."""

    @property
    def available(self) -> bool:
        """Unavailable while reads fail, or once Graph refused a write (403, 404)."""
        return super().available and not self.account.work_location.refused

    @property
    def current_option(self) -> str | None:
        """The manual choice Graph reads, or ``automatic`` when another layer decides."""
        location = self.coordinator.data.work_location
        if location is None or location.source is WorkLocationSource.UNKNOWN:
            return None
        if location.source is not WorkLocationSource.MANUAL:
            return AUTOMATIC_OPTION
        if location.location_type in OFFERED_WORK_LOCATIONS:
            return location.location_type.value
        return None

    async def async_select_option(self, option: str) -> None:
        """Set the manual layer, or (``automatic``) clear it; what it shows, never.

        Graph clears the manual layer only with the automatic one: the plan shows
        until an agent (the blueprint) sets the automatic layer again. So choosing
        what the select already shows sends nothing: ``automatic`` would erase the
        agent's layer, a place would drop the place id the manual choice holds.
        """
        if option == self.current_option:
            return
        if option == AUTOMATIC_OPTION:
            await self.account.work_location.async_clear(None, self._context)
        else:
            await self.account.work_location.async_set(
                WorkLocationLayer.MANUAL,
                WorkLocationUpdate(WorkLocationType(option)),
                self._context,
            )
