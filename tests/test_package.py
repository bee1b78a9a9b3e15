"""What HACS, hassfest and the frontend read from the package is consistent."""

from __future__ import annotations

from importlib.metadata import version
import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.util.yaml import load_yaml_dict
from packaging.specifiers import SpecifierSet
import pytest

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / "teams_presence_keeper"
MINIMUM_HOME_ASSISTANT = "2025.12.0"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_manifest() -> None:
    manifest = load_json(INTEGRATION / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:]), "hassfest wants the rest sorted"
    assert set(keys) == {
        "domain",
        "name",
        "after_dependencies",
        "codeowners",
        "config_flow",
        "dependencies",
        "documentation",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "loggers",
        "requirements",
        "version",
    }
    assert manifest["domain"] == INTEGRATION.name
    assert manifest["config_flow"] is True
    # The webhook receives Graph's change notifications (Instant updates), through
    # a cloudhook when Home Assistant Cloud is set up.
    assert manifest["dependencies"] == ["application_credentials", "webhook"]
    assert manifest["after_dependencies"] == ["cloud"]
    assert manifest["integration_type"] == "service"
    assert manifest["iot_class"] == "cloud_polling"
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    assert AwesomeVersion(manifest["version"]).valid


def test_requirements_are_ranges_tested_at_both_ends() -> None:
    """A range coexists with other integrations' needs; both of its ends are tested.

    The minimum release runs each floor (scripts/lib/lowest_requirements.py), the
    others requirements_test.txt's newest.
    """
    manifest = load_json(INTEGRATION / "manifest.json")
    pinned = dict(
        line.split("==")
        for line in (ROOT / "requirements_test.txt").read_text("utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    )
    for requirement in manifest["requirements"]:
        name, specifiers = re.fullmatch(r"([\w.-]+)(.*)", requirement).groups()  # type: ignore[union-attr]
        allowed = SpecifierSet(specifiers)
        (floor,) = (s.version for s in allowed if s.operator == ">=")
        assert allowed.contains(floor)
        assert allowed.contains(pinned[name])
        assert version(name) in {floor, pinned[name]}, "the venv runs one end"


def test_hacs() -> None:
    hacs = load_json(ROOT / "hacs.json")
    assert set(hacs) <= {
        "name",
        "content_in_root",
        "zip_release",
        "filename",
        "hide_default_branch",
        "country",
        "homeassistant",
        "hacs",
        "persistent_directory",
        "render_readme",
    }
    assert hacs["name"] == load_json(INTEGRATION / "manifest.json")["name"]
    assert hacs["homeassistant"] == MINIMUM_HOME_ASSISTANT
    assert hacs["render_readme"] is True


def test_english_translation_is_strings_json() -> None:
    assert load_json(INTEGRATION / "translations" / "en.json") == load_json(
        INTEGRATION / "strings.json"
    )


def test_every_action_is_described_translated_and_has_an_icon() -> None:
    services = load_yaml_dict(str(INTEGRATION / "services.yaml"))
    strings = load_json(INTEGRATION / "strings.json")["services"]
    icons = load_json(INTEGRATION / "icons.json")["services"]
    assert set(services) == set(strings) == set(icons)
    for name, service in services.items():
        assert set(service["fields"]) == set(strings[name]["fields"]), name


@pytest.mark.parametrize("platform", ["binary_sensor", "select", "sensor"])
def test_every_entity_has_a_name_and_an_icon(platform: str) -> None:
    strings = load_json(INTEGRATION / "strings.json")["entity"][platform]
    icons = load_json(INTEGRATION / "icons.json")["entity"][platform]
    assert set(strings) == set(icons)
    for key, icon in icons.items():
        assert set(icon.get("state", {})) <= set(strings[key].get("state", {})) | {
            "on",
            "off",
        }, key


def test_readme_links_to_files_that_exist() -> None:
    """Pictures and files the README shows by relative path are in the repository."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?:|#)([^)\s]+)\)", readme)
    assert "docs/entities.png" in targets
    missing = [target for target in targets if not (ROOT / target).is_file()]
    assert not missing, f"README links to missing files: {missing}"
