"""Request bodies as the routes and the request log read them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

FORM = "application/x-www-form-urlencoded"


async def read_form(request: web.Request) -> dict[str, str]:
    """Return the fields of a form post; anything else has none."""
    if request.content_type != FORM:
        return {}
    return dict(parse_qsl(await request.text(), keep_blank_values=True))


async def read_body(request: web.Request) -> Any:
    """Return form fields, parsed JSON, the raw text when it is not JSON, or None."""
    if request.content_type == FORM:
        return await read_form(request)
    raw = await request.text()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw
