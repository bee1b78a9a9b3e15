"""Purpose-specific triggers: Teams presence became, a call started or ended, and more.

The automation editor offers these by purpose, targeted at an account's device or
its entities (or an area or label holding them). Each fires as the device trigger
of the same change does (``read_changes.py``): once per change between two reads,
never again for Graph being unreachable, a reload or a restart.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, cast

from homeassistant.const import CONF_OPTIONS, CONF_TARGET
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.helpers.target import TargetStateChangedData
from homeassistant.helpers.trigger import Trigger, TriggerActionRunner, TriggerConfig
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from .read_changes import (
    AVAILABILITIES,
    CALL_ENDED,
    CALL_STARTED,
    STATUS_MESSAGE_CHANGED,
    WORK_LOCATION_CHANGED,
    LastReads,
    ReadChange,
    async_track_targeted,
    change_variables,
    presence_became,
)

CONF_AVAILABILITY: Final = "availability"

_TARGETED: Final = vol.Schema(
    {
        vol.Required(CONF_TARGET): cv.TARGET_FIELDS,
        vol.Optional(CONF_OPTIONS, default={}): {},
    }
)
_PRESENCE_BECAME: Final = vol.Schema(
    {
        vol.Required(CONF_TARGET): cv.TARGET_FIELDS,
        vol.Required(CONF_OPTIONS): {
            vol.Required(CONF_AVAILABILITY): vol.All(
                cv.ensure_list, vol.Length(min=1), [vol.In(AVAILABILITIES)]
            )
        },
    }
)


class ReadChangeTrigger(Trigger):
    """Fires for one kind of change of the targeted accounts' entities."""

    _schema: ClassVar[vol.Schema] = _TARGETED
    _change: ClassVar[ReadChange]

    @classmethod
    async def async_validate_config(
        cls, hass: HomeAssistant, config: ConfigType
    ) -> ConfigType:
        """Check the target, and the options the trigger has."""
        return cast(ConfigType, cls._schema(config))

    def __init__(self, hass: HomeAssistant, config: TriggerConfig) -> None:
        """Watch what the configuration targets."""
        super().__init__(hass, config)
        self._target: ConfigType = config.target or {}
        self._options: ConfigType = config.options or {}

    def change(self) -> ReadChange:
        """Return the change that fires this trigger."""
        return self._change

    async def async_attach_runner(
        self, run_action: TriggerActionRunner, did_not_trigger: Any = None
    ) -> CALLBACK_TYPE:
        """Run the action for each change of a targeted entity between two reads.

        ``did_not_trigger`` (2026.x) reports near misses to traces; a read that
        changes nothing is none.
        """
        change = self.change()
        registry = er.async_get(self._hass)
        reads = LastReads()

        @callback
        def watched(entity_ids: set[str]) -> set[str]:
            return {
                entity_id
                for entity_id in entity_ids
                if change.entity.watches(self._hass, entity_id)
            }

        @callback
        def state_changed(data: TargetStateChangedData) -> None:
            event = data.state_change_event
            entry = registry.async_get(event.data["entity_id"])
            new = event.data["new_state"]
            if entry is None or new is None:
                return
            reads.seed(entry.id, event.data["old_state"])
            last = reads.advance(entry.id, new)
            if last is None or not change.fires(last.state, new.state):
                return
            run_action(
                change_variables(last, new),
                f"state of {new.entity_id}",
                event.context,
            )

        return await async_track_targeted(
            self._hass, self._target, state_changed, watched
        )


class PresenceBecameTrigger(ReadChangeTrigger):
    """Teams presence became one of the chosen availabilities."""

    _schema = _PRESENCE_BECAME

    def change(self) -> ReadChange:
        """Presence turned into one of the chosen availabilities."""
        return presence_became(*self._options[CONF_AVAILABILITY])


class CallStartedTrigger(ReadChangeTrigger):
    """A call started (In a call turned on)."""

    _change = CALL_STARTED


class CallEndedTrigger(ReadChangeTrigger):
    """A call ended (In a call turned off)."""

    _change = CALL_ENDED


class StatusMessageChangedTrigger(ReadChangeTrigger):
    """The status message changed."""

    _change = STATUS_MESSAGE_CHANGED


class WorkLocationChangedTrigger(ReadChangeTrigger):
    """The work location changed."""

    _change = WORK_LOCATION_CHANGED


TRIGGERS: Final[dict[str, type[Trigger]]] = {
    "presence_became": PresenceBecameTrigger,
    "call_started": CallStartedTrigger,
    "call_ended": CallEndedTrigger,
    "status_message_changed": StatusMessageChangedTrigger,
    "work_location_changed": WorkLocationChangedTrigger,
}


async def async_get_triggers(hass: HomeAssistant) -> dict[str, type[Trigger]]:
    """Return the purpose-specific triggers of Teams Presence Keeper."""
    return TRIGGERS
