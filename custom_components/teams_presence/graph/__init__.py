"""Microsoft Graph presence client: no Home Assistant imports, so it stays testable alone."""

from .client import GRAPH_GLOBAL, ME, GraphPresenceClient, TokenProvider
from .clouds import (
    CLOUD_ENDPOINTS,
    Cloud,
    CloudEndpoints,
    endpoint_url_problem,
    tenant_problem,
)
from .errors import (
    GraphAuthenticationError,
    GraphConnectionError,
    GraphError,
    GraphNotFoundError,
    GraphPermissionError,
    GraphServerError,
    GraphThrottledError,
    GraphValidationError,
)
from .models import (
    AVAILABLE_TIMEOUT,
    DEFAULT_EXPIRATION,
    MAX_EXPIRATION,
    MAX_STATUS_MESSAGE_LENGTH,
    MIN_EXPIRATION,
    Activity,
    AppPresence,
    Availability,
    GraphUser,
    PreferredPresence,
    PresenceSnapshot,
)

__all__ = [
    "AVAILABLE_TIMEOUT",
    "CLOUD_ENDPOINTS",
    "DEFAULT_EXPIRATION",
    "GRAPH_GLOBAL",
    "MAX_EXPIRATION",
    "MAX_STATUS_MESSAGE_LENGTH",
    "ME",
    "MIN_EXPIRATION",
    "Activity",
    "AppPresence",
    "Availability",
    "Cloud",
    "CloudEndpoints",
    "GraphAuthenticationError",
    "GraphConnectionError",
    "GraphError",
    "GraphNotFoundError",
    "GraphPermissionError",
    "GraphPresenceClient",
    "GraphServerError",
    "GraphThrottledError",
    "GraphUser",
    "GraphValidationError",
    "PreferredPresence",
    "PresenceSnapshot",
    "TokenProvider",
    "endpoint_url_problem",
    "tenant_problem",
]
