#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (tests/serve/test_dashboard.py); idempotent.
# Playwright's Python package drives it through executable_path: no browser download ("playwright install").
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "installed $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
