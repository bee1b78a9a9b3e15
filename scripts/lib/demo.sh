# The demo's processes, for scripts/demo. Each runs in its own process group (and, under
# the root filesystem, its own mount namespace), watched by a supervisor (a subshell of
# scripts/demo) that starts it again: Home Assistant when it exits to restart (a restart
# from its UI ends `hass` with code 100), the emulator whenever it ends (its state dir
# keeps the tokens it issued and its certificate). Stopping leaves nothing behind.
# shellcheck shell=bash disable=SC2034 # EMULATOR_* are read by scripts/demo

DEMO_SUPERVISORS=()
HASS_RESTART_CODE=100 # homeassistant.const.RESTART_EXIT_CODE
# A second user in the emulator's tenant, for adding a second account by hand.
EMULATOR_SECOND_USER=meganb@contoso.example
# Two colleagues the demo account follows, whose Teams presence changes now and then.
EMULATOR_COLLEAGUES=("Lee Gu <leeg@contoso.example>" "Alex Wilber <alexw@contoso.example>")

# start_emulator DIR GRAPH_PORT LOGIN_PORT PUBLIC_PORT HA_URL: the Graph/Entra emulator in
# the demo's venv, with its users, tokens and certificates in DIR/.emulator, and a public
# HTTPS address on PUBLIC_PORT in front of HA_URL for Instant updates (Presence.Read.All
# granted, as an administrator grants it, and User.ReadBasic.All for following people),
# and EMULATOR_COLLEAGUES; sets EMULATOR_GRAPH_URL, EMULATOR_LOGIN_URL,
# EMULATOR_PUBLIC_URL, EMULATOR_CA_BUNDLE (system CAs + the emulator's, for msal),
# EMULATOR_CLIENT_ID and EMULATOR_SECRET (its app registration).
start_emulator() {
  local dir=$1 log="$1/emulator.log" venv colleague colleagues=()
  venv=$(ha_venv "$HA_DEMO_VERSION")
  mkdir -p "$dir"
  : >"$log"
  for colleague in "${EMULATOR_COLLEAGUES[@]}"; do
    colleagues+=(--colleague "$colleague")
  done
  ha_command "$HA_DEMO_VERSION" "$venv/bin/python" -m graph_emulator --graph-port "$2" \
    --login-port "$3" --front-door "$4" "$5" --consent Presence.Read.All \
    --consent User.ReadBasic.All --auto-approve-device-seconds 1 --simulate-day \
    --state-dir "$dir/.emulator" --user "Megan Bowen <$EMULATOR_SECOND_USER>" \
    "${colleagues[@]}"
  supervise always "$log" "${HA_COMMAND[@]}"
  local waited=0
  until grep -q "Ctrl-C" "$log"; do
    if ! kill -0 "${DEMO_SUPERVISORS[-1]}" 2>/dev/null || [ $waited -ge 300 ]; then
      cat "$log" >&2
      echo "error: the emulator did not start" >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  # What the first start printed (a restart appends the same).
  _printed() { sed -n "s|$1|\\1|p" "$log" | head -n1; }
  EMULATOR_GRAPH_URL=$(_printed '^Graph: *\(http://[^/]*\)/v1.0.*')
  EMULATOR_LOGIN_URL=$(_printed '^Sign-in: *\(https://[^/]*\)/.*')
  EMULATOR_PUBLIC_URL=$(_printed '^Public: *\(https://[^ ]*\) .*')
  EMULATOR_CLIENT_ID=$(_printed '^App: *client id \([^,]*\),.*')
  EMULATOR_SECRET=$(_printed '^App: .*, secret \(.*\)$')
  EMULATOR_CA_BUNDLE="$dir/ca-bundle.pem"
  # The emulator's CA path is the same on the host and in the root filesystem.
  cat /etc/ssl/certs/ca-certificates.crt "$(_printed '^CA: *\(.*\)$')" >"$EMULATOR_CA_BUNDLE"
}

# start_home_assistant CONFIG_DIR: msal (requests) trusts the emulator's CA.
start_home_assistant() {
  local venv
  venv=$(ha_venv "$HA_DEMO_VERSION")
  ha_command "$HA_DEMO_VERSION" env REQUESTS_CA_BUNDLE="$EMULATOR_CA_BUNDLE" \
    CURL_CA_BUNDLE="$EMULATOR_CA_BUNDLE" "$venv/bin/hass" -c "$1"
  supervise hass /dev/null "${HA_COMMAND[@]}"
}

# demo_setup ARGS...: scripts/demo_setup.py in the demo's venv.
demo_setup() {
  local venv
  venv=$(ha_venv "$HA_DEMO_VERSION")
  ha_run "$HA_DEMO_VERSION" "$venv/bin/python" scripts/demo_setup.py "$@"
}

# supervise always|hass LOG COMMAND...: runs COMMAND (output appended to LOG) under a
# supervisor in the background, which starts it again when it ends: always, or for
# `hass` only when it exits to restart. The supervisor ends when COMMAND ends for good.
supervise() {
  _supervisor "$@" &
  DEMO_SUPERVISORS+=($!)
}

_supervisor() {
  local policy=$1 log=$2 code started quick=0
  shift 2
  # Stopping the supervisor stops the command first ($! is the command's last start).
  # Ctrl-C and a closed terminal reach scripts/demo, which stops the supervisors.
  trap 'stop_group "$!"; exit 0' TERM
  trap '' INT HUP
  while true; do
    started=$SECONDS
    setsid "$@" >>"$log" 2>&1 &
    code=0
    wait $! || code=$?
    if [ "$policy" = hass ]; then
      if [ "$code" != "$HASS_RESTART_CODE" ]; then
        echo "Home Assistant stopped (exit code $code); see its log in its config directory." >&2
        return "$code"
      fi
      echo "Home Assistant restarts, as asked." >&2
    else
      # Started again at once, unless it cannot start at all (a port taken).
      quick=$(((SECONDS - started) < 5 ? quick + 1 : 0))
      if [ "$quick" -ge 3 ]; then
        echo "The emulator keeps stopping (exit code $code); see $log." >&2
        return 1
      fi
      echo "The emulator stopped (exit code $code); starting it again." >&2
    fi
  done
}

# stop_group PID: the process group PID leads gets time to stop (Home Assistant saves
# its state), then is killed. The root filesystem's mounts go with its last process.
stop_group() {
  local waited=0
  kill -TERM -- "-$1" 2>/dev/null || return 0
  while kill -0 -- "-$1" 2>/dev/null && [ $waited -lt 300 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL -- "-$1" 2>/dev/null || true
}

# wait_demo: returns when a supervisor gives up (or the user presses Ctrl-C).
wait_demo() {
  wait -n "${DEMO_SUPERVISORS[@]}" || true
  return 1
}

# stop_demo: every supervisor stops its command, and the script waits for them all.
stop_demo() {
  local pid
  trap - INT TERM HUP
  for pid in "${DEMO_SUPERVISORS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${DEMO_SUPERVISORS[@]}"; do wait "$pid" 2>/dev/null || true; done
  DEMO_SUPERVISORS=()
}
