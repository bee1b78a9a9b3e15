"""What HACS, hassfest and the frontend read from the package is consistent."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.util.yaml import load_yaml_dict
import pytest

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / "teams_presence"
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
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+", r) for r in manifest["requirements"])
    assert AwesomeVersion(manifest["version"]).valid
    requirements = (ROOT / "requirements_test.txt").read_text(encoding="utf-8")
    for requirement in manifest["requirements"]:
        assert requirement in requirements.splitlines(), "tests run what users get"


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
