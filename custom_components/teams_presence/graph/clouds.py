"""Where Graph and Entra ID live in each Microsoft cloud."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
