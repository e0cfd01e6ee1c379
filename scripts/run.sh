#!/usr/bin/env bash
# The service alone, without Docker: starts (or installs) the local Postgres, Redis and
# RabbitMQ, builds the binary exactly as the Dockerfile does, and runs it on :8080 with
# development defaults. Extra arguments become environment settings, e.g.
#   scripts/run.sh SEED_DEMO_DATA=true SMTP_URL=smtp://127.0.0.1:1025
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/services.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing/target}"
cargo build --release --locked --bin ticketing
exec env "$@" "$CARGO_TARGET_DIR/release/ticketing"
