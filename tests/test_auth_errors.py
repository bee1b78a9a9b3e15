"""Why a sign-in failed is told without Home Assistant and without msal.

The failure policy and the pure modules import ``auth.errors`` (and ``auth.entry``):
importing them must not pull either in, as import-linter also checks statically.
"""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
import textwrap

import pytest

ROOT = Path(__file__).parent.parent

_IMPORT_WITHOUT = textwrap.dedent(
    """
    import importlib.abc, sys, types

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"homeassistant", "msal"}:
                raise ImportError(f"{name} must not be imported")
            return None

    sys.meta_path.insert(0, Refuse())
    # The package without its __init__, which sets the integration up in Home Assistant.
    package = types.ModuleType("custom_components.teams_presence_keeper")
    package.__path__ = ["custom_components/teams_presence_keeper"]
    sys.modules[package.__name__] = package
    import importlib
    importlib.import_module(sys.argv[1])
    """
)


@pytest.mark.parametrize("module", ["auth.errors", "auth.entry"])
def test_imports_without_home_assistant_or_msal(module: str) -> None:
    subprocess.run(  # noqa: S603 - this interpreter, our own code
        [
            sys.executable,
            "-c",
            _IMPORT_WITHOUT,
            f"custom_components.teams_presence_keeper.{module}",
        ],
        check=True,
        cwd=ROOT,
    )


def test_the_check_refuses_home_assistant() -> None:
    """The check itself: a module that needs Home Assistant fails it."""
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(  # noqa: S603 - this interpreter, our own code
            [
                sys.executable,
                "-c",
                _IMPORT_WITHOUT,
                "custom_components.teams_presence_keeper.auth.tokens",
            ],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
