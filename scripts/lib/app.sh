# Starts the service (the debug binary; BUILD_PROFILE=release for the release one) with APP_PROFILE=dev on a free port with its own database, Redis prefix and AMQP prefix
# (dropped again on exit): sourced by scripts that need the real app. Sets BASE, and ADMIN_TOKEN.
# Extra settings: APP_ENV (e.g. "SEED_DEMO_DATA=true"). URLs it hands out (the simulator's
# checkout pages) name the address it listens on, so a browser stays on one origin.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing/target}"
# The cargo profile, not the service's APP_PROFILE (which is always dev here; APP_ENV may override).
BUILD_PROFILE=${BUILD_PROFILE:-debug}
if [ "$BUILD_PROFILE" = release ]; then
  cargo build --locked --quiet --release --bin ticketing
else
  cargo build --locked --quiet --bin ticketing
fi
APP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
APP_DB="ticketing_$(basename "$0" .sh | tr -c 'a-z0-9_\n' _)_$$"
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
APP_LOG=$(mktemp)
# shellcheck disable=SC2086
env APP_PROFILE=dev HTTP_ADDR="127.0.0.1:$APP_PORT" DATABASE_URL="$PGURL/$APP_DB" REDIS_KEY_PREFIX="app:$$:" \
  AMQP_PREFIX="app.$$." LOGIN_MAX_ATTEMPTS_PER_IP=1000000 SIGNUP_MAX_PER_IP=1000000 PUBLIC_BASE_URL="http://127.0.0.1:$APP_PORT" \
  ${APP_ENV:-} \
  "$CARGO_TARGET_DIR/$BUILD_PROFILE/ticketing" >"$APP_LOG" 2>&1 &
APP_PID=$!
stop_app() {
  kill "$APP_PID" 2>/dev/null || true
  wait "$APP_PID" 2>/dev/null || true
  psql -q "$PGURL/postgres" -c "drop database if exists $APP_DB with (force)" >/dev/null 2>&1 || true
  rm -f "$APP_LOG"
}
trap stop_app EXIT
BASE="http://127.0.0.1:$APP_PORT"
for _ in $(seq 1 150); do curl -fs "$BASE/health/live" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "$BASE/health/live" >/dev/null || { cat "$APP_LOG" >&2; exit 1; }
ADMIN_TOKEN=$(curl -fs -X POST "$BASE/api/user/login" -H 'content-type: application/json' \
  -d '{"email": "admin@admin", "password": "admin1234"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
