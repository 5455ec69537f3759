#!/usr/bin/env bash
# Sets up and runs Switchboard locally: system packages, a release build, the
# project-local RabbitMQ node, and a check that the client connects, publishes with a
# confirm and reads the message back. Later services join here as they land.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/local/install-deps.sh
deploy/local/rabbitmq.sh start
swift build -c release --product switchboard
.build/release/switchboard broker check
echo "broker running; stop it with: deploy/local/rabbitmq.sh stop"
