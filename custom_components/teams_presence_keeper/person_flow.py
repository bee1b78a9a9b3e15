"""Add a person to follow: a config subentry of the account, found in its directory.

user (a name or an e-mail address) -> pick (when a name was searched) -> the person,
stored by object id. A delegated sign-in without the permissions following people
needs goes to ``consent`` first, which asks to sign in again. Reconfigure picks the
person again the same way; rename and delete are Home Assistant's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigSubentryFlow,
    SubentryFlowResult,
    UnknownEntry,
)
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .auth.entry import (
    DELEGATED_METHODS,
    lacks_people_consent,
    wants_instant_updates,
)
from .const import (
    CONF_ANYONE_BUSY,
    CONF_AUTH_METHOD,
    CONF_DISPLAY_NAME,
    CONF_FOLLOW_PEOPLE,
    CONF_MAIL,
    CONF_USER_ID,
    PEOPLE_APP_PERMISSIONS,
    PEOPLE_SCOPES,
    SUBENTRY_PERSON,
)
from .graph import DirectoryPerson, GraphPresenceClient
from .people import followed_people
from .policy import FAILURES
from .push_freshness import PUSHED_PEOPLE_AT_MOST, pushes_everyone
from .remedies import Operation, Remedy
from .runtime import TeamsPresenceAccount, TeamsPresenceConfigEntry

CONF_QUERY: Final = "query"
CONF_PERSON: Final = "person"
CONF_USER_PRINCIPAL_NAME: Final = "user_principal_name"
SEARCH_LIMIT: Final = 25
"""People offered to pick from: enough for a common name, short enough to read."""

QUERY_SCHEMA: Final = vol.Schema({vol.Required(CONF_QUERY): TextSelector()})


def running_account(
    entry: TeamsPresenceConfigEntry | None,
) -> TeamsPresenceAccount | None:
    """Return the running account; ``None`` when not loaded, or removed."""
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        return None
    return entry.runtime_data


def person_title(person: DirectoryPerson) -> str:
    """Name a person as the directory does, or by address when it has no name."""
    return person.display_name or person.mail or person.user_principal_name or person.id


def _label(person: DirectoryPerson) -> str:
    """Show a search result: the name, and the address that tells namesakes apart."""
    address = person.mail or person.user_principal_name
    return f"{person_title(person)} ({address})" if address else person_title(person)


class PersonSubentryFlow(ConfigSubentryFlow):
    """Find someone in the account's directory and follow them."""

    def __init__(self) -> None:
        """Start with nobody found."""
        self._query = ""
        self._found: dict[str, DirectoryPerson] = {}
        self._reason = ""
        """Graph's words for the last failure, shown with its form error."""
        self._named: dict[str, str] = {}
        """What the last failed sign-in's words name (the host of a refused certificate)."""

    @property
    def _entry(self) -> TeamsPresenceConfigEntry:
        entry: TeamsPresenceConfigEntry = self._get_entry()
        return entry

    @property
    def _known_entry(self) -> TeamsPresenceConfigEntry | None:
        """The account, unless it was removed while the flow was open."""
        entry: TeamsPresenceConfigEntry | None = (
            self.hass.config_entries.async_get_entry(self.handler[0])
        )
        return entry

    @property
    def _delegated(self) -> bool:
        return self._entry.data[CONF_AUTH_METHOD] in DELEGATED_METHODS

    @property
    def _query_step(self) -> str:
        return "reconfigure" if self.source == SOURCE_RECONFIGURE else "user"

    def _placeholders(self) -> dict[str, str]:
        return {
            "account": entry.title if (entry := self._known_entry) else "",
            "scopes": ", ".join(PEOPLE_SCOPES),
            "permissions": ", ".join(PEOPLE_APP_PERMISSIONS),
            "reason": self._reason,
            "most": str(PUSHED_PEOPLE_AT_MOST),
            "people": str(len(followed_people(entry))) if entry else "",
            **self._named,
        }

    def _full(self) -> bool:
        """Whether Instant updates already carries as many people as Graph allows.

        One more would be left out of the account's one subscription (Graph names
        650 ids in it, the account's own among them). Picking someone again adds
        nobody.
        """
        return (
            self.source != SOURCE_RECONFIGURE
            and wants_instant_updates(self._entry)
            and not pushes_everyone(len(followed_people(self._entry)) + 1)
        )

    def _abort(self, reason: str) -> SubentryFlowResult:
        return self.async_abort(
            reason=reason, description_placeholders=self._placeholders()
        )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a name to search or an e-mail address to look up."""
        return await self._async_step_query(user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Pick the person again: another namesake, or fresh details of the same one."""
        if user_input is None:
            data = self._get_reconfigure_subentry().data
            self._query = data.get(CONF_MAIL) or data.get(CONF_DISPLAY_NAME) or ""
        return await self._async_step_query(user_input)

    async def _async_step_query(
        self, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        if (account := running_account(self._known_entry)) is None:
            return self._abort("not_loaded")
        if self._full():
            return self._abort("instant_updates_full")
        if self._delegated and lacks_people_consent(self._entry):
            return await self.async_step_consent()
        if user_input is None:
            return self._show_query_form({})
        self._query = user_input[CONF_QUERY].strip()
        return await self._async_asking(account, self._async_search)

    async def _async_asking(
        self,
        account: TeamsPresenceAccount,
        step: Callable[[GraphPresenceClient], Awaitable[SubentryFlowResult]],
    ) -> SubentryFlowResult:
        """Run a step that asks Graph, under the account's wait.

        Nothing is sent while Graph asks the account to wait; a 429 here makes
        every request of the account wait, and a sign-in found gone is asked for,
        as a one-off action's are. An account removed meanwhile ends the flow.
        """
        if (
            held := account.policy.held(Operation.FIND_PERSON, dt_util.utcnow())
        ) is not None:
            return self._told(held)
        try:
            try:
                return await step(account.client)
            except FAILURES as err:
                return await self._async_failed(account, err)
        except UnknownEntry:  # the account was removed while Graph answered
            return self._abort("not_loaded")

    async def _async_search(self, client: GraphPresenceClient) -> SubentryFlowResult:
        """Look the query up: an e-mail address by itself, else a search to pick from."""
        if "@" in self._query:
            return await self._async_chosen(
                client, await client.find_person(self._query)
            )
        people = await client.search_people(self._query, limit=SEARCH_LIMIT)
        own = self._entry.data[CONF_USER_ID]
        self._found = {person.id: person for person in people if person.id != own}
        if not self._found:
            return self._show_query_form(
                {"base": "own_account" if people else "person_not_found"}
            )
        return await self.async_step_pick()

    def _show_query_form(self, errors: dict[str, str]) -> SubentryFlowResult:
        return self.async_show_form(
            step_id=self._query_step,
            data_schema=self.add_suggested_values_to_schema(
                QUERY_SCHEMA, {CONF_QUERY: self._query}
            ),
            errors=errors,
            description_placeholders=self._placeholders(),
        )

    async def _async_failed(
        self, account: TeamsPresenceAccount, err: Exception
    ) -> SubentryFlowResult:
        """Carry out the policy's remedy: sign in again, consent, or say why.

        Through the account's own carrier: a 429 makes the whole account wait, a
        sign-in found gone is asked for, and the failure is in its diagnostics.
        """
        remedy = account.problems.failed(err, Operation.FIND_PERSON)
        if remedy.sign_in_again:
            return self._abort("sign_in_again")
        if remedy.consent and self._delegated:
            return await self.async_step_consent()
        return self._told(remedy)

    def _told(self, remedy: Remedy) -> SubentryFlowResult:
        """Show the query form again with the remedy's form error and its words."""
        # Graph's words, or what a failed sign-in's own words name (a host).
        words = {key: str(value) for key, value in remedy.placeholders.items()}
        self._reason = words.pop("reason", "")
        self._named = words
        return self._show_query_form({"base": remedy.error_key or "refused"})

    async def async_step_pick(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Pick one of the people the search found."""
        if user_input is not None:
            if (account := running_account(self._known_entry)) is None:
                return self._abort("not_loaded")
            person = self._found[user_input[CONF_PERSON]]
            return await self._async_asking(
                account, lambda client: self._async_chosen(client, person)
            )
        options = [
            SelectOptionDict(value=person.id, label=_label(person))
            for person in self._found.values()
        ]
        return self.async_show_form(
            step_id="pick",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_PERSON): SelectSelector(
                        SelectSelectorConfig(
                            options=options, mode=SelectSelectorMode.DROPDOWN
                        )
                    )
                }
            ),
            description_placeholders=self._placeholders(),
        )

    async def _async_chosen(
        self, client: GraphPresenceClient, person: DirectoryPerson
    ) -> SubentryFlowResult:
        """Refuse the account's own user and anyone followed; check reading them."""
        if person.id == self._entry.data[CONF_USER_ID]:
            return self._show_query_form({"base": "own_account"})
        current = (
            self._get_reconfigure_subentry()
            if self.source == SOURCE_RECONFIGURE
            else None
        )
        if any(
            subentry.subentry_type == SUBENTRY_PERSON
            and subentry.unique_id == person.id
            and subentry is not current
            for subentry in self._entry.subentries.values()
        ):
            return self.async_abort(reason="already_configured")
        # Reading them now finds a missing presence permission before they are saved.
        await client.get_presences([person.id])
        if self._full():  # someone was added while this flow was open, or read
            return self._abort("instant_updates_full")
        self._remember_people()
        data = {
            CONF_USER_ID: person.id,
            CONF_DISPLAY_NAME: person.display_name,
            CONF_MAIL: person.mail,
            CONF_USER_PRINCIPAL_NAME: person.user_principal_name,
        }
        if current is None:
            return self.async_create_entry(
                title=person_title(person), data=data, unique_id=person.id
            )
        self._keep_ticked(str(current.data[CONF_USER_ID]), person.id)
        return self.async_update_and_abort(
            self._entry,
            current,
            data=data,
            unique_id=person.id,
            # A rename stays, unless it names someone else now.
            title=current.title
            if current.unique_id == person.id
            else person_title(person),
        )

    def _keep_ticked(self, before: str, now: str) -> None:
        """Keep a person picked again under another object id ticked for Anyone busy."""
        entry = self._entry
        ticked: list[str] = entry.options.get(CONF_ANYONE_BUSY, [])
        moved = [
            now.lower() if user_id.lower() == before.lower() else user_id
            for user_id in ticked
        ]
        if moved != ticked:
            self.hass.config_entries.async_update_entry(
                entry, options={**entry.options, CONF_ANYONE_BUSY: moved}
            )

    def _remember_people(self) -> None:
        """Mark a delegated account as following people: its sign-ins ask for more."""
        entry = self._entry
        if self._delegated and not entry.data.get(CONF_FOLLOW_PEOPLE):
            self.hass.config_entries.async_update_entry(
                entry, data={**entry.data, CONF_FOLLOW_PEOPLE: True}
            )

    async def async_step_consent(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Say why the account must sign in again, then ask it to."""
        if user_input is None:
            return self.async_show_form(
                step_id="consent", description_placeholders=self._placeholders()
            )
        if self._known_entry is None:
            return self._abort("not_loaded")
        self._remember_people()
        self._entry.async_start_reauth(self.hass)
        return self._abort("consent_asked")
