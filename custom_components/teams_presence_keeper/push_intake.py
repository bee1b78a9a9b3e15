"""What a POST to the webhook may cost before anything in it is checked.

The webhook's address travels through proxies, tunnels and logs, so anyone may post
to it. A body is read only up to a limit (``max_body_bytes``: ``MAX_BODY_BYTES``,
more for a subscription naming many people; a larger one is refused with 413,
unread). The bytes one account's inbox holds, bodies still being read included,
stay within a ``ByteBudget`` of ``held_bytes``: what a body may cost is reserved
before it is read, and a body whose reservation does not fit is answered as the
rest (Graph wants its 2xx within 3 seconds) but dropped, unread, for the caller to
count. One still arriving after ``READ_SECONDS`` is dropped, its reservation
given back. At most ``MAX_RECEIVING`` bodies are checked at once while up to
``MAX_WAITING`` more wait their turn; one beyond those is dropped too.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from enum import StrEnum
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


HELD_LARGEST: Final = 2
"""Bodies of the largest size the budget holds: one being checked, the next arriving.

When everyone followed changes at once Graph's body comes near the limit, and
another may follow while the first is checked; a third waits for Graph's retry."""
HELD_SMALL_BYTES: Final = 8 * MAX_BODY_BYTES
"""Besides those, room for the everyday bodies (kilobytes each) of a burst.

With one person it makes the old bound of 10 bodies of 1 MiB; with 650 people
(bodies of some 22 MB) about 52 MiB, where 100 strangers' streams were 2 GB."""


def held_bytes(limit: int) -> int:
    """Return the bytes an inbox reading bodies of at most ``limit`` may hold."""
    return HELD_LARGEST * limit + HELD_SMALL_BYTES


def reservation(declared: str, limit: int) -> int | None:
    """Return what reading a body may cost; None when it declares more than ``limit``.

    Its declared length (``declared``, the Content-Length header, "" when there is
    none); the limit for a body sent chunked, whose length nothing says. A cloud
    relay passes the header unparsed: of more digits than ``int`` converts, too.
    """
    if not declared.isdecimal():
        return limit
    digits = declared.lstrip("0") or "0"
    if len(digits) > len(str(limit)):
        return None
    return int(digits) if int(digits) <= limit else None


class ByteBudget:
    """Bytes that may be held, reserved before they are and given back after."""

    def __init__(self, size: int) -> None:
        """Hold at most ``size`` bytes."""
        self.size = size
        self.held = 0

    def reserve(self, size: int) -> bool:
        """Hold ``size`` bytes more; False (holding nothing more) when they do not fit."""
        if size > self.size - self.held:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        """Hold ``size`` bytes less: a body shorter than reserved, checked or dropped."""
        if not 0 <= size <= self.held:
            raise ValueError(f"{size} bytes given back, {self.held} held")
        self.held -= size


class Refusal(StrEnum):
    """Why a body was not taken, as the inbox counts it."""

    TOO_LARGE = "refused_too_large"
    """Larger than the limit: answered 413."""
    BUSY = "dropped_busy"
    """No room in the budget or the queue, or the intake stopped: answered 202."""
    SLOW = "dropped_slow"
    """Still arriving after ``READ_SECONDS``: answered 408, Graph retries its own."""


READ_SECONDS: Final = 3.0
"""Graph's wait for an answer (then it retries): a body still arriving is no Graph's."""
MAX_RECEIVING: Final = 2
"""Bodies checked at once: checking waits only on Entra ID's signing keys, or on a
request a lifecycle notification asks for."""
MAX_WAITING: Final = 8
"""Bodies that wait for a turn, however small: the budget bounds their bytes, this
keeps a stranger's stream of tiny junk from queueing checks without end."""


class Intake:
    """Reads bodies within a byte budget, and hands them to ``receive`` a few at a time.

    A body's reservation is given back however its way ends: refused, dropped, or
    checked, the client gone mid-read or the entry unloaded mid-check included.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        receive: Callable[[bytes], Awaitable[None]],
        limit: int,
    ) -> None:
        """Check each body of at most ``limit`` bytes with ``receive``.

        The checks run in background tasks of ``entry``.
        """
        self._hass = hass
        self._entry = entry
        self._receive = receive
        self._limit = limit
        self.budget = ByteBudget(held_bytes(limit))
        self._waiting: deque[bytes] = deque()
        self._receiving = 0
        self._stopped = False

    def stop(self) -> None:
        """Take nothing more: a body still arriving at an unload is the old entry's.

        Checking it would make requests and renew the subscription for a manager
        that is gone, and its renewal timer with it.
        """
        self._stopped = True
        while self._waiting:
            self.budget.give_back(len(self._waiting.popleft()))

    async def async_take(self, request: web.Request | MockRequest) -> Refusal | None:
        """Read the body of ``request`` and have it checked soon; or say why not.

        Read from ``content``: a cloudhook's relay hands the webhook a
        ``MockRequest``, which has no ``read()``. A body that breaks while read (a
        ``Content-Encoding`` that does not decode) is an empty one, which no check
        passes: it is counted as malformed, not left to raise (Home Assistant
        would log the webhook's id with the traceback). A body that decodes to
        more than it declared must fit the budget as a chunked one would. One
        still arriving after ``READ_SECONDS`` lets its reservation go: stalled
        streams held the budget for as long as their connections stayed open.
        """
        held = reservation(request.headers.get(hdrs.CONTENT_LENGTH, ""), self._limit)
        if held is None:
            return Refusal.TOO_LARGE
        if self._stopped or not self.budget.reserve(held):
            return Refusal.BUSY
        try:
            stream = request.content  # a MockRequest makes a new reader at each access
            body = bytearray()
            try:
                async with asyncio.timeout(READ_SECONDS):
                    while chunk := await stream.read(held + 1 - len(body)):
                        body += chunk
                        if len(body) <= held:
                            continue
                        if held == self._limit:
                            return Refusal.TOO_LARGE
                        if not self.budget.reserve(self._limit - held):
                            return Refusal.BUSY
                        held = self._limit
            except web.RequestPayloadError:
                body.clear()
            except TimeoutError:
                return Refusal.SLOW
            self.budget.give_back(held - len(body))
            held = len(body)
            if not self._enqueue(bytes(body)):
                return Refusal.BUSY
            held = 0  # the body's bytes are its check's to give back
            return None
        finally:
            self.budget.give_back(held)

    def _enqueue(self, body: bytes) -> bool:
        """Have ``body`` checked soon; False when it is dropped.

        Dropped: too many wait, or the intake stopped.
        """
        if self._stopped:
            return False
        if self._receiving < MAX_RECEIVING:
            self._receiving += 1
            # Started eagerly: a cancellation finds the try below already entered.
            self._entry.async_create_background_task(
                self._hass,
                self._async_drain(body),
                f"{DOMAIN} notification",
                eager_start=True,
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
                try:
                    await self._receive(body)
                finally:
                    self.budget.give_back(len(body))
                if not self._waiting:
                    return
                body = self._waiting.popleft()
        finally:
            self._receiving -= 1
