"""Purpose-specific conditions: Teams presence is, in a call, work location is.

Targeted like the triggers (an account's device, its entities, an area or label
holding them). A condition holds when any targeted account shows it now; an account
whose Graph cannot be read (its entity unavailable) shows nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, cast

from homeassistant.const import CONF_OPTIONS, CONF_TARGET, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.condition import (
    Condition,
    ConditionCheckerType,
    ConditionConfig,
    trace_condition_function,
)
from homeassistant.helpers.typing import ConfigType, TemplateVarsType
import voluptuous as vol

from .read_changes import (
    AVAILABILITIES,
    IN_A_CALL,
    PRESENCE,
    WORK_LOCATION,
    AccountEntity,
    targeted_entity_ids,
    was_read,
)
from .sensor import WORK_LOCATIONS

CONF_AVAILABILITY: Final = "availability"
CONF_WORK_LOCATION: Final = "work_location"


def _options_schema(field: str, states: list[str] | tuple[str, ...]) -> vol.Schema:
    """Accept a target, and one or more of ``states`` under ``field``."""
    return vol.Schema(
        {
            vol.Required(CONF_TARGET): cv.TARGET_FIELDS,
            vol.Required(CONF_OPTIONS): {
                vol.Required(field): vol.All(
                    cv.ensure_list, vol.Length(min=1), [vol.In(states)]
                )
            },
        }
    )


class ReadStateCondition(Condition):
    """Holds when a targeted account's entity shows one of some states."""

    _schema: ClassVar[vol.Schema] = vol.Schema(
        {
            vol.Required(CONF_TARGET): cv.TARGET_FIELDS,
            vol.Optional(CONF_OPTIONS, default={}): {},
        }
    )
    _entity: ClassVar[AccountEntity]
    """Which entity of an account the condition reads (its platform and key)."""

    @classmethod
    async def async_validate_config(
        cls, hass: HomeAssistant, config: ConfigType
    ) -> ConfigType:
        """Check the target, and the options the condition has."""
        return cast(ConfigType, cls._schema(config))

    def __init__(self, hass: HomeAssistant, config: ConditionConfig) -> None:
        """Read what the configuration targets."""
        super().__init__(hass, config)
        self._hass = hass
        self._target: ConfigType = config.target or {}
        self._options: ConfigType = config.options or {}

    def states(self) -> frozenset[str]:
        """Return the states for which the condition holds."""
        return frozenset({STATE_ON})

    def holds(self) -> bool:
        """Whether any targeted account's entity shows one of the states now."""
        states = self.states()
        return any(
            state.state in states
            for entity_id in targeted_entity_ids(self._hass, self._target)
            if self._entity.watches(self._hass, entity_id)
            and (state := self._hass.states.get(entity_id)) is not None
            and was_read(state)
        )

    async def async_get_checker(self) -> ConditionCheckerType:
        """Return the check, as Home Assistant asks for it up to 2026.4."""

        @trace_condition_function
        def check(hass: HomeAssistant, variables: TemplateVarsType = None) -> bool:
            return self.holds()

        return check

    def _async_check(self, **kwargs: Any) -> bool:
        """Check, as Home Assistant does from 2026.5 on (it traces the result)."""
        return self.holds()


class PresenceIsCondition(ReadStateCondition):
    """Teams presence is one of the chosen availabilities."""

    _schema = _options_schema(CONF_AVAILABILITY, AVAILABILITIES)
    _entity = PRESENCE

    def states(self) -> frozenset[str]:
        """Return the chosen availabilities."""
        return frozenset(self._options[CONF_AVAILABILITY])


class InACallCondition(ReadStateCondition):
    """The account is in a call (In a call is on)."""

    _entity = IN_A_CALL


class WorkLocationIsCondition(ReadStateCondition):
    """The work location is one of the chosen ones."""

    _schema = _options_schema(CONF_WORK_LOCATION, WORK_LOCATIONS)
    _entity = WORK_LOCATION

    def states(self) -> frozenset[str]:
        """Return the chosen work locations."""
        return frozenset(self._options[CONF_WORK_LOCATION])


CONDITIONS: Final[dict[str, type[Condition]]] = {
    "presence_is": PresenceIsCondition,
    "in_a_call": InACallCondition,
    "work_location_is": WorkLocationIsCondition,
}


async def async_get_conditions(hass: HomeAssistant) -> dict[str, type[Condition]]:
    """Return the purpose-specific conditions of Teams Presence Keeper."""
    return CONDITIONS
