#!/usr/bin/env bash
# Renders Swagger UI of a running service in headless Chromium (no network beyond localhost)
# and lists the operations it shows. Needs `apt-get install chromium`.
#   scripts/check-swagger-ui.sh [base-url] [screenshot.png]
set -euo pipefail
base=${1:-http://127.0.0.1:8080}
shot=${2:-swagger-ui.png}
profile=$(mktemp -d)
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$profile" --virtual-time-budget=8000)
chromium "${flags[@]}" --window-size=1280,1600 --screenshot="$shot" "$base/swagger-ui.html" 2>/dev/null
ops=$(chromium "${flags[@]}" --dump-dom "$base/swagger-ui.html" 2>/dev/null | grep -o 'data-path="[^"]*"' | sort -u)
rm -rf "$profile"
count=$(printf '%s\n' "$ops" | grep -c data-path || true)
printf '%s\n' "$ops"
echo "Swagger UI rendered $count paths; screenshot in $shot"
[ "$count" -gt 0 ]
