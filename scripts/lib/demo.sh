# The demo's environment and processes, for scripts/demo (and its venv for scripts/test-browser):
# each process runs in its own process group so that stopping leaves nothing behind.
# shellcheck shell=bash

DEMO_PIDS=()

# ensure_demo_venv [REQUIREMENTS...]: the Home Assistant venv, with the frontend `hass`
# would otherwise pip-install (slowly) on its first start, and any more requirements.
ensure_demo_venv() {
  local venv marker wanted files=(requirements_demo.txt "$@") requirements=()
  venv=$(ensure_ha_venv "$HA_DEMO_VERSION")
  # One marker per set of files, so the demo and the browser test don't take turns.
  marker="$venv/.installed-$(echo "${files[*]}" | sha256sum | cut -c1-8)"
  wanted=$(cat "${files[@]}" | sha256sum | cut -c1-16)
  if [ "$(cat "$marker" 2>/dev/null)" != "$wanted" ]; then
    ensure_uv
    echo "Installing ${files[*]} in $venv" >&2
    for file in "${files[@]}"; do requirements+=(-r "$file"); done
    VIRTUAL_ENV=$venv "$UV" pip install --quiet --python-version 3.13.2 \
      "${requirements[@]}" >&2
    echo "$wanted" >"$marker"
  fi
  echo "$venv"
}

# start_emulator VENV DIR GRAPH_PORT LOGIN_PORT: sets EMULATOR_GRAPH_URL,
# EMULATOR_LOGIN_URL and EMULATOR_CA_BUNDLE (system CAs + the emulator's, for msal).
start_emulator() {
  local venv=$1 dir=$2 log="$2/emulator.log"
  mkdir -p "$dir"
  : >"$log"
  setsid "$venv/bin/python" -m graph_emulator --graph-port "$3" --login-port "$4" \
    --auto-approve-device-seconds 1 --simulate-day >"$log" 2>&1 &
  DEMO_PIDS+=($!)
  local waited=0
  until grep -q "Ctrl-C" "$log"; do
    if ! kill -0 "${DEMO_PIDS[-1]}" 2>/dev/null || [ $waited -ge 300 ]; then
      cat "$log" >&2
      echo "error: the emulator did not start" >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  EMULATOR_GRAPH_URL=$(sed -n 's|^Graph: *\(http://[^/]*\)/v1.0.*|\1|p' "$log")
  EMULATOR_LOGIN_URL=$(sed -n 's|^Sign-in: *\(https://[^/]*\)/.*|\1|p' "$log")
  EMULATOR_CA_BUNDLE="$dir/ca-bundle.pem"
  local system_cas=/etc/ssl/certs/ca-certificates.crt
  [ -f "$system_cas" ] || system_cas=$("$venv/bin/python" -m certifi)
  cat "$system_cas" "$(sed -n 's|^CA: *||p' "$log")" >"$EMULATOR_CA_BUNDLE"
}

# start_home_assistant VENV CONFIG_DIR: msal (requests) trusts the emulator's CA.
start_home_assistant() {
  REQUESTS_CA_BUNDLE=$EMULATOR_CA_BUNDLE CURL_CA_BUNDLE=$EMULATOR_CA_BUNDLE \
    setsid "$1/bin/hass" -c "$2" >/dev/null 2>&1 &
  DEMO_PIDS+=($!)
}

# wait_demo: returns when a process ends (or the user presses Ctrl-C).
wait_demo() {
  wait -n "${DEMO_PIDS[@]}" || true
  echo "A demo process stopped; see the logs in its config directory." >&2
  return 1
}

# stop_demo: Home Assistant gets time to save its state, then everything is killed.
stop_demo() {
  local pid waited
  trap - INT TERM
  for pid in "${DEMO_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${DEMO_PIDS[@]}"; do
    waited=0
    while kill -0 -- "-$pid" 2>/dev/null && [ $waited -lt 300 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  DEMO_PIDS=()
}
