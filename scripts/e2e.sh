#!/usr/bin/env bash
# The browser app end to end: installs Debian's chromium (and a Korean font) when missing, runs
# the unit tests (Vitest), builds web/dist, starts the real app on a free port with its own
# database (scripts/lib/app.sh) serving that build with the demo concerts and the payment
# simulator, and runs the Playwright suite (web/e2e) against it in headless Chromium. The exit
# code is the suite's. Arguments go to `playwright test` (e.g. `scripts/e2e.sh smoke.spec.ts`).
#
# Playwright never downloads a browser (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1); it launches
# $CHROMIUM_PATH, default the `chromium` on PATH. Timings are shorter than the defaults so that
# expiry can be seen in a test; each can be overridden by exporting the setting itself, e.g.
#   HOLD_TTL_SECS=20 scripts/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[e2e] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

./scripts/services.sh

packages=()
[ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null 2>&1 || packages+=(chromium)
# Without a Hangul font the Korean pages (and their screenshots) render as empty boxes.
installed fonts-nanum || installed fonts-noto-cjk || packages+=(fonts-nanum)
if [ ${#packages[@]} -gt 0 ]; then
  log "installing ${packages[*]} (Debian packages)"
  as_root apt-get update -qq
  # No recommends: they would bring desktop services (upower, a notification daemon).
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade \
    --no-install-recommends "${packages[@]}" >/dev/null
fi
CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium)}
export CHROMIUM_PATH
log "$("$CHROMIUM_PATH" --version 2>/dev/null || echo "$CHROMIUM_PATH")"

# shellcheck source=lib/web.sh
. scripts/lib/web.sh
web_install
log "unit tests (vitest)"
(cd web && npm run --silent test:unit -- --passWithNoTests)
web_build

# A hold of 10 s lets a test watch one run out (hold-expiry.spec.ts) and is still ample for a
# flow that checks out right away; one admitted fan per concert lets a test keep a fan waiting
# in line (purchase.spec.ts) by admitting someone else first.
APP_ENV="WEB_DIR=$PWD/web/dist SEED_DEMO_DATA=true PAYMENT_SIMULATOR=on
  HOLD_TTL_SECS=${HOLD_TTL_SECS:-10} RESERVATION_TTL_SECS=${RESERVATION_TTL_SECS:-120}
  QUEUE_TICK_MS=${QUEUE_TICK_MS:-200} QUEUE_MAX_ACTIVE=${QUEUE_MAX_ACTIVE:-1}
  EXPIRY_SWEEP_INTERVAL_MS=${EXPIRY_SWEEP_INTERVAL_MS:-200}
  AVAILABILITY_SWEEP_MS=${AVAILABILITY_SWEEP_MS:-200}"
# shellcheck source=lib/app.sh
. scripts/lib/app.sh
log "playwright against $BASE"
status=0
(cd web && BASE_URL="$BASE" npx --no-install playwright test "$@") || status=$?
if [ "$status" -ne 0 ]; then
  mkdir -p web/test-results && cp "$APP_LOG" web/test-results/app.log
  log "failed: traces and the app's log (app.log) are in web/test-results (npx playwright show-trace <trace.zip>)"
fi
exit "$status"
