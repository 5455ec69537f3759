#!/usr/bin/env bash
# Sets up and runs Switchboard locally: system packages, the project-local RabbitMQ
# node, a release build, the topology applied and verified, a demo tenant with a
# simulator session and keys, then every gateway service (api, dispatcher, webhooks,
# normalizer, logger, inbox, bot) and the provider simulator in the foreground (Ctrl-C stops them
# gracefully). The simulator sends its status and inbound webhooks to the webhooks
# service, signed, so a message sent here ends `read` in its status.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/local/install-deps.sh
deploy/local/rabbitmq.sh start
swift build -c release --product switchboard
sb=.build/release/switchboard
listen=${SWITCHBOARD_API_LISTEN:-127.0.0.1:8080}
# --replace-empty: a node made before a queue changed type (the event queues became
# quorum queues) gets the new queue when the old one is empty.
$sb topology apply --replace-empty
$sb broker check

# The demo tenant and its keys, made once and kept in .local/demo.env (keys are shown
# only when created).
demo=.local/demo.env
if [ ! -f "$demo" ] || ! $sb tenant list | grep -q '^demo'; then
  $sb tenant create demo --name "Demo tenant" --session-rate 20 --bulk-share 0.5 2>/dev/null || true
  $sb session add demo-main --tenant demo --provider simulator --phone +14155550100 --primary --status connected \
      --credential api_key=demo-simulator-key >/dev/null 2>&1 || true
  admin=$($sb key create --admin --label demo-admin | grep -o 'sb_[A-Za-z0-9_-]*' | head -1)
  tenant=$($sb key create --tenant demo --label demo | grep -o 'sb_[A-Za-z0-9_-]*' | head -1)
  umask 077
  printf 'SWITCHBOARD_ADMIN_KEY=%s\nSWITCHBOARD_API_KEY=%s\n' "$admin" "$tenant" > "$demo"
fi
$sb topology verify
# shellcheck disable=SC1090
. "$demo"
cat <<INFO

Switchboard api on http://$listen (OpenAPI: http://$listen/openapi.json); dispatcher, normalizer and
logger running; webhooks receiver on http://127.0.0.1:8070/webhooks/…; provider simulator on
http://127.0.0.1:8090 (GET /_sim/messages shows what it accepted)
  demo tenant key: $SWITCHBOARD_API_KEY
  admin key:       $SWITCHBOARD_ADMIN_KEY      (both in $demo)
Send a message:
  curl -s -X POST http://$listen/v1/messages -H "Authorization: Bearer $SWITCHBOARD_API_KEY" \\
       -H 'Content-Type: application/json' -d '{"to":"+14155550123","text":"Your code is 123456"}'
Read its status (sent, then delivered and read as the simulator's webhooks come back):
  curl -s http://$listen/v1/messages/<id> -H "Authorization: Bearer $SWITCHBOARD_API_KEY"
Have the contact answer, then read the conversation:
  curl -s -X POST http://127.0.0.1:8090/_sim/inbound -H "Content-Type: application/json" \\
       -d '{"session":"demo-main","from":"+14155550123","text":"thanks!"}'
  curl -s http://$listen/v1/contacts/+14155550123/messages -H "Authorization: Bearer $SWITCHBOARD_API_KEY"
Metrics (Prometheus text format): http://$listen/metrics for every service of this process, and the broker's
at http://127.0.0.1:15692/metrics; scrape both with deploy/observability/prometheus.yml (alert rules and a
Grafana dashboard beside it)
RabbitMQ management: http://127.0.0.1:15672 (guest/guest); stop the node with deploy/local/rabbitmq.sh stop

INFO
exec $sb serve all simulator --listen "$listen" --skip-topology
