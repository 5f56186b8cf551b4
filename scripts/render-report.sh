#!/usr/bin/env bash
# Renders the rehearsal's HTML page (npm start -- --html <page>) to a PNG with headless Chromium, for a look by eye.
# Installs Debian's chromium package if it is missing (apt-get: needs root and the Debian mirrors).
# The page loads nothing from the network; the flags keep Chromium itself from reaching out.
# Usage: scripts/render-report.sh report.html [report.png] [width,height]
set -euo pipefail
page=${1:?usage: scripts/render-report.sh report.html [report.png] [width,height]}
png=${2:-${page%.html}.png}
size=${3:-1100,3000}
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" \
  --screenshot="$(realpath -m "$png")" --window-size="$size" "file://$(realpath "$page")" 2>/dev/null
echo "$png"
