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
# The suites run in parallel on a 2-core machine. The heavy tests (the lane test boots a
# broker node and drives 40 tenants; the bench tests run whole gateways; the onboarding
# test creates and deletes 1,000 tenants) would, beside the pacing tests (which assert
# that no provider window sees more than the session's rate), stretch request timing past
# the pacing margin: they run afterwards, one after another.
heavy='DispatcherLaneTests|GatewayBenchTests|aThousandCreateDeleteCycles'
swift test --skip-build --disable-xctest --skip "$heavy"
swift test --skip-build --disable-xctest --no-parallel --filter "$heavy"
