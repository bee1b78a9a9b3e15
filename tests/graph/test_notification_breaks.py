"""The Graph layer of change notifications past its edges; each test once failed.

Entra ID's signing keys as a broken or hostile server could publish them: the
notification receiver must take each as a failed fetch or a key to pass over,
never raise (an exception ends the webhook's processing of every waiting body).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
import json
from typing import Any

from aiohttp import ClientSession, web
import pytest

from custom_components.teams_presence_keeper.graph import SigningKeys, signing_keys_url
from custom_components.teams_presence_keeper.graph.signing_keys import (
    KEYS_REFETCH_INTERVAL,
    SigningKeysUnavailableError,
)
from graph_emulator import GraphEmulator
from tests.graph.test_subscriptions import FakeClock, http

__all__ = ["http"]

DEPTH = 100_000
"""Far deeper than Python recurses (about 1,000 frames)."""


@asynccontextmanager
async def publishing(body: bytes) -> AsyncIterator[str]:
    """Serve ``body`` as a key set; yield its URL."""

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/keys", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/keys"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "body",
    [
        b"5",
        b'{"keys": 5}',
        b'{"keys": true}',
        b'{"keys": "RSA"}',
        b'{"keys": {"kid": "k"}}',
        b"[" * DEPTH,
        b'{"keys": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    ],
    ids=[
        "number",
        "keys_number",
        "keys_true",
        "keys_text",
        "keys_object",
        "nested_beyond_recursion",
        "keys_nested_beyond_recursion",
    ],
)
async def test_a_document_that_is_no_key_set_is_a_failed_fetch(
    http: ClientSession, socket_enabled: None, body: bytes
) -> None:
    async with publishing(body) as url:
        keys = SigningKeys(http, url)
        with pytest.raises(SigningKeysUnavailableError):
            await keys.get("k")


@pytest.mark.parametrize(
    "broken",
    [
        {"e": 5},
        {"n": [1]},
        {"d": 5},
        {"n": "\ud800"},
        {"n": "é" * 10},
        {"e": "A" * 1000},
        {"kid": {"k": 1}},
        {"kid": ["k"]},
    ],
    ids=[
        "e_number",
        "n_list",
        "d_number",
        "n_surrogate",
        "n_not_ascii",
        "e_huge",
        "kid_object",
        "kid_list",
    ],
)
async def test_a_broken_key_is_passed_over(
    emulator: GraphEmulator, http: ClientSession, broken: dict[str, Any]
) -> None:
    published = emulator.signing_key.jwks()
    [good] = published["keys"]
    bad = {**good, "kid": "bad"} | broken
    async with publishing(json.dumps({"keys": [bad, good]}).encode()) as url:
        keys = SigningKeys(http, url)
        assert await keys.get("bad") is None
        assert await keys.get(good["kid"]) is not None


async def test_a_clock_set_back_does_not_stop_fetching(
    emulator: GraphEmulator, http: ClientSession
) -> None:
    """A day back (a wrong clock corrected): a new key id is fetched for at once."""
    clock = FakeClock()
    keys = SigningKeys(http, signing_keys_url(emulator.graph_url), clock=clock)

    def fetches() -> int:
        return sum(r.path.endswith("/discovery/v2.0/keys") for r in emulator.requests)

    assert await keys.get(emulator.signing_key.key_id) is not None
    clock.now -= timedelta(days=1)
    assert await keys.get("rotated") is None
    assert fetches() == 2
    # And the set fetched then counts its age from the clock as it now is.
    clock.now += KEYS_REFETCH_INTERVAL
    assert await keys.get("rotated") is None
    assert fetches() == 3
    assert await keys.get(emulator.signing_key.key_id) is not None
    assert fetches() == 3
