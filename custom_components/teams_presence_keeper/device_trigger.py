"""Device triggers on an account's device: presence became X, a call, the status message.

Home Assistant offers no device trigger for an enum sensor, so these are the device's
own: one type per value the Presence sensor shows (as core's media player and alarm
panel do, so the editor lists each one, translated), a call starting or ending (the
In a call sensor's rule), and the status message changing.

Each watches one of the device's entities, found through the entity registry by its
unique id, never by an entity id a user may rename; a rename while the automation
runs is followed. A trigger compares each read with the last value read before it
(``read_changes.py``, shared with the purpose-specific triggers): Graph being
unreachable for a while (the sensors go unavailable) or a reload neither fires it
again nor hides a change made meanwhile.
"""

from __future__ import annotations

from typing import Final

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import (
    InvalidDeviceAutomationConfig,
)
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HassJob,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.event import (
    async_track_entity_registry_updated_event,
    async_track_state_change_event,
)
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from .const import DOMAIN, LOGGER
from .entity import account_id_of, entity_unique_id, option
from .graph import Availability
from .read_changes import (
    CALL_ENDED,
    CALL_STARTED,
    STATUS_MESSAGE_CHANGED,
    LastReads,
    ReadChange,
    change_variables,
    presence_became,
)

TRIGGERS: Final[dict[str, ReadChange]] = {
    **{
        option(availability): presence_became(option(availability))
        for availability in Availability
    },
    "call_started": CALL_STARTED,
    "call_ended": CALL_ENDED,
    "status_message_changed": STATUS_MESSAGE_CHANGED,
}
"""Each trigger type: ``busy`` and the other Presence states, then the rest."""

TRIGGER_SCHEMA: Final = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {vol.Required(CONF_TYPE): vol.In(TRIGGERS)}
)


def _entity(
    hass: HomeAssistant, device_id: str, trigger: ReadChange
) -> er.RegistryEntry | None:
    """Return the device's entity the trigger watches, if it has that entity."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None or (account_id := account_id_of(device)) is None:
        return None
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id(
        trigger.entity.platform,
        DOMAIN,
        entity_unique_id(account_id, trigger.entity.key),
    )
    return registry.async_get(entity_id) if entity_id is not None else None


async def async_get_triggers(
    hass: HomeAssistant, device_id: str
) -> list[dict[str, str]]:
    """List the triggers of an account's device, for the entities it has enabled.

    A followed person's less-used entities are disabled until the user enables
    them (``entity.less_used``): the editor offers what can fire, as Home
    Assistant's own device triggers do.
    """
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device_id,
            CONF_TYPE: trigger_type,
        }
        for trigger_type, trigger in TRIGGERS.items()
        if (entity := _entity(hass, device_id, trigger)) is not None
        and not entity.disabled
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Watch the device's entity for the trigger's changes.

    On a disabled entity too: it fires once the user enables the entity (Home
    Assistant reloads the entry, not the automation); until then it says why not.
    """
    trigger = TRIGGERS[config[CONF_TYPE]]
    entity = _entity(hass, config[CONF_DEVICE_ID], trigger)
    if entity is None:
        raise InvalidDeviceAutomationConfig(
            f"Device {config[CONF_DEVICE_ID]} has no {trigger.entity.key} entity"
        )
    if entity.disabled:
        LOGGER.warning(
            "The %s trigger of %s fires once %s is enabled: it is disabled",
            config[CONF_TYPE],
            trigger_info["name"],
            entity.entity_id,
        )
    watch = _Watch(hass, trigger, action, trigger_info)
    watch.follow(entity.entity_id)
    return watch.stop


class _Watch:
    """One attached trigger: the entity it follows and the last state read."""

    def __init__(
        self,
        hass: HomeAssistant,
        trigger: ReadChange,
        action: TriggerActionType,
        trigger_info: TriggerInfo,
    ) -> None:
        """Run ``action`` when ``trigger`` fires."""
        self._hass = hass
        self._trigger = trigger
        self._job = HassJob(action, f"device trigger {trigger_info}")
        self._trigger_data = trigger_info["trigger_data"]
        self._reads = LastReads()
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @callback
    def follow(self, entity_id: str) -> None:
        """Watch ``entity_id``'s states, and its registry entry for a rename."""
        self.stop()
        self._reads.seed(self._trigger.entity.key, self._hass.states.get(entity_id))
        self._unsubscribe = [
            async_track_state_change_event(self._hass, entity_id, self._state_changed),
            async_track_entity_registry_updated_event(
                self._hass, entity_id, self._registry_updated
            ),
        ]

    @callback
    def stop(self) -> None:
        """Stop watching."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    @callback
    def _registry_updated(
        self, event: Event[er.EventEntityRegistryUpdatedData]
    ) -> None:
        if event.data["action"] == "update" and "old_entity_id" in event.data:
            self.follow(event.data["entity_id"])

    @callback
    def _state_changed(self, event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        last = self._reads.advance(self._trigger.entity.key, new)
        if (
            new is None
            or last is None
            or not self._trigger.fires(last.state, new.state)
        ):
            return
        self._hass.async_run_hass_job(
            self._job,
            {
                "trigger": {
                    **self._trigger_data,
                    "platform": "device",
                    **change_variables(last, new),
                    "description": f"state of {new.entity_id}",
                }
            },
            event.context,
        )
