#!/usr/bin/env bash
# Set up OpenIntern on this machine, from nothing but git and python3:
#   - the system packages it needs (bubblewrap for the sandbox, python3-venv), with apt;
#   - a virtual environment at .venv holding OpenIntern and its Python dependencies
#     (never the system site-packages, never --break-system-packages);
#   - the `intern` and `openintern` commands on the PATH the next command sees.
#
#   scripts/setup.sh          the agent and the demo
#   scripts/setup.sh --dev    also everything the test suite needs (Ray, web, browser, LLM
#                             post-training, linters, Chromium, PostgreSQL)
#
# Run it as root or as a user who may use sudo. Environment knobs:
#   OPENINTERN_VENV=DIR     where the virtual environment goes (default: .venv here)
#   OPENINTERN_NO_LINK=1    do not put `intern` on the PATH (call .venv/bin/intern)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv=${OPENINTERN_VENV:-$root/.venv}

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m%s\033[0m\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=(false)
fi

# --- system packages ----------------------------------------------------------------
packages=()
command -v bwrap >/dev/null 2>&1 || packages+=(bubblewrap)
# Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 \
  || packages+=("python3-venv" "python3.$(python3 -c 'import sys; print(sys.version_info[1])')-venv")
# The egress-only sandbox network uses user-mode NAT (slirp4netns) and ip (iproute2).
command -v slirp4netns >/dev/null 2>&1 || packages+=(slirp4netns)
command -v ip >/dev/null 2>&1 || packages+=(iproute2)
if [ "$dev" -eq 1 ]; then
  # Browser tests drive Debian's Chromium through Playwright (no browser download);
  # the store tests also run against a throwaway PostgreSQL cluster; the job tests look
  # for leftover processes with pgrep.
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  command -v pgrep >/dev/null 2>&1 || packages+=(procps)
  # Playwright's driver (a bundled node) needs libatomic, which minimal systems lack.
  compgen -G "/usr/lib/*/libatomic.so.1" >/dev/null || packages+=(libatomic1)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
  command -v git >/dev/null 2>&1 || packages+=(git)
fi
if [ "${#packages[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "${SUDO[0]:-}" != false ]; then
    say "installing system packages: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    # Package names differ a little between releases: install what exists, one by one
    # only when the group fails.
    if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
      for p in "${packages[@]}"; do
        "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 \
          || echo "note: could not install $p" >&2
      done
    fi
  else
    echo "warning: cannot install ${packages[*]} (no apt-get, or not root and no sudo);" \
      "install them yourself" >&2
  fi
fi
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || {
  echo "error: python3 cannot create virtual environments; install python3-venv" >&2
  exit 1
}

# --- the virtual environment ----------------------------------------------------------
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  say "creating the virtual environment $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
extras="demo"
if [ "$dev" -eq 1 ]; then
  extras="demo,dev,ray,web,browser,llm,integrations"
  # torch first, pinned, so no later dependency pulls another build of it.
  say "installing torch 2.13.0"
  "${pip[@]}" install "torch==2.13.0"
fi
say "installing OpenIntern [$extras] into $venv"
"${pip[@]}" install -e ".[${extras}]"

# --- the command on PATH ----------------------------------------------------------------
link_dir=""
if [ "${OPENINTERN_NO_LINK:-0}" != 1 ]; then
  case ":$PATH:" in
    *":$HOME/.local/bin:"*) [ "$(id -u)" -ne 0 ] && link_dir="$HOME/.local/bin" ;;
  esac
  if [ -z "$link_dir" ]; then
    if [ "$(id -u)" -eq 0 ] || [ "${SUDO[0]:-}" = sudo ]; then link_dir=/usr/local/bin; fi
  fi
fi
if [ -n "$link_dir" ]; then
  for cmd in intern openintern; do
    if [ "$link_dir" = /usr/local/bin ]; then
      "${SUDO[@]}" ln -sfn "$venv/bin/$cmd" "$link_dir/$cmd"
    else
      mkdir -p "$link_dir" && ln -sfn "$venv/bin/$cmd" "$link_dir/$cmd"
    fi
  done
  say "OpenIntern is installed: $link_dir/intern -> $venv/bin/intern; try 'intern --help'"
else
  say "OpenIntern is installed in $venv: run $venv/bin/intern (or add $venv/bin to PATH)"
fi
