"""Work location: where the user works, which layer decided it, and what a write carries.

Graph aggregates it from three layers (manual over automatic over the user's
working-hours plan); a client may write the manual and the automatic one, each
offered in some clouds only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import re
from typing import Any, Self

from .clouds import Cloud
from .errors import GraphValidationError
from .fields import typed_field


class _CamelCaseEnum(StrEnum):
    """A string enum of Graph's camelCase values, spelled in snake_case.

    Home Assistant's states and translation keys are snake_case; a value Graph
    adds later parses to ``UNKNOWN``.
    """

    @classmethod
    def parse(cls, value: str | None) -> Self:
        """Return the member for Graph's ``value`` (``timeOff``), else ``UNKNOWN``."""
        if value is not None:
            try:
                return cls(_CAMEL_HUMP.sub("_", value).lower())
            except ValueError:
                pass
        return cls("unknown")

    @property
    def graph_value(self) -> str:
        """The value as Graph spells it (``timeOff``)."""
        head, *rest = self.value.split("_")
        return head + "".join(part.capitalize() for part in rest)


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class WorkLocationType(_CamelCaseEnum):
    """Where the user works, as Graph's ``workLocationType``."""

    UNSPECIFIED = "unspecified"
    OFFICE = "office"
    REMOTE = "remote"
    TIME_OFF = "time_off"
    UNKNOWN = "unknown"
    """A value Graph added after this client was written."""


class WorkLocationSource(_CamelCaseEnum):
    """Which layer decided the work location.

    Graph shows manual over automatic over scheduled (the user's working-hours
    plan), and ``none`` when no layer has one.
    """

    NONE = "none"
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    AUTOMATIC = "automatic"
    UNKNOWN = "unknown"
    """A value Graph added after this client was written."""


class WorkLocationLayer(StrEnum):
    """The two layers a client may write.

    The automatic layer is for agents that detect where the user is (a docking
    app, a network agent, Home Assistant); a manual choice always wins over it.
    """

    MANUAL = "manual"
    AUTOMATIC = "automatic"

    @property
    def clouds(self) -> frozenset[Cloud]:
        """The clouds whose Graph offers writing this layer."""
        return _WORK_LOCATION_CLOUDS[self]


_WORK_LOCATION_CLOUDS: dict[WorkLocationLayer, frozenset[Cloud]] = {
    WorkLocationLayer.MANUAL: frozenset(
        {Cloud.GLOBAL, Cloud.US_GOVERNMENT, Cloud.US_GOVERNMENT_DOD}
    ),
    WorkLocationLayer.AUTOMATIC: frozenset({Cloud.GLOBAL}),
}
WRITABLE_WORK_LOCATION_TYPES = frozenset(
    {
        WorkLocationType.UNSPECIFIED,
        WorkLocationType.OFFICE,
        WorkLocationType.REMOTE,
        WorkLocationType.TIME_OFF,
    }
)
"""The types setManualLocation and setAutomaticLocation take."""


@dataclass(frozen=True, slots=True)
class WorkLocation:
    """The user's work location as Graph aggregates it from its layers."""

    location_type: WorkLocationType
    source: WorkLocationSource
    place_id: str | None = None

    @classmethod
    def from_graph(cls, data: dict[str, Any]) -> WorkLocation:
        """Build from a Graph ``userWorkLocation``; raises ``MalformedPresenceError``."""
        return cls(
            location_type=WorkLocationType.parse(
                typed_field(data, "workLocationType", str)
            ),
            source=WorkLocationSource.parse(typed_field(data, "source", str)),
            place_id=typed_field(data, "placeId", str) or None,
        )


@dataclass(frozen=True, slots=True)
class WorkLocationUpdate:
    """What a work-location write carries: the type and, optionally, the place.

    Checked when built, so a bad value is refused before anything is sent.
    """

    location_type: WorkLocationType
    place_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse what Graph would refuse."""
        if self.location_type not in WRITABLE_WORK_LOCATION_TYPES:
            raise GraphValidationError(
                "invalid_work_location_type",
                "A work location is unspecified, office, remote or time off,"
                f" got {self.location_type!r}",
            )
        if self.place_id is not None and not self.place_id.strip():
            raise GraphValidationError(
                "invalid_place_id", "A place id, when given, needs some text"
            )

    def as_graph(self) -> dict[str, str]:
        """Return the body of setManualLocation and setAutomaticLocation."""
        body = {"workLocationType": self.location_type.graph_value}
        if self.place_id is not None:
            body["placeId"] = self.place_id
        return body
