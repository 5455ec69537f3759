#!/usr/bin/env bash
# Sets up and runs Switchboard locally: system packages, the project-local RabbitMQ
# node, a release build, the topology applied and verified, a demo tenant, and a check
# that the client publishes with a confirm and reads it back. Later services join here.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/local/install-deps.sh
deploy/local/rabbitmq.sh start
swift build -c release --product switchboard
sb=.build/release/switchboard
$sb topology apply
$sb tenant provision demo
$sb topology verify
$sb broker check
echo "broker running with the Switchboard topology; management UI http://127.0.0.1:15672 (guest/guest)"
echo "stop it with: deploy/local/rabbitmq.sh stop"
