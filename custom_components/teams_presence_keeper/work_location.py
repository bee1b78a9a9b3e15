"""Where the user works, written from Home Assistant: what Graph offers an account.

Graph offers work location to delegated sign-ins only, each layer in some clouds;
a tenant whose Graph answers 403 or 404 does not have it, which is said once and
makes the select unavailable until a write succeeds again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from homeassistant.core import Context

from .actions import OneOffRequests
from .const import (
    AUTH_METHOD_APPLICATION,
    CLOUD_CUSTOM,
    CONF_AUTH_METHOD,
    CONF_CLOUD,
    LOGGER,
)
from .graph import Cloud, WorkLocationLayer, WorkLocationType, WorkLocationUpdate
from .remedies import Failure, Operation, Remedy
from .shown import PresenceView, acting_for

OFFERED_WORK_LOCATIONS = (
    WorkLocationType.OFFICE,
    WorkLocationType.REMOTE,
    WorkLocationType.TIME_OFF,
)
"""The work locations a user can set: Microsoft's reference lists only these for
setManualLocation and setAutomaticLocation (no ``unspecified``)."""


class WorkLocationWriter:
    """Sets and clears an account's work location, one request at a time."""

    def __init__(
        self,
        requests: OneOffRequests,
        entry_title: str,
        entry_data: Mapping[str, Any],
        view: PresenceView,
    ) -> None:
        """Write as one-off ``requests`` of the account ``entry_data`` describes."""
        self._requests = requests
        self._client = requests.client
        self._title = entry_title
        self._data = entry_data
        self._view = view
        self.refused = False
        """Graph answered a work-location write with 403 or 404: not in this tenant."""

    def unoffered(self, layer: WorkLocationLayer) -> str | None:
        """Why Graph does not let this account write ``layer`` (a translation key).

        ``None`` when it does. Behind custom endpoints the cloud is unknown, so
        Graph answers for itself.
        """
        data = self._data
        if data.get(CONF_AUTH_METHOD) == AUTH_METHOD_APPLICATION:
            return "work_location_application"
        cloud = data.get(CONF_CLOUD, Cloud.GLOBAL)
        if cloud != CLOUD_CUSTOM and Cloud(cloud) not in layer.clouds:
            return f"{layer}_location_cloud"
        return None

    async def async_set(
        self,
        layer: WorkLocationLayer,
        location: WorkLocationUpdate,
        context: Context | None = None,
    ) -> None:
        """Write where the user works to ``layer``; a manual one wins over the rest."""
        client = self._client
        request = (
            client.set_manual_location
            if layer is WorkLocationLayer.MANUAL
            else client.set_automatic_location
        )
        await self._async_write(partial(request, location), context)

    async def async_clear(
        self, layer: WorkLocationLayer | None, context: Context | None = None
    ) -> None:
        """Drop the automatic layer, or (``None``) the manual and the automatic one.

        Graph cannot drop the manual layer alone: ``clearLocation`` drops both,
        and the working-hours plan shows until an agent sets the automatic again.
        """
        client = self._client
        await self._async_write(
            client.clear_automatic_location
            if layer is WorkLocationLayer.AUTOMATIC
            else client.clear_location,
            context,
        )

    async def _async_write(
        self, request: Callable[[], Awaitable[None]], context: Context | None
    ) -> None:
        """Send a work-location write, then read what Teams shows now."""
        with acting_for(context):
            await self._requests.async_send(
                request, context, Operation.WORK_LOCATION, self._refusal
            )
            self._note_refused(False)

    def _refusal(self, remedy: Remedy) -> None:
        """Note that this tenant's Graph has no work location, if the remedy says so.

        Not the missing-permission repair (presence writes may work), but one log
        line and the select unavailable until a write succeeds again.
        """
        if remedy.failure is not Failure.UNOFFERED:
            return
        if not self.refused:
            LOGGER.warning(
                "Microsoft Graph does not offer work location to %s: %s",
                self._title,
                remedy.reason,
            )
        self._note_refused(True)

    def _note_refused(self, refused: bool) -> None:
        if refused != self.refused:
            self.refused = refused
            self._view.async_update_listeners()
