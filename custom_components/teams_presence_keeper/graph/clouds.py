"""Where Graph and Entra ID live in each Microsoft cloud."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import ipaddress
import re
from typing import Final, Literal
from urllib.parse import urlsplit

from yarl import URL


class Cloud(StrEnum):
    """The Microsoft clouds a tenant can live in."""

    GLOBAL = "global"
    US_GOVERNMENT = "us_government"
    US_GOVERNMENT_DOD = "us_government_dod"
    CHINA = "china"


GLOBAL_GRAPH_RESOURCE = "https://graph.microsoft.com"
"""Microsoft Graph's application id URI in the global cloud."""


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    """Base URLs of Graph and of the sign-in authority, and Graph's resource id.

    The resource is what tokens are issued for (``<resource>/.default``): the
    cloud's Graph, even when requests go elsewhere (a proxy, a test server).
    """

    graph_url: str
    login_url: str
    resource: str = GLOBAL_GRAPH_RESOURCE

    def authority(self, tenant: str) -> str:
        """Return the sign-in authority for ``tenant``, as msal expects it."""
        return f"{self.login_url.rstrip('/')}/{tenant}"

    def authorize_url(self, tenant: str) -> str:
        """Return the OAuth 2.0 authorization endpoint for ``tenant``."""
        return f"{self.authority(tenant)}/oauth2/v2.0/authorize"

    def token_url(self, tenant: str) -> str:
        """Return the OAuth 2.0 token endpoint for ``tenant``."""
        return f"{self.authority(tenant)}/oauth2/v2.0/token"

    def scope(self, permission: str) -> str:
        """Return a Graph permission as a scope qualified by Graph's resource id."""
        return f"{self.resource}/{permission}"


CLOUD_ENDPOINTS: dict[Cloud, CloudEndpoints] = {
    Cloud.GLOBAL: CloudEndpoints(
        GLOBAL_GRAPH_RESOURCE, "https://login.microsoftonline.com"
    ),
    Cloud.US_GOVERNMENT: CloudEndpoints(
        "https://graph.microsoft.us",
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
    ),
    Cloud.US_GOVERNMENT_DOD: CloudEndpoints(
        "https://dod-graph.microsoft.us",
        "https://login.microsoftonline.us",
        "https://dod-graph.microsoft.us",
    ),
    Cloud.CHINA: CloudEndpoints(
        "https://microsoftgraph.chinacloudapi.cn",
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
}


def endpoint_url_problem(url: str) -> Literal["invalid_url", "insecure_url"] | None:
    """Say why a custom Graph or sign-in address can't be used, or ``None``.

    Tokens and secrets travel to these addresses: plain HTTP is allowed only to this
    machine (a test server or the demo's emulator), never across a network.
    """
    try:
        parsed = URL(url.strip())
        authority = urlsplit(url.strip()).netloc
        # Read lazily by yarl: an international name that does not decode raises.
        host, shown_host = parsed.raw_host, parsed.host
    except ValueError:
        return "invalid_url"
    if parsed.scheme not in ("http", "https") or not host or not shown_host:
        return "invalid_url"
    if not _AUTHORITY.fullmatch(authority) or not _is_host(
        host, literal=authority.startswith("[")
    ):
        return "invalid_url"
    # Any user info, even only a password or an empty "@" (yarl drops that one):
    # aiohttp refuses to send it with a token, and the URL shows it wherever it goes.
    if parsed.query_string or parsed.fragment or "@" in authority:
        return "invalid_url"
    if parsed.scheme == "http" and not _is_loopback(shown_host):
        return "insecure_url"
    return None


_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?\.?", re.IGNORECASE)
_AUTHORITY = re.compile(r"(?:\[[^\]]*\]|[^:\[\]]*)(?::(?:[1-9][0-9]{0,4})?)?")
"""A host, then a port of digits that is not 0 (its range yarl checks), if any."""


def _is_host(host: str, *, literal: bool) -> bool:
    """Whether ``host`` (as sent: IDNA-encoded) is an IP address or a host name.

    Between brackets (``literal``) only an IPv6 address: yarl drops the brackets
    of anything else, which would then name another host.
    """
    try:
        return ipaddress.ip_address(host).version == 6 or not literal
    except ValueError:
        return not literal and _HOST_NAME.fullmatch(host) is not None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


WORK_OR_SCHOOL_TENANT: Final = "organizations"
"""Any work or school tenant: the user's own is found at sign-in."""
ANY_TENANT: Final = "common"
"""Work, school and personal accounts alike: refused, personal ones have no presence."""
PERSONAL_TENANT: Final = "consumers"
"""Microsoft's tenant of personal accounts, which have no Teams presence."""
_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def tenant_problem(
    tenant: str, *, app_only: bool
) -> Literal["invalid_tenant", "personal_account", "tenant_required"] | None:
    """Say why a tenant can't be used, or ``None``; the tenant goes into URLs.

    A tenant is its id (a GUID), one of its domains, or ``organizations`` for
    delegated sign-in; an app-only token needs the tenant itself.
    """
    tenant = tenant.lower()
    if tenant == PERSONAL_TENANT:
        return "personal_account"
    if app_only and tenant in (WORK_OR_SCHOOL_TENANT, ANY_TENANT):
        return "tenant_required"
    if tenant == WORK_OR_SCHOOL_TENANT:
        return None
    if _TENANT_ID.fullmatch(tenant) or _DOMAIN.fullmatch(tenant):
        return None
    return "invalid_tenant"
