#!/usr/bin/env bash
# The test command: system packages, a project-local RabbitMQ node, then every test
# (unit tests and integration tests against the real broker, SQLite and HTTP).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/local/install-deps.sh
deploy/local/rabbitmq.sh start
swift build --build-tests
if [ $# -gt 0 ]; then exec swift test --skip-build --disable-xctest "$@"; fi
# The suites run in parallel on a 2-core machine. The lane test boots a broker node and
# drives 40 tenants, and the bench tests run whole gateways: beside the pacing tests
# (which assert that no provider window sees more than the session's rate) their load
# stretches request timing past the pacing margin, so they run afterwards.
heavy='DispatcherLaneTests|GatewayBenchTests'
swift test --skip-build --disable-xctest --skip "$heavy"
swift test --skip-build --disable-xctest --filter "$heavy"
