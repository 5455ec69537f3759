#!/usr/bin/env bash
# Fuzzes the REST API from its own contract: schemathesis (PyPI, in a project-local venv)
# generates requests from Sources/SwitchboardAPI/openapi.yaml against a real `serve api`
# (its own virtual host on the local node and a scratch store, removed afterwards) and
# fails on any 5xx, an undocumented status, a wrong content type or an answer that does
# not match its schema. Run by deploy/local/test.sh after the Swift tests.
#   deploy/local/fuzz-api.sh [examples per operation, default 25]
# SWITCHBOARD_BIN (.build/debug/switchboard) picks the binary, FUZZ_SEED the seed.
# Not checked: that requests breaking the schema are refused, because the batch
# endpoints answer each item on its own (200 with a problem per bad item) by design.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
examples=${1:-25}
sb=${SWITCHBOARD_BIN:-.build/debug/switchboard}
management=${SWITCHBOARD_RABBITMQ_MANAGEMENT:-http://127.0.0.1:15672}
venv=.local/venv-fuzz
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.5'
fi

work=$(mktemp -d "$root/.local/fuzz.XXXXXX")
vhost="fuzz-$$"
pid=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  [ -z "$pid" ] || wait "$pid" 2>/dev/null || true
  curl -s -o /dev/null -u guest:guest -X DELETE "$management/api/vhosts/$vhost" || true
  rm -rf "$work"
}
trap cleanup EXIT
curl -sf -o /dev/null -u guest:guest -X PUT "$management/api/vhosts/$vhost"
curl -sf -o /dev/null -u guest:guest -X PUT -H 'Content-Type: application/json' \
     -d '{"configure":".*","write":".*","read":".*"}' "$management/api/permissions/$vhost/guest"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SWITCHBOARD_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$vhost"
export SWITCHBOARD_DATABASE="$work/db.sqlite"
SWITCHBOARD_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export SWITCHBOARD_MASTER_KEY
admin=$("$sb" key create --admin --label fuzz | grep -o 'sb_[A-Za-z0-9_-]*' | head -1)
"$sb" serve api --listen "127.0.0.1:$port" > "$work/api.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
  sleep 0.2
done

status=0
"$venv/bin/st" run "http://127.0.0.1:$port/openapi.yaml" -H "Authorization: Bearer $admin" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$examples" --seed "${FUZZ_SEED:-20261129}" --workers 2 --no-color > "$work/st.log" 2>&1 || status=$?
grep -E "^(API Operations|  Tested|Test cases|  [0-9]+ generated|Failures)|❌|passed|generated" "$work/st.log" | tail -12 || true
if [ "$status" -ne 0 ]; then
  cat "$work/st.log"
  echo "api log:"; tail -50 "$work/api.log"
  echo "fuzz-api: schemathesis found failures (above)" >&2
  exit 1
fi
echo "fuzz-api: no 5xx, no undocumented status, every answer matches the contract"
