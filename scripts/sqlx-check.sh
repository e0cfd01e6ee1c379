#!/usr/bin/env bash
# Fails if `.sqlx/` (the offline query data) does not match the queries and the migrations:
# regenerates it into a temporary directory, like scripts/sqlx-prepare.sh, and compares.
# Needs the local PostgreSQL (scripts/services.sh). Leaves no database and no file behind.
set -euo pipefail
cd "$(dirname "$0")/.."
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
# Its own name per run (not sqlx-prepare's), so two checks at once do not drop each other's.
DB=ticketing_sqlx_check_$$
export PGOPTIONS="${PGOPTIONS:---client-min-messages=warning}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing/target}"

out=$(mktemp -d)
cleanup() {
  rm -rf "$out"
  psql "$PGURL/postgres" -qc "drop database if exists $DB with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql "$PGURL/postgres" -qc "create database $DB"
for f in migrations/*.sql; do psql "$PGURL/$DB" -q -v ON_ERROR_STOP=1 -f "$f"; done

# The query macros write their data only when they run, so the lib must be compiled again. A
# `cargo rustc` argument that changes every run does that without touching a source file: only
# the lib is re-checked (no code generation), and the build artifacts that `cargo build` and
# `cargo test` use are left as they are.
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$out" DATABASE_URL="$PGURL/$DB" \
  cargo rustc --lib --locked --quiet --profile check -- \
  --cfg "sqlx_check=\"$(date +%s%N)\"" --check-cfg 'cfg(sqlx_check, values(any()))'

committed=$(cd .sqlx 2>/dev/null && ls | sort || true)
fresh=$(cd "$out" && ls | sort)
missing=$(comm -13 <(echo "$committed") <(echo "$fresh") | sed '/^$/d')
extra=$(comm -23 <(echo "$committed") <(echo "$fresh") | sed '/^$/d')
differ=$(comm -12 <(echo "$committed") <(echo "$fresh") | sed '/^$/d' |
  while read -r f; do cmp -s ".sqlx/$f" "$out/$f" || echo "$f"; done)

if [ -z "$missing$extra$differ" ]; then
  echo ".sqlx/ matches the queries ($(echo "$fresh" | wc -l) files)"
  exit 0
fi
{
  echo ".sqlx/ does not match the queries and migrations:"
  [ -n "$missing" ] && echo "$missing" | sed 's/^/  missing (a query has no data): .sqlx\//'
  [ -n "$extra" ] && echo "$extra" | sed 's/^/  extra (no query uses it):     .sqlx\//'
  [ -n "$differ" ] && echo "$differ" | sed 's/^/  differs:                      .sqlx\//'
  echo "Run scripts/sqlx-prepare.sh and commit .sqlx/."
} >&2
exit 1
