"""Home Assistant Cloud for tests: the real component, only Nabu Casa's servers simulated.

``mock_cloud`` sets the cloud component up as core's own tests do. Below it,
``CloudRelay`` stands in for the account and the relay: logged in with an active
subscription, connected or not, a cloudhook API that may fail, and cloudhooks that forward a POST to the webhook they
were created for. Everything above ``hass_nabucasa`` (``async_get_or_create_cloudhook``,
``async_delete_cloudhook``, the cloudhooks Home Assistant stores, the connection
signal) is Home Assistant's own code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
import secrets
from typing import Any
from unittest.mock import AsyncMock, patch

import hass_nabucasa
from hass_nabucasa.cloudhooks import CloudhookApiError, Cloudhooks
from hass_nabucasa.iot import CloudIoT
from hass_nabucasa.payments_api import PaymentsApi
from homeassistant.components.cloud import account_link
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    async_mock_cloud_connection_status,
)
from yarl import URL

from graph_emulator.delivery import Post, Reply

CLOUDHOOK_HOST = "hooks.nabu.casa"


@dataclass
class CloudRelay:
    """Nabu Casa's side: the account, the connection and the cloudhook relay."""

    hass: HomeAssistant
    connected: bool = True
    cloudhook_failures: int = 0
    """How many cloudhook creations Nabu Casa's API fails next."""

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Answer for Nabu Casa's servers while the test runs."""
        relay = self

        async def subscription_info(_: PaymentsApi, **__: Any) -> dict[str, Any]:
            return {"provider": "nabucasa"}

        async def generate(_: Cloudhooks) -> dict[str, Any]:
            if relay.cloudhook_failures:
                relay.cloudhook_failures -= 1
                raise CloudhookApiError("Failed to fetch: (502) Bad Gateway")
            token = secrets.token_hex(16)
            return {"cloudhook_id": token, "url": f"https://{CLOUDHOOK_HOST}/{token}"}

        patches: tuple[tuple[type, str, object], ...] = (
            (hass_nabucasa.Cloud, "is_logged_in", property(lambda _: True)),
            (hass_nabucasa.Cloud, "subscription_expired", property(lambda _: False)),
            (CloudIoT, "connected", property(lambda _: relay.connected)),
            (Cloudhooks, "generate", generate),
            (PaymentsApi, "subscription_info", subscription_info),
        )
        with ExitStack() as stack:
            for owner, name, value in patches:
                stack.enter_context(patch.object(owner, name, value))
            yield

    def set_connected(self, connected: bool) -> None:
        """Connect or disconnect, and say so the way the cloud component does."""
        self.connected = connected
        async_mock_cloud_connection_status(self.hass, connected)

    @property
    def cloudhooks(self) -> dict[str, dict[str, Any]]:
        """The cloudhooks Home Assistant stored, by webhook id."""
        hooks: dict[str, dict[str, Any]] = self.hass.data["cloud"].client.cloudhooks
        return hooks

    def webhook_path(self, url: str) -> str:
        """Where the relay forwards a POST to this cloudhook; OSError if it cannot."""
        if not self.connected:
            raise OSError("The cloud relay is not connected")
        cloudhook_id = URL(url).name
        for hook in self.cloudhooks.values():
            if hook["cloudhook_id"] == cloudhook_id:
                return f"/api/webhook/{hook['webhook_id']}"
        raise OSError(f"No cloudhook {cloudhook_id}")

    async def deliver(self, post: Post) -> Reply:
        """Relay a POST to a cloudhook as Nabu Casa does: a message to the cloud component.

        The cloud component hands the webhook a ``MockRequest`` (no socket, the body
        already read), not an aiohttp request.
        """
        if not self.connected:
            raise OSError("The cloud relay is not connected")
        address, _, query = post.url.partition("?")  # as sent, not re-encoded
        answer: dict[str, Any] = await self.hass.data[
            "cloud"
        ].client.async_webhook_message(
            {
                "cloudhook_id": URL(address).name,
                "body": post.body.decode(),
                "headers": {"Content-Type": post.content_type},
                "method": "POST",
                "query": query,
            }
        )
        content_type = answer.get("headers", {}).get("Content-Type", "")
        return Reply(answer["status"], content_type, answer.get("body") or "")


async def mock_cloud(hass: HomeAssistant) -> None:
    """Set up the cloud component as core's tests do, with nothing read from disk."""
    # Bootstrap sets up `homeassistant` before anything; cloud needs it.
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "cloud", {"cloud": {}})
    with patch("hass_nabucasa.Cloud.run_executor", AsyncMock(return_value=None)):
        await hass.data["cloud"].initialize()
    # Account linking (OAuth through Nabu Casa) offers nothing for this domain; the
    # list was fetched earlier (the cloud caches it for an hour).
    hass.data[account_link.DATA_SERVICES] = []
    # The platforms the cloud loads (text-to-speech...) register views: before the
    # test client freezes the router, as at a real start.
    await hass.async_block_till_done()


@asynccontextmanager
async def logged_in_cloud(hass: HomeAssistant) -> AsyncIterator[CloudRelay]:
    """Home Assistant Cloud set up, logged in with an active subscription, connected."""
    relay = CloudRelay(hass)
    with relay.serving():
        await mock_cloud(hass)
        yield relay
