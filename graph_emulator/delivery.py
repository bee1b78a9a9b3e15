"""How the emulator posts to webhooks, and what goes wrong on the way.

Graph's webhook rules ("Receive change notifications through webhooks"): a URL is
validated by a POST carrying `?validationToken=` that must come back as text/plain
within 10 seconds; each notification must be acknowledged with a 2xx within 3
seconds or it is retried for up to 4 hours (even after its subscription
ended: nothing says Graph drops them); an endpoint where 10% of the last 100
answers were slower than about 2.9 seconds gets its notifications delayed by 10
minutes, at 15% dropped. Faults a test queues (`drop`, `duplicate`, `overtake`,
`delay`) play on top, one per notification, in the style of `faults.Fault`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import json
import socket
import ssl
from time import perf_counter
from typing import Any
import uuid

from aiohttp import ClientError, ClientSession, TCPConnector
from yarl import URL

from .faults import NotificationFault
from .presence import Clock

VALIDATION_TIMEOUT = 10.0
ACKNOWLEDGE_TIMEOUT = 3.0
SLOW_ANSWER = 2.9
SLOW_WINDOW = 100
SLOW_PERIOD = timedelta(hours=1)
"""(design) Answers older than this no longer count: a throttled endpoint recovers."""
DELAYED_AT = 10
DROPPED_AT = 15
THROTTLE_DELAY = timedelta(minutes=10)
RETRY_FOR = timedelta(hours=4)
FIRST_RETRY = timedelta(minutes=1)
"""(design) Retries wait 1, 2, 4... minutes on the emulator's clock."""
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

type Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Post:
    """One POST to a webhook."""

    url: str
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Reply:
    """The webhook's answer."""

    status: int
    content_type: str
    text: str


type Transport = Callable[[Post], Awaitable[Reply]]
"""Sends a POST and returns the answer (the caller bounds how long it may take).

The default sends it over HTTP; a test may route it to an in-process client
instead (Home Assistant's `hass_client_no_auth`), keeping every rule here.
"""


class EndpointState(StrEnum):
    """What Graph does with a webhook's notifications, by how fast it answers."""

    HEALTHY = "healthy"
    DELAYED = "delayed"
    DROPPED = "dropped"


@dataclass
class Sent:
    """A POST as sent, with its answer (status 0: none in time, or unreachable)."""

    url: str
    body: Any
    time: datetime
    status: int = 0
    seconds: float = 0.0


@dataclass(eq=False)
class _Notification:
    url: str
    payload: dict[str, Any]
    alive: Callable[[], bool]
    first_sent: datetime | None = None
    attempts: int = 0
    due: datetime | None = None
    throttled: bool = False


@dataclass
class _Line:
    """One webhook's notifications, sent one at a time in the order they arose."""

    turn: asyncio.Condition = field(default_factory=asyncio.Condition)
    issued: int = 0
    serving: int = 0
    overtaken: list[_Notification] = field(default_factory=list)


_NO_FAULT = NotificationFault()
_NOT_OK = (
    "Subscription validation request failed. Notification endpoint must respond with"
    " 200 OK to validation request."
)


class Deliveries:
    """Posts validation requests and notifications to webhooks.

    Knobs a test turns:

    - `delay`: seconds every notification takes to arrive, on the loop's clock
      or in real time, whichever ends first (as the emulator's `latency`).
    - `drop(count)`, `duplicate(count)`, `overtake(count)`, `delay_next(count,
      seconds)`: the next `count` notifications are lost, sent twice, sent after
      the one that follows them, or later than the rest.
    - `transport`: how a POST reaches the webhook (HTTP by default).
    - `validation_timeout`, `acknowledge_timeout`, `slow_answer`: Graph's limits
      (10 s, 3 s, 2.9 s), smaller in tests that must not wait that long.

    `sent` logs every POST; `settle()` waits for every notification that is due.
    """

    def __init__(self, clock: Clock, sleep: Sleep) -> None:
        """Time rules follow `clock`; delays wait through `sleep`."""
        self._clock = clock
        self._sleep = sleep
        self.delay = 0.0
        self.transport: Transport = self._http
        self.validation_timeout = VALIDATION_TIMEOUT
        self.acknowledge_timeout = ACKNOWLEDGE_TIMEOUT
        self.slow_answer = SLOW_ANSWER
        self.sent: list[Sent] = []
        self._faults: deque[NotificationFault] = deque()
        self._lines: dict[str, _Line] = {}
        self._answers: dict[str, deque[tuple[datetime, bool]]] = {}
        self._waiting: list[_Notification] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: ClientSession | None = None
        self.trusted_ca: str | None = None
        """A CA trusted besides the system's: the emulator's own (the demo's front door)."""

    # Faults

    def drop(self, count: int) -> None:
        """Lose the next `count` notifications."""
        self._faults.extend([NotificationFault(drop=True)] * count)

    def duplicate(self, count: int) -> None:
        """Send each of the next `count` notifications twice."""
        self._faults.extend([NotificationFault(duplicate=True)] * count)

    def overtake(self, count: int) -> None:
        """Send each of the next `count` notifications after the one that follows it.

        One that nothing follows waits until something does.
        """
        self._faults.extend([NotificationFault(overtaken=True)] * count)

    def delay_next(self, count: int, seconds: float) -> None:
        """Send the next `count` notifications `seconds` later than `delay`."""
        self._faults.extend([NotificationFault(delay=seconds)] * count)

    # Sending

    async def validate(self, url: str) -> str | None:
        """Run the validation handshake with `url`; Graph's reason it failed, or None."""
        token = (
            "Validation: Testing client application reachability for subscription"
            f" Request-Id: {uuid.uuid4()}"
        )
        post = Post(str(URL(url).update_query(validationToken=token)), b"", TEXT)
        entry = Sent(post.url, None, self._clock())
        self.sent.append(entry)
        started = perf_counter()
        try:
            async with asyncio.timeout(self.validation_timeout):
                reply = await self.transport(post)
        except TimeoutError:
            return "Subscription validation request timed out."
        except (ClientError, OSError):
            return _NOT_OK
        finally:
            entry.seconds = perf_counter() - started
        entry.status = reply.status
        if reply.status != 200:
            return _NOT_OK
        if not reply.content_type.startswith("text/plain") or reply.text != token:
            return (
                "Subscription validation request failed. Response must exactly match"
                " validationToken query parameter."
            )
        return None

    def send(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        alive: Callable[[], bool],
        faults: bool = True,
    ) -> None:
        """Post `payload` to `url` soon, if `alive()` (its subscription lives) then.

        `faults` False: sent as is (lifecycle notifications), whatever is queued.
        """
        fault = self._faults.popleft() if faults and self._faults else _NO_FAULT
        self._spawn(self._deliver(_Notification(url, payload, alive), fault))

    def release_due(self) -> None:
        """Send the delayed and retried notifications whose time has come."""
        now = self._clock()
        due = [n for n in self._waiting if n.due is not None and n.due <= now]
        self._waiting = [n for n in self._waiting if n not in due]
        for notification in due:
            self._spawn(self._deliver(notification, _NO_FAULT))

    async def settle(self) -> None:
        """Wait until every notification due now has been sent (or given up).

        A delivery that failed in a way Graph would not (a bug, a transport that
        raised) raises here, rather than going unseen.
        """
        while True:
            self.release_due()
            if not self._tasks:
                return
            # Let finished deliveries' callbacks run (they remove them from _tasks):
            # a delivery that was dropped at once finishes without ever pausing.
            await asyncio.sleep(0)
            for outcome in await asyncio.gather(*self._tasks, return_exceptions=True):
                if isinstance(outcome, Exception):
                    raise outcome

    def state(self, url: str) -> EndpointState:
        """How Graph treats `url` now, by its recent slow answers (see SLOW_PERIOD)."""
        now = self._clock()
        slow = sum(
            was_slow
            for time, was_slow in self._answers.get(url, ())
            if now - time < SLOW_PERIOD
        )
        if slow >= DROPPED_AT:
            return EndpointState.DROPPED
        if slow >= DELAYED_AT:
            return EndpointState.DELAYED
        return EndpointState.HEALTHY

    async def stop(self) -> None:
        """Cancel what is in flight and close the HTTP session."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, notification: _Notification, fault: NotificationFault
    ) -> None:
        """Wait the delay, then send in turn: one at a time per URL, in order."""
        line = self._lines.setdefault(notification.url, _Line())
        ticket = line.issued
        line.issued += 1
        try:
            await self._sleep(self.delay + fault.delay)
            async with line.turn:
                await line.turn.wait_for(lambda: line.serving >= ticket)
                if fault.drop:
                    return
                if fault.overtaken:
                    line.overtaken.append(notification)
                    return
                await self._attempt(notification)
                if fault.duplicate:
                    await self._attempt(notification)
                overtaken, line.overtaken = line.overtaken, []
                for late in overtaken:
                    await self._attempt(late)
        finally:
            line.serving = max(line.serving, ticket + 1)
            async with line.turn:
                line.turn.notify_all()

    async def _attempt(self, notification: _Notification) -> None:
        """Post once, unless Graph throttles the URL or the subscription ended first.

        Once tried, a notification is retried whatever becomes of its subscription:
        Graph does not say that ending one drops its retries.
        """
        if notification.first_sent is None and not notification.alive():
            return
        now = self._clock()
        state = self.state(notification.url)
        if state is EndpointState.DROPPED:
            return
        if state is EndpointState.DELAYED and not notification.throttled:
            notification.throttled = True
            self._wait(notification, now + THROTTLE_DELAY)
            return
        if notification.first_sent is None:
            notification.first_sent = now
        if await self._post(notification):
            return
        retry = now + FIRST_RETRY * 2**notification.attempts
        notification.attempts += 1
        if retry - notification.first_sent <= RETRY_FOR:
            self._wait(notification, retry)

    def _wait(self, notification: _Notification, due: datetime) -> None:
        notification.due = due
        self._waiting.append(notification)

    async def _post(self, notification: _Notification) -> bool:
        """Post a notification; whether it was acknowledged (2xx) in time."""
        body = json.dumps(notification.payload).encode()
        entry = Sent(notification.url, notification.payload, self._clock())
        self.sent.append(entry)
        started = perf_counter()
        try:
            async with asyncio.timeout(self.acknowledge_timeout):
                reply = await self.transport(Post(notification.url, body, JSON))
            entry.status = reply.status
        except (TimeoutError, ClientError, OSError):
            pass
        entry.seconds = perf_counter() - started
        answers = self._answers.setdefault(notification.url, deque(maxlen=SLOW_WINDOW))
        answers.append((self._clock(), entry.seconds > self.slow_answer))
        return 200 <= entry.status < 300

    async def _http(self, post: Post) -> Reply:
        if self._session is None:
            context = await asyncio.get_running_loop().run_in_executor(
                None, _public_trust, self.trusted_ca
            )
            # IPv4: the front door listens on 127.0.0.1, and "localhost" is ::1 too.
            self._session = ClientSession(
                connector=TCPConnector(ssl=context, family=socket.AF_INET)
            )
        async with self._session.post(
            post.url, data=post.body, headers={"Content-Type": post.content_type}
        ) as response:
            return Reply(response.status, response.content_type, await response.text())


def _public_trust(extra_ca: str | None) -> ssl.SSLContext:
    """Trust what Graph trusts (the public CAs: the system's) and ``extra_ca``."""
    context = ssl.create_default_context()
    if extra_ca is not None:
        context.load_verify_locations(extra_ca)
    return context
