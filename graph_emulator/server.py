"""The emulator: Graph and sign-in listeners, fault injection, and the request log."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
import ssl
from time import perf_counter
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ._http import read_body
from .entra import EntraApi
from .graph_api import GraphApi, graph_error
from .presence import AppSession, Clock, OutOfOffice, User
from .tls import Certificates
from .tokens import AppRegistration, Directory, Grant

type ServerName = Literal["graph", "login"]

DEFAULT_TENANT_ID = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
DEFAULT_TENANT_NAME = "Contoso"
DEFAULT_USER_ID = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
DEFAULT_CLIENT_ID = "11111111-1111-1111-1111-111111111111"
DEFAULT_CLIENT_SECRET = "s3cret-value"
GRAPH_PREFIX = "/v1.0/"
# Bounds how long stop() waits for requests still sleeping in `latency`.
_SHUTDOWN_TIMEOUT = 0.5


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


@dataclass(frozen=True)
class _Fault:
    """An answer to give instead of the real one; status 0 drops the connection."""

    status: int
    code: str = ""
    retry_after: str | None = None


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
        self.login_down = False
        self.token_lifetime = timedelta(hours=1)
        self.authorize_as: User | None = None
        self.auto_approve_device_codes: User | None = None
        self.auto_approve_delay = timedelta(0)
        self._faults: deque[_Fault] = deque()
        self._stopping = asyncio.Event()
        self._graph: _Listener | None = None
        self._login: _Listener | None = None
        self._certificates: Certificates | None = None

    # Lifecycle

    async def start(
        self, host: str = "127.0.0.1", graph_port: int = 0, login_port: int = 0
    ) -> None:
        """Start both listeners; port 0 picks a free port."""
        self._certificates = Certificates(host)
        entra_routes = EntraApi(self).routes()
        graph_routes = GraphApi(self.directory, self.clock).routes()
        self._graph = _Listener(
            self._application("graph", [*graph_routes, *entra_routes])
        )
        self._login = _Listener(
            self._application("login", entra_routes),
            self._certificates.server_context(),
        )
        await self._graph.start(host, graph_port)
        await self._login.start(host, login_port)

    async def stop(self) -> None:
        """Stop both listeners and delete the certificate files."""
        self._stopping.set()
        for listener in (self._graph, self._login):
            if listener is not None:
                await listener.stop()
        if self._certificates is not None:
            self._certificates.cleanup()
        self._graph = self._login = self._certificates = None

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
            middlewares.append(self._inject_faults)
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
        """Delay Graph requests by `latency`, then play the next queued fault."""
        if not request.path.startswith(GRAPH_PREFIX):
            return await handler(request)
        if self.latency > 0:
            # Cut short by stop(), so no handler outlives the emulator.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.latency)
        if self._stopping.is_set():
            return _hang_up(request)
        if not self._faults:
            return await handler(request)
        fault = self._faults.popleft()
        if fault.status == 0:
            return _hang_up(request)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
        return graph_error(fault.status, fault.code, f"{fault.code}.", headers)

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
        """Simulate a Teams client's session; it neither fades nor expires."""
        (user or self.default_user).presence.client_sessions[name] = (
            availability,
            activity,
        )

    def remove_client_session(self, name: str, user: User | None = None) -> None:
        """End a simulated Teams client's session, if it exists."""
        (user or self.default_user).presence.client_sessions.pop(name, None)

    def presence(self, user: User | None = None) -> tuple[str, str]:
        """Return the aggregated (availability, activity) now."""
        return (user or self.default_user).presence.aggregate()

    def app_session(
        self, session_id: str, user: User | None = None
    ) -> AppSession | None:
        """Return an app session as last set, or None when absent or expired."""
        return (user or self.default_user).presence.app_session(session_id)

    def set_out_of_office(
        self, is_out: bool, message: str | None = None, user: User | None = None
    ) -> None:
        """Set the out-of-office settings reported with presence."""
        (user or self.default_user).presence.out_of_office = OutOfOffice(
            is_out, message
        )

    # Faults

    def throttle(
        self, count: int, retry_after: int | str = 1, status: int = 429
    ) -> None:
        """Answer the next `count` Graph requests with `status` and Retry-After."""
        self._queue_faults(count, status, str(retry_after))

    def fail(self, count: int, status: int = 500) -> None:
        """Answer the next `count` Graph requests with a server error."""
        self._queue_faults(count, status)

    def drop(self, count: int) -> None:
        """Close the connection of the next `count` Graph requests unanswered."""
        self._faults.extend([_Fault(0)] * count)

    def _queue_faults(
        self, count: int, status: int, retry_after: str | None = None
    ) -> None:
        code = HTTPStatus(status).phrase.replace(" ", "")
        self._faults.extend([_Fault(status, code, retry_after)] * count)

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


def _hang_up(request: web.Request) -> web.StreamResponse:
    """Close the connection; the response returned is never sent."""
    if request.transport is not None:
        request.transport.close()
    return web.Response()
