#!/usr/bin/env bash
# Regenerates `.sqlx/` (the offline query data) from a scratch database migrated with
# `migrations/`. Run after changing a `query!` or a migration; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
# Its own name per run, so two at once (two work trees) do not drop each other's database.
DB=ticketing_sqlx_prepare_$$
trap 'psql "$PGURL/postgres" -qc "drop database if exists $DB with (force)" >/dev/null 2>&1 || true' EXIT
psql "$PGURL/postgres" -qc "drop database if exists $DB with (force)" -c "create database $DB"
for f in migrations/*.sql; do psql "$PGURL/$DB" -q -v ON_ERROR_STOP=1 -f "$f"; done
rm -rf .sqlx && mkdir .sqlx
touch src/lib.rs
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/.sqlx" DATABASE_URL="$PGURL/$DB" cargo build --lib --quiet
echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"
