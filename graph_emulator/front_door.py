"""A user's public HTTPS address in front of a plain-HTTP Home Assistant, for the demo.

Graph posts change notifications only to HTTPS addresses it can reach. Users give
Home Assistant one with a reverse proxy or a tunnel that ends TLS and forwards to
it; this is that proxy, on loopback, with a certificate from the emulator's CA
(which the emulator's deliveries trust, as Graph trusts public CAs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import ClientError, ClientSession, ClientTimeout, web

FORWARD_TIMEOUT = ClientTimeout(total=30)
PASSED_HEADERS = ("Content-Type", "Accept")


SESSION = web.AppKey("session", ClientSession)


def front_door(target: str) -> web.Application:
    """Forward every request to ``target`` (scheme, host and port) and back."""

    async def forward(request: web.Request) -> web.Response:
        try:
            async with request.app[SESSION].request(
                request.method,
                f"{target}{request.rel_url}",
                data=await request.read(),
                headers={
                    name: request.headers[name]
                    for name in PASSED_HEADERS
                    if name in request.headers
                },
            ) as answer:
                return web.Response(
                    status=answer.status,
                    body=await answer.read(),
                    content_type=answer.content_type,
                )
        except (ClientError, TimeoutError):
            return web.Response(status=502, text="Home Assistant did not answer.")

    async def session(app: web.Application) -> AsyncIterator[None]:
        async with ClientSession(timeout=FORWARD_TIMEOUT) as app[SESSION]:
            yield

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", forward)
    app.cleanup_ctx.append(session)
    return app
