"""Options: how presence is read (polled, or pushed by Graph) and how the app's session is kept."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigFlowResult, OptionsFlowWithReload
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import voluptuous as vol

from .auth.entry import DELEGATED_METHODS
from .const import (
    CONF_ANYONE_BUSY,
    CONF_AUTH_METHOD,
    CONF_CLEAR_ON_REMOVE,
    CONF_EXPIRATION,
    CONF_INSTANT_UPDATES,
    CONF_READ_INTERVAL,
    DEFAULT_CLEAR_ON_REMOVE,
    DEFAULT_EXPIRATION_MINUTES,
    DEFAULT_INSTANT_UPDATES,
    DEFAULT_READ_INTERVAL,
    MAX_READ_INTERVAL,
    MIN_READ_INTERVAL,
)
from .graph import MAX_EXPIRATION_MINUTES, MIN_EXPIRATION_MINUTES
from .people import followed_people
from .push_freshness import PUSHED_PEOPLE_AT_MOST, pushes_everyone

DEFAULT_OPTIONS: Final = {
    CONF_READ_INTERVAL: DEFAULT_READ_INTERVAL,
    CONF_EXPIRATION: DEFAULT_EXPIRATION_MINUTES,
    CONF_CLEAR_ON_REMOVE: DEFAULT_CLEAR_ON_REMOVE,
}
RANGES: Final = {
    CONF_READ_INTERVAL: (MIN_READ_INTERVAL, MAX_READ_INTERVAL),
    CONF_EXPIRATION: (MIN_EXPIRATION_MINUTES, MAX_EXPIRATION_MINUTES),
}
"""Each number's limits, checked by the flow so the error is a translated sentence."""


def _whole_number(unit: str) -> vol.All:
    """Return a box for whole units; the selector alone would give a float.

    Its limits are checked in the step, not by the selector, whose own message
    ("Value 5.0 is too small") is neither translated nor in whole units.
    """
    return vol.All(
        NumberSelector(
            NumberSelectorConfig(
                step=1, unit_of_measurement=unit, mode=NumberSelectorMode.BOX
            )
        ),
        vol.Coerce(int),
    )


OPTIONS_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_READ_INTERVAL): _whole_number("s"),
        vol.Required(CONF_EXPIRATION): _whole_number("min"),
        vol.Required(CONF_CLEAR_ON_REMOVE): BooleanSelector(),
    }
)
DELEGATED_OPTIONS_SCHEMA: Final = OPTIONS_SCHEMA.extend(
    {vol.Optional(CONF_INSTANT_UPDATES): BooleanSelector()}
)
"""Graph subscribes only delegated sign-ins to presence changes."""


def _with_people(schema: vol.Schema, people: dict[str, str]) -> vol.Schema:
    """Offer the followed people (object id: name) for the Anyone busy sensor."""
    if not people:
        return schema
    options = [
        SelectOptionDict(value=user_id, label=name) for user_id, name in people.items()
    ]
    return schema.extend(
        {
            vol.Optional(CONF_ANYONE_BUSY): SelectSelector(
                SelectSelectorConfig(
                    options=options, multiple=True, mode=SelectSelectorMode.LIST
                )
            )
        }
    )


class TeamsPresenceOptionsFlow(OptionsFlowWithReload):
    """How often presence is read and how the app's session is kept.

    Home Assistant reloads the entry when the options change; the app session
    survives the reload. Token refreshes, which update the entry's data, don't reload.
    """

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the options, with the entry's current values."""
        delegated = self.config_entry.data[CONF_AUTH_METHOD] in DELEGATED_METHODS
        people = {
            user_id: person.display_name
            for user_id, person in followed_people(self.config_entry).items()
        }
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = {
                key: f"{key}_out_of_range"
                for key, (low, high) in RANGES.items()
                if not low <= user_input[key] <= high
            }
            if user_input.get(CONF_INSTANT_UPDATES) and not pushes_everyone(
                len(people)
            ):
                errors["base"] = "instant_updates_too_many_people"
            if not errors:
                return self.async_create_entry(data=user_input)
        return self.async_show_form(
            # An app-permission account's form says why Instant updates is missing.
            step_id="init" if delegated else "application",
            data_schema=self.add_suggested_values_to_schema(
                _with_people(
                    DELEGATED_OPTIONS_SCHEMA if delegated else OPTIONS_SCHEMA, people
                ),
                user_input
                or {
                    CONF_INSTANT_UPDATES: DEFAULT_INSTANT_UPDATES,
                    **DEFAULT_OPTIONS,
                    **self.config_entry.options,
                    # Ticked before, since removed: no longer offered, nor sent back.
                    CONF_ANYONE_BUSY: [
                        user_id
                        for user_id in self.config_entry.options.get(
                            CONF_ANYONE_BUSY, []
                        )
                        if user_id in people
                    ],
                },
            ),
            errors=errors,
            description_placeholders={
                **{
                    f"{key}_{end}": str(limit)
                    for key, limits in RANGES.items()
                    for end, limit in zip(("min", "max"), limits, strict=True)
                },
                "most": str(PUSHED_PEOPLE_AT_MOST),
                "people": str(len(people)),
            },
        )

    async_step_application = async_step_init
