#!/usr/bin/env bash
# A local Redis Cluster of 3 masters (no replicas) on 127.0.0.1, ports BASE..BASE+2 (default
# 7000-7002), each with its data under $REDIS_CLUSTER_DIR (default /tmp/ticketing-redis-cluster-
# BASE) and no persistence. It leaves the machine's own Redis (6379) alone.
#
#   scripts/redis-cluster.sh start [BASE]   # start the nodes and create the cluster (idempotent)
#   scripts/redis-cluster.sh status [BASE]  # cluster state and its nodes
#   scripts/redis-cluster.sh stop [BASE]    # stop the nodes and delete their data
#   scripts/redis-cluster.sh kill-node PORT [BASE]   # SIGKILL one node (a crash)
#   scripts/redis-cluster.sh start-node PORT [BASE]  # start it again: it rejoins, empty
#
# Then run the service against it: REDIS_CLUSTER_NODES=redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002
set -euo pipefail

cmd="${1:-start}"
NODE=""
if [ "$cmd" = kill-node ] || [ "$cmd" = start-node ]; then
  NODE="${2:?a port}"
  shift
fi
BASE="${2:-${REDIS_CLUSTER_BASE:-7000}}"
DIR="${REDIS_CLUSTER_DIR:-/tmp/ticketing-redis-cluster-$BASE}"
PORTS=("$BASE" $((BASE + 1)) $((BASE + 2)))
log() { printf '[redis-cluster] %s\n' "$*" >&2; }

command -v redis-server >/dev/null 2>&1 || {
  log "redis-server is not installed (scripts/services.sh installs it)"
  exit 1
}

up() { redis-cli -p "$1" ping >/dev/null 2>&1; }
state() { redis-cli -p "$BASE" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'; }

start_node() {
  local port=$1 d="$DIR/$1"
  up "$port" && return 0
  mkdir -p "$d"
  run_node "$port"
}

# With the node file it has (if any): a restarted node rejoins its cluster with its slots.
run_node() {
  local port=$1 d="$DIR/$1"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$d" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --save "" --appendonly no --logfile "$d/redis.log" --pidfile "$d/redis.pid"
}

case "$cmd" in
  start)
    # Nodes of an earlier cluster that is not ok (peers gone): start clean.
    if [ "$(state)" != ok ]; then
      for p in "${PORTS[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
      rm -rf "$DIR"
    fi
    for p in "${PORTS[@]}"; do start_node "$p"; done
    for _ in $(seq 50); do
      ok=1
      for p in "${PORTS[@]}"; do up "$p" || ok=0; done
      [ "$ok" = 1 ] && break
      sleep 0.1
    done
    if [ "$(state)" != ok ]; then
      known=$(redis-cli -p "$BASE" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')
      if [ "${known:-1}" -le 1 ]; then
        redis-cli --cluster create "${PORTS[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes \
          >"$DIR/create.log" 2>&1 || { cat "$DIR/create.log" >&2; exit 1; }
      fi
      for _ in $(seq 100); do
        [ "$(state)" = ok ] && break
        sleep 0.1
      done
    fi
    [ "$(state)" = ok ] || { log "the cluster on ${PORTS[*]} is not ok: $(state)"; exit 1; }
    log "up: ${PORTS[*]/#/redis://127.0.0.1:}"
    ;;
  status)
    redis-cli -p "$BASE" cluster info | head -7
    redis-cli -p "$BASE" cluster nodes
    ;;
  kill-node)
    kill -9 "$(cat "$DIR/$NODE/redis.pid")"
    rm -f "$DIR/$NODE/redis.pid"
    ;;
  start-node)
    run_node "$NODE"
    for _ in $(seq 50); do up "$NODE" && break; sleep 0.1; done
    ;;
  stop)
    for p in "${PORTS[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: $0 start|status|stop [BASE] | kill-node|start-node PORT [BASE]" >&2
    exit 2
    ;;
esac
