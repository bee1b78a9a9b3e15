# Shared by the scripts: the Home Assistant versions we test, the Python each needs, and
# one virtual environment per version, reinstalled only when what it should hold changes.
# Versions on Python 3.14 run through scripts/lib/py314.sh (natively or in a root filesystem).
# shellcheck shell=bash

# Home Assistant version -> pytest-homeassistant-custom-component ("phacc") to test it with.
declare -A HA_TEST_PLUGIN=(
  [2025.12.4]=0.13.301 # the minimum we support (hacs.json); runs on Python 3.13
  [2026.10.4]=0.13.375 # the newest that phacc pins
  # What users run today. No phacc pins it yet: compat mode (see phacc_compat.py) until
  # this names one that does, and then compat mode switches off by itself.
  [2026.11.0]=0.13.375
)
declare -A HA_PYTHON=([2025.12.4]=3.13 [2026.10.4]=3.14 [2026.11.0]=3.14)
HA_VERSIONS=(2025.12.4 2026.10.4 2026.11.0)
HA_MINIMUM=${HA_VERSIONS[0]}
HA_NEWEST=${HA_VERSIONS[-1]}
HA_DEMO_VERSION=$HA_NEWEST
# ruff and mypy run in the minimum's venv. From 2026.10 Home Assistant swaps
# voluptuous for probatio when it is imported, and its annotations name probatio's
# types; mypy still reads the real voluptuous (other packages install it) and would
# report every schema we pass. The newest release's names are checked by
# scripts/check_ha_imports.py, and the whole suite runs on it.
HA_LINT_VERSION=$HA_MINIMUM
VENV_ROOT="${VENV_ROOT:-$PWD/.venv}"
UV_VERSION=0.13.9
# Home Assistant Cloud's hass-nabucasa (2025.12) imports litellm, which downloads a
# price list from GitHub at import unless told not to: tests reach only loopback.
export LITELLM_LOCAL_MODEL_COST_MAP=True

# shellcheck source=scripts/lib/py314.sh
source "$(dirname "${BASH_SOURCE[0]}")/py314.sh"

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
  echo "error: Python 3.13 is required (Home Assistant $HA_MINIMUM needs it): install it (uv python install 3.13, pyenv install 3.13) or put python3.13 on PATH" >&2
  return 1
}

# uv installs Home Assistant's few hundred packages in seconds where pip takes minutes.
ensure_uv() {
  UV="$VENV_ROOT/tools/bin/uv"
  local python version
  version=$("$UV" --version 2>/dev/null || true)
  [ "${version%% (*}" = "uv $UV_VERSION" ] && return # "uv 0.13.9 (x86_64-...)"
  python=$(find_python313 2>/dev/null || command -v python3)
  "$python" -m venv "$VENV_ROOT/tools"
  "$VENV_ROOT/tools/bin/pip" install --quiet "uv==$UV_VERSION"
}

# ha_command VERSION COMMAND...: sets HA_COMMAND to COMMAND run with that version's Python.
ha_command() {
  local version=$1
  shift
  if [ "${HA_PYTHON[$version]}" = 3.14 ]; then
    py314_setup
    py314_command "$@"
    HA_COMMAND=("${PY314_COMMAND[@]}")
  else
    HA_COMMAND=("$@")
  fi
}

# ha_run VERSION COMMAND...: runs COMMAND with that version's Python (paths in COMMAND
# are as ha_venv prints them).
ha_run() {
  ha_command "$@"
  "${HA_COMMAND[@]}"
}

# ha_venv VERSION: prints the venv's path as ha_run sees it (no install).
ha_venv() {
  if [ "${HA_PYTHON[$1]}" = 3.14 ]; then
    py314_setup
    echo "$PY314_VENV_ROOT/ha-$1"
  else
    echo "$VENV_ROOT/ha-$1"
  fi
}

# ha_host_path VERSION PATH: where a path ha_run sees for that version lies on the host.
ha_host_path() {
  if [ "${HA_PYTHON[$1]}" = 3.14 ]; then py314_host_path "$2"; else echo "$2"; fi
}

# ensure_ha_venv VERSION: installs what that version's venv should hold, if it changed,
# and prints its path (as ha_run sees it).
ensure_ha_venv() {
  local version=$1 venv host plugin=${HA_TEST_PLUGIN[$1]} python uv resolve=()
  local files=(requirements_test.txt)
  # The lint venv: mypy also checks tests/browser against Playwright's types.
  [ "$version" = "$HA_LINT_VERSION" ] && files+=(requirements_lint.txt requirements_browser.txt)
  # The demo's: the frontend `hass` would otherwise pip-install (slowly) on its first start.
  [ "$version" = "$HA_DEMO_VERSION" ] && files+=(requirements_demo.txt)
  # The browser test's pytest and Playwright run in the minimum's venv, on the host.
  [ "$version" = "$HA_MINIMUM" ] && files+=(requirements_browser.txt)
  mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u)
  venv=$(ha_venv "$version")
  host=$(ha_host_path "$version" "$venv")
  local wanted
  wanted=$({ cat "${files[@]}" scripts/lib/component_requirements.py \
    custom_components/teams_presence_keeper/manifest.json
    echo "$version $plugin ${HA_PYTHON[$version]}"; } | sha256sum | cut -c1-16)
  if [ "$(cat "$host/.installed" 2>/dev/null)" != "$wanted" ]; then
    echo "Installing Home Assistant $version test environment in $host" >&2
    local start=$SECONDS
    if [ "${HA_PYTHON[$version]}" = 3.14 ]; then
      python=$PY314_PYTHON uv=$PY314_UV
    else
      ensure_uv
      python=$(find_python313) uv=$UV
      # 2025.12 declares Python >= 3.13.2; its tests run on 3.13.0, so resolve as 3.13.2.
      resolve=(--python-version 3.13.2)
    fi
    # (pyvenv.cfg, not bin/python: in the rootfs that links to a path only valid inside.)
    [ -e "$host/pyvenv.cfg" ] || ha_run "$version" "$uv" venv --quiet --python "$python" "$venv" >&2
    # Home Assistant is the version asked for, even where phacc pins another (compat mode).
    echo "homeassistant==$version" >"$host/overrides.txt"
    # The minimum release runs the lowest versions the manifest's ranges allow.
    [ "$version" = "$HA_MINIMUM" ] &&
      ha_run "$version" "$python" scripts/lib/lowest_requirements.py >>"$host/overrides.txt"
    local requirements=() file
    for file in "${files[@]}"; do requirements+=(-r "$file"); done
    ha_run "$version" env VIRTUAL_ENV="$venv" "$uv" pip install --quiet "${resolve[@]}" \
      "pytest-homeassistant-custom-component==$plugin" "${requirements[@]}" \
      --override "$venv/overrides.txt" >&2
    # What the components the tests set up for real need (Home Assistant Cloud), at
    # the pins this Home Assistant version's manifests name.
    ha_run "$version" "$venv/bin/python" scripts/lib/component_requirements.py >"$host/components.txt"
    ha_run "$version" env VIRTUAL_ENV="$venv" "$uv" pip install --quiet "${resolve[@]}" \
      -r "$venv/components.txt" --override "$venv/overrides.txt" >&2
    ha_run "$version" "$venv/bin/python" scripts/lib/phacc_compat.py "$version" >&2
    echo "$wanted" >"$host/.installed"
    echo "Home Assistant $version test environment installed in $((SECONDS - start)) s" >&2
  fi
  echo "$venv"
}

# ha_pytest VERSION ARGS...: pytest in that version's venv.
ha_pytest() {
  local version=$1 venv runner=(-m pytest)
  shift
  venv=$(ha_venv "$version")
  # Compat mode: Home Assistant is imported before pytest loads phacc, so that its
  # httpx -> httpx2 alias comes before phacc's respx imports httpx.
  [ -e "$(ha_host_path "$version" "$venv")/.phacc-compat" ] &&
    runner=(-c 'import homeassistant, sys, pytest; sys.exit(pytest.console_main())')
  ha_run "$version" "$venv/bin/python" "${runner[@]}" "$@"
}
