"""Where Graph and Entra ID live in each Microsoft cloud."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import ipaddress
from typing import Literal

from yarl import URL


class Cloud(StrEnum):
    """The Microsoft clouds a tenant can live in."""

    GLOBAL = "global"
    US_GOVERNMENT = "us_government"
    US_GOVERNMENT_DOD = "us_government_dod"
    CHINA = "china"


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    """Base URLs of Graph and of the sign-in authority."""

    graph_url: str
    login_url: str

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
        """Return a Graph permission as a fully qualified scope for this cloud."""
        return f"{self.graph_url.rstrip('/')}/{permission}"


CLOUD_ENDPOINTS: dict[Cloud, CloudEndpoints] = {
    Cloud.GLOBAL: CloudEndpoints(
        "https://graph.microsoft.com", "https://login.microsoftonline.com"
    ),
    Cloud.US_GOVERNMENT: CloudEndpoints(
        "https://graph.microsoft.us", "https://login.microsoftonline.us"
    ),
    Cloud.US_GOVERNMENT_DOD: CloudEndpoints(
        "https://dod-graph.microsoft.us", "https://login.microsoftonline.us"
    ),
    Cloud.CHINA: CloudEndpoints(
        "https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"
    ),
}


def endpoint_url_problem(url: str) -> Literal["invalid_url", "insecure_url"] | None:
    """Say why a custom Graph or sign-in address can't be used, or ``None``.

    Tokens and secrets travel to these addresses: plain HTTP is allowed only to this
    machine (a test server or the demo's emulator), never across a network.
    """
    try:
        parsed = URL(url.strip())
    except ValueError:
        return "invalid_url"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "invalid_url"
    if parsed.query_string or parsed.fragment or parsed.user is not None:
        return "invalid_url"
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        return "insecure_url"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
