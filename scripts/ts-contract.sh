#!/usr/bin/env bash
# The typed client against the real app: regenerates web/src/lib/api/schema.d.ts from
# docs/openapi.json with openapi-typescript (fails when the committed one is stale), records the
# answers of a purchase walk as TypeScript that `satisfies` each operation's declared body, and
# type-checks them with tsc.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[ts-contract] %s\n' "$*" >&2; }
if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  log "npm ci"
  (cd web && npm ci --no-fund --no-audit --loglevel=error)
fi
mkdir -p web/.contract
(cd web && npx --no-install openapi-typescript ../docs/openapi.json -o .contract/schema.d.ts --silent)
if ! diff -q web/.contract/schema.d.ts web/src/lib/api/schema.d.ts >/dev/null; then
  log "web/src/lib/api/schema.d.ts is stale: run (cd web && npm run gen:api) and commit it"
  exit 1
fi
# shellcheck source=lib/app.sh
. scripts/lib/app.sh
python3 scripts/lib/answers.py "$BASE" "$ADMIN_TOKEN" web/.contract/answers.ts
(cd web && npx --no-install tsc --noEmit --strict --skipLibCheck false --target es2022 \
  --module esnext --moduleResolution bundler .contract/answers.ts)
log "real answers type-check against the generated client"
