#!/usr/bin/env bash
# Makes sure the tools the tests run are installed: `promtool`, which checks prometheus.yml and
# the alert rules (tests/ops), from Debian's `prometheus` package. Idempotent.
#
# Only the tool is wanted, not the server the package also ships. Its postinst would start a
# Prometheus on :9090 (`invoke-rc.d prometheus start` without systemd, `deb-systemd-invoke` with
# it) and enable it at boot, and a start that fails makes the whole install fail. So the install
# runs with service starts denied (policy-rc.d answering 101, which both of those obey), and the
# service is disabled and stopped afterwards.
set -euo pipefail

log() { printf '[tools] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

command -v promtool >/dev/null 2>&1 && exit 0

log "installing promtool (Debian package prometheus)"
policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then
  saved=$(mktemp)
  as_root cp -p "$policy" "$saved"
fi
restore_policy() {
  if [ -n "$saved" ]; then as_root cp -p "$saved" "$policy" && rm -f "$saved"; else as_root rm -f "$policy"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# scripts/tools.sh: install packages without starting their services.\nexit 101\n' \
  | as_root tee "$policy" >/dev/null
as_root chmod 755 "$policy"

as_root apt-get update -qq
# No recommends: they would bring prometheus-node-exporter, another server.
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade \
  --no-install-recommends prometheus >/dev/null

# Not at boot either, whichever init the machine boots with (the postinst enables both).
as_root deb-systemd-helper disable prometheus.service >/dev/null 2>&1 || true
as_root update-rc.d prometheus disable >/dev/null 2>&1 || true
if [ -d /run/systemd/system ]; then
  as_root systemctl stop prometheus.service >/dev/null 2>&1 || true
else
  as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi

command -v promtool >/dev/null 2>&1 || { log "the prometheus package installed no promtool"; exit 1; }
log "$(promtool --version 2>&1 | head -n1)"
