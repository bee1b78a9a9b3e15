"""Entra ID's token-signing keys, which the validation tokens of rich notifications name.

Fetched from the sign-in authority's JWKS document when needed, cached, and never
fetched so often that forged key ids or an outage would hammer Entra ID.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import json
from typing import Final

from aiohttp import ClientError, ClientSession, ClientTimeout
import jwt

type Clock = Callable[[], datetime]

SIGNING_KEYS_MAX_AGE: Final = timedelta(hours=6)
"""Entra ID rotates its signing keys about daily; a cached set is fetched again after this."""
KEYS_REFETCH_INTERVAL: Final = timedelta(minutes=5)
"""The keys are fetched at most this often, whatever tokens name or outages do."""
SIGNING_ALGORITHM: Final = "RS256"
_FETCH_TIMEOUT: Final = 10.0


def utc_now() -> datetime:
    """Read the time at each call, so that a frozen clock in tests applies."""
    return datetime.now(UTC)


def parse_json(text: bytes | str) -> object:
    """Parse JSON; ``ValueError`` for anything else, a body nested too deep included."""
    try:
        return json.loads(text)
    except RecursionError as err:
        raise ValueError("JSON nested deeper than Python recurses") from err


def signing_keys_url(login_url: str) -> str:
    """Where the sign-in authority at ``login_url`` publishes its signing keys (JWKS)."""
    return f"{login_url.rstrip('/')}/common/discovery/v2.0/keys"


class SigningKeysUnavailableError(Exception):
    """The signing keys could not be fetched and none are cached."""


class SigningKeys:
    """Entra ID's token-signing keys (a JWKS document), fetched when needed.

    Kept for ``max_age``, and fetched again sooner when a token names a key not
    in the set; never more often than ``KEYS_REFETCH_INTERVAL``, so that neither
    forged key ids nor an outage make us hammer Entra ID. While a fetch fails the
    keys already known still serve.
    """

    def __init__(
        self,
        session: ClientSession,
        url: str,
        *,
        max_age: timedelta = SIGNING_KEYS_MAX_AGE,
        clock: Clock = utc_now,
    ) -> None:
        """Fetch from ``url`` (see ``signing_keys_url``) through ``session``."""
        self._session = session
        self._url = url
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: datetime | None = None
        self._tried_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def get(self, key_id: str) -> jwt.PyJWK | None:
        """Return the key with ``key_id``, or None when Entra ID publishes none.

        Raises ``SigningKeysUnavailableError`` when the keys cannot be fetched and
        none are cached.
        """
        async with self._lock:
            now = self._clock()
            if self._fetch_due(key_id, now):
                await self._fetch(now)
            elif not self._keys:
                raise SigningKeysUnavailableError("The last fetch failed moments ago")
            return self._keys.get(key_id)

    def _fetch_due(self, key_id: str, now: datetime) -> bool:
        """Whether to fetch; a time ahead of ``now`` (the clock set back) is long ago."""
        tried = self._tried_at
        if tried is not None and timedelta(0) <= now - tried < KEYS_REFETCH_INTERVAL:
            return False
        fetched = self._fetched_at
        return (
            fetched is None
            or not timedelta(0) <= now - fetched < self._max_age
            or key_id not in self._keys
        )

    async def _fetch(self, now: datetime) -> None:
        self._tried_at = now
        try:
            self._keys = await self._fetch_keys()
        except (ClientError, TimeoutError, ValueError) as err:
            if not self._keys:
                raise SigningKeysUnavailableError(str(err)) from err
            return  # the cached keys stand until a fetch succeeds
        self._fetched_at = now

    async def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        """Fetch the key set; ``ValueError`` for a document that is not one."""
        async with self._session.get(
            self._url, timeout=ClientTimeout(total=_FETCH_TIMEOUT)
        ) as response:
            response.raise_for_status()
            document = parse_json(await response.read())
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            # A document of the wrong shape, as a body that is not JSON: ValueError.
            raise ValueError("The signing keys document holds no list of keys")  # noqa: TRY004
        return {
            key.key_id: key
            for key in map(_parse_key, keys)
            if key is not None and isinstance(key.key_id, str) and key.key_id
        }


def _parse_key(item: object) -> jwt.PyJWK | None:
    """Read one RSA signing key; anything else in the set is not for us.

    PyJWT raises more than its own errors for fields of the wrong type.
    """
    if not isinstance(item, dict) or item.get("kty") != "RSA":
        return None
    try:
        return jwt.PyJWK(item, algorithm=SIGNING_ALGORITHM)
    except (jwt.PyJWTError, TypeError, ValueError):
        return None
