"""Fault injection: throttling, failures, hang-ups, outages, bad bodies, latency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import ssl
import threading
import time
from typing import Any

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


@pytest.mark.parametrize("slow", ["latency", "delay"])
async def test_stop_does_not_wait_for_slow_requests(
    socket_enabled: None, slow: str
) -> None:
    emulator = GraphEmulator()
    await emulator.start()
    if slow == "latency":
        emulator.latency = 30
    else:
        emulator.delay(1, 30)
    before = set(threading.enumerate())
    async with aiohttp.ClientSession(emulator.graph_url) as session:
        request = asyncio.create_task(session.get("/v1.0/me"))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await emulator.stop()
        assert time.monotonic() - started < 5
        with pytest.raises(aiohttp.ClientError):
            await request
    # The sleeping thread is gone: nothing outlives the emulator.
    assert not {
        thread
        for thread in set(threading.enumerate()) - before
        if thread.name.startswith("graph-emulator")
    }


SET_BUSY = {
    "sessionId": "11111111-1111-1111-1111-111111111111",
    "availability": "Busy",
    "activity": "InACall",
}


async def test_write_outage_fails_writes_and_spares_reads(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.start_write_outage(retry_after=30)
    for path, body in [
        ("/me/presence/setPresence", SET_BUSY),
        ("/me/presence/clearUserPreferredPresence", {}),
        ("/me/presence/setStatusMessage", {"statusMessage": {"message": {}}}),
    ]:
        answer = await graph.post(path, body)
        assert answer.status == 503
        assert answer.headers["Retry-After"] == "30"
        assert answer.body["error"]["code"] == "ServiceUnavailable"
    assert (await graph.get("/me/presence")).status == 200
    assert (await graph.get("/me")).status == 200
    assert emulator.app_session(SET_BUSY["sessionId"]) is None
    emulator.end_write_outage()
    assert (await graph.post("/me/presence/setPresence", SET_BUSY)).status == 200
    assert emulator.presence() == ("Busy", "InACall")


async def test_write_outage_can_hang_up(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.start_write_outage(status=0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await graph.post("/me/presence/setPresence", SET_BUSY)
    assert (await graph.get("/me/presence")).status == 200
    assert [entry.status for entry in emulator.requests] == [0, 200]


async def test_write_outage_without_retry_after(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.start_write_outage(status=500)
    answer = await graph.post("/me/presence/setPresence", SET_BUSY)
    assert answer.status == 500
    assert "Retry-After" not in answer.headers


async def test_queued_faults_play_before_a_write_outage(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.start_write_outage()
    emulator.throttle(1, retry_after=2)
    assert (await graph.post("/me/presence/setPresence", SET_BUSY)).status == 429
    assert (await graph.post("/me/presence/setPresence", SET_BUSY)).status == 503


async def read_raw(graph: GraphClient) -> tuple[int, str]:
    async with graph.session.get(
        "/v1.0/me/presence", headers={"Authorization": f"Bearer {graph.token}"}
    ) as response:
        return response.status, await response.text()


async def test_malformed_reads_for_a_count_then_well_formed(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.malform_reads(2, kinds=["status_message_string", "availability_null"])
    first, second, third = [(await graph.get("/me/presence")).body for _ in range(3)]
    assert first["statusMessage"] == "In a meeting"
    assert first["availability"] == "Offline"
    assert second["availability"] is None
    assert third["availability"] == "Offline"
    assert third["statusMessage"] is None
    assert [entry.status for entry in emulator.requests] == [200, 200, 200]


@pytest.mark.parametrize(
    ("kind", "broken"),
    [
        ("status_message_string", lambda body: isinstance(body["statusMessage"], str)),
        (
            "content_number",
            lambda body: body["statusMessage"]["message"]["content"] == 42,
        ),
        ("availability_null", lambda body: body["availability"] is None),
        ("activity_missing", lambda body: "activity" not in body),
        (
            "expiry_unreadable",
            lambda body: body["statusMessage"]["expiryDateTime"]["dateTime"] == "soon",
        ),
        (
            "out_of_office_list",
            lambda body: isinstance(body["outOfOfficeSettings"], list),
        ),
        ("not_an_object", lambda body: body == ["Offline", "Offline"]),
    ],
)
async def test_each_malformation(
    graph: GraphClient,
    emulator: GraphEmulator,
    kind: str,
    broken: Callable[[Any], bool],
) -> None:
    emulator.malform_reads(1, kinds=[kind])
    answer = await graph.get("/me/presence")
    assert answer.status == 200
    assert broken(answer.body)


async def test_truncated_read(graph: GraphClient, emulator: GraphEmulator) -> None:
    emulator.malform_reads(1, kinds=["truncated"])
    status, text = await read_raw(graph)
    assert status == 200
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        json.loads(text)
    assert json.loads((await read_raw(graph))[1])["availability"] == "Offline"


async def test_malformed_reads_until_turned_off(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.malform_reads()
    bodies = [(await graph.get("/me/presence")).body for _ in range(2)]
    # Every kind takes its turn, in order.
    assert bodies[0]["statusMessage"] == "In a meeting"
    assert bodies[1]["statusMessage"]["message"]["content"] == 42
    emulator.malform_reads(0)
    assert (await graph.get("/me/presence")).body["availability"] == "Offline"


async def test_malformed_reads_spare_errors_and_other_routes(
    graph: GraphClient, emulator: GraphEmulator
) -> None:
    emulator.malform_reads(1)
    assert (await graph.get("/me")).body["displayName"] == "Adele Vance"
    token, graph.token = graph.token, None
    assert (await graph.get("/me/presence")).status == 401
    graph.token = token
    assert (await graph.get("/me/presence")).body["statusMessage"] == "In a meeting"


def test_malform_reads_refuses_unknown_kinds() -> None:
    emulator = GraphEmulator()
    with pytest.raises(ValueError, match="kinds"):
        emulator.malform_reads(1, kinds=["on_fire"])
    with pytest.raises(ValueError, match="kinds"):
        emulator.malform_reads(1, kinds=[])
