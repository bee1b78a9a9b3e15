"""Fixtures: a hand-driven clock, a running emulator, and a Graph client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
from typing import Any

import aiohttp
import pytest

from graph_emulator import GraphEmulator

START = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when a test advances it."""

    def __init__(self) -> None:
        """Start at a fixed moment."""
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Answer:
    """A response, read in full."""

    status: int
    body: Any
    headers: Mapping[str, str]


class GraphClient:
    """Calls Graph on the emulator with a bearer token (None sends none)."""

    def __init__(self, session: aiohttp.ClientSession, token: str | None) -> None:
        """Call through `session` (based on the Graph listener) with `token`."""
        self.session = session
        self.token = token

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method, f"/v1.0{path}", json=body, headers={**sent, **(headers or {})}
        ) as response:
            text = await response.text()
            return Answer(
                response.status, json.loads(text) if text else None, response.headers
            )

    async def get(self, path: str) -> Answer:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any = None) -> Answer:
        return await self.request("POST", path, body)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emulator(
    socket_enabled: None, clock: FakeClock
) -> AsyncIterator[GraphEmulator]:
    emulator = GraphEmulator(clock=clock)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def session(emulator: GraphEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session on the plain-HTTP listener."""
    async with aiohttp.ClientSession(emulator.graph_url) as session:
        yield session


@pytest.fixture
def graph(session: aiohttp.ClientSession, emulator: GraphEmulator) -> GraphClient:
    """A Graph client holding a delegated Presence.ReadWrite + User.Read token."""
    return GraphClient(session, emulator.issue_token())
