"""What Graph sent that this version does not know: logged once per value."""

from __future__ import annotations

from .const import LOGGER
from .graph import PresenceSnapshot, WorkLocationType

MAX_UNKNOWN_VALUES_LOGGED = 10
"""How many unknown values are logged (each once): Graph adds a few words, and one
that sends a new word every read must not log every read, nor be remembered all."""


class UnknownValues:
    """Remembers the unknown values of one account that were logged."""

    def __init__(self) -> None:
        """Nothing logged yet."""
        self._logged: set[tuple[str, str]] = set()

    def log(self, snapshot: PresenceSnapshot) -> None:
        """Log once per value that Graph sent and this version does not know."""
        for kind, text in (
            ("availability", snapshot.unknown_availability),
            ("activity", snapshot.unknown_activity),
        ):
            if (
                text is not None
                and (kind, text) not in self._logged
                and len(self._logged) < MAX_UNKNOWN_VALUES_LOGGED
            ):
                self._logged.add((kind, text))
                LOGGER.info(
                    "Graph sent an unknown %s %r; shown as unknown, the text in the"
                    " graph_value attribute",
                    kind,
                    text,
                )
        location = snapshot.work_location
        unknown_location = ("work location", WorkLocationType.UNKNOWN.value)
        if (
            location is not None
            and location.location_type is WorkLocationType.UNKNOWN
            and unknown_location not in self._logged
        ):
            self._logged.add(unknown_location)
            LOGGER.info("Graph sent an unknown work location type; shown as unknown")
