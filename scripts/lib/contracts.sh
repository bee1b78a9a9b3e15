# The import contracts (.importlinter): import-linter in a small venv of its own, made
# from the lint venv's Python and reinstalled only when requirements_contracts.txt changes.
# Not in the lint venv itself: that one is shared, and any change reinstalls it whole.
# shellcheck shell=bash

# ensure_contracts_venv: installs import-linter if needed; prints its venv (as ha_run sees it).
ensure_contracts_venv() {
  local lint_venv venv host wanted
  lint_venv=$(ha_venv "$HA_LINT_VERSION")
  venv="$(dirname "$lint_venv")/import-linter"
  host=$(ha_host_path "$HA_LINT_VERSION" "$venv")
  wanted=$({ cat requirements_contracts.txt; echo "${HA_PYTHON[$HA_LINT_VERSION]}"; } |
    sha256sum | cut -c1-16)
  if [ "$(cat "$host/.installed" 2>/dev/null)" != "$wanted" ]; then
    echo "Installing import-linter in $host" >&2
    rm -rf "$host"
    ha_run "$HA_LINT_VERSION" "$lint_venv/bin/python" -m venv "$venv" >&2
    ha_run "$HA_LINT_VERSION" "$venv/bin/python" -m pip install --quiet --no-deps \
      -r requirements_contracts.txt >&2
    echo "$wanted" >"$host/.installed"
  fi
  echo "$venv"
}

# check_contracts: the layers, the modules kept free of Home Assistant, and no cycles
# (import-linter's contracts, then every cycle listed); both run, either fails it.
check_contracts() {
  local venv rc=0
  venv=$(ensure_contracts_venv)
  # Both find the integration from the working directory (the repository).
  ha_run "$HA_LINT_VERSION" env PYTHONPATH=. "$venv/bin/lint-imports" --no-cache || rc=1
  ha_run "$HA_LINT_VERSION" env PYTHONPATH=. "$venv/bin/python" scripts/lib/import_cycles.py || rc=1
  return $rc
}
