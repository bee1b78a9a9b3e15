"""Change notifications as Graph posts them to a webhook: checked first, then typed.

Anyone can post to a public webhook, so nothing in a notification is believed until
it passes the checks Microsoft documents: the ``clientState`` echoed (compared in
constant time), and for rich notifications the ``validationTokens`` (signed by Entra
ID for our app and tenant, issued by Graph's notification publisher, not expired) and
the encrypted content's signature. A failed check gives a ``Rejected`` with its reason,
never a change; a body no Graph would send (nested beyond recursion, text that is not
UTF-8) is one too, never an exception. A stranger's body costs a JSON parse and a
comparison: the tokens are checked only for items with our ``clientState``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
import hmac
import secrets
from typing import Any, Final

import jwt
from yarl import URL

from .encryption import (
    DecryptionError,
    DecryptionFailure,
    EncryptedContent,
    NotificationCertificate,
)
from .fields import MalformedPresenceError
from .models import PresenceSnapshot
from .signing_keys import (
    SIGNING_ALGORITHM,
    Clock,
    SigningKeys,
    SigningKeysUnavailableError,
    parse_json,
    utc_now,
)

GRAPH_NOTIFICATION_PUBLISHER: Final = "0bf30f3b-4a52-48df-9a82-234910c4a086"
"""The app id of Graph's change-notification publisher, in every validation token."""
VALIDATION_PARAMETER: Final = "validationToken"
CLOCK_SKEW: Final = timedelta(minutes=5)
"""Tolerated difference between Entra ID's clock and ours (Microsoft's default)."""
MAX_BATCH: Final = 1000
"""Notifications in one body, at most. Graph batches a few about one account's presence;
checking each item costs microseconds, so a body of half a million would hold the
event loop for seconds."""


def validation_token(query: Mapping[str, str]) -> str | None:
    """Return the token to echo when a POST is Graph's validation request, else None.

    Graph checks each notification URL by posting ``?validationToken=...``: answer
    200 with ``Content-Type: text/plain`` and the token (URL-decoded, as aiohttp's
    ``request.query`` gives it) as the body, within 10 seconds. A token that is not
    UTF-8 (a lone surrogate, which a cloudhook's relay can pass) cannot be echoed
    and was never Graph's: such a POST is no validation request.
    """
    token = query.get(VALIDATION_PARAMETER)
    return token if token is None or _is_text(token) else None


def _is_text(value: str) -> bool:
    """Whether ``value`` encodes as UTF-8 (JSON and URLs can carry lone surrogates)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def new_client_state() -> str:
    """Return a random ``clientState`` (Graph takes 128 characters): the webhook's secret."""
    return secrets.token_urlsafe(32)


class LifecycleEvent(StrEnum):
    """What a lifecycle notification asks of the subscriber.

    Presence subscriptions only get ``reauthorizationRequired`` (answer with
    ``reauthorize_subscription`` or a renewal); the others are parsed because a
    lifecycle URL may serve other resources too.
    """

    REAUTHORIZATION_REQUIRED = "reauthorizationRequired"
    SUBSCRIPTION_REMOVED = "subscriptionRemoved"
    MISSED = "missed"


class RejectionReason(StrEnum):
    """Why a notification was ignored: each one is a count worth showing."""

    MALFORMED = "malformed"
    """Not a notification body, or an item without the parts Graph always sends."""
    CLIENT_STATE = "client_state"
    """The clientState is not ours: not from our subscription."""
    JWT_MISSING = "validation_token_missing"
    """Encrypted content came without validation tokens."""
    JWT_INVALID = "validation_token_invalid"
    """A validation token is not an RS256 JWT with the claims Graph puts in it."""
    JWT_SIGNATURE = "validation_token_signature"
    """A validation token is not signed by one of Entra ID's keys."""
    JWT_LIFETIME = "validation_token_lifetime"
    """A validation token has expired (or is not valid yet)."""
    JWT_AUDIENCE = "validation_token_audience"
    """A validation token was issued for another app."""
    JWT_ISSUER = "validation_token_issuer"
    """A validation token was issued for another tenant."""
    JWT_PUBLISHER = "validation_token_publisher"
    """A validation token was not requested by Graph's notification publisher."""
    SIGNING_KEYS_UNAVAILABLE = "signing_keys_unavailable"
    """Entra ID's signing keys could not be fetched, so no token could be checked.

    Not a rejection: an item with our ``clientState`` is then read for, as a basic
    notification is (``PresenceChange.tokens_unchecked``).
    """
    UNKNOWN_CERTIFICATE = "unknown_certificate"
    """Encrypted for a certificate we don't hold."""
    DATA_KEY = "data_key"
    """The wrapped key does not unwrap with our private key."""
    DATA_SIGNATURE = "data_signature"
    """The encrypted data's HMAC is wrong: tampered with, so never decrypted."""
    DECRYPTION = "decryption"
    """The signed data does not decrypt."""
    MALFORMED_PRESENCE = "malformed_presence"
    """The decrypted resource is not a presence of the user the notification names."""
    REPLAYED = "replayed"
    """Encrypted content already received: a copy posted again while its tokens hold
    (or Graph retrying what it thought was lost), never news."""


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """The presence of ``user_id`` changed.

    ``presence`` is the new availability and activity from a rich notification, or
    None for a basic one (read the presence to learn what changed), and for a rich
    one whose validation tokens could not be checked (``tokens_unchecked``: Entra
    ID's signing keys are out of reach; its ``clientState`` is ours). A rich
    notification carries nothing else: its status message, out-of-office and other
    fields are defaults, not news; ``applied_to`` puts the change on the last read.
    """

    subscription_id: str
    user_id: str
    presence: PresenceSnapshot | None = None
    tokens_unchecked: bool = False

    def applied_to(self, snapshot: PresenceSnapshot) -> PresenceSnapshot:
        """Return ``snapshot`` with this change's availability and activity."""
        if self.presence is None:
            return snapshot
        return replace(
            snapshot,
            availability=self.presence.availability,
            activity=self.presence.activity,
            raw_availability=self.presence.raw_availability,
            raw_activity=self.presence.raw_activity,
        )


@dataclass(frozen=True, slots=True)
class LifecycleNotice:
    """Graph asks something of the subscriber (see ``LifecycleEvent``)."""

    subscription_id: str
    event: LifecycleEvent


@dataclass(frozen=True, slots=True)
class Rejected:
    """A notification that failed a check; ``subscription_id`` as claimed, if any."""

    reason: RejectionReason
    subscription_id: str | None = None


type Notification = PresenceChange | LifecycleNotice | Rejected


class NotificationReceiver:
    """Checks and reads the notification bodies posted to our webhook.

    One per account: the app (``client_id``) and tenant its validation tokens must
    name. Decrypting takes about a millisecond of CPU per notification, fine on the
    event loop.
    """

    def __init__(
        self,
        *,
        client_id: str,
        tenant_id: str,
        signing_keys: SigningKeys,
        clock: Clock = utc_now,
    ) -> None:
        """Check tokens against ``signing_keys`` at the time ``clock`` reads."""
        self._client_id = client_id
        self._tenant_id = tenant_id.lower()
        self._signing_keys = signing_keys
        self._clock = clock
        self._received: dict[str, float] = {}
        """The signature of each encrypted content received, until its tokens expire."""

    async def receive(
        self,
        body: bytes | str,
        *,
        client_state: str,
        certificates: Sequence[NotificationCertificate] = (),
    ) -> list[Notification]:
        """Return one outcome per item of a notification body, in order.

        ``client_state`` is the subscription's secret; ``certificates`` the ones a
        rich notification may be encrypted for (old and new while rotating).
        """
        try:
            payload = parse_json(body)
        except ValueError:
            return [Rejected(RejectionReason.MALFORMED)]
        if (
            not isinstance(payload, dict)
            or not isinstance(items := payload.get("value"), list)
            or not 0 < len(items) <= MAX_BATCH
        ):
            return [Rejected(RejectionReason.MALFORMED)]
        outcomes = [_read_item(item, client_state) for item in items]
        checked: RejectionReason | float | None = None
        if any(isinstance(outcome, _Encrypted) for outcome in outcomes):
            checked = await self._check_tokens(payload.get("validationTokens"))
        token_failure = checked if isinstance(checked, RejectionReason) else None
        by_id = {certificate.id: certificate for certificate in certificates}
        tokens_expire = checked if isinstance(checked, float) else 0.0
        return [
            self._first_received(
                outcome, _decrypted(outcome, by_id, token_failure), tokens_expire
            )
            if isinstance(outcome, _Encrypted)
            else outcome
            for outcome in outcomes
        ]

    def _first_received(
        self, item: _Encrypted, outcome: Notification, tokens_expire: float
    ) -> Notification:
        """Reject encrypted content received before, for as long as a copy could pass.

        A copy's tokens are the original's, so it is remembered until they expire
        (with the skew tolerated). Only content that decrypted counts: its
        signature was checked, so none of these entries is a stranger's.
        """
        if not isinstance(outcome, PresenceChange) or outcome.presence is None:
            return outcome
        now = self._clock().timestamp()
        self._received = {
            signature: until
            for signature, until in self._received.items()
            if until > now
        }
        signature = EncryptedContent.from_graph(item.content).data_signature
        if signature in self._received:
            return Rejected(RejectionReason.REPLAYED, outcome.subscription_id)
        self._received[signature] = tokens_expire + CLOCK_SKEW.total_seconds()
        return outcome

    async def _check_tokens(self, tokens: object) -> RejectionReason | float:
        """Check every validation token, as Microsoft asks; the first failure wins.

        All pass: when the last of them expires (a POSIX timestamp).
        """
        if not isinstance(tokens, list) or not tokens:
            return RejectionReason.JWT_MISSING
        expires = 0.0
        for token in tokens:
            checked = await self._check_token(token)
            if isinstance(checked, RejectionReason):
                return checked
            expires = max(expires, checked)
        return expires

    async def _check_token(self, token: object) -> RejectionReason | float:
        # A JWT is ASCII; PyJWT raises more than its own errors for anything else,
        # and recurses into a header nested deep.
        if not isinstance(token, str) or not token.isascii():
            return RejectionReason.JWT_INVALID
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, RecursionError):
            return RejectionReason.JWT_INVALID
        key_id = header.get("kid")
        if header.get("alg") != SIGNING_ALGORITHM or not isinstance(key_id, str):
            return RejectionReason.JWT_INVALID
        try:
            key = await self._signing_keys.get(key_id)
        except SigningKeysUnavailableError:
            return RejectionReason.SIGNING_KEYS_UNAVAILABLE
        if key is None:
            return RejectionReason.JWT_SIGNATURE
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[SIGNING_ALGORITHM],
                audience=self._client_id,
                # The lifetime is checked below, against our clock.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "aud", "iss"],
                },
            )
        except jwt.InvalidSignatureError:
            return RejectionReason.JWT_SIGNATURE
        except jwt.InvalidAudienceError:
            return RejectionReason.JWT_AUDIENCE
        except jwt.PyJWTError:
            return RejectionReason.JWT_INVALID
        return self._check_claims(claims)

    def _check_claims(self, claims: dict[str, Any]) -> RejectionReason | float:
        """Return why the claims fail, or when the token expires (a POSIX timestamp)."""
        now = self._clock().timestamp()
        skew = CLOCK_SKEW.total_seconds()
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int | float) or not isinstance(
            not_before, int | float
        ):
            return RejectionReason.JWT_INVALID
        if not not_before - skew <= now < expires + skew:
            return RejectionReason.JWT_LIFETIME
        if _issuer_tenant(claims.get("iss")) != self._tenant_id:
            return RejectionReason.JWT_ISSUER
        # Version 1 tokens name the requesting app `appid`, version 2 `azp`.
        if claims.get("appid", claims.get("azp")) != GRAPH_NOTIFICATION_PUBLISHER:
            return RejectionReason.JWT_PUBLISHER
        return float(expires)


def _issuer_tenant(issuer: object) -> str | None:
    """Return the tenant an Entra ID issuer names: ``https://{host}/{tenant}/[v2.0]``."""
    if not isinstance(issuer, str):
        return None
    try:
        url = URL(issuer)
    except ValueError:
        return None
    segments = [segment for segment in url.path.split("/") if segment]
    if url.scheme != "https" or not segments or segments[1:] not in ([], ["v2.0"]):
        return None
    return segments[0].lower()


@dataclass(frozen=True, slots=True)
class _Encrypted:
    """An item with our ``clientState`` whose presence is still to check and decrypt."""

    subscription_id: str
    user_id: str
    content: object


def _read_item(item: object, client_state: str) -> Notification | _Encrypted:
    """Check one item of ``value`` and say what it means, short of its encryption."""
    if not isinstance(item, dict) or not isinstance(
        subscription_id := item.get("subscriptionId"), str
    ):
        return Rejected(RejectionReason.MALFORMED)
    state = item.get("clientState")
    if not isinstance(state, str) or not hmac.compare_digest(
        state.encode(errors="surrogatepass"), client_state.encode()
    ):
        return Rejected(RejectionReason.CLIENT_STATE, subscription_id)
    if "lifecycleEvent" in item:
        try:
            return LifecycleNotice(
                subscription_id, LifecycleEvent(item["lifecycleEvent"])
            )
        except ValueError:
            return Rejected(RejectionReason.MALFORMED, subscription_id)
    resource = item.get("resourceData")
    user_id = resource.get("id") if isinstance(resource, dict) else None
    if not isinstance(user_id, str) or not user_id:
        return Rejected(RejectionReason.MALFORMED, subscription_id)
    if (encrypted := item.get("encryptedContent")) is None:
        return PresenceChange(subscription_id, user_id)
    return _Encrypted(subscription_id, user_id, encrypted)


def _decrypted(
    item: _Encrypted,
    certificates: Mapping[str, NotificationCertificate],
    token_failure: RejectionReason | None,
) -> Notification:
    """Decrypt an item's presence, once its tokens passed (or could not be checked)."""
    subscription_id, user_id = item.subscription_id, item.user_id
    if token_failure is RejectionReason.SIGNING_KEYS_UNAVAILABLE:
        # Our clientState, as a basic notification's: read what changed.
        return PresenceChange(subscription_id, user_id, tokens_unchecked=True)
    if token_failure is not None:
        return Rejected(token_failure, subscription_id)
    try:
        content = EncryptedContent.from_graph(item.content)
    except ValueError:
        return Rejected(RejectionReason.MALFORMED, subscription_id)
    try:
        presence = _decrypt_presence(content, certificates, user_id)
    except DecryptionError as err:
        return Rejected(RejectionReason(err.failure), subscription_id)
    except (MalformedPresenceError, ValueError):
        return Rejected(RejectionReason.MALFORMED_PRESENCE, subscription_id)
    return PresenceChange(subscription_id, user_id, presence)


def _decrypt_presence(
    content: EncryptedContent,
    certificates: Mapping[str, NotificationCertificate],
    user_id: str,
) -> PresenceSnapshot:
    """Decrypt a rich notification's presence; ``ValueError`` if it is not one."""
    certificate = certificates.get(content.certificate_id)
    if certificate is None:
        raise DecryptionError(DecryptionFailure.UNKNOWN_CERTIFICATE)
    data = parse_json(certificate.decrypt(content))
    if not isinstance(data, dict) or str(data.get("id", "")).lower() != user_id.lower():
        raise ValueError("The decrypted presence is not the notified user's")
    return PresenceSnapshot.from_graph(data)
