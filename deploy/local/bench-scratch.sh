# Sourced by the scripts that run services in their own processes (bench-api.sh,
# bench-webhooks.sh, crash-test.sh): starts the local broker if needed, builds the
# release binary ($sb), and sets up a scratch virtual host ($vhost) and directory
# ($scratch) with a fresh SQLite file and master key in the SWITCHBOARD_* environment.
# Processes whose pids are added to bench_processes are stopped, and the scratch state
# removed, on exit.
#
#   . deploy/local/bench-scratch.sh <name>
deploy/local/rabbitmq.sh status >/dev/null 2>&1 || deploy/local/rabbitmq.sh start
swift build -c release --product switchboard >/dev/null
sb=$root/.build/release/switchboard

vhost="sb-bench-$1-$$"
scratch=$(mktemp -d)
bench_processes=()
bench_cleanup() {
  for pid in "${bench_processes[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  deploy/local/rabbitmq.sh ctl delete_vhost "$vhost" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap bench_cleanup EXIT
deploy/local/rabbitmq.sh ctl add_vhost "$vhost" >/dev/null
deploy/local/rabbitmq.sh ctl set_permissions -p "$vhost" guest ".*" ".*" ".*" >/dev/null

export SWITCHBOARD_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$vhost"
export SWITCHBOARD_DATABASE="$scratch/switchboard.sqlite"
SWITCHBOARD_MASTER_KEY=$(openssl rand -base64 32)
export SWITCHBOARD_MASTER_KEY SWITCHBOARD_LOG_LEVEL=warning
