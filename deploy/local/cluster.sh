#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, for trying and testing what happens
# when a broker node dies: plain processes, no systemd, no Docker. Each node is a
# deploy/local/rabbitmq.sh node with a directory of its own, .local/rabbitmq/<name>;
# nodes 2 and 3 join node 1 with `rabbitmqctl join_cluster`. Usage:
#   deploy/local/cluster.sh start|stop|status|urls|management-urls
#   deploy/local/cluster.sh kill-node N    # SIGKILL node N's VM (N = 1, 2 or 3)
#   deploy/local/cluster.sh start-node N   # start it again; it rejoins with its data
#   deploy/local/cluster.sh stop-node N    # a graceful stop
#   deploy/local/cluster.sh pid N | ctl N ARGS…
#   deploy/local/cluster.sh reset          # stop and delete every node's data
# Ports, clear of the main node (5672, 15672, 15692, 25672) and of the tests' disposable
# nodes (5682–5732, management +11000, Prometheus +12000, distribution +20000):
# node N listens for AMQP on 5780+N, management on 15780+N, Prometheus on 15790+N and
# the Erlang distribution on 25780+N. SWITCHBOARD_CLUSTER_BASE_PORT (5780) moves them all.
# The nodes share the Erlang cookie of $HOME/.erlang.cookie (rabbitmq.sh runs every
# node and rabbitmqctl with the same HOME), which clustering requires.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
script="$root/deploy/local/rabbitmq.sh"
base_port="${SWITCHBOARD_CLUSTER_BASE_PORT:-5780}"
prefix="${SWITCHBOARD_CLUSTER_NAME:-sbcluster}"
nodes=(1 2 3)

name() { echo "$prefix$1@localhost"; }
amqp_port() { echo $((base_port + $1)); }

node() {
  # Runs rabbitmq.sh for node N: its name and ports.
  local n=$1; shift
  SWITCHBOARD_RABBITMQ_NODE="$(name "$n")" \
  SWITCHBOARD_AMQP_PORT="$(amqp_port "$n")" \
  SWITCHBOARD_RABBITMQ_MGMT_PORT="$((base_port + 10000 + n))" \
  SWITCHBOARD_RABBITMQ_PROMETHEUS_PORT="$((base_port + 10010 + n))" \
    "$script" "$@"
}

check_n() {
  case "${1:-}" in 1|2|3) ;; *) echo "cluster: node number must be 1, 2 or 3" >&2; exit 2 ;; esac
}

running() { node "$1" pid >/dev/null 2>&1 && kill -0 "$(node "$1" pid)" 2>/dev/null; }

members() {
  # The running members as node 1 (or any running node) sees them.
  local n
  for n in "${nodes[@]}"; do
    if running "$n"; then
      node "$n" ctl cluster_status --formatter json 2>/dev/null \
        | sed -n 's/.*"running_nodes":\[\([^]]*\)\].*/\1/p' | tr -d '"' | tr ',' ' '
      return
    fi
  done
}

join() {
  # Node N joins node 1's cluster, unless it is a member already.
  local n=$1
  local cluster
  cluster=$(node "$n" ctl cluster_status --formatter json 2>/dev/null | sed -n 's/.*"disk_nodes":\[\([^]]*\)\].*/\1/p')
  if [[ "$cluster" == *"$(name 1)"* ]]; then return; fi
  node "$n" ctl stop_app >/dev/null
  node "$n" ctl reset >/dev/null
  node "$n" ctl join_cluster "$(name 1)" >/dev/null
  node "$n" ctl start_app >/dev/null
  echo "cluster: $(name "$n") joined $(name 1)"
}

start() {
  # All three boot at once: a node that has been in a cluster waits at boot for the
  # member that stopped last, whichever it is.
  local n pids=() failed=0
  for n in "${nodes[@]}"; do node "$n" start & pids+=($!); done
  for n in "${pids[@]}"; do wait "$n" || failed=1; done
  [ "$failed" = 0 ] || { echo "cluster: a node did not start" >&2; exit 1; }
  for n in 2 3; do join "$n"; done
  node 1 ctl await_online_nodes 3 >/dev/null
  echo "cluster: running: $(members)"
  echo "SWITCHBOARD_AMQP_URL=$(urls)"
  echo "SWITCHBOARD_RABBITMQ_MANAGEMENT_URL=$(management_urls)"
}

start_node() {
  # A node that was killed keeps its cluster membership and its queues on disk: it
  # rejoins as it boots. (It waits for a running peer to sync Mnesia from.)
  node "$1" start
  node "$1" ctl await_online_nodes "$(( $(members | wc -w) ))" >/dev/null 2>&1 || true
}

stop() {
  # The last node to stop must be the first to start (RabbitMQ waits for the last one
  # that saw the others), so stop 3, 2, then 1: `start` boots 1 first.
  for n in 3 2 1; do node "$n" stop; done
}

kill_node() {
  local pid; pid=$(node "$1" pid)
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  echo "cluster: $(name "$1") killed (pid $pid)"
}

urls() {
  local n list=()
  for n in "${nodes[@]}"; do list+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")"); done
  (IFS=,; echo "${list[*]}")
}

management_urls() {
  local n list=()
  for n in "${nodes[@]}"; do list+=("http://guest:guest@127.0.0.1:$((base_port + 10000 + n))"); done
  (IFS=,; echo "${list[*]}")
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    for n in "${nodes[@]}"; do
      if running "$n"; then echo "$(name "$n"): running on $(amqp_port "$n")"; else echo "$(name "$n"): down"; fi
    done
    echo "cluster: running members: $(members)"
    ;;
  kill-node) check_n "${2:-}"; kill_node "$2" ;;
  start-node) check_n "${2:-}"; start_node "$2" ;;
  stop-node) check_n "${2:-}"; node "$2" stop ;;
  pid) check_n "${2:-}"; node "$2" pid ;;
  ctl) check_n "${2:-}"; n=$2; shift 2; node "$n" ctl "$@" ;;
  urls) urls ;;
  management-urls) management_urls ;;
  reset)
    stop
    for n in "${nodes[@]}"; do rm -rf "$root/.local/rabbitmq/$prefix$n"; done
    echo "cluster: reset"
    ;;
  *) echo "usage: $0 start|stop|status|urls|management-urls|kill-node N|start-node N|stop-node N|pid N|ctl N ARGS…|reset" >&2; exit 2 ;;
esac
