#!/usr/bin/env bash
# Starts, stops and inspects a project-local RabbitMQ node: no systemd, no Docker,
# all data and logs under .local/rabbitmq. Usage:
#   deploy/local/rabbitmq.sh start|stop|restart|status|ctl ARGS…
# Environment: SWITCHBOARD_AMQP_PORT (5672), SWITCHBOARD_RABBITMQ_MGMT_PORT (15672),
# SWITCHBOARD_RABBITMQ_PROMETHEUS_PORT (15692), SWITCHBOARD_RABBITMQ_NODE (switchboard@localhost).
# SWITCHBOARD_RABBITMQ_CHANNEL_MAX (a lower per-connection channel limit than 2047).
# SWITCHBOARD_RABBITMQ_STATS_INTERVAL_MS (60000): how often the management plugin's
# statistics are collected (its cost grows with queues and channels; see docs/operations.md).
# SWITCHBOARD_RABBITMQ_TLS_PORT with SWITCHBOARD_RABBITMQ_TLS_CACERT, _CERT and _KEY
# (PEM files) adds an amqps listener.
# Each node name gets its own directory .local/rabbitmq/<name>; the distribution port is
# the AMQP port + 20000. `pid` prints the node's OS process id (tests pause it with SIGSTOP).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=/usr/lib/rabbitmq/bin   # the real scripts: /usr/sbin's wrappers would `su rabbitmq`
# The Erlang cookie lives in $HOME; server and rabbitmqctl must agree on it.
export HOME="${HOME:-$root/.local}"

export RABBITMQ_NODENAME="${SWITCHBOARD_RABBITMQ_NODE:-switchboard@localhost}"
# One directory per node, so tests can run a second, disposable node beside the main one.
base="$root/.local/rabbitmq/${RABBITMQ_NODENAME%%@*}"
export RABBITMQ_NODE_PORT="${SWITCHBOARD_AMQP_PORT:-5672}"
export RABBITMQ_DIST_PORT="$((RABBITMQ_NODE_PORT + 20000))"
export RABBITMQ_MNESIA_BASE="$base/mnesia"
export RABBITMQ_LOG_BASE="$base/log"
export RABBITMQ_PID_FILE="$base/rabbitmq.pid"
export RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins"
export RABBITMQ_CONFIG_FILE="$base/rabbitmq"          # .conf is appended
export RABBITMQ_ADVANCED_CONFIG_FILE="$base/advanced.config"
export RABBITMQ_CONF_ENV_FILE="$base/rabbitmq-env.conf"
# A node that fails to boot writes erl_crash.dump to its working directory: keep it here.
export ERL_CRASH_DUMP="$base/erl_crash.dump"
# Schedulers that spin while idle take CPU from the gateway's own processes on a small
# shared machine (RabbitMQ's runtime tuning guide: scheduler busy waiting).
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-+sbwt none +sbwtdcpu none +sbwtdio none}"
mgmt_port="${SWITCHBOARD_RABBITMQ_MGMT_PORT:-15672}"
prom_port="${SWITCHBOARD_RABBITMQ_PROMETHEUS_PORT:-15692}"

ctl() { "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"; }

write_config() {
  local stats_ms="${SWITCHBOARD_RABBITMQ_STATS_INTERVAL_MS:-60000}"
  local stats_s=$(( (stats_ms + 999) / 1000 ))
  mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  echo '[rabbitmq_management,rabbitmq_prometheus].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
  : > "$RABBITMQ_CONF_ENV_FILE"
  echo '[].' > "$RABBITMQ_ADVANCED_CONFIG_FILE"
  cat > "$RABBITMQ_CONFIG_FILE.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_NODE_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt_port
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = $prom_port
# guest may log in over loopback only, which is all a local node needs.
loopback_users.guest = true
# A development node on a small disk must not stop accepting publishes.
disk_free_limit.absolute = 200MB
vm_memory_high_watermark.relative = 0.4
log.file.level = info
log.console = false
# Every queue, channel and connection reports statistics at this interval, and the
# management plugin's collectors aggregate them at the smallest interval of its
# retention policies: at the default 5 s, ten thousand idle tenants cost the node
# 12-20 % of a core in collectors alone (60 s: ~4 % for the whole node). The gateway never reads these statistics
# (tests count with rabbitmqctl); the management UI refreshes less often instead.
collect_statistics_interval = ${stats_ms}
management.rates_mode = none
management.sample_retention_policies.global.minute = ${stats_s}
management.sample_retention_policies.global.hour = 60
management.sample_retention_policies.basic.minute = ${stats_s}
management.sample_retention_policies.basic.hour = 60
management.sample_retention_policies.detailed.minute = ${stats_s}
CONF
  if [ -n "${SWITCHBOARD_RABBITMQ_CHANNEL_MAX:-}" ]; then
    # A lower per-connection channel limit than 2047 (tests of the dispatcher's lanes).
    echo "channel_max = $SWITCHBOARD_RABBITMQ_CHANNEL_MAX" >> "$RABBITMQ_CONFIG_FILE.conf"
  fi
  if [ -n "${SWITCHBOARD_RABBITMQ_TLS_PORT:-}" ]; then
    # An amqps listener with the given PEM files (tests make a throwaway CA).
    cat >> "$RABBITMQ_CONFIG_FILE.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$SWITCHBOARD_RABBITMQ_TLS_PORT
ssl_options.cacertfile = $SWITCHBOARD_RABBITMQ_TLS_CACERT
ssl_options.certfile = $SWITCHBOARD_RABBITMQ_TLS_CERT
ssl_options.keyfile = $SWITCHBOARD_RABBITMQ_TLS_KEY
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
  fi
}

running() { [ -f "$RABBITMQ_PID_FILE" ] && kill -0 "$(cat "$RABBITMQ_PID_FILE")" 2>/dev/null; }

wait_amqp() {
  # Ready means the node booted *and* the AMQP listener accepts a TCP connection.
  local deadline=$((SECONDS + ${1:-90}))
  until ctl await_startup >/dev/null 2>&1 && (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_NODE_PORT") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "rabbitmq: not accepting AMQP on port $RABBITMQ_NODE_PORT after ${1:-90}s; log: $RABBITMQ_LOG_BASE" >&2
      tail -c 2000 "$base/startup.log" >&2 || true
      return 1
    fi
    if [ -f "$base/launcher.pid" ] && ! kill -0 "$(cat "$base/launcher.pid")" 2>/dev/null; then
      echo "rabbitmq: the node exited while booting; last lines of $base/startup.log:" >&2
      tail -c 2000 "$base/startup.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

start() {
  if running; then echo "rabbitmq: already running (pid $(cat "$RABBITMQ_PID_FILE"))"; wait_amqp; return; fi
  [ -x "$bin/rabbitmq-server" ] || { echo "rabbitmq-server is not installed: run deploy/local/install-deps.sh" >&2; exit 1; }
  if (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_NODE_PORT") 2>/dev/null; then
    # Something we did not start holds the port: an old node of the same name is
    # stopped through the Erlang distribution; anything else is the user's to resolve.
    ctl stop >/dev/null 2>&1 || true
    # Both the AMQP and the distribution port must be free before a node of the same name
    # can boot; a stopping node lets go of them over a few seconds.
    for _ in $(seq 1 60); do
      (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_NODE_PORT") 2>/dev/null \
        || (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_DIST_PORT") 2>/dev/null || break
      sleep 0.5
    done
    if (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_NODE_PORT") 2>/dev/null; then
      echo "rabbitmq: port $RABBITMQ_NODE_PORT is in use by another process; set SWITCHBOARD_AMQP_PORT" >&2
      exit 1
    fi
  fi
  write_config
  # The Erlang distribution needs epmd; the node starts it if it is missing.
  # From the node's own directory: Mnesia writes its core dumps (MnesiaCore.*) to the
  # working directory, which must never be the repository.
  (cd "$base" && exec nohup "$bin/rabbitmq-server" > "$base/startup.log" 2>&1) &
  echo $! > "$base/launcher.pid"
  wait_amqp 120
  echo "rabbitmq: node $RABBITMQ_NODENAME up; amqp://guest:guest@127.0.0.1:$RABBITMQ_NODE_PORT  management http://127.0.0.1:$mgmt_port  metrics http://127.0.0.1:$prom_port/metrics"
}

stop() {
  if ! running; then echo "rabbitmq: not running"; return 0; fi
  local pid; pid=$(cat "$RABBITMQ_PID_FILE")
  ctl stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$RABBITMQ_PID_FILE"
  echo "rabbitmq: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running; then ctl status; else echo "rabbitmq: not running"; exit 3; fi ;;
  wait) wait_amqp "${2:-90}" ;;
  pid) cat "$RABBITMQ_PID_FILE" ;;
  ctl) shift; ctl "$@" ;;
  *) echo "usage: $0 start|stop|restart|status|wait [SECONDS]|pid|ctl ARGS…" >&2; exit 2 ;;
esac
