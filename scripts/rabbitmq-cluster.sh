#!/usr/bin/env bash
# A local 3-node RabbitMQ cluster to try quorum queues by hand: nodes rabbit-1, rabbit-2 and
# rabbit-3 @localhost on AMQP ports 5681-5683 (distribution ports 25681-25683), each with its
# own data under $RABBITMQ_CLUSTER_DIR (default /tmp/ticketing-rabbitmq-cluster), sharing one
# Erlang cookie, no plugins. It leaves the machine's own RabbitMQ (5672) alone.
#
#   scripts/rabbitmq-cluster.sh start     # start the nodes and join 2 and 3 to 1 (idempotent)
#   scripts/rabbitmq-cluster.sh status    # cluster members, and the email queues' replicas
#   scripts/rabbitmq-cluster.sh stop      # stop the nodes (their data stays)
#   scripts/rabbitmq-cluster.sh stop-node 2 / start-node 2   # lose one node, and bring it back
#   scripts/rabbitmq-cluster.sh clean     # stop and delete the data
#
# Then run the service against it: AMQP_URL=amqp://guest:guest@127.0.0.1:5681/%2f (any node
# serves every queue; `guest` is allowed because the connection comes from loopback).
set -euo pipefail

DIR="${RABBITMQ_CLUSTER_DIR:-/tmp/ticketing-rabbitmq-cluster}"
NODES=(1 2 3)
log() { printf '[rabbitmq-cluster] %s\n' "$*" >&2; }

# The Debian package's scripts under /usr/sbin switch to the `rabbitmq` user and the system
# node's directories; the real ones live in /usr/lib/rabbitmq/bin.
bin() {
  if [ -x "/usr/lib/rabbitmq/bin/$1" ]; then echo "/usr/lib/rabbitmq/bin/$1"; else command -v "$1"; fi
}
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || {
  log "rabbitmq-server is not installed (scripts/services.sh installs it)"
  exit 1
}

name() { echo "rabbit-$1@localhost"; }
port() { echo $((5680 + $1)); }

# Every node and every CLI call: the same HOME (so the same Erlang cookie), and none of the
# system's configuration (it would name the node rabbit@localhost on port 5672).
node_env() {
  local n=$1 d="$DIR/rabbit-$1"
  mkdir -p "$d"
  [ -f "$DIR/rabbitmq-env.conf" ] || : >"$DIR/rabbitmq-env.conf"
  [ -f "$DIR/enabled_plugins" ] || echo '[].' >"$DIR/enabled_plugins"
  printf 'listeners.tcp.1 = 127.0.0.1:%s\n' "$(port "$n")" >"$d/rabbitmq.conf"
  export HOME="$DIR"
  export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
  export RABBITMQ_NODENAME="$(name "$n")"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$(port "$n")"
  export RABBITMQ_DIST_PORT=$((25680 + n))
  export RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$d/mnesia"
  export RABBITMQ_LOG_BASE="$d/log"
  export RABBITMQ_PID_FILE="$d/node.pid"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

ctl() { local n=$1; shift; (node_env "$n"; "$(bin rabbitmqctl)" -q -n "$(name "$n")" "$@"); }
running() { ctl "$1" status >/dev/null 2>&1; }

start_node() {
  local n=$1
  if running "$n"; then log "$(name "$n") already runs"; return; fi
  log "starting $(name "$n") on port $(port "$n")"
  (node_env "$n"; cd "$DIR/rabbit-$n" && "$(bin rabbitmq-server)" -detached)
  # A busy machine takes a while; await_startup waits for the node's boot to finish.
  for _ in $(seq 1 120); do running "$n" && break; sleep 1; done
  ctl "$n" await_startup --timeout 180
}

join() {
  local n=$1
  if ctl 1 cluster_status --formatter json 2>/dev/null | grep -q "\"$(name "$n")\""; then
    return
  fi
  log "joining $(name "$n") to $(name 1)"
  ctl "$n" stop_app
  ctl "$n" reset
  ctl "$n" join_cluster "$(name 1)"
  ctl "$n" start_app
}

case "${1:-start}" in
  start)
    for n in "${NODES[@]}"; do start_node "$n"; done
    for n in 2 3; do join "$n"; done
    ctl 1 cluster_status
    log "up: AMQP_URL=amqp://guest:guest@127.0.0.1:$(port 1)/%2f (or :$(port 2), :$(port 3))"
    ;;
  status)
    ctl 1 cluster_status
    # Members of each quorum queue (leader first): three once the service has declared them.
    ctl 1 list_queues name type leader members messages
    ;;
  start-node) start_node "${2:?which node: 1, 2 or 3}" ;;
  stop-node) log "stopping $(name "${2:?which node}")"; ctl "$2" stop ;;
  stop)
    for n in 3 2 1; do running "$n" && { log "stopping $(name "$n")"; ctl "$n" stop; }; done
    true
    ;;
  clean)
    "$0" stop
    rm -rf "$DIR"
    ;;
  *) echo "usage: $0 [start|status|stop|start-node N|stop-node N|clean]" >&2; exit 2 ;;
esac
