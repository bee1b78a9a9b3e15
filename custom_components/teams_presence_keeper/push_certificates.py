"""The certificates Graph encrypts rich notifications for: the newest, and the one before.

Rotated before the newest expires; the one before is kept while a notification
encrypted for it may still come (Graph retries a delivery for up to 4 hours after
the subscription moved to the new one).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .const import LOGGER
from .graph import NotificationCertificate

PREVIOUS_CERTIFICATE_KEPT = timedelta(hours=4)
"""Graph retries a failed delivery this long: after the subscription moved to a new
certificate, a notification encrypted for the previous one may still come."""


def _stored_certificates(stored: dict[str, Any]) -> list[NotificationCertificate]:
    """In the executor: the stored certificates (a new one if none), newest first.

    One due for rotation is kept: the subscription may still name it, and the
    renewal rotates it, keeping it as the previous one.
    """
    certificates = []
    for key in ("certificate", "previous_certificate"):
        if not (data := stored.get(key)):
            continue
        try:
            certificates.append(NotificationCertificate.from_storage(data))
        except ValueError:
            LOGGER.warning("A stored notification certificate is unreadable")
    return certificates or [NotificationCertificate.generate()]


class CertificateRing:
    """One account's notification certificates, newest first."""

    def __init__(self) -> None:
        """Hold none until loaded."""
        self.certificates: list[NotificationCertificate] = []
        """The newest first; the one before stays while notifications use it."""
        self._previous_until: datetime | None = None
        """When the previous certificate goes: set once the subscription left it."""

    @property
    def newest(self) -> NotificationCertificate:
        """The certificate a new subscription names."""
        return self.certificates[0]

    async def async_load(self, hass: HomeAssistant, stored: dict[str, Any]) -> None:
        """Read the stored certificates (keys generated in the executor if none)."""
        self.certificates = await hass.async_add_executor_job(
            _stored_certificates, stored
        )
        if len(self.certificates) > 1 and (until := stored.get("previous_until")):
            self._previous_until = dt_util.parse_datetime(until)

    async def async_current(
        self, hass: HomeAssistant
    ) -> tuple[NotificationCertificate, bool]:
        """Rotate the newest before it expires; drop the previous once it is unused.

        Returns the certificate to subscribe with, and whether what is stored changed.
        """
        now = dt_util.utcnow()
        changed = False
        if self._previous_until is not None and now >= self._previous_until:
            del self.certificates[1:]
            self._previous_until = None
            changed = True
        if self.certificates[0].needs_rotation(now):
            new = await hass.async_add_executor_job(NotificationCertificate.generate)
            self.certificates = [new, self.certificates[0]]
            self._previous_until = None
        return self.certificates[0], changed

    def subscription_uses(self, certificate_id: str | None) -> None:
        """Graph holds a subscription naming ``certificate_id``: the previous one's time runs."""
        if (
            len(self.certificates) > 1
            and self._previous_until is None
            and certificate_id != self.certificates[1].id
        ):
            self._previous_until = dt_util.utcnow() + PREVIOUS_CERTIFICATE_KEPT

    def as_dict(self) -> dict[str, Any]:
        """Return the certificates as the push store keeps them."""
        previous = self.certificates[1:]
        return {
            "certificate": self.certificates[0].to_storage(),
            "previous_certificate": previous[0].to_storage() if previous else None,
            "previous_until": self._previous_until.isoformat()
            if previous and self._previous_until
            else None,
        }
