"""Config flow: three ways to sign in, each checked against Graph before saving.

user (method and cloud) -> browser | device_code | application -> sign-in -> the
account is read from Graph as the entry will read it -> entry. Reauth and reconfigure
reuse the method's form, prefilled, and must land on the same account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_ACCESS_TOKEN, CONF_TOKEN
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .application_credentials import authority_context
from .auth.entry import (
    delegated_scopes,
    endpoints_from_data,
    lacks_instant_updates_consent,
    lacks_people_consent,
    wants_instant_updates,
    wants_people,
)
from .auth.errors import SignInRefused
from .const import (
    AUTH_METHOD_APPLICATION,
    AUTH_METHOD_BROWSER,
    AUTH_METHOD_DEVICE_CODE,
    CLOUD_CUSTOM,
    CONF_AUTH_METHOD,
    CONF_CLOUD,
    CONF_GRAPH_URL,
    CONF_LOGIN_URL,
    CONF_TENANT,
    DOMAIN,
    OIDC_SCOPES,
    SUBENTRY_PERSON,
)
from .graph import Cloud, endpoint_url_problem
from .options_flow import TeamsPresenceOptionsFlow
from .person_flow import PersonSubentryFlow
from .sign_in_steps import ApplicationSteps, DeviceCodeSteps

_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))

USER_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_AUTH_METHOD, default=AUTH_METHOD_BROWSER): SelectSelector(
            SelectSelectorConfig(
                options=[
                    AUTH_METHOD_BROWSER,
                    AUTH_METHOD_DEVICE_CODE,
                    AUTH_METHOD_APPLICATION,
                ],
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_AUTH_METHOD,
            )
        ),
        vol.Required(CONF_CLOUD, default=Cloud.GLOBAL.value): SelectSelector(
            SelectSelectorConfig(
                options=[*(cloud.value for cloud in Cloud), CLOUD_CUSTOM],
                mode=SelectSelectorMode.DROPDOWN,
                translation_key=CONF_CLOUD,
            )
        ),
    }
)
ENDPOINTS_SCHEMA: Final = vol.Schema(
    {vol.Required(CONF_GRAPH_URL): _URL, vol.Required(CONF_LOGIN_URL): _URL}
)


class TeamsPresenceConfigFlow(DeviceCodeSteps, ApplicationSteps, domain=DOMAIN):
    """Sign in to a Microsoft 365 account by browser, device code or app permission."""

    VERSION = 1

    @property
    def extra_authorize_data(self) -> dict[str, Any]:
        """Ask for presence and the user, a refresh token and an id token."""
        scopes = [
            *delegated_scopes(
                endpoints_from_data(self._data),
                instant_updates=self._instant_updates,
                people=self._people,
            ),
            *OIDC_SCOPES,
        ]
        return {"scope": " ".join(scopes)}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Tune how the account is read and its app session kept."""
        return TeamsPresenceOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Follow people of the account's directory ("Add person")."""
        return {SUBENTRY_PERSON: PersonSubentryFlow}

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the sign-in method and the cloud."""
        if user_input is not None:
            self._data = dict(user_input)
            if user_input[CONF_CLOUD] == CLOUD_CUSTOM:
                return await self.async_step_endpoints()
            return await self._async_step_method()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
        )

    async def async_step_endpoints(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the Graph and sign-in addresses of a proxy or a test server."""
        errors: dict[str, str] = {}
        if user_input is not None:
            urls = {key: value.strip() for key, value in user_input.items()}
            errors = {
                key: problem
                for key, url in urls.items()
                if (problem := endpoint_url_problem(url))
            }
            if not errors:
                self._data.update(urls)
                return await self._async_step_method()
        return self.async_show_form(
            step_id="endpoints",
            data_schema=self.add_suggested_values_to_schema(
                ENDPOINTS_SCHEMA, user_input
            ),
            errors=errors,
        )

    async def _async_step_method(self) -> ConfigFlowResult:
        """Show the form of the chosen method."""
        method = self._data[CONF_AUTH_METHOD]
        if method == AUTH_METHOD_BROWSER:
            return await self.async_step_browser()
        if method == AUTH_METHOD_DEVICE_CODE:
            return await self.async_step_device_code()
        return await self.async_step_application()

    # Browser sign-in: Home Assistant's OAuth2 helper and Application Credentials

    async def async_step_browser(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the tenant, then sign in with the app's credentials."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data[CONF_TENANT] = user_input[CONF_TENANT].strip()
            if not (error := self._tenant_error()):
                return await self.async_step_pick_implementation()
            errors["base"] = error
        return self._async_show_method_form("browser", errors)

    async def async_step_pick_implementation(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Build the implementations against the chosen cloud and tenant."""
        with authority_context(
            endpoints_from_data(self._data), self._data[CONF_TENANT]
        ):
            return await super().async_step_pick_implementation(user_input)

    async def async_oauth_create_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Check the signed-in account before saving; an error ends the flow."""
        self._data.update(data)
        if error := await self._async_check_account(
            data[CONF_TOKEN][CONF_ACCESS_TOKEN]
        ):
            return self.async_abort(
                reason=error, description_placeholders=self._placeholders
            )
        return await self._async_save()

    async def async_step_authorize_rejected(
        self, data: None = None
    ) -> ConfigFlowResult:
        """Name why Entra ID sent the user back, in Entra's words if not in ours."""
        return self.async_abort(
            reason=self._refused(SignInRefused.from_answer(self.external_data)),
            description_placeholders=self._placeholders,
        )

    # Reauth and reconfigure

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Sign in again when the entry's sign-in stopped working."""
        self._data = dict(entry_data)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Explain why, then show the method's form, prefilled."""
        if user_input is None:
            entry = self._get_reauth_entry()
            consent = wants_instant_updates(entry) and lacks_instant_updates_consent(
                entry
            )
            step_id = "reauth_consent" if consent else "reauth_confirm"
            if wants_people(entry) and lacks_people_consent(entry):
                step_id = "reauth_people"
            return self.async_show_form(
                # A new permission is asked for: say so, not "revoked".
                step_id=step_id,
                description_placeholders={"name": entry.title},
            )
        return await self._async_step_method()

    async_step_reauth_consent = async_step_reauth_confirm
    async_step_reauth_people = async_step_reauth_confirm

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the tenant or the app of the same account."""
        self._data = dict(self._get_reconfigure_entry().data)
        return await self._async_step_method()
