#!/usr/bin/env bash
# The run command (until the compose stack exists): starts (or installs) the local services,
# then builds and runs the service on :8080 with development defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/services.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing/target}"
exec cargo run --locked --release --bin ticketing
