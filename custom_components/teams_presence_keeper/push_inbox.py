"""What Graph pushes to an account's webhook, taken in and handed on.

Answered with 202 at once (``push_intake.py`` limits what a POST may cost), checked
(client state, tokens, signature) by the Graph layer's receiver, then what passed
is handed to the coordinator, which decides with ``push_freshness.py``. What is
refused or dropped here is counted here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Final

from aiohttp import web
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util.aiohttp import MockRequest

from .graph import (
    LifecycleNotice,
    Notification,
    PresenceChange,
    Rejected,
    validation_token,
)
from .push_intake import MAX_BODY_BYTES, Intake, Refusal

ANSWERS: Final = {
    Refusal.TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    Refusal.BUSY: HTTPStatus.ACCEPTED,  # as the rest: Graph wants its 2xx at once
    Refusal.SLOW: HTTPStatus.REQUEST_TIMEOUT,
}
"""What a body not taken is answered."""

type Pushed = PresenceChange | LifecycleNotice
"""What passed the checks: a change of presence, or a lifecycle notice."""


class NotificationInbox:
    """Takes one account's notifications in, and hands on what passed the checks."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        check: Callable[[bytes], Awaitable[Sequence[Notification]]],
        deliver: Callable[[Sequence[Pushed]], Awaitable[None]],
        *,
        max_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        """Check each body with ``check``; ``deliver`` what passed, a body at a time.

        A body larger than ``max_bytes`` is refused unread; the bytes held, bodies
        still being read included, stay within the budget ``max_bytes`` makes.
        """
        self._check = check
        self._deliver = deliver
        self._intake = Intake(hass, entry, self._async_receive, max_bytes)
        self.counts: Counter[str] = Counter()
        """Tokens unchecked; rejected (by reason); refused as too large, dropped
        while busy or as too slow."""

    def stop(self) -> None:
        """Take no more bodies."""
        self._intake.stop()

    @property
    def held_bytes(self) -> int:
        """Bytes reserved for bodies being read, waiting, or being checked."""
        return self._intake.budget.held

    async def async_handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request | MockRequest
    ) -> web.Response:
        """Answer Graph's handshake, or take a notification and answer 202 at once.

        Never raises: Home Assistant would log a traceback naming the webhook (its
        secret address) and answer 200. What is refused or dropped is counted.
        """
        if (token := validation_token(request.query)) is not None:
            return web.Response(text=token, content_type="text/plain")
        if (refusal := await self._intake.async_take(request)) is None:
            return web.Response(status=HTTPStatus.ACCEPTED)
        self.counts[refusal] += 1
        return web.Response(status=ANSWERS[refusal])

    async def _async_receive(self, body: bytes) -> None:
        """Count what the checks refused; hand on the rest, in order."""
        passed: list[Pushed] = []
        for outcome in await self._check(body):
            match outcome:
                case Rejected(reason=why):
                    self.counts[f"rejected_{why}"] += 1
                case PresenceChange(tokens_unchecked=True):
                    self.counts["tokens_unchecked"] += 1
                    passed.append(outcome)
                case _:
                    passed.append(outcome)
        if passed:
            await self._deliver(passed)
