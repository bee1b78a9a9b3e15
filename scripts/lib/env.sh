# Shared by the scripts: finds Python 3.13 and keeps one virtual environment per
# Home Assistant version, reinstalled only when what it should hold changes.
# shellcheck shell=bash

# Home Assistant version -> pytest-homeassistant-custom-component that pins it.
declare -A HA_TEST_PLUGIN=(
  [2025.4.4]=0.13.236 # the minimum we support; `hass` runs on Python 3.13.0
  [2026.2.3]=0.13.316 # newest whose tests run on 3.13.0 (needs --python-version)
)
HA_VERSIONS=(2025.4.4 2026.2.3)
HA_DEMO_VERSION=2025.4.4
VENV_ROOT="${VENV_ROOT:-$PWD/.venv}"

find_python313() {
  local candidate prefix
  for candidate in python3.13 "$(command -v pyenv >/dev/null && pyenv prefix 3.13.0 2>/dev/null)/bin/python3.13"; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  for prefix in "$HOME"/.pyenv/versions/3.13*; do
    if [ -x "$prefix/bin/python3.13" ]; then
      echo "$prefix/bin/python3.13"
      return
    fi
  done
  echo "error: Python 3.13 is required (Home Assistant needs it): install it (pyenv install 3.13) or put python3.13 on PATH" >&2
  return 1
}

# uv installs Home Assistant's few hundred packages in seconds where pip takes minutes.
ensure_uv() {
  UV="$VENV_ROOT/tools/bin/uv"
  if [ ! -x "$UV" ]; then
    local python
    python=$(find_python313)
    "$python" -m venv "$VENV_ROOT/tools"
    "$VENV_ROOT/tools/bin/pip" install --quiet uv==0.13.9
  fi
}

# ensure_ha_venv VERSION: prints the venv path. The newest version's venv also holds
# the linters, since mypy checks against the newest Home Assistant's types.
ensure_ha_venv() {
  local version=$1
  local venv="$VENV_ROOT/ha-$version" plugin=${HA_TEST_PLUGIN[$version]}
  local files=(requirements_test.txt)
  # requirements_browser.txt: mypy checks tests/browser against Playwright's types.
  [ "$version" = "${HA_VERSIONS[-1]}" ] && files+=(requirements_lint.txt requirements_browser.txt)
  local wanted
  wanted=$(cat "${files[@]}" | sha256sum | cut -c1-16)-$plugin
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$wanted" ]; then
    ensure_uv
    echo "Installing Home Assistant $version test environment in $venv" >&2
    [ -x "$venv/bin/python" ] || "$UV" venv --quiet --python "$(find_python313)" "$venv" >&2
    local requirements=()
    for file in "${files[@]}"; do requirements+=(-r "$file"); done
    # 2026.x declares Python >= 3.13.2; its tests run on 3.13.0, so resolve as 3.13.2.
    VIRTUAL_ENV=$venv "$UV" pip install --quiet --python-version 3.13.2 \
      "pytest-homeassistant-custom-component==$plugin" "${requirements[@]}" >&2
    echo "$wanted" >"$venv/.installed"
  fi
  echo "$venv"
}
