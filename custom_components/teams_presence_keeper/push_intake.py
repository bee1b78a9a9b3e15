"""What a POST to the webhook may cost before anything in it is checked.

The webhook's address travels through proxies, tunnels and logs, so anyone may post
to it. A body is read only up to ``MAX_BODY_BYTES`` (a larger one is refused with
413, unread); at most ``MAX_RECEIVING`` bodies are checked at once while
``MAX_WAITING`` more wait their turn, and any beyond those are answered as the rest
(Graph wants its 2xx within 3 seconds) but dropped, for the caller to count.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import hdrs, web
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util.aiohttp import MockRequest

from .const import DOMAIN

MAX_BODY_BYTES: Final = 1024 * 1024
"""1 MiB: a notification about one account's presence is about 2.5 kB, so this holds
a batch of hundreds (the README's Instant updates section says so)."""
NOTIFICATION_BYTES: Final = 4 * 1024
"""A rich notification about one person, with room to spare, but the resource."""
ID_BYTES: Final = 48
"""One object id in a bulk subscription's resource, quoted, with its separator."""


def max_body_bytes(ids: int) -> int:
    """Return the largest body to read for a subscription naming ``ids`` people.

    Each change in a body repeats the subscription's resource, which quotes every
    id: when 650 people change at once Graph's body is some 20 MB, refused whole
    at 1 MiB (and retried, and refused again). Never less than ``MAX_BODY_BYTES``.
    """
    return max(MAX_BODY_BYTES, ids * (NOTIFICATION_BYTES + ids * ID_BYTES))


MAX_RECEIVING: Final = 2
"""Bodies checked at once: checking waits only on Entra ID's signing keys, or on a
request a lifecycle notification asks for."""
MAX_WAITING: Final = 8
"""Bodies that wait for a turn; with the ones being checked, at most 10 MiB held."""


async def async_read_body(
    request: web.Request | MockRequest, limit: int = MAX_BODY_BYTES
) -> bytes | None:
    """Return the body, or None when it is larger than ``limit`` bytes.

    A declared length says so before anything is read; a chunked body is read only
    until it passes the limit. Read from ``content``: a cloudhook's relay hands the
    webhook a ``MockRequest``, which has no ``read()``. A body that breaks while
    read (a ``Content-Encoding`` that does not decode) is an empty one, which no
    check passes: it is counted as malformed, not left to raise (Home Assistant
    would log the webhook's id with the traceback).
    """
    declared = request.headers.get(hdrs.CONTENT_LENGTH, "")
    if declared.isdecimal() and int(declared) > limit:
        return None
    stream = request.content  # a MockRequest makes a new reader at each access
    body = bytearray()
    try:
        while chunk := await stream.read(limit + 1 - len(body)):
            body += chunk
            if len(body) > limit:
                return None
    except web.RequestPayloadError:
        return b""
    return bytes(body)


class Intake:
    """Hands bodies to ``receive`` a few at a time, with a bounded queue."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        receive: Callable[[bytes], Awaitable[None]],
    ) -> None:
        """Check each body with ``receive``, in background tasks of ``entry``."""
        self._hass = hass
        self._entry = entry
        self._receive = receive
        self._waiting: deque[bytes] = deque()
        self._receiving = 0
        self._stopped = False

    def stop(self) -> None:
        """Take nothing more: a body still arriving at an unload is the old entry's.

        Checking it would make requests and renew the subscription for a manager
        that is gone, and its renewal timer with it.
        """
        self._stopped = True
        self._waiting.clear()

    def take(self, body: bytes) -> bool:
        """Have ``body`` checked soon; False when it is dropped.

        Dropped: too many wait, or the intake stopped.
        """
        if self._stopped:
            return False
        if self._receiving < MAX_RECEIVING:
            self._receiving += 1
            self._entry.async_create_background_task(
                self._hass,
                self._async_drain(body),
                f"{DOMAIN} notification",
            )
            return True
        if len(self._waiting) < MAX_WAITING:
            self._waiting.append(body)
            return True
        return False

    async def _async_drain(self, body: bytes) -> None:
        """Check ``body``, then whatever waits, until nothing does."""
        try:
            while True:
                await self._receive(body)
                if not self._waiting:
                    return
                body = self._waiting.popleft()
        finally:
            self._receiving -= 1
