"""Constants of the Teams Presence Keeper integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "teams_presence_keeper"
LOGGER = logging.getLogger(__package__)

# Config entry data
CONF_AUTH_METHOD: Final = "auth_method"
CONF_CLOUD: Final = "cloud"
CONF_GRAPH_URL: Final = "graph_url"
CONF_LOGIN_URL: Final = "login_url"
CLOUD_CUSTOM: Final = "custom"
"""The cloud choice that asks for Graph and sign-in addresses (a proxy, a test server)."""
CONF_TENANT: Final = "tenant"
CONF_TENANT_ID: Final = "tenant_id"
CONF_USER_ID: Final = "user_id"
CONF_TARGET_USER: Final = "target_user"
CONF_TOKEN_CACHE: Final = "token_cache"  # noqa: S105

AUTH_METHOD_BROWSER: Final = "browser"
AUTH_METHOD_DEVICE_CODE: Final = "device_code"
AUTH_METHOD_APPLICATION: Final = "application"

DEFAULT_TENANT: Final = "organizations"

# Delegated permissions: Presence.ReadWrite implies Presence.Read.
DELEGATED_SCOPES: Final = ("Presence.ReadWrite", "User.Read")
OIDC_SCOPES: Final = ("offline_access", "openid")
APPLICATION_SCOPE: Final = ".default"

# Options
CONF_READ_INTERVAL: Final = "read_interval"
CONF_EXPIRATION: Final = "expiration"
CONF_CLEAR_ON_REMOVE: Final = "clear_on_remove"
CONF_INSTANT_UPDATES: Final = "instant_updates"
CONF_ANYONE_BUSY: Final = "anyone_busy"
"""The followed people (object ids) the account's Anyone busy sensor watches."""
"""Graph posts each presence change to a webhook; reads become the safety net."""
INSTANT_UPDATES_SCOPE: Final = "Presence.Read.All"
"""The delegated permission presence subscriptions need, asked for only with the option."""

DEFAULT_READ_INTERVAL: Final = 30
"""Seconds between presence reads: a busy light settles within one read."""
MIN_READ_INTERVAL: Final = 10
MAX_READ_INTERVAL: Final = 3600
DEFAULT_EXPIRATION_MINUTES: Final = 60
"""How long an app session lives without a refresh: the longest a stale state could
linger in Teams if Home Assistant stops, against one refresh an hour when it runs.
Graph's limits (5 to 240 minutes) live with its other rules, in ``graph/models.py``."""
DEFAULT_CLEAR_ON_REMOVE: Final = True
DEFAULT_INSTANT_UPDATES: Final = False

STORAGE_VERSION: Final = 1
REFRESH_MARGIN: Final = timedelta(seconds=20)
"""How long before Graph's timeout or expiry the session is refreshed: room for a
request that takes up to the client's 20-second timeout, while Available needs only
103 refreshes in 8 hours (the minimum is 96)."""

# Following people (config subentries of the account)
SUBENTRY_PERSON: Final = "person"
CONF_FOLLOW_PEOPLE: Final = "follow_people"
"""Set once the user chose to follow people: delegated sign-ins then ask for PEOPLE_SCOPES."""
PEOPLE_SCOPES: Final = ("Presence.Read.All", "User.ReadBasic.All")
"""The least delegated permissions to find people and read their presence."""
PEOPLE_APP_PERMISSIONS: Final = ("Presence.Read.All", "User.Read.All")
"""The application permissions an administrator grants for the same."""
CONF_DISPLAY_NAME: Final = "display_name"
CONF_MAIL: Final = "mail"
