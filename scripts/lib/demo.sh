# The demo's processes, for scripts/demo: each runs in its own process group (and, under
# the root filesystem, its own mount namespace), so that stopping leaves nothing behind.
# shellcheck shell=bash disable=SC2034 # EMULATOR_* are read by scripts/demo

DEMO_PIDS=()

# start_emulator DIR GRAPH_PORT LOGIN_PORT: the Graph/Entra emulator in the demo's venv;
# sets EMULATOR_GRAPH_URL, EMULATOR_LOGIN_URL and EMULATOR_CA_BUNDLE (system CAs + the
# emulator's, for msal).
start_emulator() {
  local dir=$1 log="$1/emulator.log" venv
  venv=$(ha_venv "$HA_DEMO_VERSION")
  mkdir -p "$dir"
  : >"$log"
  ha_command "$HA_DEMO_VERSION" "$venv/bin/python" -m graph_emulator --graph-port "$2" \
    --login-port "$3" --auto-approve-device-seconds 1 --simulate-day
  setsid "${HA_COMMAND[@]}" >"$log" 2>&1 &
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
  # The emulator's CA path is the same on the host and in the root filesystem (/tmp).
  cat /etc/ssl/certs/ca-certificates.crt "$(sed -n 's|^CA: *||p' "$log")" >"$EMULATOR_CA_BUNDLE"
}

# start_home_assistant CONFIG_DIR: msal (requests) trusts the emulator's CA.
start_home_assistant() {
  local venv
  venv=$(ha_venv "$HA_DEMO_VERSION")
  ha_command "$HA_DEMO_VERSION" env REQUESTS_CA_BUNDLE="$EMULATOR_CA_BUNDLE" \
    CURL_CA_BUNDLE="$EMULATOR_CA_BUNDLE" "$venv/bin/hass" -c "$1"
  setsid "${HA_COMMAND[@]}" >/dev/null 2>&1 &
  DEMO_PIDS+=($!)
}

# demo_setup ARGS...: scripts/demo_setup.py in the demo's venv.
demo_setup() {
  local venv
  venv=$(ha_venv "$HA_DEMO_VERSION")
  ha_run "$HA_DEMO_VERSION" "$venv/bin/python" scripts/demo_setup.py "$@"
}

# wait_demo: returns when a process ends (or the user presses Ctrl-C).
wait_demo() {
  wait -n "${DEMO_PIDS[@]}" || true
  echo "A demo process stopped; see the logs in its config directory." >&2
  return 1
}

# stop_demo: Home Assistant gets time to save its state, then everything is killed. The
# root filesystem's mounts go with the last process of each namespace.
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
