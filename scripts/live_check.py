"""A first contact with the real Microsoft Graph, as a report to paste into a bug report.

Usage: ``scripts/live-check --client-id APP_ID [--tenant TENANT]
[--notification-url https://... [--listen HOST:PORT]]`` (``--help`` for all).

Signs in by device code with the user's own app registration, as the integration does,
and tries each presence operation the integration uses through the integration's own
Graph client: the five app presences (each read back), the preferred presence, the
status message, the work location, and optionally a change-notification subscription.
Everything it changes it undoes, also when interrupted (Ctrl-C, SIGTERM); each change
also carries a short expiry, in case the process is killed outright. The report on
standard output lists every Graph request (method, path, status, time, Graph's
``request-id`` and ``client-request-id``) and holds no token or secret.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterable
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
import json
from pathlib import Path
import platform
import re
import signal
import sys
import time
from types import ModuleType, SimpleNamespace, TracebackType
from typing import Any, Final

import aiohttp
from aiohttp import web
import msal
from msal.exceptions import MsalServiceError
from requests import RequestException

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "custom_components" / "teams_presence_keeper"
sys.path.insert(0, str(ROOT))
if "custom_components.teams_presence_keeper" not in sys.modules:
    # The integration's Graph client and constants, without its __init__: that one
    # imports Home Assistant, tens of seconds on a busy machine, for nothing here.
    _package = ModuleType("custom_components.teams_presence_keeper")
    _package.__path__ = [str(PACKAGE)]
    sys.modules[_package.__name__] = _package

from custom_components.teams_presence_keeper.const import (  # noqa: E402
    DELEGATED_SCOPES,
    INSTANT_UPDATES_SCOPE,
)
from custom_components.teams_presence_keeper.graph import (  # noqa: E402
    CLOUD_ENDPOINTS,
    AppPresence,
    Cloud,
    CloudEndpoints,
    GraphError,
    GraphSubscriptionClient,
    NotificationReceiver,
    PreferredPresence,
    PresenceChange,
    PresenceSnapshot,
    Rejected,
    SigningKeys,
    Subscription,
    SubscriptionConflictError,
    endpoint_url_problem,
    new_client_state,
    signing_keys_url,
    tenant_problem,
    validation_token,
)
from custom_components.teams_presence_keeper.graph.clouds import (  # noqa: E402
    WORK_OR_SCHOOL_TENANT,
)
from custom_components.teams_presence_keeper.graph.subscriptions import (  # noqa: E402
    SUBSCRIPTION_MIN_LIFETIME,
)

EXPIRATION: Final = timedelta(minutes=5)
"""How long whatever the check sets lasts, should the process be killed outright."""
CHECK_PREFERRED: Final = PreferredPresence.BE_RIGHT_BACK
"""A preferred presence no app session can show, so its read-back proves it."""
CHECK_STATUS_MESSAGE: Final = (
    "Teams Presence Keeper live check: back to normal in a moment"
)
DEFAULT_LISTEN: Final = "127.0.0.1:8765"
DEFAULT_NOTIFICATION_TIMEOUT: Final = 120.0
"""Graph documents presence notifications within a minute at most."""
NOTIFICATION_TRIGGERS: Final = (
    AppPresence.DO_NOT_DISTURB_PRESENTING,
    AppPresence.BUSY_IN_A_CALL,
    AppPresence.AVAILABLE,
)
"""App presences that win over most others: one that changes what others see."""
REDACTED: Final = "[redacted]"
_BEARER = re.compile(r"(?i)\bbearer\s+\S+")
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")


class Outcome(StrEnum):
    """How a step ended."""

    OK = "ok"
    DIFFERS = "differs"
    """Graph accepted the request, but what others see is not what was set."""
    FAILED = "FAILED"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


@dataclass
class Step:
    """One line of the report's steps."""

    number: int
    name: str
    outcome: Outcome = Outcome.INTERRUPTED
    detail: str = ""


class StepRun:
    """A step while it runs: Graph's refusal fails it, and the check goes on.

    Anything else (an interruption, a failed sign-in) ends the steps, the step
    marked interrupted unless it says otherwise.
    """

    def __init__(self, step: Step) -> None:
        """Run ``step``."""
        self._step = step

    def __enter__(self) -> Step:
        """Return the step, for its outcome and details."""
        return self._step

    def __exit__(
        self,
        _kind: type[BaseException] | None,
        error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> bool:
        """Record how the step ended; swallow Graph's refusals only."""
        step = self._step
        if isinstance(error, GraphError):
            step.outcome, step.detail = Outcome.FAILED, describe(error)
            return True
        if error is None and step.outcome is Outcome.INTERRUPTED:
            step.outcome = Outcome.OK
        return False


@dataclass
class Exchange:
    """One Graph request as the report shows it."""

    step: int
    started: datetime
    method: str
    path: str
    status: str = "no answer (interrupted)"
    milliseconds: float | None = None
    request_id: str = ""
    client_request_id: str = ""


class RequestLog:
    """Records every request sent through its session's trace, under the current step."""

    def __init__(self) -> None:
        """Start empty, outside any step."""
        self.exchanges: list[Exchange] = []
        self.step = 0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._started)
        self.trace.on_request_end.append(self._ended)
        self.trace.on_request_exception.append(self._failed)

    async def _started(
        self,
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        context.exchange = Exchange(
            self.step, datetime.now(UTC), params.method, params.url.path
        )
        context.clock = time.perf_counter()
        self.exchanges.append(context.exchange)

    async def _ended(
        self,
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        exchange: Exchange = context.exchange
        exchange.status = str(params.response.status)
        exchange.milliseconds = (time.perf_counter() - context.clock) * 1000
        exchange.request_id = params.response.headers.get("request-id", "")
        exchange.client_request_id = params.response.headers.get(
            "client-request-id", ""
        )

    async def _failed(
        self,
        _session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        exchange: Exchange = context.exchange
        if not isinstance(params.exception, asyncio.CancelledError):
            exchange.status = f"no answer ({type(params.exception).__name__})"
        exchange.milliseconds = (time.perf_counter() - context.clock) * 1000


class SignInError(Exception):
    """The device-code sign-in gave no token; the message says why, in Entra's words."""


@dataclass
class SignedIn:
    """A signed-in user: msal's client and account, to refresh the token."""

    app: msal.PublicClientApplication
    scopes: list[str]
    result: dict[str, Any]

    @property
    def tenant_id(self) -> str:
        """The user's tenant, as the sign-in named it."""
        claims = self.result.get("id_token_claims") or {}
        return str(claims.get("tid", ""))


def scopes_for(endpoints: CloudEndpoints, *, notifications: bool) -> list[str]:
    """Return the delegated scopes the integration asks for (auth.entry.delegated_scopes).

    Short names mean the global Graph; a national cloud's Graph is named in full.
    """
    names = [*DELEGATED_SCOPES, *([INSTANT_UPDATES_SCOPE] if notifications else [])]
    national = {e for cloud, e in CLOUD_ENDPOINTS.items() if cloud is not Cloud.GLOBAL}
    return [endpoints.scope(name) for name in names] if endpoints in national else names


def entra_error(answer: dict[str, Any]) -> str:
    """Return Entra ID's error, its description's first line, and its trace ids.

    Microsoft's support finds a failed sign-in by its trace and correlation ids.
    """
    lines = str(answer.get("error_description") or "").strip().splitlines()
    parts = (str(answer.get("error") or ""), lines[0] if lines else "")
    ids = ", ".join(
        f"{name.replace('_', ' ')} {answer[name]}"
        for name in ("trace_id", "correlation_id")
        if answer.get(name)
    )
    text = ": ".join(part for part in parts if part)
    return f"{text} ({ids})" if ids else text


MSAL_CONNECTION_ERRORS: Final = (RequestException, MsalServiceError)
"""What msal raises when Entra ID is unreachable or answers 5xx."""


async def sign_in(
    endpoints: CloudEndpoints,
    tenant: str,
    client_id: str,
    scopes: list[str],
    show: Callable[[str], None],
) -> SignedIn:
    """Sign in by device code with msal, as the integration's auth/sign_in.py does.

    msal blocks, so it runs in threads; the authority comes from our cloud table or
    the user, so the public cloud is not asked to vouch for it.
    """

    def start() -> tuple[msal.PublicClientApplication, dict[str, Any]]:
        app = msal.PublicClientApplication(
            client_id, authority=endpoints.authority(tenant), instance_discovery=False
        )
        return app, app.initiate_device_flow(scopes=scopes)

    try:
        app, flow = await asyncio.to_thread(start)
    except MSAL_CONNECTION_ERRORS as err:
        raise SignInError(f"Entra ID could not be reached: {err}") from err
    except ValueError as err:
        raise SignInError(f"Entra ID knows no tenant {tenant!r}: {err}") from err
    if "user_code" not in flow:
        raise SignInError(entra_error(flow))
    show(str(flow["message"]))
    try:
        result: dict[str, Any] = await asyncio.to_thread(
            app.acquire_token_by_device_flow, flow
        )
    except asyncio.CancelledError:
        flow["expires_at"] = 0  # msal's polling thread ends within a second
        raise
    except MSAL_CONNECTION_ERRORS as err:
        raise SignInError(f"Entra ID could not be reached: {err}") from err
    if "access_token" not in result:
        raise SignInError(entra_error(result))
    return SignedIn(app, scopes, result)


class Secrets:
    """Every credential the check held, and what names the account, kept out of print."""

    def __init__(self) -> None:
        """Hold nothing yet."""
        self._values: set[str] = set()

    def add(self, *values: object) -> None:
        """Remember credentials (strings only; empty ones mean nothing)."""
        self._values.update(v for v in values if isinstance(v, str) and v)

    def redact(self, text: str) -> str:
        """Replace every credential (and anything shaped like a token) in ``text``."""
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        text = _BEARER.sub(f"Bearer {REDACTED}", text)
        return _JWT.sub(REDACTED, text)


class NotificationListener:
    """The small web server behind the external URL: Graph's handshake and notifications."""

    def __init__(self, receiver: NotificationReceiver, client_state: str) -> None:
        """Check what arrives with ``receiver`` against our ``client_state``."""
        self._receiver = receiver
        self._client_state = client_state
        self.validations = 0
        self.changes: list[float] = []
        """When each presence change arrived (``time.monotonic()``)."""
        self.rejections: list[str] = []
        self.changed = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{path:.*}", self._receive)
        # No access log: the handshake's URL carries Graph's validation token.
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port."""
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        """Stop listening."""
        await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        if (token := validation_token(request.query)) is not None:
            self.validations += 1
            return web.Response(text=token, content_type="text/plain")
        body = await request.read()
        for outcome in await self._receiver.receive(
            body, client_state=self._client_state
        ):
            if isinstance(outcome, PresenceChange):
                self.changes.append(time.monotonic())
                self.changed.set()
            elif isinstance(outcome, Rejected):
                self.rejections.append(outcome.reason.value)
        return web.Response(status=202)


@dataclass
class Changes:
    """What the check changed and has not undone yet, each marked before it is sent.

    A request interrupted in flight may still have reached Graph, so a change counts
    from the moment it is sent.
    """

    app_session: bool = False
    preferred: bool = False
    status_message_before: PresenceSnapshot | None = None
    """The presence read before the status message was changed, while it is."""
    subscription: Subscription | None = None
    subscribing_to: str | None = None
    """The notification URL of a creation sent but not answered."""
    user_id: str = ""


@dataclass
class Options:
    """What the user asked for."""

    client_id: str
    tenant: str
    endpoints: CloudEndpoints
    cloud: str
    notification_url: str | None = None
    listen: tuple[str, int] = ("127.0.0.1", 8765)
    notification_timeout: float = DEFAULT_NOTIFICATION_TIMEOUT
    preferred: bool = True


@dataclass
class LiveCheck:
    """The check's steps, what they changed, and the report."""

    options: Options
    log: RequestLog = field(default_factory=RequestLog)
    secrets: Secrets = field(default_factory=Secrets)
    steps: list[Step] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    signed_in: SignedIn | None = None
    client: GraphSubscriptionClient | None = None
    last_app_presence: AppPresence | None = None

    # Steps

    def step(self, name: str) -> StepRun:
        """Start one step: the requests sent until it ends are numbered with it."""
        step = Step(len(self.steps) + 1, name)
        self.steps.append(step)
        self.log.step = step.number
        return StepRun(step)

    def skip(self, name: str, why: str) -> None:
        """Say in the report that a step did not run, and why."""
        self.steps.append(Step(len(self.steps) + 1, name, Outcome.SKIPPED, why))

    @property
    def graph(self) -> GraphSubscriptionClient:
        """The Graph client, once signed in."""
        if self.client is None:
            raise RuntimeError("Not signed in")
        return self.client

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Sign in, then try each operation; what it changed stays in ``changes``."""
        options = self.options
        scopes = scopes_for(
            options.endpoints, notifications=options.notification_url is not None
        )
        with self.step("Sign in by device code") as step:
            self.signed_in = await sign_in(
                options.endpoints, options.tenant, options.client_id, scopes, progress
            )
            result = self.signed_in.result
            self.secrets.add(
                result.get("access_token"),
                result.get("refresh_token"),
                result.get("id_token"),
                self.signed_in.tenant_id,
            )
            step.detail = f"granted {result.get('scope', '')}"
        self.client = GraphSubscriptionClient(
            session,
            self._token,
            token_refresher=self._new_token,
            base_url=options.endpoints.graph_url,
        )
        before = await self.read("Read the presence before the check")
        for presence in AppPresence:
            await self.set_app_presence(presence)
        if options.preferred:
            await self.check_preferred_presence()
        else:
            self.skip("Preferred presence", "--skip-preferred")
        if before is not None:
            await self.check_status_message(before)
        else:
            self.skip("Status message", "the presence before could not be read")
        await self.read_work_location()
        if options.notification_url is not None:
            await self.check_notification(options.notification_url)
        await self.end_session()

    async def read(
        self, name: str, expected: tuple[str, str] | None = None
    ) -> PresenceSnapshot | None:
        """Read the presence; with ``expected``, say whether it shows that pair."""
        with self.step(name) as step:
            snapshot = await self.graph.get_presence()
            shown = (snapshot.raw_availability, snapshot.raw_activity)
            step.detail = f"shows {'/'.join(shown)}"
            if expected is not None and shown != expected:
                step.outcome = Outcome.DIFFERS
                step.detail += (
                    f", not {'/'.join(expected)}: another session, or a status you"
                    " chose in Teams, wins"
                )
            return snapshot
        return None

    async def set_app_presence(self, presence: AppPresence) -> None:
        """Set one app presence, then read it back."""
        pair = (presence.availability.value, presence.activity.value)
        with self.step(f"setPresence {'/'.join(pair)} for {_minutes(EXPIRATION)}"):
            self.changes.app_session = True
            await self.graph.set_presence(self.options.client_id, presence, EXPIRATION)
            self.last_app_presence = presence
        await self.read("Read it back", pair)

    async def check_preferred_presence(self) -> None:
        """Set the preferred presence, read it back, clear it, read again."""
        pair = (CHECK_PREFERRED.availability.value, CHECK_PREFERRED.activity.value)
        with self.step(
            f"setUserPreferredPresence {'/'.join(pair)} for {_minutes(EXPIRATION)}"
        ):
            self.changes.preferred = True
            await self.graph.set_preferred_presence(CHECK_PREFERRED, EXPIRATION)
        await self.read("Read it back", pair)
        with self.step("clearUserPreferredPresence"):
            await self.graph.clear_preferred_presence()
            self.changes.preferred = False
        last = self.last_app_presence
        await self.read(
            "Read it back",
            None if last is None else (last.availability.value, last.activity.value),
        )

    async def check_status_message(self, before: PresenceSnapshot) -> None:
        """Set a status message, read it back, then put back the one there was."""
        with self.step(
            f"setStatusMessage (a test message, for {_minutes(EXPIRATION)})"
        ) as step:
            self.changes.status_message_before = before
            await self.graph.set_status_message(
                CHECK_STATUS_MESSAGE, datetime.now(UTC) + EXPIRATION
            )
        if step.outcome is Outcome.FAILED:
            return
        with self.step("Read it back") as step:
            snapshot = await self.graph.get_presence()
            if snapshot.status_message == CHECK_STATUS_MESSAGE:
                step.detail = (
                    f"as set, expires {_time(snapshot.status_message_expires)}"
                )
            else:
                step.outcome, step.detail = Outcome.DIFFERS, "not the message set"
        await self.restore_status_message(before)

    async def restore_status_message(self, before: PresenceSnapshot) -> None:
        """Put back the status message there was (or none), then check it is back."""
        previous = before.status_message
        expires = before.status_message_expires
        if previous is None or (expires is not None and expires <= datetime.now(UTC)):
            with self.step("Restore: setStatusMessage back to none"):
                await self.graph.clear_status_message()
                self.changes.status_message_before = None
        else:
            with self.step(
                f"Restore: setStatusMessage back to the previous one (expires"
                f" {_time(expires)})"
            ):
                await self.graph.set_status_message(previous, expires)
                self.changes.status_message_before = None
        with self.step("Read it back") as step:
            snapshot = await self.graph.get_presence()
            if snapshot.status_message == previous and _same_second(
                snapshot.status_message_expires, expires
            ):
                step.detail = "as before"
            else:
                step.outcome, step.detail = Outcome.FAILED, "not as before"

    async def read_work_location(self) -> None:
        """Read the work location, as the integration's sensor does."""
        with self.step("Read the work location") as step:
            location = (await self.graph.get_presence()).work_location
            step.detail = (
                "not in Graph's answer"
                if location is None
                else f"{location.location_type.graph_value}"
                f" (source {location.source.graph_value})"
            )

    async def check_notification(self, url: str) -> None:
        """Subscribe to presence changes at ``url``, wait for one, unsubscribe."""
        options = self.options
        client_state = new_client_state()
        self.secrets.add(client_state)
        signed_in = self.user
        async with aiohttp.ClientSession() as keys_session:
            receiver = NotificationReceiver(
                client_id=options.client_id,
                tenant_id=signed_in.tenant_id,
                signing_keys=SigningKeys(
                    keys_session, signing_keys_url(options.endpoints.login_url)
                ),
            )
            listener = NotificationListener(receiver, client_state)
            host, port = options.listen
            with self.step(
                f"Listen on {host}:{port} (behind the notification URL)"
            ) as step:
                try:
                    await listener.start(host, port)
                except OSError as err:  # the port is taken, or the address not ours
                    step.outcome, step.detail = Outcome.FAILED, str(err)
                    return
            try:
                await self._subscribe_and_wait(url, client_state, listener)
            finally:
                await listener.stop()

    async def _subscribe_and_wait(
        self, url: str, client_state: str, listener: NotificationListener
    ) -> None:
        with self.step("Who am I (GET /me: the subscription names the user's id)"):
            self.changes.user_id = (await self.graph.get_user()).id
            self.secrets.add(self.changes.user_id)
        if not self.changes.user_id:
            return
        with self.step(
            f"Subscribe to presence changes (for {_minutes(SUBSCRIPTION_MIN_LIFETIME)})"
        ) as step:
            self.changes.subscribing_to = url
            try:
                subscription = await self.graph.create_presence_subscription(
                    self.changes.user_id,
                    url,
                    client_state=client_state,
                    lifetime=SUBSCRIPTION_MIN_LIFETIME,
                )
            except SubscriptionConflictError as err:
                # Another subscription of this app (Home Assistant's?): not ours to end.
                self.changes.subscribing_to = None
                step.outcome = Outcome.FAILED
                step.detail = (
                    f"{describe(err)}: this app already holds a presence subscription"
                    " for you (Home Assistant's, if it uses this app id); left alone"
                )
                return
            self.changes.subscription = subscription
            self.changes.subscribing_to = None
            step.detail = f"Graph's handshake answered {listener.validations} time(s)"
        if self.changes.subscription is None:
            return
        shown = await self.read("Read the presence")
        trigger = next(
            presence
            for presence in NOTIFICATION_TRIGGERS
            if shown is None
            or (presence.availability, presence.activity)
            != (shown.availability, shown.activity)
        )
        changed_at = time.monotonic()
        await self.set_app_presence(trigger)
        timeout = self.options.notification_timeout
        with self.step(
            f"Wait for a change notification (at most {timeout:g} s)"
        ) as step:
            progress(f"Waiting for a change notification, at most {timeout:g} s...")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await listener.changed.wait()
            if listener.changes:
                step.detail = (
                    f"arrived {listener.changes[0] - changed_at:.1f} s after the change"
                )
            else:
                step.outcome = Outcome.FAILED
                step.detail = "none arrived"
            if listener.rejections:
                step.detail += f"; rejected: {', '.join(listener.rejections)}"
        await self.delete_subscription()

    async def delete_subscription(self) -> None:
        """End the subscription the check created (or whose creation it interrupted)."""
        changes = self.changes
        if changes.subscription is None and changes.subscribing_to is not None:
            with self.step("Restore: look for the subscription being created"):
                found = await self.graph.find_presence_subscription(changes.user_id)
                if (
                    found is not None
                    and found.notification_url == changes.subscribing_to
                ):
                    changes.subscription = found
                changes.subscribing_to = None
        if (subscription := changes.subscription) is None:
            return
        with self.step("Delete the subscription") as step:
            step.detail = await _unless_gone(
                self.graph.delete_subscription(subscription.id)
            )
            changes.subscription = None

    async def end_session(self) -> None:
        """clearPresence: the app's session ends, as when the integration is removed."""
        with self.step("clearPresence (end the app's session)") as step:
            step.detail = await _unless_gone(
                self.graph.clear_presence(self.options.client_id)
            )
            self.changes.app_session = False
        await self.read("Read the presence after the check")

    async def restore(self) -> None:
        """Undo what ``run`` changed and did not undo (it was interrupted or failed)."""
        if self.client is None:
            return
        changes = self.changes
        if changes.subscription is not None or changes.subscribing_to is not None:
            await self.delete_subscription()
        if changes.preferred:
            with self.step("Restore: clearUserPreferredPresence"):
                await self.graph.clear_preferred_presence()
                changes.preferred = False
        if (before := changes.status_message_before) is not None:
            await self.restore_status_message(before)
        if changes.app_session:
            await self.end_session()

    # Sign-in tokens

    @property
    def user(self) -> SignedIn:
        """The sign-in, once done."""
        if self.signed_in is None:
            raise RuntimeError("Not signed in")
        return self.signed_in

    async def _token(self) -> str:
        return str(self.user.result["access_token"])

    async def _new_token(self) -> str:
        """Ask msal for a new access token (after a 401)."""
        signed_in = self.user
        app = signed_in.app
        accounts = await asyncio.to_thread(app.get_accounts)
        result = await asyncio.to_thread(
            app.acquire_token_silent_with_error,
            signed_in.scopes,
            account=accounts[0] if accounts else None,
            force_refresh=True,
        )
        if not result or "access_token" not in result:
            return await self._token()  # Graph's second 401 then fails the step
        self.secrets.add(result.get("access_token"), result.get("refresh_token"))
        signed_in.result = {**signed_in.result, **result}
        return str(result["access_token"])

    # Report

    def report(self, ended: str) -> str:
        """Return the markdown report, every credential the check held redacted."""
        options = self.options
        failed = [s for s in self.steps if s.outcome is Outcome.FAILED]
        finished = datetime.now(UTC)
        tenant = (
            options.tenant
            if options.tenant.lower() == WORK_OR_SCHOOL_TENANT
            else "yours (not shown)"
        )
        lines = [
            "## Teams Presence Keeper live check",
            "",
            f"- Outcome: **{ended}**; {len(self.steps)} steps, {len(failed)} failed",
            (
                f"- When: {self.started:%Y-%m-%d %H:%M:%S} UTC,"
                f" {(finished - self.started).total_seconds():.0f} s"
            ),
            (
                f"- Integration {_integration_version()}, Python"
                f" {platform.python_version()}, aiohttp {aiohttp.__version__},"
                f" msal {msal.__version__}"
            ),
            (
                f"- Graph {options.endpoints.graph_url} (cloud {options.cloud}),"
                f" sign-in {options.endpoints.login_url}, tenant {tenant}"
            ),
            f"- Notification check: {'yes' if options.notification_url else 'no'}",
            "",
            "### Steps",
            "",
            "| # | step | outcome | details |",
            "|---|---|---|---|",
            *(
                f"| {s.number} | {_cell(s.name)} | {s.outcome.value} |"
                f" {_cell(s.detail)} |"
                for s in self.steps
            ),
            "",
            "### Graph requests",
            "",
            (
                "| step | time (UTC) | method | path | status | ms | request-id"
                " | client-request-id |"
            ),
            "|---|---|---|---|---|---|---|---|",
            *map(_exchange_row, self.log.exchanges),
            "",
        ]
        return self.secrets.redact("\n".join(lines))


def describe(err: GraphError) -> str:
    """Say what Graph answered, in its own words."""
    status = f"{err.status} " if err.status else ""
    return f"{status}{err.code or type(err).__name__}: {err.message or '(no message)'}"


async def _unless_gone(removal: Awaitable[None]) -> str:
    """Remove something; Graph's 404 means it is gone already, which is as good."""
    try:
        await removal
    except GraphError as err:
        if err.status != HTTPStatus.NOT_FOUND:
            raise
        return "already gone (404)"
    return ""


def _exchange_row(exchange: Exchange) -> str:
    milliseconds = exchange.milliseconds
    stamp = f"{exchange.started:%H:%M:%S.%f}"[:-3]  # to the millisecond
    return (
        f"| {exchange.step} | {stamp} | {exchange.method} | {_cell(exchange.path)} |"
        f" {exchange.status} |"
        f" {'' if milliseconds is None else f'{milliseconds:.0f}'} |"
        f" {exchange.request_id} | {exchange.client_request_id} |"
    )


def _same_second(first: datetime | None, second: datetime | None) -> bool:
    """Whether two expiries agree, to the second Graph may round them to."""
    if first is None or second is None:
        return first is second
    return abs(first - second) < timedelta(seconds=1)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _minutes(duration: timedelta) -> str:
    return f"{duration.total_seconds() / 60:g} min"


def _time(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment.astimezone(UTC):%H:%M:%S} UTC"


def _integration_version() -> str:
    manifest = PACKAGE / "manifest.json"
    return str(json.loads(manifest.read_text())["version"])


def progress(text: str) -> None:
    """Tell the person at the terminal, outside the report (standard error)."""
    print(text, file=sys.stderr, flush=True)


def _listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def parse_arguments(argv: Iterable[str] | None = None) -> Options:
    """Read and check the command line (exits with a usage error, as argparse does)."""
    parser = argparse.ArgumentParser(
        prog="scripts/live-check",
        description=(
            "Try each presence operation the integration uses against Microsoft"
            " Graph, with your own app registration, and print a markdown report"
            " for a bug report. Everything changed is undone, also on Ctrl-C."
        ),
    )
    parser.add_argument(
        "--client-id", required=True, help="your app registration's application id"
    )
    parser.add_argument(
        "--tenant",
        default=WORK_OR_SCHOOL_TENANT,
        help="your tenant's id or domain (default: organizations, any work account)",
    )
    parser.add_argument(
        "--cloud",
        choices=[cloud.value for cloud in Cloud],
        default=Cloud.GLOBAL.value,
        help="the Microsoft cloud of your tenant (default: global)",
    )
    parser.add_argument(
        "--graph-url",
        help="a custom Graph address (with --login-url), as the"
        " integration's custom endpoints",
    )
    parser.add_argument("--login-url", help="a custom sign-in address")
    parser.add_argument(
        "--notification-url",
        help="also check change notifications: a public HTTPS address that forwards"
        " to --listen (a tunnel or reverse proxy); needs Presence.Read.All",
    )
    parser.add_argument(
        "--listen",
        type=_listen_address,
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"where the notification listener listens (default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--notification-timeout",
        type=float,
        default=DEFAULT_NOTIFICATION_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the notification"
        f" (default {DEFAULT_NOTIFICATION_TIMEOUT:g})",
    )
    parser.add_argument(
        "--skip-preferred",
        action="store_true",
        help="leave the preferred presence alone: a status you chose in Teams is"
        " one, and Graph cannot read it, so the check's clear would clear it too",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    if (args.graph_url is None) != (args.login_url is None):
        parser.error("--graph-url and --login-url go together")
    if args.graph_url is not None:
        endpoints = CloudEndpoints(args.graph_url, args.login_url)
        cloud = "custom"
    else:
        endpoints = CLOUD_ENDPOINTS[Cloud(args.cloud)]
        cloud = args.cloud
    for name, url in (
        ("--graph-url", endpoints.graph_url),
        ("--login-url", endpoints.login_url),
        ("--notification-url", args.notification_url),
    ):
        if url is not None and (wrong := endpoint_url_problem(url)) is not None:
            parser.error(
                f"{name}: {wrong.replace('_', ' ')} (https, or http to this machine)"
            )
    if (problem := tenant_problem(args.tenant, app_only=False)) is not None:
        parser.error(f"--tenant: {problem.replace('_', ' ')}")
    return Options(
        client_id=args.client_id,
        tenant=args.tenant,
        endpoints=endpoints,
        cloud=cloud,
        notification_url=args.notification_url,
        listen=args.listen,
        notification_timeout=args.notification_timeout,
        preferred=not args.skip_preferred,
    )


async def check(options: Options) -> int:
    """Run the check, undo its changes whatever happens, print the report.

    Ctrl-C or SIGTERM stops the steps; restoring then runs to its end (each request
    is bounded by the client's timeout), and a second signal only says so.
    """
    live = LiveCheck(options)
    # Not credentials, but what identifies the account: kept out of a public report.
    live.secrets.add(options.client_id)
    if options.tenant.lower() != WORK_OR_SCHOOL_TENANT:
        live.secrets.add(options.tenant)
    loop = asyncio.get_running_loop()
    interrupted: list[signal.Signals] = []
    async with aiohttp.ClientSession(trace_configs=[live.log.trace]) as session:
        steps = asyncio.create_task(live.run(session))

        def stop(signum: signal.Signals) -> None:
            if interrupted or steps.done():
                progress("Restoring your account, a moment please...")
                return
            interrupted.append(signum)
            progress(f"{signum.name}: stopping, then restoring your account...")
            steps.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop, signum)
        ended = "stopped by an error of the check itself (its traceback follows)"
        try:
            await steps
            ended = "completed"
        except asyncio.CancelledError:
            ended = (
                f"interrupted ({interrupted[0].name})" if interrupted else "cancelled"
            )
        except SignInError as err:
            live.steps[-1].outcome = Outcome.FAILED
            live.steps[-1].detail = str(err)
            ended = "sign-in failed"
        finally:
            await live.restore()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            print(live.report(ended), flush=True)
    if interrupted:
        return 128 + interrupted[0].value
    return 1 if any(s.outcome is Outcome.FAILED for s in live.steps) else 0


def main(argv: Iterable[str] | None = None) -> int:
    """Parse the command line and run the check."""
    options = parse_arguments(argv)
    progress(
        "The check sets your Teams presence, preferred presence and status message"
        " for a few minutes, then puts them back (Ctrl-C also puts them back)."
    )
    return asyncio.run(check(options))


if __name__ == "__main__":
    sys.exit(main())
