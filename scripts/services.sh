#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ run on their standard local ports: starts them
# if they are stopped, installs them from Debian packages if they are missing. Idempotent.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
fresh_postgres=false
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade "${missing[@]}" >/dev/null
  [[ " ${missing[*]} " == *" postgresql "* ]] && fresh_postgres=true
fi

if ! up 5432; then
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
fi
if $fresh_postgres; then
  # A fresh Debian cluster asks for passwords over TCP; local development trusts loopback.
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf | sort -V | tail -n1)
  as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main reload
fi
if ! up 6379; then
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! up 5672; then
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached
fi

for port in 5432 6379 5672; do
  for _ in $(seq 1 120); do up "$port" && break; sleep 1; done
  up "$port" || { log "nothing answers on port $port"; exit 1; }
done
log "PostgreSQL, Redis and RabbitMQ are up"
