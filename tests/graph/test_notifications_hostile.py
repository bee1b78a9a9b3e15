"""Notification bodies no Graph would send: each gives an outcome, never an exception.

The webhook's address travels through proxies, tunnels and logs, so anyone may post
to it. The receiver reads what Graph posted (``tests/graph/test_subscriptions.py``)
and, here, what a stranger might post instead: bodies nested deeper than Python
recurses, lone surrogates (valid JSON, not encodable), tokens that cannot be checked.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import ClientSession
import pytest

from custom_components.teams_presence_keeper.graph import (
    MAX_BATCH,
    NotificationCertificate,
    NotificationReceiver,
    PresenceChange,
    Rejected,
    RejectionReason,
    SigningKeys,
    signing_keys_url,
    validation_token,
)
from graph_emulator import GraphEmulator
from tests.graph.test_subscriptions import (
    CLIENT_STATE,
    certificate,
    client,
    http,
    notification_receiver,
    notified,
    receiver,
    subscribe,
)

__all__ = ["certificate", "client", "http", "notification_receiver", "receiver"]

DEPTH = 100_000
"""Far deeper than Python recurses (about 1,000 frames)."""
SURROGATE = "\ud800"
"""A lone surrogate: valid in JSON (``"\\ud800"``), not encodable in UTF-8."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def nested_header_token() -> str:
    """A JWT whose header is an array nested ``DEPTH`` deep."""
    return ".".join(
        (_b64url(b"[" * DEPTH + b"]" * DEPTH), _b64url(b"{}"), _b64url(b"sig"))
    )


async def genuine(
    client: Any, emulator: GraphEmulator, receiver: Any, cert: NotificationCertificate
) -> tuple[str, dict[str, Any]]:
    """Subscribe rich, change the presence; the subscription id and Graph's body."""
    created = await subscribe(client, emulator, receiver, cert)
    return created.id, json.loads(await notified(emulator, receiver))


@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEPTH,
        b"{" + b'"a":{' * DEPTH,
        b'{"value": [' + b"[" * DEPTH + b"]" * DEPTH + b"]}",
        ("[" * DEPTH + "]" * DEPTH),
    ],
    ids=["array", "object", "inside_value", "text_closed"],
)
async def test_a_body_nested_beyond_recursion_is_malformed(
    notification_receiver: NotificationReceiver, body: bytes | str
) -> None:
    assert await notification_receiver.receive(body, client_state=CLIENT_STATE) == [
        Rejected(RejectionReason.MALFORMED)
    ]


async def test_a_batch_larger_than_graph_sends_is_malformed(
    notification_receiver: NotificationReceiver,
) -> None:
    """Each item costs microseconds: half a million would hold the loop for seconds."""
    item = {"subscriptionId": "sub", "clientState": "guessed"}
    most = json.dumps({"value": [item] * MAX_BATCH})
    assert (
        await notification_receiver.receive(most, client_state=CLIENT_STATE)
        == [Rejected(RejectionReason.CLIENT_STATE, "sub")] * MAX_BATCH
    )
    too_many = json.dumps({"value": [item] * (MAX_BATCH + 1)})
    assert await notification_receiver.receive(too_many, client_state=CLIENT_STATE) == [
        Rejected(RejectionReason.MALFORMED)
    ]


async def test_a_lone_surrogate_client_state_is_not_ours(
    notification_receiver: NotificationReceiver,
) -> None:
    body = json.dumps(
        {
            "value": [
                {
                    "subscriptionId": "sub",
                    "clientState": SURROGATE,
                    "resourceData": {"id": "user"},
                }
            ]
        }
    )
    assert await notification_receiver.receive(body, client_state=CLIENT_STATE) == [
        Rejected(RejectionReason.CLIENT_STATE, "sub")
    ]


@pytest.mark.parametrize(
    "token",
    [SURROGATE, f"{SURROGATE}.{SURROGATE}.{SURROGATE}", nested_header_token()],
    ids=["surrogate", "surrogate_parts", "nested_header"],
)
async def test_a_validation_token_no_jwt_library_reads_is_invalid(
    client: Any,
    emulator: GraphEmulator,
    receiver: Any,
    certificate: NotificationCertificate,
    notification_receiver: NotificationReceiver,
    token: str,
) -> None:
    subscription_id, payload = await genuine(client, emulator, receiver, certificate)
    payload["validationTokens"] = [token]
    assert await notification_receiver.receive(
        json.dumps(payload), client_state=CLIENT_STATE, certificates=[certificate]
    ) == [Rejected(RejectionReason.JWT_INVALID, subscription_id)]


def test_a_validation_token_that_cannot_be_echoed_is_no_handshake() -> None:
    """Graph's tokens are text; one that is not UTF-8 is a stranger's: no echo."""
    assert validation_token({"validationToken": SURROGATE}) is None
    assert validation_token({"validationToken": "Validation: ok"}) == "Validation: ok"


async def test_a_strangers_tokens_are_never_checked(
    client: Any,
    emulator: GraphEmulator,
    receiver: Any,
    certificate: NotificationCertificate,
    notification_receiver: NotificationReceiver,
) -> None:
    """Only a notification with our clientState costs a signing-key fetch."""
    subscription_id, payload = await genuine(client, emulator, receiver, certificate)
    payload["value"][0]["clientState"] = "guessed"
    payload["validationTokens"] *= 100
    before = len(emulator.requests)
    assert await notification_receiver.receive(
        json.dumps(payload), client_state=CLIENT_STATE, certificates=[certificate]
    ) == [Rejected(RejectionReason.CLIENT_STATE, subscription_id)]
    assert [r.path for r in emulator.requests[before:] if "keys" in r.path] == []


async def test_unchecked_tokens_make_a_basic_notification(
    client: Any,
    emulator: GraphEmulator,
    http: ClientSession,
    receiver: Any,
    certificate: NotificationCertificate,
) -> None:
    """Entra's keys answer 503: our clientState still says the change is ours, read it."""
    subscription_id, payload = await genuine(client, emulator, receiver, certificate)
    emulator.signing_keys_down = True
    checker = NotificationReceiver(
        client_id=emulator.default_app.client_id,
        tenant_id=emulator.default_tenant_id,
        signing_keys=SigningKeys(http, signing_keys_url(emulator.graph_url)),
    )
    assert await checker.receive(
        json.dumps(payload), client_state=CLIENT_STATE, certificates=[certificate]
    ) == [
        PresenceChange(
            subscription_id, emulator.default_user.id, None, tokens_unchecked=True
        )
    ]
    # A stranger's clientState still decides first.
    payload["value"][0]["clientState"] = "guessed"
    assert await checker.receive(
        json.dumps(payload), client_state=CLIENT_STATE, certificates=[certificate]
    ) == [Rejected(RejectionReason.CLIENT_STATE, subscription_id)]
