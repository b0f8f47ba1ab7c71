#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only when missing:
# PostgreSQL 15 server binaries with PostGIS 3 (tests start their own throwaway server),
# Chromium for the browser tests (driven by Playwright; no browser download), npm, and
# python3-venv for the Makefile's virtual environment.
set -euo pipefail
packages=(postgresql-15 postgresql-15-postgis-3 chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches Leaflet and the other browser assets the app serves itself (scripts/vendor_assets.py)
command -v npm >/dev/null || missing+=(nodejs npm)
# `python3 -m venv` (the Makefile's first step) needs ensurepip, which Debian ships in python3-venv
"${PYTHON:-python3}" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing system packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "Cannot install ${missing[*]}: run as root or install them yourself." >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
