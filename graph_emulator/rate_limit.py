"""Graph's presence throttling: 1,500 requests per 30 seconds per app and tenant.

Documented for GET presence and getPresencesByUserId ("The maximum request rate
... is 1,500 requests within a 30-second period, per application per tenant"); a
throttled request gets 429 with `Retry-After`, and does not count.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
import math

from .presence import Clock

PRESENCE_LIMIT = 1500
PRESENCE_WINDOW = timedelta(seconds=30)


class RateLimit:
    """A sliding window of requests per key, on the emulator's clock.

    `limit` and `window` are knobs: a test lowers the limit rather than send
    1,500 requests.
    """

    def __init__(
        self,
        clock: Clock,
        limit: int = PRESENCE_LIMIT,
        window: timedelta = PRESENCE_WINDOW,
    ) -> None:
        """Admit `limit` requests per `window` for each key."""
        self._clock = clock
        self.limit = limit
        self.window = window
        self._admitted: dict[tuple[str, str], deque[datetime]] = {}

    def admit(self, app_id: str, tenant_id: str) -> int | None:
        """Count a request; None if admitted, else the seconds to wait (at least 1)."""
        now = self._clock()
        admitted = self._admitted.setdefault(
            (app_id.lower(), tenant_id.lower()), deque()
        )
        while admitted and admitted[0] <= now - self.window:
            admitted.popleft()
        if len(admitted) >= self.limit:
            wait = (admitted[0] + self.window - now).total_seconds()
            return max(1, math.ceil(wait))
        admitted.append(now)
        return None
