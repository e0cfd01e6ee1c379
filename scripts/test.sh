#!/usr/bin/env bash
# The test command: starts (or installs) the local services and installs the tools the tests run,
# then runs every test against them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/services.sh
# promtool, which tests/ops runs on the Prometheus files.
./scripts/tools.sh
# A build directory outside the clone, so a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing/target}"
# Integration tests wait on I/O more than on CPU: run more of them than there are cores.
cargo test --locked -- --test-threads="${TEST_THREADS:-6}" "$@"
