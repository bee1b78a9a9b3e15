"""Fixtures: a loopback server that answers Microsoft's documented bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.teams_presence_keeper.graph import GraphPresenceClient


@dataclass
class DocumentedGraph:
    """Answers every Graph request with the body, status and headers a test set."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


@pytest.fixture
async def documented_graph(
    socket_enabled: None,
) -> AsyncIterator[tuple[DocumentedGraph, GraphPresenceClient]]:
    """A Graph that answers what Microsoft documents, and a client pointed at it."""
    graph = DocumentedGraph()
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", graph.handle)
    async with TestServer(app, host="127.0.0.1") as server, ClientSession() as http:

        async def token() -> str:
            return "documented-token"

        yield (
            graph,
            GraphPresenceClient(http, token, base_url=str(server.make_url("/"))),
        )
