#!/usr/bin/env bash
# Kills the dispatcher with SIGKILL in the middle of a campaign, starts it again, and
# checks that the provider (the simulator, in its own process) accepted every message;
# duplicates are counted and reported. Everything runs in a scratch virtual host and
# SQLite file, each service in its own process, as in production.
#
#   deploy/local/crash-test.sh [messages] [kill-after]     (defaults: 10000, 3000)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
messages=${1:-10000}
kill_after=${2:-3000}
sim_port=${SWITCHBOARD_CRASH_SIM_PORT:-18090}

. deploy/local/bench-scratch.sh crash
sim="http://127.0.0.1:$sim_port"

$sb serve simulator --simulator-listen "127.0.0.1:$sim_port" 2>"$scratch/simulator.log" &
bench_processes+=($!)
for _ in $(seq 1 100); do curl -sf "$sim/_sim/stats" >/dev/null && break; sleep 0.1; done
curl -sf -X PUT "$sim/_sim/sessions/crash-main" -H 'Content-Type: application/json' \
     -d '{"flavor":"wasender","api_key":"key-crash","behaviour":{"status_delays_ms":{}}}' >/dev/null

$sb topology apply >/dev/null
$sb tenant create crash --session-rate 1000 --bulk-share 1 >/dev/null
$sb session add crash-main --tenant crash --provider simulator --phone +14155550100 --primary \
    --status connected --credential api_key=key-crash --credential "base_url=$sim/api" >/dev/null
$sb send --via amqp --tenant crash --to +14155550123 --text campaign --class bulk --count "$messages" >/dev/null
echo "published $messages messages"

accepted() { curl -sf "$sim/_sim/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin)["sessions"]; print(s.get("crash-main",{}).get("accepted",0))'; }
start_dispatcher() {
  $sb serve dispatcher --skip-topology --simulator-url "$sim/api" 2>>"$scratch/dispatcher.log" &
  dispatcher=$!
  bench_processes+=("$dispatcher")
}
start_dispatcher
while [ "$(accepted)" -lt "$kill_after" ]; do sleep 0.05; done
kill -9 "$dispatcher"
wait "$dispatcher" 2>/dev/null || true
echo "dispatcher killed (SIGKILL) after $(accepted) accepted"
sleep 1
start_dispatcher
deadline=$((SECONDS + 120))
while :; do
  unique=$(curl -sf "$sim/_sim/messages?session=crash-main" | python3 -c 'import json,sys; m=json.load(sys.stdin)["messages"]; print(len({x["text"] for x in m}))')
  [ "$unique" -ge "$messages" ] && break
  [ $SECONDS -ge $deadline ] && { echo "LOST: only $unique of $messages distinct messages accepted" >&2; exit 1; }
  sleep 0.2
done
total=$(accepted)
echo "accepted by the provider: $unique distinct of $messages published, $total sends in all, duplicates: $((total - unique))"
