#!/usr/bin/env bash
# The browser benchmark of the live seat map (issue 14; not part of the test command): builds
# web/dist and the release service, starts it on a free port with its own database
# (scripts/lib/app.sh, BUILD_PROFILE=release), and runs web/perf/seatmap.perf.ts in headless
# Chromium: it creates a concert of 50,000 seats on sale through the admin API, then measures
# the initial JavaScript of /concerts (gzip), the first paint of the map (PERF_PAINT_RUNS, default
# 5), frame times while panning, and frame times while fans hold and release seats at
# PERF_CHANGES_PER_S (default 1,000) for 5 s, checking the map's pixels against the availability
# at the end. Prints the numbers; JSON goes to $PERF_OUT (default web/test-results/perf.json).
# Nothing fails on a missed target: the numbers belong in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[bench-web] %s\n' "$*" >&2; }

./scripts/services.sh
CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium || true)}
[ -n "$CHROMIUM_PATH" ] || { log "no chromium: install Debian's (scripts/e2e.sh does)"; exit 1; }
export CHROMIUM_PATH
log "$("$CHROMIUM_PATH" --version 2>/dev/null || echo "$CHROMIUM_PATH")"
log "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(date -u +%Y-%m-%dT%H:%MZ)"

# shellcheck source=lib/web.sh
. scripts/lib/web.sh
web_build
(cd web && npx --no-install tsc --noEmit -p perf/tsconfig.json)

BUILD_PROFILE=release
APP_ENV="WEB_DIR=$PWD/web/dist RUST_LOG=warn"
# shellcheck source=lib/app.sh
. scripts/lib/app.sh
mkdir -p web/test-results
PERF_OUT=${PERF_OUT:-$PWD/web/test-results/perf.json}
export PERF_OUT
log "playwright against $BASE"
(cd web && BASE_URL="$BASE" npx --no-install playwright test -c perf/playwright.config.ts "$@")
log "results: $PERF_OUT"
