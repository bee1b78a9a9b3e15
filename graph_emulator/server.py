"""The emulator: Graph and sign-in listeners, fault injection, and the request log."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
import ssl
import threading
from time import perf_counter
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ._http import read_body
from ._timezones import zone_info
from .entra import EntraApi
from .faults import MALFORMATION_NAMES, Fault, malformed
from .front_door import front_door
from .graph_api import CLOUDS, GRAPH_PREFIX, GraphApi, graph_error, graph_middleware
from .notification_crypto import SigningKey
from .people import PeopleApi
from .presence import AppSession, Clock, Lapse, OutOfOffice, User, WorkLocation
from .rate_limit import RateLimit
from .subscriptions import Subscriptions
from .tls import Certificates
from .tokens import AppRegistration, Directory, EntraError, Grant

type ServerName = Literal["graph", "login"]

DEFAULT_TENANT_ID = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
DEFAULT_TENANT_NAME = "Contoso"
DEFAULT_USER_ID = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
DEFAULT_CLIENT_ID = "11111111-1111-1111-1111-111111111111"
DEFAULT_CLIENT_SECRET = "s3cret-value"
# Bounds how long stop() waits for requests still sleeping in `latency`.
_SHUTDOWN_TIMEOUT = 0.5
# Real-time waits kept at once; past that, only the loop's clock ends a wait.
_MAX_SLEEPERS = 64
# The presence operations a write outage refuses: every POST under .../presence/.
_WRITE_MARKER = "/presence/"


def _utc_now() -> datetime:
    """Read the time at each call, so that freezegun's patching applies."""
    return datetime.now(UTC)


@dataclass
class RecordedRequest:
    """A request as received, and the status answered (0: dropped, no answer).

    `time` follows the emulator's clock (frozen in tests); `received` and
    `answered` are `time.perf_counter()` readings, to measure real latency and to
    order requests against answers when the clock stands still.
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    time: datetime
    server: ServerName
    status: int = 0
    received: float = field(default_factory=perf_counter)
    answered: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """The request's headers but Authorization (no token in a test's output)."""


class _Listener:
    """One application on one address, able to stop and resume listening."""

    def __init__(
        self, app: web.Application, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """Serve `app`, over TLS when given a context."""
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        self._ssl_context = ssl_context
        self._site: web.TCPSite | None = None
        self.host = ""
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port; port 0 picks a free port, kept for `listen`."""
        await self._runner.setup()
        self.host, self.port = host, port
        await self.listen()
        self.port = int(self._runner.addresses[0][1])

    async def listen(self) -> None:
        """Listen (again) on the same port."""
        if self._site is None:
            self._site = web.TCPSite(
                self._runner, self.host, self.port, ssl_context=self._ssl_context
            )
            await self._site.start()

    async def refuse(self) -> None:
        """Close the listening socket and drop every open connection."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if (server := self._runner.server) is not None:
            for connection in server.connections:
                # As when the network goes down: even a request in progress is cut.
                connection.force_close()

    async def stop(self) -> None:
        """Stop serving for good."""
        await self._runner.cleanup()


class GraphEmulator:
    """Microsoft Graph presence and Entra ID sign-in, on loopback listeners.

    `graph_url` (plain HTTP) serves Graph under /v1.0 and the sign-in routes;
    `login_url` (HTTPS, trusted through `ca_path`) serves the sign-in routes for
    clients such as msal that insist on https. State lives in `directory`; users'
    presence (sessions, `preferred`, `status_message`, `out_of_office`) is on
    `user.presence`. Everything time-based follows `clock`.

    Knobs a test turns (each also documented where it is defined):

    - `latency` (seconds, every Graph request) and `delay(count, seconds)` (the
      next `count` Graph requests): answers come that late on the event loop's
      clock or in real time, whichever ends first. Under `freezer` the loop's
      clock is frozen with everything else: a test that ticks it without waiting
      on tasks (`tests/test_reliability.py::step_until`) decides when the answer
      comes, and when the client's own timeout (also on the loop's clock) fires,
      so `latency` above the client's timeout makes it give up. A test that uses
      `advance()`, which waits for every task before it ticks, still goes on:
      each request then takes `latency` real seconds, so keep it small there.
    - `throttle`, `fail`, `drop`: the next Graph requests answer 429/503 with
      Retry-After, a server error, or a hang-up.
    - `start_write_outage(status)` / `end_write_outage()`: POSTs to presence
      operations fail (status 0: hang up) while reads succeed.
    - `malform_reads(count, kinds)`: presence reads answer bodies that break
      Graph's schema (`faults.MALFORMATION_NAMES`); `malform_reads(0)` stops.
    - `read_time_zone`: presence reads answer status message expiries in this
      zone (a Windows name, as Graph does for many tenants) instead of the zone
      each was set in.
    - `cloud`: which Microsoft cloud this Graph is ("global" by default); the
      work-location writes exist only where Graph offers them.
    - `set_scheduled_location(...)`: what the user's working-hours plan says.
    - `login_down`, `throttle_sign_in(count, retry_after, status)`: the token
      endpoint answers 503 / 429 with Retry-After.
    - `signing_keys_down`: the signing keys (JWKS) answer 503, so no validation
      token of a rich notification can be checked.
    - `subscriptions`: change-notification subscriptions and their deliveries,
      with knobs of their own (see `Subscriptions` and `Deliveries`).
    - `presence_rate_limit`: presence requests (reads, writes, bulk reads) each
      app may send per tenant, `limit` per `window` (1,500 per 30 s, as Graph);
      beyond, 429 with Retry-After.
    - `add_colleague(...)`: another person in the tenant, with a Teams client
      of their own; `set_client_session(..., user=)` changes their presence,
      `remove_user(...)` takes them out of the directory.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        """Seed a tenant, a user and an app registration with consent."""
        self.clock: Clock = clock or _utc_now
        self.directory = Directory(self.clock)
        self.default_tenant_id = DEFAULT_TENANT_ID
        self.directory.add_tenant(DEFAULT_TENANT_ID, DEFAULT_TENANT_NAME)
        self.default_user = self.add_user(
            display_name="Adele Vance",
            upn="adelev@contoso.example",
            user_id=DEFAULT_USER_ID,
        )
        self.default_app = self.add_app(
            client_id=DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET
        )
        self.requests: list[RecordedRequest] = []
        self.latency = 0.0
        """Seconds every Graph request waits before it is answered (see _sleep)."""
        self.login_down = False
        self.signing_keys_down = False
        self.token_lifetime = timedelta(hours=1)
        self.authorize_as: User | None = None
        self.auto_approve_device_codes: User | None = None
        self.auto_approve_delay = timedelta(0)
        self._faults: deque[Fault] = deque()
        self._write_outage: Fault | None = None
        self._malformed_reads_left: int | None = 0
        self._malformations: tuple[str, ...] = MALFORMATION_NAMES
        self._malformed_count = 0
        self._sign_in_faults: deque[EntraError] = deque()
        self._read_time_zone: str | None = None
        self._cloud = "global"
        self._stopping = False
        self.signing_key = SigningKey()
        """Entra ID's token-signing key, published at /{tenant}/discovery/v2.0/keys."""
        self.presence_rate_limit = RateLimit(self.clock)
        """Presence requests per app and tenant: 1,500 per 30 s (tests lower it)."""
        self.subscriptions = Subscriptions(
            self.clock, self.directory, self.signing_key, self._sleep
        )
        # Real-time waits run in threads (see _sleep); each can be woken early.
        self._sleepers = ThreadPoolExecutor(
            _MAX_SLEEPERS, thread_name_prefix="graph-emulator-latency"
        )
        self._wakers: set[threading.Event] = set()
        self._graph: _Listener | None = None
        self._login: _Listener | None = None
        self._front_door: _Listener | None = None
        self._certificates: Certificates | None = None

    # Lifecycle

    async def start(
        self,
        host: str = "127.0.0.1",
        graph_port: int = 0,
        login_port: int = 0,
        *,
        tls_folder: Path | None = None,
    ) -> None:
        """Start both listeners; port 0 picks a free port.

        The sign-in listener's certificates are kept in `tls_folder` when given
        (reused at the next start), else in a temporary folder `stop` deletes.
        """
        self._certificates = Certificates(host, tls_folder)
        entra_routes = EntraApi(self).routes()
        graph_api = GraphApi(self)
        graph_routes = [
            *graph_api.routes(),
            *PeopleApi(self, graph_api).routes(),
            *self.subscriptions.routes(graph_api),
        ]
        self._graph = _Listener(
            self._application("graph", [*graph_routes, *entra_routes])
        )
        self._login = _Listener(
            self._application("login", entra_routes),
            self._certificates.server_context(),
        )
        await self._graph.start(host, graph_port)
        await self._login.start(host, login_port)
        self.subscriptions.delivery.trusted_ca = self._certificates.ca_path

    async def open_front_door(self, port: int, target: str) -> str:
        """Serve a public HTTPS address forwarding to ``target``; return its URL.

        The demo's Home Assistant serves plain HTTP; Graph delivers only to HTTPS.
        The URL names the host (localhost): Home Assistant takes no IP address as a
        public HTTPS one, as no public CA certifies one.
        """
        listener = _Listener(
            front_door(target), self._started(self._certificates).server_context()
        )
        await listener.start(self._started(self._login).host, port)
        self._front_door = listener
        return f"https://localhost:{listener.port}"

    async def stop(self) -> None:
        """Stop both listeners and delete the certificate files."""
        self._stopping = True
        await self.subscriptions.stop()
        for waker in self._wakers:
            waker.set()
        for listener in (self._graph, self._login, self._front_door):
            if listener is not None:
                await listener.stop()
        # Every sleeper was woken: joining them leaves no thread behind.
        self._sleepers.shutdown(wait=True)
        if self._certificates is not None:
            self._certificates.cleanup()
        self._graph = self._login = self._front_door = self._certificates = None

    @property
    def graph_url(self) -> str:
        """Base URL of the plain-HTTP listener (Graph lives under /v1.0)."""
        listener = self._started(self._graph)
        return f"http://{listener.host}:{listener.port}"

    @property
    def login_url(self) -> str:
        """Base URL of the HTTPS sign-in listener."""
        listener = self._started(self._login)
        return f"https://{listener.host}:{listener.port}"

    @property
    def ca_path(self) -> str:
        """PEM file of the CA that signed the sign-in listener's certificate."""
        return self._started(self._certificates).ca_path

    @staticmethod
    def _started[T](part: T | None) -> T:
        if part is None:
            raise RuntimeError("The emulator is not started.")
        return part

    def _application(
        self, server: ServerName, routes: Iterable[web.RouteDef]
    ) -> web.Application:
        middlewares = [self._recorder(server)]
        if server == "graph":
            middlewares += [graph_middleware(self.clock), self._inject_faults]
        app = web.Application(middlewares=middlewares)
        app.add_routes(routes)
        return app

    def _recorder(self, server: ServerName) -> Middleware:
        """Log every request a listener receives, with the status answered."""

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            entry = RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                await read_body(request),
                self.clock(),
                server,
                headers={
                    name: value
                    for name, value in request.headers.items()
                    if name.lower() != "authorization"
                },
            )
            self.requests.append(entry)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                entry.status = exc.status
                raise
            finally:
                entry.answered = perf_counter()
            transport = request.transport
            if transport is not None and not transport.is_closing():
                entry.status = response.status
            return response

        return record

    @web.middleware
    async def _inject_faults(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """Delay Graph requests, then play the next queued fault or an outage."""
        if not request.path.startswith(GRAPH_PREFIX):
            return await handler(request)
        fault = self._faults.popleft() if self._faults else None
        await self._sleep(self.latency + (fault.delay if fault else 0.0))
        if self._stopping:
            return _hang_up(request)
        if fault is None or fault.status is None:
            is_write = request.method == "POST" and _WRITE_MARKER in request.path
            fault = self._write_outage if is_write else None
        if fault is None or fault.status is None:
            response = await handler(request)
            self.subscriptions.notice_changes()
            return self._maybe_malformed(request, response)
        if fault.status == 0:
            return _hang_up(request)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
        return graph_error(
            request,
            fault.status,
            fault.code,
            f"{fault.code}.",
            now=self.clock(),
            headers=headers,
        )

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds` on the loop's clock or in real time, whichever ends first.

        On the loop's clock, so that a test which freezes time (`freezer`) and
        ticks it decides when a late answer comes, as it decides when the client
        gives up. In real time too, because `advance()` waits for every task
        before it moves the clock: a wait on the frozen clock alone would never
        end. Real time is kept in a thread, as the loop's timers are frozen too.
        Cut short by stop().
        """
        if seconds <= 0 or self._stopping:
            return
        loop = asyncio.get_running_loop()
        waker = threading.Event()
        self._wakers.add(waker)
        real: asyncio.Future[Any] = loop.run_in_executor(
            self._sleepers, waker.wait, seconds
        )
        timer: asyncio.Future[Any] = loop.create_future()
        # Scheduled now, so the deadline counts from the request's arrival.
        alarm = loop.call_later(seconds, _resolve, timer)
        try:
            await asyncio.wait({real, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._wakers.discard(waker)
            waker.set()  # frees the thread when the loop's clock ended the wait
            alarm.cancel()

    def _maybe_malformed(
        self, request: web.Request, response: web.StreamResponse
    ) -> web.StreamResponse:
        """Break a successful presence read's body, while `malform_reads` asks to."""
        left = self._malformed_reads_left
        is_read = request.method == "GET" and request.path.endswith("/presence")
        if (
            left == 0
            or not is_read
            or not isinstance(response, web.Response)
            or response.status != 200
        ):
            return response
        if left is not None:
            self._malformed_reads_left = left - 1
        kinds = self._malformations
        kind = kinds[self._malformed_count % len(kinds)]
        self._malformed_count += 1
        return malformed(response, kind)

    # Directory

    def add_user(
        self,
        *,
        display_name: str,
        upn: str,
        user_id: str | None = None,
        tenant_id: str | None = None,
        personal: bool = False,
    ) -> User:
        """Add a user; by default a work account in the default tenant."""
        return self.directory.add_user(
            display_name=display_name,
            upn=upn,
            tenant_id=tenant_id or self.default_tenant_id,
            user_id=user_id,
            personal=personal,
        )

    def add_colleague(
        self,
        *,
        display_name: str,
        upn: str,
        availability: str = "Available",
        activity: str = "Available",
        user_id: str | None = None,
    ) -> User:
        """Add someone to the default tenant, signed in to Teams in the given state.

        Change their presence with `set_client_session("teams", ..., user=...)`.
        """
        colleague = self.add_user(display_name=display_name, upn=upn, user_id=user_id)
        self.set_client_session("teams", availability, activity, user=colleague)
        return colleague

    def remove_user(self, user: User) -> None:
        """Take a user out of the directory, as when someone leaves the company.

        Lookups and bulk reads then know them no more; subscriptions naming them
        keep running for the others, and stop telling about them.
        """
        self.directory.remove_user(user)

    def add_app(
        self,
        *,
        client_id: str,
        secret: str | None = None,
        public_client_flows: bool = True,
        tenant_id: str | None = None,
        consented_scopes: set[str] | None = None,
        app_roles: set[str] | None = None,
    ) -> AppRegistration:
        """Register an app; consent and roles default to the seeded app's."""
        app = AppRegistration(
            client_id=client_id,
            tenant_id=tenant_id or self.default_tenant_id,
            secret=secret,
            public_client_flows=public_client_flows,
        )
        if consented_scopes is not None:
            app.consented_scopes = set(consented_scopes)
        if app_roles is not None:
            app.app_roles = set(app_roles)
        return self.directory.add_app(app)

    def issue_token(
        self,
        user: User | None = None,
        *,
        scopes: Iterable[str] = ("Presence.ReadWrite", "User.Read"),
        lifetime: timedelta = timedelta(hours=1),
        app: AppRegistration | None = None,
    ) -> str:
        """Issue a delegated access token without a sign-in."""
        return self.directory.issue_access_token(
            app or self.default_app,
            user or self.default_user,
            scopes=scopes,
            lifetime=lifetime,
        ).value

    def issue_app_token(
        self,
        *,
        roles: Iterable[str] = ("Presence.ReadWrite.All", "User.Read.All"),
        lifetime: timedelta = timedelta(hours=1),
        app: AppRegistration | None = None,
    ) -> str:
        """Issue an app-only access token without a client-credentials request."""
        return self.directory.issue_access_token(
            app or self.default_app, None, roles=roles, lifetime=lifetime
        ).value

    def issue_refresh_token(
        self,
        user: User | None = None,
        *,
        scopes: Iterable[str] = ("Presence.ReadWrite", "User.Read", "offline_access"),
        app: AppRegistration | None = None,
    ) -> str:
        """Issue a refresh token without a sign-in, to test refreshing and revoking."""
        return self.directory.issue_refresh_token(
            Grant(user or self.default_user, app or self.default_app, frozenset(scopes))
        )

    def issued_secrets(self) -> set[str]:
        """Every token, code and client secret issued, so tests can look for leaks."""
        return self.directory.issued_secrets()

    def revoke_access_tokens(self, user: User | None = None) -> None:
        """Revoke a user's access tokens before they expire, as an administrator can."""
        self.directory.revoke_access_tokens(user or self.default_user)

    def revoke_refresh_tokens(self, user: User | None = None) -> None:
        """Revoke a user's refresh tokens, as an administrator can."""
        self.directory.revoke_refresh_tokens(user or self.default_user)

    def approve_device_code(self, user_code: str, user: User | None = None) -> None:
        """Complete a pending device-code sign-in as `user` (KeyError if none)."""
        self.directory.pending_device_code(user_code).user = user or self.default_user

    def deny_device_code(self, user_code: str) -> None:
        """Decline a pending device-code sign-in (KeyError if none)."""
        self.directory.pending_device_code(user_code).denied = True

    # Presence

    def set_client_session(
        self, name: str, availability: str, activity: str, user: User | None = None
    ) -> None:
        """Simulate a Teams client's session; it neither fades nor expires.

        Its availability and activity are served as given, so a test can play a
        value Graph adds later or spells otherwise ("InAWebinar", "busy").
        """
        (user or self.default_user).presence.client_sessions[name] = (
            availability,
            activity,
        )
        self.subscriptions.notice_changes()

    def remove_client_session(self, name: str, user: User | None = None) -> None:
        """End a simulated Teams client's session, if it exists."""
        (user or self.default_user).presence.client_sessions.pop(name, None)
        self.subscriptions.notice_changes()

    def presence(self, user: User | None = None) -> tuple[str, str]:
        """Return the aggregated (availability, activity) now."""
        return (user or self.default_user).presence.aggregate()

    def app_session(
        self, session_id: str, user: User | None = None
    ) -> AppSession | None:
        """Return an app session as last set, or None when absent or expired."""
        return (user or self.default_user).presence.app_session(session_id)

    @property
    def write_transit(self) -> timedelta:
        """How long after it is sent a presence write takes effect, on the clock.

        Real writes spend time on the network and in Graph: a keep-alive sent the
        instant a session fades lands after it faded. Tests set this to check that
        refreshes leave room for it; `lapses` lists each time one did not.
        """
        return self.default_user.presence.write_transit

    @write_transit.setter
    def write_transit(self, transit: timedelta) -> None:
        for user in self.directory.users:
            user.presence.write_transit = transit

    @property
    def lapses(self) -> list[Lapse]:
        """App sessions set again only after their state had faded or expired."""
        return [
            lapse for user in self.directory.users for lapse in user.presence.lapses
        ]

    def set_out_of_office(
        self, is_out: bool, message: str | None = None, user: User | None = None
    ) -> None:
        """Set the out-of-office settings reported with presence."""
        (user or self.default_user).presence.out_of_office = OutOfOffice(
            is_out, message
        )

    def set_scheduled_location(
        self,
        location_type: str | None,
        place_id: str | None = None,
        user: User | None = None,
    ) -> None:
        """Set where the user's plan puts them now ("office", "timeOff"; None: nowhere).

        The lowest layer: a manual or automatic location wins over it.
        """
        (user or self.default_user).presence.scheduled_location = (
            None if location_type is None else WorkLocation(location_type, place_id)
        )

    # Faults

    def throttle(
        self,
        count: int,
        retry_after: int | str = 1,
        status: int = 429,
        *,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `count` Graph requests with `status` and Retry-After.

        `delay` seconds late, as `delay()` does: a 429 that lands after the caller
        moved on.
        """
        fault = replace(_status_fault(status, str(retry_after)), delay=delay)
        self._faults.extend([fault] * count)

    def fail(self, count: int, status: int = 500) -> None:
        """Answer the next `count` Graph requests with a server error."""
        self._queue_faults(count, status)

    def drop(self, count: int) -> None:
        """Close the connection of the next `count` Graph requests unanswered."""
        self._faults.extend([Fault(0)] * count)

    def delay(self, count: int, seconds: float) -> None:
        """Answer the next `count` Graph requests `seconds` late, as `latency` does.

        Added to `latency`; queued with the other faults, so `delay(1, 2)` then
        `fail(1)` slows the first request and fails the second.
        """
        self._faults.extend([Fault(None, delay=seconds)] * count)

    def _queue_faults(
        self, count: int, status: int, retry_after: str | None = None
    ) -> None:
        self._faults.extend([_status_fault(status, retry_after)] * count)

    def start_write_outage(
        self, status: int = 503, retry_after: int | str | None = None
    ) -> None:
        """Fail every presence write (POST .../presence/...) until ended.

        Reads keep working, as in a partial outage of Graph's write path: the
        integration must keep its wish and keep reading. `status` 0 hangs up
        without an answer instead.
        """
        if status == 0:
            self._write_outage = Fault(0)
        else:
            retry = None if retry_after is None else str(retry_after)
            self._write_outage = _status_fault(status, retry)

    def end_write_outage(self) -> None:
        """Let presence writes through again."""
        self._write_outage = None

    def malform_reads(
        self, count: int | None = None, kinds: Iterable[str] | None = None
    ) -> None:
        """Answer presence reads with bodies that break Graph's schema.

        The next `count` successful reads (None: every read until
        `malform_reads(0)`) are malformed one of `kinds` after the other, cycling;
        by default every kind in `faults.MALFORMATION_NAMES` (statusMessage as a
        string, a numeric message content, availability null, ...).
        """
        chosen = tuple(kinds) if kinds is not None else MALFORMATION_NAMES
        unknown = set(chosen) - set(MALFORMATION_NAMES)
        if not chosen or unknown:
            raise ValueError(f"Choose kinds among {MALFORMATION_NAMES}: {unknown}")
        self._malformed_reads_left = count
        self._malformations = chosen
        self._malformed_count = 0

    @property
    def read_time_zone(self) -> str | None:
        """The zone presence reads answer expiries in; None: each as it was set.

        Graph answers in the zone the expiry was set with; a test sets a Windows
        name ("W. Europe Standard Time") to check the integration reads those.
        """
        return self._read_time_zone

    @read_time_zone.setter
    def read_time_zone(self, name: str | None) -> None:
        if name is not None:
            zone_info(name)  # ValueError now, rather than a failing read later.
        self._read_time_zone = name

    @property
    def cloud(self) -> str:
        """The Microsoft cloud this Graph is: "global", "us_government", ...

        Graph offers setManualLocation and clearLocation in the global and US
        Government clouds, setAutomaticLocation and clearAutomaticLocation only
        in the global one.
        """
        return self._cloud

    @cloud.setter
    def cloud(self, name: str) -> None:
        if name not in CLOUDS:
            raise ValueError(f"Choose a cloud among {sorted(CLOUDS)}: {name}")
        self._cloud = name

    def throttle_sign_in(
        self, count: int, retry_after: int = 1, status: int = 429
    ) -> None:
        """Answer the next `count` token requests with `status` and Retry-After."""
        if status == 429:
            error = EntraError(
                429,
                "temporarily_unavailable",
                90055,
                "There are too many incoming requests. Please try again later.",
                retry_after=retry_after,
            )
        else:
            error = EntraError(
                status,
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
                retry_after=retry_after,
            )
        self._sign_in_faults.extend([error] * count)

    def take_sign_in_fault(self) -> EntraError | None:
        """Return the token endpoint's next queued refusal, if any (for EntraApi)."""
        return self._sign_in_faults.popleft() if self._sign_in_faults else None

    async def refuse_connections(self) -> None:
        """Stop listening and close open connections, so connecting fails."""
        for listener in (self._graph, self._login):
            await self._started(listener).refuse()

    async def accept_connections(self) -> None:
        """Listen again, on the same ports."""
        for listener in (self._graph, self._login):
            await self._started(listener).listen()

    def graph_calls(self, name: str) -> list[RecordedRequest]:
        """Return Graph requests whose path ends with `name`, e.g. "setPresence"."""
        return [
            entry
            for entry in self.requests
            if entry.server == "graph"
            and entry.path.startswith(GRAPH_PREFIX)
            and entry.path.endswith(f"/{name}")
        ]


def _status_fault(status: int, retry_after: str | None = None) -> Fault:
    """Build a fault answering `status`, coded as Graph does (TooManyRequests)."""
    return Fault(status, HTTPStatus(status).phrase.replace(" ", ""), retry_after)


def _resolve(future: asyncio.Future[Any]) -> None:
    """Complete `future`, unless it was given up on."""
    if not future.done():
        future.set_result(None)


def _hang_up(request: web.Request) -> web.StreamResponse:
    """Close the connection; the response returned is never sent."""
    if request.transport is not None:
        request.transport.close()
    return web.Response()
