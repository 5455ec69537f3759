#!/usr/bin/env bash
# Webhook ingest: POST /webhooks/wasender/{session} at a fixed concurrency against
# `switchboard serve webhooks` in its own process (as in production), with wrk as the
# load generator. Each 200 is given only after the broker confirmed the raw webhook in
# sb.inbound.raw. Then the normalizer is started on the backlog and timed: normalized
# events per second (parse, dedupe check, publish to sb.events with confirm, remember,
# ack). Runs in a scratch virtual host and a scratch SQLite file, checks that every
# accepted webhook is stored and becomes exactly one event, and cleans up.
#
#   deploy/local/bench-webhooks.sh [seconds] [concurrency]     (defaults: 20 s, 64)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
duration=${1:-20}
concurrency=${2:-64}
port=${SWITCHBOARD_BENCH_PORT:-18070}

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
. deploy/local/bench-scratch.sh webhooks
depth() {
  deploy/local/rabbitmq.sh ctl list_queues -p "$vhost" name messages 2>/dev/null | awk -v q="$1" '$1==q{print $2}'
}
# A quorum queue's count is published every few seconds: read until it has held still
# for three reads in a row (6 s, longer than the publishing interval).
settled_depth() {
  local last now same=0
  last=$(depth "$1")
  for _ in $(seq 1 45); do
    sleep 2
    now=$(depth "$1")
    if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; fi
    [ "$same" -ge 2 ] && { echo "$now"; return; }
    last=$now
  done
  echo "$last"
}

secret="bench-webhook-secret-0123456789"
$sb topology apply >/dev/null
$sb tenant create bench >/dev/null
$sb session add bench-main --tenant bench --provider wasender --phone +14155550100 --primary \
  --credential api_key=bench --webhook-secret "$secret" >/dev/null

$sb serve webhooks --webhooks-listen "127.0.0.1:$port" --skip-topology 2>"$scratch/serve.log" &
server=$!
bench_processes+=("$server")
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done

# A real-format WasenderAPI messages.upsert, a different message id per request.
cat > "$scratch/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Webhook-Signature"] = "$secret"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil,
    '{"event":"messages.upsert","timestamp":1795000000,"sessionId":"bench-main","data":{"messages":[{"key":{"id":"BENCH' .. counter .. '","fromMe":false,"remoteJid":"14155550999@s.whatsapp.net","cleanedSenderPn":"14155550999"},"messageTimestamp":1795000000,"pushName":"Ann","messageBody":"inbound ' .. counter .. '","message":{"conversation":"inbound ' .. counter .. '"}}]}}')
end
LUA
url="http://127.0.0.1:$port/webhooks/wasender/bench-main"
wrk -t1 -c"$concurrency" -d3s -s "$scratch/post.lua" "$url" >/dev/null    # warm-up
warm=$(settled_depth sb.inbound.raw)
wrk -t1 -c"$concurrency" -d"${duration}s" --latency -s "$scratch/post.lua" "$url" | tee "$scratch/wrk.txt"
stored=$(settled_depth sb.inbound.raw)
requests=$(awk '/requests in/{print $1}' "$scratch/wrk.txt")
rejected=$(awk '/Non-2xx/{print $5}' "$scratch/wrk.txt")
accepted=$((requests - ${rejected:-0}))
queued=$((stored - warm))
echo "webhooks accepted (200): $accepted of $requests; stored in sb.inbound.raw: $queued"
if [ "$queued" -lt "$accepted" ] || [ "$queued" -gt "$((accepted + concurrency))" ]; then
  echo "MISMATCH: sb.inbound.raw does not hold the accepted webhooks" >&2
  exit 1
fi
kill "$server"; wait "$server" 2>/dev/null || true

# The normalizer on the whole backlog (warm-up included): events/s until the raw queue
# is empty. The warm-up's webhooks repeat ids of the measured run (wrk's counter
# restarts), so those are duplicates the dedupe memory drops: the events expected are
# the distinct ids, as many as the longer of the two runs sent.
distinct=$(( warm > queued ? warm : queued ))
$sb serve normalizer --skip-topology 2>"$scratch/normalizer.log" &
normalizer=$!
bench_processes+=("$normalizer")
start=$(date +%s.%N)
while [ "$(depth sb.inbound.raw)" != "0" ]; do sleep 0.2; done
end=$(date +%s.%N)
events=$(settled_depth sb.events.logger)
seconds=$(echo "$end - $start" | bc -l)
printf "normalizer: %d raw webhooks -> %d events in %.1f s: %.0f webhooks/s (%d duplicates dropped)\n" \
  "$stored" "$events" "$seconds" "$(echo "$stored / $seconds" | bc -l)" "$((stored - events))"
if [ "$events" -ne "$distinct" ]; then
  echo "MISMATCH: expected $distinct distinct events, sb.events.logger holds $events" >&2
  exit 1
fi
