"""What the emulator can answer instead of the truth: errors, silence, bad bodies.

Graph is a remote service: it throttles, fails, hangs up, and now and then answers
a body that breaks its own schema. The emulator plays these on request so tests can
show the integration rides them out; `GraphEmulator` holds the knobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import json
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Fault:
    """One request's fault: wait `delay` real seconds, then answer `status`.

    `status` None answers the request normally (a delay alone); 0 drops the
    connection without an answer.
    """

    status: int | None
    code: str = ""
    retry_after: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class NotificationFault:
    """One change notification's fault: lost, sent twice, sent after the next, late.

    `delay` is in real seconds on top of the delivery's own (see `delivery`).
    """

    drop: bool = False
    duplicate: bool = False
    overtaken: bool = False
    delay: float = 0.0


def _status_message_as_text(body: dict[str, Any]) -> Any:
    body["statusMessage"] = "In a meeting"
    return body


def _content_as_number(body: dict[str, Any]) -> Any:
    body["statusMessage"] = {
        "message": {"content": 42, "contentType": "text"},
        "expiryDateTime": None,
        "publishedDateTime": "2025-06-02T09:00:00.0000000Z",
    }
    return body


def _availability_null(body: dict[str, Any]) -> Any:
    body["availability"] = None
    return body


def _activity_missing(body: dict[str, Any]) -> Any:
    body.pop("activity", None)
    return body


def _expiry_unreadable(body: dict[str, Any]) -> Any:
    body["statusMessage"] = {
        "message": {"content": "Back soon", "contentType": "text"},
        "expiryDateTime": {"dateTime": "soon", "timeZone": "Nowhere/Zone"},
        "publishedDateTime": "yesterday",
    }
    return body


def _out_of_office_list(body: dict[str, Any]) -> Any:
    body["outOfOfficeSettings"] = [True, "Away"]
    return body


def _not_an_object(body: dict[str, Any]) -> Any:
    return [body.get("availability"), body.get("activity")]


# Each takes a presence read's JSON body and returns a malformed one. Kept as
# functions of the real body, so everything that isn't broken stays true.
MALFORMATIONS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "status_message_string": _status_message_as_text,
    "content_number": _content_as_number,
    "availability_null": _availability_null,
    "activity_missing": _activity_missing,
    "expiry_unreadable": _expiry_unreadable,
    "out_of_office_list": _out_of_office_list,
    "not_an_object": _not_an_object,
}
# Not a transformation: the JSON is cut off, as a proxy that gives up mid-body.
TRUNCATED = "truncated"
MALFORMATION_NAMES = (*MALFORMATIONS, TRUNCATED)


def malformed(response: web.Response, name: str) -> web.Response:
    """Return `response` (a presence read's JSON answer) malformed the `name` way."""
    text = response.text or ""
    if name == TRUNCATED:
        text = text[: len(text) // 2]
        return web.Response(
            status=response.status, text=text, content_type="application/json"
        )
    return web.json_response(
        MALFORMATIONS[name](json.loads(text)), status=response.status
    )
