#!/usr/bin/env bash
# POST /v1/messages at a fixed concurrency against `switchboard serve api` running in
# its own process (as in production), with wrk as the load generator: every 202 is
# given only after the broker's publisher confirm. Runs in a scratch virtual host and a
# scratch SQLite file, checks that the tenant's queue holds exactly the accepted
# messages, and cleans up.
#
#   deploy/local/bench-api.sh [seconds] [concurrency]     (defaults: 20 s, 64)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
duration=${1:-20}
concurrency=${2:-64}
port=${SWITCHBOARD_BENCH_PORT:-18080}

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
. deploy/local/bench-scratch.sh api
$sb topology apply >/dev/null
$sb tenant create bench --session-rate 100 >/dev/null
$sb session add bench-main --tenant bench --provider simulator --phone +14155550100 --primary >/dev/null
key=$($sb key create --tenant bench --label bench | grep -o 'sb_[A-Za-z0-9_-]*' | head -1)

$sb serve api --listen "127.0.0.1:$port" --skip-topology 2>"$scratch/serve.log" &
server=$!
bench_processes+=("$server")
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done

cat > "$scratch/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil,
    '{"to":"+1415555' .. string.format("%04d", counter % 10000) .. '","class":"bulk","campaign":"bench","text":"bench message ' .. counter .. '"}')
end
LUA
url="http://127.0.0.1:$port/v1/messages"
wrk -t1 -c"$concurrency" -d3s -s "$scratch/post.lua" "$url" >/dev/null    # warm-up
sleep 1  # requests wrk left in flight finish
warm=$(deploy/local/rabbitmq.sh ctl list_queues -p "$vhost" name messages 2>/dev/null | awk '$1=="sb.outbound.bench"{print $2}')
wrk -t1 -c"$concurrency" -d"${duration}s" --latency -s "$scratch/post.lua" "$url" | tee "$scratch/wrk.txt"
sleep 1
depth=$(deploy/local/rabbitmq.sh ctl list_queues -p "$vhost" name messages 2>/dev/null | awk '$1=="sb.outbound.bench"{print $2}')
requests=$(awk '/requests in/{print $1}' "$scratch/wrk.txt")
rejected=$(awk '/Non-2xx/{print $5}' "$scratch/wrk.txt")
errors=$(awk '/Socket errors/{print $0}' "$scratch/wrk.txt")
accepted=$((requests - ${rejected:-0}))
queued=$((depth - warm))
echo "accepted (2xx): $accepted of $requests; in the tenant's queue: $queued ${errors:+($errors)}"
# wrk stops counting with up to one request per connection in flight; those are
# published too, so the queue may hold that many more than wrk saw answered, never fewer.
if [ "$queued" -lt "$accepted" ] || [ "$queued" -gt "$((accepted + concurrency))" ]; then
  echo "MISMATCH: the queue does not hold the accepted messages" >&2
  exit 1
fi
