"""What a user sees of a failure: a translated error, or a repair issue.

A translated error goes to whoever asked; a repair issue is raised only for what the
user alone can fix (a missing permission, an app registration setting).

``failures.classify()`` says what kind a failure is; this module says it to the user.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .auth.errors import AppRegistrationError
from .const import DOMAIN
from .failures import Failure, classify, message, reason

RECENT_ERRORS = 10
ISSUE_MISSING_PERMISSION = "missing_permission"
ISSUE_APP_REGISTRATION = "app_registration"
ISSUE_INSTANT_UPDATES_CONSENT = "instant_updates_consent"
ISSUE_INSTANT_UPDATES_ADDRESS = "instant_updates_address"
INSTANT_UPDATES_ISSUES = (ISSUE_INSTANT_UPDATES_CONSENT, ISSUE_INSTANT_UPDATES_ADDRESS)
"""Why Instant updates cannot work: presence is polled meanwhile."""
ISSUE_INSTANT_UPDATES_UNREACHABLE = "instant_updates_unreachable"
"""The address repair's words when Graph could not reach the external URL."""
ISSUE_LEARN_MORE = {
    ISSUE_MISSING_PERMISSION: (
        "https://learn.microsoft.com/graph/api/presence-setpresence#permissions"
    ),
    "public_client_disabled": (
        "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code"
    ),
    ISSUE_INSTANT_UPDATES_CONSENT: (
        "https://learn.microsoft.com/graph/api/subscription-post-subscriptions#permissions"
    ),
    ISSUE_INSTANT_UPDATES_ADDRESS: (
        "https://www.home-assistant.io/docs/configuration/remote/"
    ),
    ISSUE_INSTANT_UPDATES_UNREACHABLE: (
        "https://www.home-assistant.io/docs/configuration/remote/"
    ),
}
"""Microsoft's page on each repair issue's fix, by the issue's translation key."""

_CALLER_ERRORS = {
    Failure.SIGN_IN: "sign_in_required",
    Failure.THROTTLED: "graph_unreachable",
    Failure.TRANSIENT: "graph_unreachable",
    Failure.APP_REGISTRATION: "graph_unreachable",
}
"""The translated error a caller sees, by kind; any other is Graph's refusal."""


class AccountProblems:
    """One account's recent failures and the repair issues they raised."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, client_id: str) -> None:
        """Track failures of ``entry``, whose app registration is ``client_id``."""
        self.hass = hass
        self.entry = entry
        self.client_id = client_id
        self.recent: deque[str] = deque(maxlen=RECENT_ERRORS)
        """The last failures, for diagnostics."""

    def record(self, err: Exception) -> Failure:
        """Note a failure and return its kind; raise a repair if the user can fix it."""
        failure = classify(err)
        self.recent.append(
            f"{dt_util.utcnow().isoformat()} {type(err).__name__}: {reason(err)}"
        )
        if failure is Failure.MISSING_PERMISSION:
            self._raise_issue(ISSUE_MISSING_PERMISSION, ISSUE_MISSING_PERMISSION)
        elif isinstance(err, AppRegistrationError):
            self._raise_issue(
                ISSUE_APP_REGISTRATION, err.problem, client_id=self.client_id
            )
        return failure

    @callback
    def resolved(self, *, wrote: bool) -> None:
        """Graph accepted a request, so sign-in works: its repair is fixed.

        The missing permission is fixed only when Graph accepts a write: a read
        needs less. Deleted even if another coordinator (before a reload or a
        retried setup) raised them.
        """
        kinds = [ISSUE_APP_REGISTRATION]
        if wrote:
            kinds.append(ISSUE_MISSING_PERMISSION)
        for kind in kinds:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(kind, self.entry))

    @callback
    def instant_updates_blocked(self, kind: str) -> None:
        """Raise the repair that says what Instant updates needs; polling goes on."""
        self._raise_issue(
            kind, kind, severity=ir.IssueSeverity.WARNING, client_id=self.client_id
        )

    @callback
    def instant_updates_unreachable(self, url: str) -> None:
        """Raise the address repair: Graph's handshake with ``url`` failed."""
        self._raise_issue(
            ISSUE_INSTANT_UPDATES_ADDRESS,
            ISSUE_INSTANT_UPDATES_UNREACHABLE,
            severity=ir.IssueSeverity.WARNING,
            client_id=self.client_id,
            url=url,
        )

    @callback
    def instant_updates_work(self) -> None:
        """Graph accepted the subscription: nothing is missing any more."""
        async_delete_instant_updates_issues(self.hass, self.entry)

    def _raise_issue(
        self,
        kind: str,
        translation_key: str,
        *,
        severity: ir.IssueSeverity = ir.IssueSeverity.ERROR,
        **placeholders: str,
    ) -> None:
        """Raise a repair, unless the account is gone.

        A write that lands after removal would leave one that nothing deletes.
        """
        if self.hass.config_entries.async_get_entry(self.entry.entry_id) is None:
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id(kind, self.entry),
            is_fixable=False,
            severity=severity,
            translation_key=translation_key,
            translation_placeholders={"account": self.entry.title, **placeholders},
            learn_more_url=ISSUE_LEARN_MORE[translation_key],
        )


def caller_error(err: Exception) -> HomeAssistantError:
    """Translate a failure for whoever asked."""
    key, placeholders = message(
        err, _CALLER_ERRORS.get(classify(err), "graph_rejected")
    )
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
    )


def throttled_error(until: datetime | None) -> HomeAssistantError:
    """Tell whoever asked that Graph asked to wait, and until when."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="throttled_until",
        translation_placeholders={
            "time": dt_util.as_local(until or dt_util.utcnow()).strftime("%H:%M:%S")
        },
    )


def issue_id(kind: str, entry: ConfigEntry) -> str:
    """Name an entry's repair issue of one kind."""
    return f"{kind}_{entry.entry_id}"


@callback
def async_delete_instant_updates_issues(
    hass: HomeAssistant, entry: ConfigEntry
) -> None:
    """Remove what Instant updates asked of the user: it works, or it is off."""
    for kind in INSTANT_UPDATES_ISSUES:
        ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry))


@callback
def async_delete_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove an entry's repair issues: a removed account has nothing to fix."""
    for kind in (
        ISSUE_MISSING_PERMISSION,
        ISSUE_APP_REGISTRATION,
        *INSTANT_UPDATES_ISSUES,
    ):
        ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry))
