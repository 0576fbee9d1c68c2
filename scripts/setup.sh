#!/usr/bin/env bash
# Set up OpenIntern on this machine: bubblewrap (the sandbox) and the Python package.
#   scripts/setup.sh          the agent and the demo
#   scripts/setup.sh --dev    also everything the test suite needs (Ray, web, linters)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v bwrap >/dev/null 2>&1; then
  echo "installing bubblewrap (the sandbox)…"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq bubblewrap >/dev/null \
    || echo "warning: could not install bubblewrap; use --sandbox none to run without isolation" >&2
fi

extras="demo"
if [ "${1:-}" = "--dev" ]; then
  extras="demo,dev,ray,web,browser"
  # The web app's browser tests drive Debian's Chromium through Playwright (Playwright's
  # own browser download is not used).
  if ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium (for the browser tests)…"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null \
      || echo "warning: could not install chromium; the browser tests will be skipped" >&2
  fi
fi
python3 -m pip install --quiet --disable-pip-version-check -e ".[${extras}]"
echo "OpenIntern is installed: try 'intern --help'"
