"""Where Graph can post an account's notifications: a cloudhook, or the external URL.

Home Assistant Cloud's cloudhook when a subscription is active, otherwise the
external HTTPS address; without either, the address repair says what is missing.
"""

from __future__ import annotations

from enum import StrEnum
from types import ModuleType

from homeassistant.components import webhook
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .const import LOGGER
from .problems import AccountProblems


class UpdateMode(StrEnum):
    """How the presence sensors learn of a change."""

    POLLING = "polling"
    PUSH_CLOUDHOOK = "push_cloudhook"
    PUSH_EXTERNAL = "push_external"


def cloud_component(hass: HomeAssistant) -> ModuleType | None:
    """Home Assistant Cloud, where it is set up (it pulls in Alexa, cameras...)."""
    if "cloud" not in hass.config.components:
        return None
    from homeassistant.components import cloud  # noqa: PLC0415

    return cloud


class CloudhookUnavailable(Exception):  # noqa: N818 - a state, not an error of ours
    """Home Assistant Cloud is connected but could not make the cloudhook now."""


async def async_push_address(
    hass: HomeAssistant, problems: AccountProblems, webhook_id: str
) -> tuple[UpdateMode, str] | None:
    """Return a cloudhook, else the external HTTPS address; None: say what is missing.

    ``CloudhookUnavailable`` when the cloud is connected but its cloudhook API
    failed and there is no external address: try again later.
    """
    cloud = cloud_component(hass)
    cloud_failure: Exception | None = None
    if cloud is not None and cloud.async_active_subscription(hass):
        from hass_nabucasa import CloudError  # noqa: PLC0415 - only with the cloud

        try:
            url = await cloud.async_get_or_create_cloudhook(hass, webhook_id)
        except (HomeAssistantError, CloudError, TimeoutError, ValueError) as err:
            # Not connected (the connection's change retries), or its API failed.
            if cloud.async_is_connected(hass):
                cloud_failure = err
            LOGGER.debug("No cloudhook now: %s", type(err).__name__)
        else:
            return UpdateMode.PUSH_CLOUDHOOK, url
    try:
        base = get_url(
            hass,
            allow_internal=False,
            allow_cloud=False,
            require_ssl=True,
            prefer_external=True,
        )
    except NoURLAvailableError:
        if cloud_failure is not None:
            raise CloudhookUnavailable from cloud_failure
        if cloud is None or not cloud.async_active_subscription(hass):
            problems.instant_updates_address_missing()
        return None
    return UpdateMode.PUSH_EXTERNAL, base + webhook.async_generate_path(webhook_id)
