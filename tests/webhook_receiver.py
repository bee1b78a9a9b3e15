"""A webhook on loopback that receives what Graph (the emulator) posts to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import json
from typing import Any

from aiohttp import web

from custom_components.teams_presence_keeper.graph import validation_token


@dataclass
class Received:
    """One POST as the webhook got it."""

    path: str
    query: dict[str, str]
    content_type: str
    body: bytes

    @property
    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers the validation handshake and acknowledges notifications with 202.

    Tests change how it answers: `validation_answer` replaces the token it echoes,
    `status` the acknowledgement, `answer_after` delays every answer.
    """

    url: str = ""
    received: list[Received] = field(default_factory=list)
    validation_answer: str | None = None
    status: int = 202
    answer_after: float = 0.0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def validations(self) -> list[Received]:
        """The validation requests received."""
        return [entry for entry in self.received if "validationToken" in entry.query]

    @property
    def notifications(self) -> list[Any]:
        """The notification bodies received, parsed."""
        return [
            entry.json
            for entry in self.received
            if "validationToken" not in entry.query
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Record the POST, then answer as configured."""
        self.received.append(
            Received(
                request.path,
                dict(request.query),
                request.content_type,
                await request.read(),
            )
        )
        self._arrived.set()
        if self.answer_after:
            await asyncio.sleep(self.answer_after)
        if (token := validation_token(request.query)) is not None:
            return web.Response(
                text=self.validation_answer
                if self.validation_answer is not None
                else token,
                content_type="text/plain",
            )
        return web.Response(status=self.status)

    async def wait_for_notifications(self, count: int) -> None:
        """Wait until `count` notifications have arrived (at most 5 seconds)."""
        async with asyncio.timeout(5):
            while len(self.notifications) < count:
                self._arrived.clear()
                await self._arrived.wait()


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """Serve a `WebhookReceiver` on loopback for the duration of the block."""
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/{path:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}/webhook"
    try:
        yield receiver
    finally:
        await runner.cleanup()
