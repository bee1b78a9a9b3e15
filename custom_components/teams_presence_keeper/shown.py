"""What is shown of an account, and for whom: the parts' narrow view of the coordinator.

The writer, the one-off requests and the work location change what entities show;
they need only this of the coordinator, so none of them imports it. The caller's
context travels with the task that acts for it, so the logbook names who chose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from homeassistant.core import Context

from .const import DOMAIN

_ACTING_FOR: ContextVar[tuple[asyncio.Task[Any] | None, Context | None]] = ContextVar(
    f"{DOMAIN}_acting_for", default=(None, None)
)
"""The task carrying out a caller's action or choice, and the caller's context."""


class PresenceView(Protocol):
    """What a part asks of the coordinator: show a change, read what Teams shows."""

    def async_update_listeners(self) -> None:
        """Show what changed (entities render again)."""

    async def async_refresh(self) -> None:
        """Read presence now."""


def acting_context() -> Context | None:
    """Return the context of the caller the running task acts for, if any.

    Carried with the call, not parked on an object: callers that overlap each see
    their own. Tasks and timers started meanwhile inherit the variable but act for
    nobody (a keep-alive, the next read), so they see none.
    """
    task, context = _ACTING_FOR.get()
    return context if task is not None and task is asyncio.current_task() else None


@contextmanager
def acting_for(context: Context | None) -> Iterator[None]:
    """Let the states this task changes meanwhile carry ``context``."""
    token = _ACTING_FOR.set((asyncio.current_task(), context))
    try:
        yield
    finally:
        _ACTING_FOR.reset(token)
