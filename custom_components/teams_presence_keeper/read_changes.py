"""What fires our triggers: a change between two reads of one of an account's entities.

Shared by the device triggers (``device_trigger.py``) and the purpose-specific
triggers and conditions (``trigger.py``, ``condition.py``). A trigger compares each
read with the last value read before it: Graph being unreachable for a while (the
entities go unavailable), a reload (unavailable, then the same read again) or a
restart (nothing read yet to compare with) neither fires it again nor hides a
change made meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import inspect
from typing import Any, Final, cast

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, State
from homeassistant.helpers import entity_registry as er, target as ha_target
from homeassistant.helpers.typing import ConfigType

from .const import CONF_USER_ID, DOMAIN, SUBENTRY_PERSON
from .entity import entity_unique_id, option
from .graph import Availability
from .people import person_device_id


@dataclass(frozen=True, slots=True)
class AccountEntity:
    """One kind of entity every account (and followed person) has: platform and key."""

    platform: Platform
    key: str
    """The entity description's key, part of the entity's unique id."""

    def watches(self, hass: HomeAssistant, entity_id: str) -> bool:
        """Whether ``entity_id`` is this kind of entity of an account or a person."""
        entry = er.async_get(hass).async_get(entity_id)
        if (
            entry is None
            or entry.platform != DOMAIN
            or entry.domain != self.platform
            or entry.config_entry_id is None
        ):
            return False
        config_entry = hass.config_entries.async_get_entry(entry.config_entry_id)
        if config_entry is None or config_entry.unique_id is None:
            return False
        owner = config_entry.unique_id
        if entry.config_subentry_id is not None:  # a followed person's entity
            person = config_entry.subentries.get(entry.config_subentry_id)
            if person is None or person.subentry_type != SUBENTRY_PERSON:
                return False
            owner = person_device_id(owner, str(person.data[CONF_USER_ID]).lower())
        return entry.unique_id == entity_unique_id(owner, self.key)


PRESENCE: Final = AccountEntity(Platform.SENSOR, "presence")
IN_A_CALL: Final = AccountEntity(Platform.BINARY_SENSOR, "in_a_call")
STATUS_MESSAGE: Final = AccountEntity(Platform.SENSOR, "status_message")
WORK_LOCATION: Final = AccountEntity(Platform.SENSOR, "work_location")


@dataclass(frozen=True, slots=True)
class ReadChange:
    """Which entity of an account a trigger watches, and which changes fire it."""

    entity: AccountEntity
    from_states: frozenset[str] | None = None
    """The last state read must be one of these (``None``: any)."""
    to_states: frozenset[str] | None = None
    """The new state must be one of these and the last not (``None``: any other
    than the last): busy to do not disturb is no change into "busy or do not
    disturb"."""

    def fires(self, last: str, new: str) -> bool:
        """Whether a read that turned ``last`` into ``new`` fires the trigger."""
        return (
            last != new
            and (self.from_states is None or last in self.from_states)
            and (
                self.to_states is None
                or (new in self.to_states and last not in self.to_states)
            )
        )


class LastReads:
    """The last state each watched entity showed from a read, by a key of its own.

    The key is one that outlives a rename of the entity id (the registry entry's id).
    """

    def __init__(self) -> None:
        """Remember nothing yet: the first read only sets what later ones compare to."""
        self._last: dict[str, State] = {}

    def seed(self, key: str, state: State | None) -> None:
        """Take ``state`` as the last read, unless one is known or it is no read."""
        if state is not None and was_read(state):
            self._last.setdefault(key, state)

    def advance(self, key: str, new: State | None) -> State | None:
        """Record a new state; return the read before it when both are reads."""
        if new is None or not was_read(new):
            return None
        last, self._last[key] = self._last.get(key), new
        return last


def was_read(state: State) -> bool:
    """Whether a state comes from a read, not from Graph being unreachable."""
    return state.state != STATE_UNAVAILABLE


def change_variables(last: State, new: State) -> dict[str, Any]:
    """Tell the automation what changed, as Home Assistant's state triggers do."""
    return {"entity_id": new.entity_id, "from_state": last, "to_state": new}


AVAILABILITIES: Final = tuple(option(availability) for availability in Availability)
"""What the Presence sensor shows: ``available``, ``busy`` and the others."""


def presence_became(*availabilities: str) -> ReadChange:
    """Presence turned into one of ``availabilities`` from any other."""
    return ReadChange(PRESENCE, to_states=frozenset(availabilities))


CALL_STARTED: Final = ReadChange(
    IN_A_CALL,
    from_states=frozenset({STATE_OFF}),
    to_states=frozenset({STATE_ON}),
)
CALL_ENDED: Final = ReadChange(
    IN_A_CALL,
    from_states=frozenset({STATE_ON}),
    to_states=frozenset({STATE_OFF}),
)
STATUS_MESSAGE_CHANGED: Final = ReadChange(STATUS_MESSAGE)
WORK_LOCATION_CHANGED: Final = ReadChange(WORK_LOCATION)


def _selection(target: ConfigType) -> Any:
    """Home Assistant's reading of a target: ``TargetSelection`` from 2026.x on.

    2025.12 names it ``TargetSelectorData``, which 2026.x deprecates.
    """
    selection = getattr(ha_target, "TargetSelection", None)
    if selection is None:
        selection = ha_target.TargetSelectorData
    return selection(target)


def targeted_entity_ids(hass: HomeAssistant, target: ConfigType) -> set[str]:
    """Return the entities a target names: directly, or by device, area, label."""
    selected = ha_target.async_extract_referenced_entity_ids(
        hass, _selection(target), expand_group=False
    )
    return selected.referenced | selected.indirectly_referenced


async def async_track_targeted(
    hass: HomeAssistant,
    target: ConfigType,
    action: Callable[[ha_target.TargetStateChangedData], None],
    entity_filter: Callable[[set[str]], set[str]],
) -> CALLBACK_TYPE:
    """Follow the states of a target's entities, as its devices and areas change.

    Home Assistant's own tracker: it returns the unsubscribe callback on 2025.12
    and a coroutine giving it from 2026.x on.
    """
    tracking: Any = ha_target.async_track_target_selector_state_change_event(
        hass, target, action, entity_filter
    )
    if inspect.isawaitable(tracking):
        tracking = await tracking
    return cast(CALLBACK_TYPE, tracking)
