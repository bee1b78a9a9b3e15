"""The demo's public HTTPS address: a reverse proxy in front of Home Assistant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
import pytest

from graph_emulator import GraphEmulator
from graph_emulator.delivery import Post


@dataclass
class Webhook:
    """A plain-HTTP Home Assistant's webhook on loopback, and what it received."""

    url: str = ""
    received: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    """Path, query, body and content type of each request."""


@pytest.fixture
async def webhook(socket_enabled: None) -> AsyncIterator[Webhook]:
    served = Webhook()

    async def receive(request: web.Request) -> web.Response:
        served.received.append(
            (
                request.path,
                request.query_string,
                await request.read(),
                request.content_type,
            )
        )
        return web.Response(status=202, text="ok")

    app = web.Application()
    app.router.add_post("/api/webhook/{webhook_id}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    served.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield served
    await runner.cleanup()


async def test_graph_posts_through_the_front_door_over_https(
    emulator: GraphEmulator, webhook: Webhook
) -> None:
    """By name, with the emulator's certificate, which its deliveries trust."""
    url = await emulator.open_front_door(0, webhook.url)
    assert url.startswith("https://localhost:")
    reply = await emulator.subscriptions.delivery.transport(
        Post(f"{url}/api/webhook/abc?validationToken=t", b"{}", "application/json")
    )
    assert (reply.status, reply.text) == (202, "ok")
    assert webhook.received == [
        ("/api/webhook/abc", "validationToken=t", b"{}", "application/json")
    ]


async def test_an_unreachable_home_assistant_is_a_bad_gateway(
    emulator: GraphEmulator,
) -> None:
    url = await emulator.open_front_door(0, "http://127.0.0.1:9")
    reply = await emulator.subscriptions.delivery.transport(
        Post(f"{url}/api/webhook/abc", b"{}", "application/json")
    )
    assert reply.status == 502
