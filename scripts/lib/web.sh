# Builds the browser app into web/dist: `npm ci` when web/node_modules is missing or older than
# the lockfile, then `npm run build` (tsc, then Vite). Sourced by run.sh and e2e.sh.
# Playwright never downloads a browser: the e2e suite drives Debian's chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
web_install() {
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    printf '[web] npm ci\n' >&2
    (cd web && npm ci --no-fund --no-audit --loglevel=error)
  fi
}
web_build() {
  web_install
  printf '[web] npm run build\n' >&2
  (cd web && npm run --silent build)
}
