"""The config flow's sign-in steps: device code and the app's secret, and their base.

What every sign-in method shares (the data so far, a refusal's words, the check of
the account against Graph, the save) in `SignInFlow`; each method's own steps in a
mixin of it, which ``config_flow.TeamsPresenceConfigFlow`` puts together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import logging
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_CLIENT_ID, CONF_CLIENT_SECRET
from homeassistant.core import callback
from homeassistant.helpers.config_entry_oauth2_flow import AbstractOAuth2FlowHandler
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .account import async_read_account
from .auth.entry import endpoints_from_data, wants_instant_updates, wants_people
from .auth.errors import SignInRefused
from .auth.sign_in import DeviceCodeSignIn, async_sign_in_application
from .const import (
    AUTH_METHOD_APPLICATION,
    AUTH_METHOD_BROWSER,
    CONF_AUTH_METHOD,
    CONF_TARGET_USER,
    CONF_TENANT,
    CONF_TENANT_ID,
    CONF_TOKEN_CACHE,
    CONF_USER_ID,
    DEFAULT_TENANT,
    DOMAIN,
    LOGGER,
)
from .graph import tenant_problem
from .options_flow import DEFAULT_OPTIONS
from .runtime import TeamsPresenceConfigEntry

REDIRECT_URI: Final = "https://my.home-assistant.io/redirect/oauth"
ENTRA_URL: Final = "https://entra.microsoft.com/"

_TEXT = TextSelector()
_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))

BROWSER_SCHEMA: Final = vol.Schema(
    {vol.Required(CONF_TENANT, default=DEFAULT_TENANT): _TEXT}
)
DEVICE_CODE_SCHEMA: Final = BROWSER_SCHEMA.extend({vol.Required(CONF_CLIENT_ID): _TEXT})
APPLICATION_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_TENANT): _TEXT,
        vol.Required(CONF_CLIENT_ID): _TEXT,
        vol.Required(CONF_CLIENT_SECRET): _PASSWORD,
        vol.Required(CONF_TARGET_USER): _TEXT,
    }
)
METHOD_SCHEMAS: Final = {
    "browser": BROWSER_SCHEMA,
    "device_code": DEVICE_CODE_SCHEMA,
    "application": APPLICATION_SCHEMA,
}


_PLACEHOLDERS: Final = {"entra_url": ENTRA_URL, "redirect_uri": REDIRECT_URI}


class SignInFlow(AbstractOAuth2FlowHandler):
    """What every sign-in method shares: the data so far, refusals, the check and save."""

    DOMAIN = DOMAIN

    def __init__(self) -> None:
        """Start with nothing chosen."""
        super().__init__()
        self._data: dict[str, Any] = {}
        self._title = ""
        self._refusal = SignInRefused("")
        """The last refusal: Entra ID's words, or the host whose certificate failed."""

    @property
    def logger(self) -> logging.Logger:
        """Log as the integration, as the OAuth2 helper requires."""
        return LOGGER

    @property
    def _instant_updates(self) -> bool:
        """Whether signing in again must also consent to the Instant updates option."""
        if self.source == SOURCE_REAUTH:
            return wants_instant_updates(self._get_reauth_entry())
        if self.source == SOURCE_RECONFIGURE:
            return wants_instant_updates(self._get_reconfigure_entry())
        return False

    @property
    def _people(self) -> bool:
        """Whether signing in again must also consent to what following people needs."""
        if self.source == SOURCE_REAUTH:
            return wants_people(self._get_reauth_entry())
        if self.source == SOURCE_RECONFIGURE:
            return wants_people(self._get_reconfigure_entry())
        return False

    def _refused(self, err: SignInRefused) -> str:
        """Return the form error for a refused sign-in, keeping its details to show."""
        self._refusal = err
        return err.error

    @property
    def _placeholders(self) -> dict[str, str]:
        refusal = self._refusal
        return {
            **_PLACEHOLDERS,
            "entra_error": refusal.entra_error,
            "host": refusal.host,
        }

    def _async_show_method_form(
        self, step_id: str, errors: dict[str, str]
    ) -> ConfigFlowResult:
        """Show a sign-in method's form, prefilled (never with the secret)."""
        prefill = {k: v for k, v in self._data.items() if k != CONF_CLIENT_SECRET}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                METHOD_SCHEMAS[step_id], prefill
            ),
            errors=errors,
            description_placeholders=self._placeholders,
        )

    def _tenant_error(self) -> str | None:
        """Refuse tenants that cannot work for the method, before asking Entra ID."""
        return tenant_problem(
            self._data[CONF_TENANT],
            app_only=self._data[CONF_AUTH_METHOD] == AUTH_METHOD_APPLICATION,
        )

    async def _async_check_account(self, access_token: str) -> str | None:
        """Read the account as the entry will; return an error key."""
        try:
            account = await async_read_account(self.hass, self._data, access_token)
        except SignInRefused as err:
            return self._refused(err)
        self._data[CONF_USER_ID] = account.user_id
        if account.tenant_id is not None:
            self._data[CONF_TENANT_ID] = account.tenant_id
        if CONF_TARGET_USER in self._data:
            self._data[CONF_TARGET_USER] = account.user_id
        self._title = account.name
        return None

    async def _async_save(self) -> ConfigFlowResult:
        """Create the entry, or update the one being reauthenticated or reconfigured."""
        await self.async_set_unique_id(
            f"{self._data[CONF_TENANT_ID]}_{self._data[CONF_USER_ID]}"
        )
        if self.source in (SOURCE_REAUTH, SOURCE_RECONFIGURE):
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            entry: TeamsPresenceConfigEntry = (
                self._get_reauth_entry()
                if self.source == SOURCE_REAUTH
                else self._get_reconfigure_entry()
            )
            # Either may name another app. The app session and the subscription
            # belong to the old app: the new one can't end them. Only a running
            # account has them.
            if entry.state is ConfigEntryState.LOADED and _app_of(
                entry.data
            ) != _app_of(self._data):
                await entry.runtime_data.async_leave_app()
            return self.async_update_reload_and_abort(entry, data=self._data)
        self._abort_if_unique_id_configured(
            description_placeholders={"account": self._title}
        )
        return self.async_create_entry(
            title=self._title, data=self._data, options=DEFAULT_OPTIONS
        )


def _app_of(data: Mapping[str, Any]) -> object:
    """Return the app an account signs in with (a browser's: its credential)."""
    if data[CONF_AUTH_METHOD] == AUTH_METHOD_BROWSER:
        return data.get("auth_implementation")
    return data.get(CONF_CLIENT_ID)


class DeviceCodeSteps(SignInFlow):
    """Code on another device: msal's device-code flow."""

    # Set with each new device code.
    _device_code: DeviceCodeSignIn
    _device_code_task: asyncio.Task[str]
    """Waiting for the device-code sign-in."""

    async def async_step_device_code(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the tenant and the app, then get a code to sign in elsewhere."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data[CONF_TENANT] = user_input[CONF_TENANT].strip()
            self._data[CONF_CLIENT_ID] = user_input[CONF_CLIENT_ID].strip()
            if not (
                error := self._tenant_error() or await self._async_start_device_code()
            ):
                return await self.async_step_device_code_wait()
            errors["base"] = error
        return self._async_show_method_form("device_code", errors)

    async def _async_start_device_code(self) -> str | None:
        """Get a device code and start waiting for its sign-in; or return an error."""
        try:
            self._device_code = await DeviceCodeSignIn.async_start(
                self.hass,
                endpoints_from_data(self._data),
                self._data[CONF_TENANT],
                self._data[CONF_CLIENT_ID],
                instant_updates=self._instant_updates,
                people=self._people,
            )
        except SignInRefused as err:
            return self._refused(err)
        self._device_code_task = self.hass.async_create_task(
            self._device_code.async_wait(self.hass)
        )
        return None

    async def async_step_device_code_wait(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the code until the sign-in ends, one way or another."""
        if not self._device_code_task.done():
            return self.async_show_progress(
                # Named, as the form's step shows it first: the finished task must
                # come back here, not to the form.
                step_id="device_code_wait",
                progress_action="device_code",
                description_placeholders={
                    "url": self._device_code.url,
                    "code": self._device_code.user_code,
                },
                progress_task=self._device_code_task,
            )
        return self.async_show_progress_done(next_step_id="device_code_finish")

    async def async_step_device_code_finish(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Save the signed-in account, or show why not so the user can retry."""
        try:
            access_token = self._device_code_task.result()
        except SignInRefused as err:
            return self._async_show_method_form(
                "device_code", {"base": self._refused(err)}
            )
        if error := await self._async_check_account(access_token):
            return self._async_show_method_form("device_code", {"base": error})
        self._data[CONF_TOKEN_CACHE] = self._device_code.cache.serialize()
        return await self._async_save()

    @callback
    def async_remove(self) -> None:
        """Stop msal's polling thread when the user closes the flow."""
        if (device_code := getattr(self, "_device_code", None)) is not None:
            device_code.cancel()


class ApplicationSteps(SignInFlow):
    """Application permission: client credentials for a target user."""

    async def async_step_application(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in as the app itself and check the user it will act for."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._data.update({key: value.strip() for key, value in user_input.items()})
            if not (
                error := self._tenant_error() or await self._async_sign_in_application()
            ):
                return await self._async_save()
            errors["base"] = error
        return self._async_show_method_form("application", errors)

    async def _async_sign_in_application(self) -> str | None:
        """Get an app-only token and check the target user; return an error key."""
        try:
            tenant_id, access_token = await async_sign_in_application(
                self.hass,
                endpoints_from_data(self._data),
                self._data[CONF_TENANT],
                self._data[CONF_CLIENT_ID],
                self._data[CONF_CLIENT_SECRET],
            )
        except SignInRefused as err:
            return self._refused(err)
        self._data[CONF_TENANT_ID] = tenant_id
        return await self._async_check_account(access_token)
