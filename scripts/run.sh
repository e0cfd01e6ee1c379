#!/usr/bin/env bash
# The service alone, without Docker: starts (or installs) the local Postgres, Redis and
# RabbitMQ, builds the browser app (web/dist) and the binary exactly as the Dockerfile does, and
# runs it on :8080 with APP_PROFILE=dev (development defaults) and the demo concerts: open http://localhost:8080/.
# Extra arguments become environment settings and win over these, e.g.
#   scripts/run.sh SEED_DEMO_DATA=false SMTP_URL=smtp://127.0.0.1:1025
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/services.sh
if command -v npm >/dev/null 2>&1; then
  # shellcheck source=lib/web.sh
  . scripts/lib/web.sh
  web_build
else
  printf '[run] npm not found: serving the API only (the browser app needs Node.js 20.19+)\n' >&2
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing/target}"
cargo build --release --locked --bin ticketing
exec env APP_PROFILE=dev WEB_DIR="$PWD/web/dist" SEED_DEMO_DATA=true "$@" "$CARGO_TARGET_DIR/release/ticketing"
