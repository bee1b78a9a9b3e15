"""Fault injection: throttling, failures, dropped and refused connections, latency."""

from __future__ import annotations

import asyncio
import ssl
import time

import aiohttp
import pytest

from graph_emulator import GraphEmulator

from .conftest import GraphClient


async def test_throttle_with_retry_after_seconds(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.throttle(2, retry_after=7)
    for _ in range(2):
        answer = await graph.get("/me/presence")
        assert answer.status == 429
        assert answer.headers["Retry-After"] == "7"
        assert answer.body["error"]["code"] == "TooManyRequests"
    assert (await graph.get("/me/presence")).status == 200
    assert [entry.status for entry in emulator.graph_calls("presence")] == [
        429,
        429,
        200,
    ]


async def test_throttle_with_http_date_and_503(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    emulator.throttle(1, retry_after=date, status=503)
    answer = await graph.get("/me")
    assert answer.status == 503
    assert answer.headers["Retry-After"] == date
    assert answer.body["error"]["code"] == "ServiceUnavailable"


async def test_fail(graph: GraphClient, emulator: GraphEmulator) -> None:
    emulator.fail(1)
    emulator.fail(1, status=502)
    first = await graph.post("/me/presence/clearUserPreferredPresence", {})
    second = await graph.get("/me/presence")
    assert (first.status, first.body["error"]["code"]) == (500, "InternalServerError")
    assert (second.status, second.body["error"]["code"]) == (502, "BadGateway")
    assert "Retry-After" not in first.headers
    assert (await graph.get("/me/presence")).status == 200


async def test_faults_play_in_the_order_queued(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.fail(1)
    emulator.throttle(1)
    assert [(await graph.get("/me")).status for _ in range(3)] == [500, 429, 200]


async def test_drop(graph: GraphClient, emulator: GraphEmulator) -> None:
    emulator.drop(1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await graph.post(
            "/me/presence/setPresence",
            {
                "sessionId": emulator.default_app.client_id,
                "availability": "Busy",
                "activity": "InACall",
            },
        )
    [entry] = emulator.graph_calls("setPresence")
    assert entry.status == 0
    assert emulator.app_session(emulator.default_app.client_id) is None
    assert (await graph.get("/me/presence")).status == 200


async def test_faults_spare_sign_in_routes(
    session: aiohttp.ClientSession, emulator: GraphEmulator
) -> None:
    emulator.fail(1)
    url = f"/{emulator.default_tenant_id}/v2.0/.well-known/openid-configuration"
    async with session.get(url) as response:
        assert response.status == 200
    assert len(emulator._faults) == 1


async def test_refuse_and_accept_connections(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    graph_url, login_url = emulator.graph_url, emulator.login_url
    # Keep a connection open, so that refusing must close it too.
    assert (await graph.get("/me")).status == 200
    await emulator.refuse_connections()
    with pytest.raises(aiohttp.ClientConnectorError):
        await graph.get("/me")
    context = ssl.create_default_context(cafile=emulator.ca_path)
    async with aiohttp.ClientSession() as other:
        with pytest.raises(aiohttp.ClientConnectorError):
            await other.get(
                f"{login_url}/organizations/v2.0/.well-known/openid-configuration",
                ssl=context,
            )
        await emulator.accept_connections()
        assert (emulator.graph_url, emulator.login_url) == (graph_url, login_url)
        assert (await graph.get("/me")).status == 200
        async with other.get(
            f"{login_url}/organizations/v2.0/.well-known/openid-configuration",
            ssl=context,
        ) as response:
            assert response.status == 200
    # Accepting again while listening changes nothing.
    await emulator.accept_connections()
    assert (await graph.get("/me")).status == 200


async def test_latency(graph: GraphClient, emulator: GraphEmulator) -> None:
    emulator.latency = 0.3
    started = time.monotonic()
    assert (await graph.get("/me")).status == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await graph.get("/me")


async def test_stop_does_not_wait_long_for_slow_requests(
    socket_enabled: None,
) -> None:
    emulator = GraphEmulator()
    await emulator.start()
    emulator.latency = 30
    async with aiohttp.ClientSession(emulator.graph_url) as session:
        request = asyncio.create_task(session.get("/v1.0/me"))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await emulator.stop()
        assert time.monotonic() - started < 5
        with pytest.raises(aiohttp.ClientError):
            await request
