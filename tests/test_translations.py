"""Every translation has the keys, placeholders and files that English has."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import json
from pathlib import Path
import re
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / "teams_presence_keeper"
TRANSLATIONS = INTEGRATION / "translations"
LANGUAGES = ("pt", "pt-BR", "ja", "de", "fr", "es", "nl")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted key, leaf value) for every leaf of a strings tree."""
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            yield from flatten(value, path)
        else:
            yield path, value


def strings(path: Path) -> dict[str, Any]:
    return dict(flatten(load_json(path)))


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def english() -> dict[str, Any]:
    return strings(TRANSLATIONS / "en.json")


def test_language_files_are_exactly_the_supported_ones() -> None:
    found = {path.stem for path in TRANSLATIONS.glob("*.json")}
    assert found == {"en", *LANGUAGES}


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_file_exists(language: str) -> None:
    assert (TRANSLATIONS / f"{language}.json").is_file(), f"{language}.json is missing"


@pytest.mark.parametrize("language", LANGUAGES)
def test_same_keys_as_english(language: str, english: dict[str, Any]) -> None:
    translated = strings(TRANSLATIONS / f"{language}.json")
    missing = sorted(english.keys() - translated.keys())
    extra = sorted(translated.keys() - english.keys())
    assert not missing, f"{language} lacks {missing}"
    assert not extra, f"{language} has extra keys {extra}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match_english(language: str, english: dict[str, Any]) -> None:
    translated = strings(TRANSLATIONS / f"{language}.json")
    wrong = {
        key: (placeholders(text), placeholders(translated[key]))
        for key, text in english.items()
        if key in translated
        and isinstance(text, str)
        and isinstance(translated[key], str)
        and placeholders(text) != placeholders(translated[key])
    }
    assert not wrong, f"{language} placeholders (English, translated): {wrong}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_strings_are_non_empty(language: str) -> None:
    translated = strings(TRANSLATIONS / f"{language}.json")
    bad = sorted(
        key
        for key, text in translated.items()
        if not isinstance(text, str) or not text.strip()
    )
    assert not bad, f"{language} has empty or non-string values at {bad}"
