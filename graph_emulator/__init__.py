"""A loopback emulator of Microsoft Graph presence and Entra ID sign-in, for tests."""

from .presence import (
    AppSession,
    Clock,
    OutOfOffice,
    PreferredPresence,
    StatusMessage,
    User,
    UserPresence,
    WorkLocation,
)
from .server import GraphEmulator, RecordedRequest
from .tokens import AppRegistration, Tenant

__all__ = [
    "AppRegistration",
    "AppSession",
    "Clock",
    "GraphEmulator",
    "OutOfOffice",
    "PreferredPresence",
    "RecordedRequest",
    "StatusMessage",
    "Tenant",
    "User",
    "UserPresence",
    "WorkLocation",
]
