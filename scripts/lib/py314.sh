# Python 3.14, which Home Assistant 2026.3 and later need, wherever this machine has it:
#   1. native: python3.14 on PATH (GitHub Actions' setup-python), a pyenv 3.14, or one uv
#      manages (`uv python find 3.14`; nothing is downloaded);
#   2. otherwise, on a Debian host as root: a minimal Debian "forky" root filesystem (it
#      has python3.14) made with debootstrap from the host's own mirror, kept in a
#      machine-level cache outside the checkout so that every clone (CI's too) reuses it.
# py314_run runs a command under it, in the current directory. In the root filesystem the
# checkout and /tmp are mounted at the same absolute paths as on the host, so the paths
# passed around (config directories, CA bundles, pytest's tmp_path) mean the same inside.
# Those mounts live in a private mount namespace (unshare) that the kernel removes when
# its last process ends: nothing stays mounted on the host, even after `kill -9`.
# Environment: TEAMS_PRESENCE_PY314 (a python3.14 to use, or "chroot" to force the root
# filesystem), TEAMS_PRESENCE_ROOTFS (default /var/cache/teams-presence/forky).
# shellcheck shell=bash disable=SC2034 # the PY314_* settings are read by env.sh

PY314_ROOTFS=${TEAMS_PRESENCE_ROOTFS:-/var/cache/teams-presence/forky}
PY314_CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY314_UV_VERSION=0.13.9
# g++ and the headers: two packages the frontend needs (requirements_demo.txt) have no
# Python 3.14 wheels on PyPI and are built once (uv caches the wheels in the rootfs).
PY314_PACKAGES=(python3.14 python3.14-venv ca-certificates g++ python3.14-dev)
# Variables the root filesystem's clean environment keeps (the host's pip and uv settings
# point at host paths): proxies, and the CA bundles the demo and browser test hand to hass.
PY314_PASS_ENV=(http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY
  UV_DEFAULT_INDEX UV_INDEX_URL REQUESTS_CA_BUNDLE CURL_CA_BUNDLE CI TERM COLUMNS TZ
  PYTEST_ADDOPTS)
PY314_MODE=""      # native or chroot, once py314_setup has run
PY314_PYTHON=""    # python3.14, as py314_run sees it
PY314_UV=""        # uv, as py314_run sees it
PY314_VENV_ROOT="" # where the Python 3.14 venvs live, as py314_run sees it

# find_native_python314: prints a working python3.14, or fails quietly.
find_native_python314() {
  local candidate candidates=() pyenv_root
  [ -n "${TEAMS_PRESENCE_PY314:-}" ] && [ "$TEAMS_PRESENCE_PY314" != chroot ] &&
    candidates+=("$TEAMS_PRESENCE_PY314")
  candidates+=("$(command -v python3.14 || true)")
  if command -v pyenv >/dev/null; then
    pyenv_root=$(pyenv root)
    candidates+=("$pyenv_root"/versions/3.14*/bin/python3.14)
  fi
  candidates+=("$HOME"/.pyenv/versions/3.14*/bin/python3.14)
  # uv's own Pythons (`uv python install 3.14`); never a download here.
  candidates+=("$(UV_PYTHON_DOWNLOADS=never "$UV" python find 3.14 2>/dev/null || true)")
  for candidate in "${candidates[@]}"; do
    # A pyenv shim exists even where its version is not installed: ask the interpreter.
    if [ -n "$candidate" ] && [ -x "$candidate" ] &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 14))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  return 1
}

# py314_setup: decides how Python 3.14 runs, preparing the root filesystem if it must.
py314_setup() {
  [ -n "$PY314_MODE" ] && return
  local python=""
  ensure_uv
  [ "${TEAMS_PRESENCE_PY314:-}" = chroot ] || python=$(find_native_python314) || true
  if [ -n "$python" ]; then
    PY314_MODE=native PY314_PYTHON=$python PY314_UV=$UV PY314_VENV_ROOT=$VENV_ROOT
    return
  fi
  if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
    cat >&2 <<EOF
error: Home Assistant 2026.3 and later need Python 3.14, and none was found. Install one:
  uv python install 3.14        (or: pyenv install 3.14; or your system's python3.14)
or run this as root on Debian, where the scripts make a Debian forky root filesystem
with Python 3.14 in $PY314_ROOTFS (TEAMS_PRESENCE_ROOTFS moves it).
EOF
    return 1
  fi
  PY314_MODE=chroot PY314_PYTHON=/usr/bin/python3.14 PY314_UV=/opt/tools/bin/uv
  PY314_VENV_ROOT=/opt/teams-presence
  mkdir -p "$(dirname "$PY314_ROOTFS")"
  # One setup at a time per root filesystem; runs themselves need no lock.
  (
    flock 8
    _py314_make_rootfs && _py314_configure_rootfs
  ) 8>"$PY314_ROOTFS.lock"
}

# py314_host_path PATH: where a path py314_run sees lies on the host.
py314_host_path() {
  if [ "$PY314_MODE" = chroot ]; then echo "$PY314_ROOTFS$1"; else echo "$1"; fi
}

# py314_command COMMAND...: sets PY314_COMMAND to what runs COMMAND under Python 3.14,
# in the current directory. Each step execs the next, so the process started is the
# command itself (its pid and process group are the command's; a signal reaches it).
py314_command() {
  if [ "$PY314_MODE" = native ]; then
    PY314_COMMAND=("$@")
    return
  fi
  local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
    LANG=C.UTF-8 SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt) var
  for var in "${PY314_PASS_ENV[@]}"; do
    [ -n "${!var:-}" ] && env+=("$var=${!var}")
  done
  # shellcheck disable=SC2016 # expanded by the inner shells
  PY314_COMMAND=(unshare --mount --propagation private -- bash -c
    "$(declare -f _py314_enter)"'; _py314_enter "$@"' bash "$PY314_ROOTFS" "$PY314_CHECKOUT"
    /usr/bin/env -i "${env[@]}" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$PWD" "$@")
}

# py314_run COMMAND...: runs COMMAND under Python 3.14 (see py314_command).
py314_run() {
  py314_command "$@"
  "${PY314_COMMAND[@]}"
}

# In the new mount namespace: mount what the command needs, then chroot into it.
_py314_enter() {
  local root=$1 checkout=$2 dir
  shift 2
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  for dir in "$checkout" /tmp; do
    mkdir -p "$root$dir"
    mount --bind "$dir" "$root$dir"
  done
  exec chroot "$root" "$@"
}

# The host's Debian mirror: the URIs of the first deb822 stanza (or sources.list line)
# that is not -security. Never a hard-coded host: CI reaches only the machine's mirror.
_py314_mirror() {
  local sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$sources" ]; then
    awk '/^URIs:/ { uri = $2 } /^Suites:/ { suites = $0 }
      /^[[:space:]]*$/ { if (uri != "" && suites !~ /-security/) { print uri; exit } uri = ""; suites = "" }
      END { if (uri != "" && suites !~ /-security/) print uri }' "$sources" | head -n1
  else
    awk '$1 == "deb" && $0 !~ /-security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list 2>/dev/null
  fi
}

_py314_make_rootfs() {
  local root=$PY314_ROOTFS mirror script start=$SECONDS
  [ -e "$root/.debootstrap-done" ] && return
  mirror=$(_py314_mirror)
  [ -n "$mirror" ] || { echo "error: no Debian mirror found in /etc/apt" >&2; return 1; }
  if ! command -v debootstrap >/dev/null; then
    echo "Installing debootstrap" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  fi
  # An interrupted debootstrap leaves a partial tree (its mounts died with its namespace):
  # removed when its log says we made it, never a directory we did not make.
  if [ -n "$(ls -A "$root" 2>/dev/null)" ]; then
    if [ ! -e "$root.debootstrap.log" ]; then
      echo "error: $root is not empty and holds no finished root filesystem: remove it" >&2
      return 1
    fi
    echo "Removing the unfinished root filesystem in $root" >&2
    rm -rf --one-file-system "$root"
  fi
  mkdir -p "$root"
  # Debian 12's debootstrap predates forky: its sid script makes any later suite.
  script=/usr/share/debootstrap/scripts/forky
  [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
  echo "Making a Debian forky root filesystem with Python 3.14 in $root (from $mirror)" >&2
  unshare --mount --propagation private -- \
    debootstrap --variant=minbase forky "$root" "$mirror" "$script" >"$root.debootstrap.log" 2>&1 ||
    { tail -20 "$root.debootstrap.log" >&2; return 1; }
  touch "$root/.debootstrap-done"
  echo "debootstrap took $((SECONDS - start)) s" >&2
}

# Packages, CAs and uv in the root filesystem; every step is skipped when already done.
_py314_configure_rootfs() {
  local root=$PY314_ROOTFS crt changed=0
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  {
    echo 'APT::Install-Recommends "false";'
    # A dated snapshot mirror serves Release files past their Valid-Until: do as the host.
    # (grep reads all: with -q, pipefail would see apt-config's SIGPIPE.)
    if apt-config dump | grep '^Acquire::Check-Valid-Until "false"' >/dev/null; then
      echo 'Acquire::Check-Valid-Until "false";'
    fi
  } >"$root/etc/apt/apt.conf.d/99teams-presence"
  # CAs the host added (e.g. for a TLS-inspecting proxy in front of PyPI) are trusted inside.
  mkdir -p "$root/usr/local/share/ca-certificates"
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$crt" ] || continue
    cmp -s "$crt" "$root/usr/local/share/ca-certificates/${crt##*/}" && continue
    cp "$crt" "$root/usr/local/share/ca-certificates/" && changed=1
  done
  if ! chroot "$root" dpkg -s "${PY314_PACKAGES[@]}" >/dev/null 2>&1; then
    echo "Installing ${PY314_PACKAGES[*]} in $root" >&2
    py314_run apt-get update -qq >&2
    py314_run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PY314_PACKAGES[@]}" >/dev/null
    py314_run apt-get clean
    changed=1
  fi
  [ "$changed" = 0 ] || py314_run update-ca-certificates >/dev/null
  # uv installs Home Assistant's few hundred packages in seconds where pip takes minutes.
  local uv_version
  uv_version=$(chroot "$root" /opt/tools/bin/uv --version 2>/dev/null || true)
  if [ "${uv_version%% (*}" != "uv $PY314_UV_VERSION" ]; then # "uv 0.13.9 (x86_64-...)"
    echo "Installing uv $PY314_UV_VERSION in $root/opt/tools" >&2
    py314_run python3.14 -m venv /opt/tools
    py314_run /opt/tools/bin/pip install -q --disable-pip-version-check "uv==$PY314_UV_VERSION" >&2
  fi
}
