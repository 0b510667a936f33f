#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine: Debian packages (when run as root and they are
# missing), then a virtual environment at .venv with the pinned Python packages, then the tests' npm packages.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# WeasyPrint renders with Pango/HarfBuzz and needs fonts; pdftoppm helps people look at results; the browser
# tests drive Debian's Chromium (Playwright's own browser download cannot work here).
DEBIAN_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1
                 fonts-dejavu-core fonts-liberation2 poppler-utils chromium)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are missing; install them (as root: apt-get install ${missing[*]})" >&2
  fi
fi

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)'; then
      PYTHON=$candidate; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "setup: Python 3.11 or 3.12 is needed" >&2; exit 1; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
echo "setup: .venv is ready ($(.venv/bin/python --version))"

# The tests start a real OpenID provider (oidc-provider) and a mail server with an inbox to read (maildev), both from
# npm, installed exactly as package-lock.json says, and
# again whenever the lock is newer than what was installed (npm ci records it in node_modules/.package-lock.json).
if command -v npm >/dev/null 2>&1; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
  echo "setup: node_modules is ready (Node.js $(node --version))"

  # The task pages' assets (gate/static/): GOV.UK Frontend's Sass compiled with cspr's settings, and its script with
  # cspr.js, which starts it (no inline script: the pages' CSP is script-src 'self'). Built into gate/static/build/
  # (not committed), and again only when a source is newer than what was built.
  built=gate/static/build
  if [ ! -f "$built/cspr.css" ] ||
     [ -n "$(find gate/static/cspr.scss node_modules/.package-lock.json -newer "$built/cspr.css" 2>/dev/null)" ]; then
    mkdir -p "$built"
    node_modules/.bin/sass --load-path=node_modules --style=compressed --no-source-map --quiet-deps \
      --silence-deprecation=import gate/static/cspr.scss "$built/cspr.css"
  fi
  cp -p node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js gate/static/cspr.js "$built/"
  echo "setup: the task pages' assets are built ($built)"
else
  echo "setup: Node.js and npm are missing; the OpenID Connect sign-in and browser tests and the task pages' style sheet need them" >&2
fi
