"""Carries out the failure policy's remedies on Home Assistant's side, in one place.

``policy.py`` chooses what to do about a failure; this module does it: the caller's
translated error, a repair issue for what the user alone can fix (a missing
permission, an app registration setting, what Instant updates needs), signing in
again, and storing the wait Graph asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container
from datetime import datetime

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .policy import (
    ISSUE_APP_REGISTRATION,
    ISSUE_INSTANT_UPDATES_ADDRESS,
    ISSUE_INSTANT_UPDATES_CONSENT,
    ISSUE_INSTANT_UPDATES_UNREACHABLE,
    ISSUE_MISSING_PERMISSION,
    FailurePolicy,
    Operation,
    Remedy,
)

RECENT_ERRORS = 10
ISSUE_PERSON_MISSING = "person_missing"
"""A followed person Graph reads nothing for: they left the directory."""
INSTANT_UPDATES_ISSUES = (ISSUE_INSTANT_UPDATES_CONSENT, ISSUE_INSTANT_UPDATES_ADDRESS)
"""Why Instant updates cannot work: presence is polled meanwhile."""
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


class AccountProblems:
    """One account's recent failures and the repair issues they raised."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client_id: str,
        policy: FailurePolicy,
        save: Callable[[], None],
    ) -> None:
        """Track failures of ``entry``, whose app registration is ``client_id``.

        ``policy`` chooses each remedy; ``save`` stores the account's state, the
        wait Graph asked for included.
        """
        self.hass = hass
        self.entry = entry
        self.client_id = client_id
        self.policy = policy
        self._save = save
        self.recent: deque[str] = deque(maxlen=RECENT_ERRORS)
        """The last failures, for diagnostics."""

    @callback
    def failed(
        self,
        err: Exception,
        operation: Operation,
        *,
        next_due: datetime | None = None,
        **placeholders: str,
    ) -> Remedy:
        """Ask the policy what a failure of ``operation`` calls for, and carry it out.

        ``next_due``: see `FailurePolicy.failed`; ``placeholders``: `carry_out`.
        """
        remedy = self.policy.failed(err, operation, dt_util.utcnow(), next_due=next_due)
        return self.carry_out(remedy, err, **placeholders)

    @callback
    def carry_out(
        self, remedy: Remedy, err: BaseException | None, **placeholders: str
    ) -> Remedy:
        """Do on Home Assistant's side what ``remedy`` of ``err`` says; return it.

        Notes the failure (``None``: none, a state), raises its repair
        (``placeholders`` complete the repair's words), stores the wait Graph asked for, and starts signing in
        again; a read signs in again by raising ``error()``'s answer instead, as
        Home Assistant's coordinator wants.
        """
        if remedy.done:
            return remedy
        if err is not None:
            self.recent.append(
                f"{dt_util.utcnow().isoformat()} {type(err).__name__}: {remedy.reason}"
            )
        if (repair := remedy.repair) is not None:
            self._raise_issue(
                repair.issue,
                repair.translation_key,
                severity=ir.IssueSeverity.WARNING
                if repair.warning
                else ir.IssueSeverity.ERROR,
                **({"client_id": self.client_id} if repair.names_app else {}),
                **{key: placeholders[key] for key in repair.named},
            )
        if remedy.store:
            self._save()
        if remedy.sign_in_again and remedy.operation is not Operation.READ:
            self.entry.async_start_reauth(self.hass)
        return remedy

    @staticmethod
    def error(remedy: Remedy) -> HomeAssistantError:
        """Return the caller's translated error (``remedy.error_key``).

        A read fails with what Home Assistant's coordinator carries out:
        ``ConfigEntryAuthFailed`` signs in again, ``UpdateFailed`` marks it failed.
        """
        error: type[HomeAssistantError] = HomeAssistantError
        if remedy.operation is Operation.READ:
            error = ConfigEntryAuthFailed if remedy.sign_in_again else UpdateFailed
        return error(
            translation_domain=DOMAIN,
            translation_key=remedy.error_key,
            translation_placeholders={
                key: _local_time(value) if isinstance(value, datetime) else value
                for key, value in remedy.placeholders.items()
            }
            or None,
        )

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
    def person_missing(self, user_id: str, name: str) -> None:
        """Raise the repair that says a followed person left the directory."""
        if self.hass.config_entries.async_get_entry(self.entry.entry_id) is None:
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            person_issue_id(self.entry, user_id),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_PERSON_MISSING,
            translation_placeholders={"account": self.entry.title, "person": name},
        )

    @callback
    def person_back(self, user_id: str) -> None:
        """Graph read a followed person again: their repair is over."""
        ir.async_delete_issue(self.hass, DOMAIN, person_issue_id(self.entry, user_id))

    @callback
    def instant_updates_address_missing(self) -> None:
        """Raise the repair that says Instant updates need an address; polling goes on."""
        self._raise_issue(
            ISSUE_INSTANT_UPDATES_ADDRESS,
            ISSUE_INSTANT_UPDATES_ADDRESS,
            severity=ir.IssueSeverity.WARNING,
            client_id=self.client_id,
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


def _local_time(moment: datetime) -> str:
    """Say a moment as the user's clock shows it."""
    return dt_util.as_local(moment).strftime("%H:%M:%S")


def issue_id(kind: str, entry: ConfigEntry) -> str:
    """Name an entry's repair issue of one kind."""
    return f"{kind}_{entry.entry_id}"


def person_issue_id(entry: ConfigEntry, user_id: str) -> str:
    """Name the repair of one followed person who left the directory."""
    return f"{ISSUE_PERSON_MISSING}_{entry.entry_id}_{user_id}"


@callback
def async_delete_people_issues(
    hass: HomeAssistant, entry: ConfigEntry, followed: Container[str] = ()
) -> None:
    """Remove the repairs of people ``entry`` no longer follows."""
    prefix = person_issue_id(entry, "")
    for domain, issue in list(ir.async_get(hass).issues):
        if (
            domain == DOMAIN
            and issue.startswith(prefix)
            and issue.removeprefix(prefix) not in followed
        ):
            ir.async_delete_issue(hass, DOMAIN, issue)


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
    async_delete_people_issues(hass, entry)
