"""Two colleagues of the signed-in user, for tests of following people."""

from __future__ import annotations

from graph_emulator import GraphEmulator
from graph_emulator.presence import User


def add_colleagues(emulator: GraphEmulator) -> list[User]:
    """Add Megan and Lee to the emulator's tenant, both Available in Teams."""
    return [
        emulator.add_colleague(
            display_name="Megan Bowen", upn="meganb@contoso.example"
        ),
        emulator.add_colleague(display_name="Lee Gu", upn="leeg@contoso.example"),
    ]


def everyone(emulator: GraphEmulator, colleagues: list[User]) -> list[str]:
    """The ids of the signed-in user and the colleagues, in that order."""
    return [emulator.default_user.id, *(colleague.id for colleague in colleagues)]
