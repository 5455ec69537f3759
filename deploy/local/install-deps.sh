#!/usr/bin/env bash
# Installs the system packages Switchboard builds and runs with, on Debian or Ubuntu.
# Does nothing when they are all present (so it needs root only the first time).
set -euo pipefail
packages=(librabbitmq-dev rabbitmq-server libsqlite3-dev libssl-dev pkg-config sqlite3 binutils openssl curl wrk bc python3-pika python3-venv tzdata prometheus postgresql systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The packages' own services are not used: deploy/local/rabbitmq.sh runs a project-local
# node, deploy/local/postgres.sh a project-local PostgreSQL server (the store's second
# backend), and `prometheus` is there for promtool (the tests check deploy/observability/ with it).
# systemd is there for systemd-analyze (the tests verify deploy/systemd/ with it).
# python3-venv holds the API fuzzer (schemathesis, from PyPI) in .local/venv-fuzz.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
