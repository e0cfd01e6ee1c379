#!/usr/bin/env bash
# schemathesis against the real app: every check, every phase (stateful included), as an admin
# and as a fan, with a fixed seed and a budget that fits CI. Exits 1 on any failure.
#   FUZZ_EXAMPLES   test cases per operation and phase (default 25)
#   FUZZ_SEED       the seed (default 20261202); FUZZ_SEED=random for a fresh one
# A longer run: FUZZ_EXAMPLES=300 FUZZ_SEED=random ./scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
VENV="$HOME/.cache/ticketing/schemathesis-$VERSION"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing/target}"
log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then
  log "installing schemathesis $VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

cargo build --locked --quiet --bin ticketing
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DB="ticketing_fuzz_$$"
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
LOG=$(mktemp)
env HTTP_ADDR="127.0.0.1:$PORT" DATABASE_URL="$PGURL/$DB" REDIS_KEY_PREFIX="fuzz:$$:" \
  AMQP_PREFIX="fuzz.$$." SEED_DEMO_DATA=true LOGIN_MAX_ATTEMPTS_PER_IP=1000000 \
  "$CARGO_TARGET_DIR/debug/ticketing" >"$LOG" 2>&1 &
APP=$!
cleanup() {
  kill "$APP" 2>/dev/null || true
  wait "$APP" 2>/dev/null || true
  psql -q "$PGURL/postgres" -c "drop database if exists $DB with (force)" >/dev/null 2>&1 || true
  rm -f "$LOG"
}
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -fs "$BASE/health/live" >/dev/null 2>&1 && break; sleep 0.2; done

token() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
ADMIN=$(curl -fs -X POST "$BASE/api/user/login" -H 'content-type: application/json' \
  -d '{"email": "admin@admin", "password": "admin1234"}' | token)
FAN=$(curl -fs -X POST "$BASE/api/user/signup" -H 'content-type: application/json' \
  -d '{"username": "fuzzfan", "email": "fuzz.fan@example.com", "password": "fuzz-password-1"}' | token)

SEED=${FUZZ_SEED:-20261202}
[ "$SEED" = random ] && SEED=$RANDOM$RANDOM
status=0
for who in admin fan; do
  if [ "$who" = admin ]; then TOKEN=$ADMIN; else TOKEN=$FAN; fi
  log "as $who: seed $SEED, ${FUZZ_EXAMPLES:-25} examples per operation"
  # One worker: CPython 3.11's ast.parse is not safe across hypothesis' threads.
  "$VENV/bin/st" --config-file schemathesis.toml --no-color run "$BASE/v3/api-docs" \
    -H "Authorization: Bearer $TOKEN" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${FUZZ_EXAMPLES:-25}" \
    --seed "$SEED" \
    --workers 1 \
    --generation-database none || status=1
done
if grep -q "panicked" "$LOG"; then
  log "the app panicked:"; grep -A5 panicked "$LOG" >&2; status=1
fi
exit $status
