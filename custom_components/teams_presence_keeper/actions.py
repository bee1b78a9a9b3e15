"""One-off requests a caller waits for: the status message, and what work location sends.

Unlike the session's wishes they are not kept: Graph's answer is the caller's to
see, translated. While Graph asks the account to wait nothing is sent, and a 429
here makes every other request of the account wait too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial

from homeassistant.core import Context
from homeassistant.util import dt as dt_util

from .graph import GraphPresenceClient
from .policy import FAILURES, FailurePolicy
from .problems import AccountProblems
from .remedies import Operation, Remedy
from .shown import PresenceView, acting_for


class OneOffRequests:
    """Sends one account's one-off requests under its policy, then reads the result."""

    def __init__(
        self,
        client: GraphPresenceClient,
        policy: FailurePolicy,
        problems: AccountProblems,
        view: PresenceView,
    ) -> None:
        """Send through ``client``; ``view`` reads what Teams shows afterwards."""
        self.client = client
        self._policy = policy
        self._problems = problems
        self._view = view

    async def async_set_status_message(
        self,
        message: str | None,
        expires_at: datetime | None = None,
        context: Context | None = None,
    ) -> None:
        """Publish or (``None``) clear the status message."""
        await self.async_send(
            self.client.clear_status_message
            if message is None
            else partial(self.client.set_status_message, message, expires_at),
            context,
        )

    async def async_send(
        self,
        request: Callable[[], Awaitable[None]],
        context: Context | None,
        operation: Operation = Operation.ACTION,
        noted: Callable[[Remedy], None] | None = None,
    ) -> None:
        """Send ``request`` for the caller of ``context``, then read what Teams shows.

        A failure raises the caller's translated error; ``noted`` learns its remedy
        first.
        """
        with acting_for(context):
            await self._async_call(request, operation, noted)
            await self._view.async_refresh()

    async def _async_call(
        self,
        request: Callable[[], Awaitable[None]],
        operation: Operation,
        noted: Callable[[Remedy], None] | None,
    ) -> None:
        if (held := self._policy.held(operation, dt_util.utcnow())) is not None:
            raise self._problems.error(held)
        try:
            await request()
        except FAILURES as err:
            remedy = self._problems.failed(err, operation)
            if noted is not None:
                noted(remedy)
            raise self._problems.error(remedy) from err
