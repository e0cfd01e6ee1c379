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
log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then
  log "installing schemathesis $VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

APP_ENV="SEED_DEMO_DATA=true"
# shellcheck source=lib/app.sh
. scripts/lib/app.sh
ADMIN=$ADMIN_TOKEN
FAN=$(curl -fs -X POST "$BASE/api/user/signup" -H 'content-type: application/json' \
  -d '{"username": "fuzzfan", "email": "fuzz.fan@example.com", "password": "fuzz-password-1"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

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
if grep -q "panicked" "$APP_LOG"; then
  log "the app panicked:"; grep -A5 panicked "$APP_LOG" >&2; status=1
fi
exit $status
