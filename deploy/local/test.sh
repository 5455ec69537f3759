#!/usr/bin/env bash
# The test command: system packages, a project-local RabbitMQ node, then every test
# (unit tests and integration tests against the real broker, SQLite and HTTP).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/local/install-deps.sh
deploy/local/rabbitmq.sh start
swift build --build-tests
swift test --skip-build --disable-xctest "$@"
