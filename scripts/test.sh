#!/usr/bin/env bash
# The test command: starts (or installs) the local services and the tools the tests run, checks
# formatting, lints and the offline query data, then runs every test against the services, the
# browser app's included (scripts/e2e.sh installs chromium when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/services.sh
# promtool, which tests/ops runs on the Prometheus files.
./scripts/tools.sh
# A build directory outside the clone, so a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing/target}"
step() { printf '[test] %s\n' "$*" >&2; }
step "cargo fmt --all --check"
cargo fmt --all --check
step "cargo clippy --locked --workspace --all-targets -- -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "scripts/sqlx-check.sh"
./scripts/sqlx-check.sh
# The Kubernetes manifests, rendered and checked against the Kubernetes schemas (offline).
step "scripts/k8s-validate.sh"
./scripts/k8s-validate.sh
# Integration tests wait on I/O more than on CPU: run more of them than there are cores.
step "cargo test"
cargo test --locked --workspace -- --test-threads="${TEST_THREADS:-6}" "$@"
# The same holds, waiting-room, seat-map stream and flash-sale tests on a local 3-master Redis
# Cluster (ports 7000-7002): every script must touch one hash slot.
step "Redis Cluster: scripts/redis-cluster.sh, then the cluster pass of cargo test"
./scripts/redis-cluster.sh start
TEST_REDIS_CLUSTER_NODES=redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002 \
  cargo test --locked --test api --test flash_sale -- --test-threads="${TEST_THREADS:-6}" \
  holds:: queue:: availability:: streams:: a_flash_sale "$@"
# The OpenAPI document against the real app: schemathesis, every check and phase, 0 failures.
step "scripts/fuzz.sh"
./scripts/fuzz.sh
# The TypeScript client generated from docs/openapi.json against real answers.
step "scripts/ts-contract.sh"
./scripts/ts-contract.sh
# The browser app in headless Chromium against the real app: Vitest, the build, Playwright.
step "scripts/e2e.sh"
./scripts/e2e.sh
