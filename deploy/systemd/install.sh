#!/usr/bin/env bash
# Installs Switchboard on one host under systemd:
#   /opt/switchboard/bin/switchboard (+ its resource bundles), /opt/switchboard/Topology/,
#   /etc/systemd/system/{switchboard@.service,switchboard-topology.service,switchboard.target},
#   /etc/switchboard/switchboard.env (from the example, when missing), one
#   /etc/switchboard/<service>.env per service without an HTTP listener (its metrics
#   port), /etc/switchboard/master.key (made when missing), the `switchboard` system user;
# then daemon-reload and enable switchboard.target with every service. Starts nothing:
# edit /etc/switchboard/switchboard.env first, then `systemctl start switchboard.target`.
#
#   deploy/systemd/install.sh [--binary PATH] [--root DIR] [--dry-run] [--services "api dispatcher …"]
#
# --root DIR installs into a staging root (packaging, tests): no user is created and
# systemd is told through `systemctl --root` only. --dry-run prints what would be done.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=/
dry=0
binary="$repo/.build/release/switchboard"
services="api webhooks dispatcher normalizer logger inbox bot dead-letters monitor"
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --services) services=${2:?--services needs a list}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
root=${root%/}
real=1; [ -n "$root" ] && real=0

# Each step runs, or is printed with --dry-run.
run() { if [ "$dry" -eq 1 ]; then echo "+ $*"; else "$@"; fi; }
# Writes standard input to a file that does not exist yet, with a mode.
write_new() {
  local path=$1 mode=$2
  if [ -e "$path" ]; then echo "keeping ${path}"; cat >/dev/null; return; fi
  if [ "$dry" -eq 1 ]; then echo "+ write ${path} (${mode})"; cat >/dev/null; return; fi
  (umask 077; cat >"$path"); chmod "$mode" "$path"
}

[ "$dry" -eq 1 ] || [ -x "$binary" ] || { echo "install.sh: no executable $binary (swift build -c release --static-swift-stdlib, or --binary PATH)" >&2; exit 1; }
[ "$real" -eq 0 ] || [ "$dry" -eq 1 ] || [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (or with --root DIR)" >&2; exit 1; }

# The metrics listener of each service that has no HTTP listener of its own.
metrics_port() {
  case "$1" in
    dispatcher) echo 9464 ;; normalizer) echo 9465 ;; logger) echo 9466 ;; inbox) echo 9467 ;;
    bot) echo 9468 ;; dead-letters) echo 9469 ;; monitor) echo 9470 ;; *) echo "" ;;
  esac
}

opt="$root/opt/switchboard"
etc="$root/etc/switchboard"
units="$root/etc/systemd/system"

# The binary and, beside it, the resource bundles Bundle.module looks for there (the
# api's openapi.yaml): without them the api stops at start.
run install -d -m 0755 "$opt/bin" "$opt/Topology" "$units" "$etc"
run install -m 0755 "$binary" "$opt/bin/switchboard"
for bundle in "$(dirname "$binary")"/*.resources; do
  [ -d "$bundle" ] || continue
  run rm -rf "$opt/bin/$(basename "$bundle")"
  run cp -R "$bundle" "$opt/bin/"
done
run install -m 0644 "$repo/Topology/topology.yaml" "$opt/Topology/topology.yaml"
for unit in switchboard@.service switchboard-topology.service switchboard.target; do
  run install -m 0644 "$here/$unit" "$units/$unit"
done

write_new "$etc/switchboard.env" 0640 <"$here/switchboard.env.example"
for service in $services; do
  port=$(metrics_port "$service")
  [ -n "$port" ] || continue
  printf '# switchboard@%s: what differs from switchboard.env for this service.\nSWITCHBOARD_METRICS_LISTEN=127.0.0.1:%s\n' \
      "$service" "$port" | write_new "$etc/$service.env" 0640
done
# 32 random bytes, base64: what SWITCHBOARD_MASTER_KEY_FILE holds. Made once; back it up.
if [ ! -e "$etc/master.key" ]; then
  if [ "$dry" -eq 1 ]; then echo "+ write $etc/master.key (0600, 32 random bytes in base64)"
  else (umask 077; head -c 32 /dev/urandom | base64 >"$etc/master.key"); chmod 0600 "$etc/master.key"
    echo "made $etc/master.key: back it up apart from the store (without it no provider credential can be read)"
  fi
fi

instances=()
for service in $services; do instances+=("switchboard@$service.service"); done
if [ "$real" -eq 1 ]; then
  if ! getent passwd switchboard >/dev/null; then
    run useradd --system --user-group --home-dir /var/lib/switchboard --no-create-home \
        --shell /usr/sbin/nologin switchboard
  fi
  run chgrp switchboard /etc/switchboard /etc/switchboard/switchboard.env
  run chmod 0750 /etc/switchboard
  for service in $services; do
    [ -e "/etc/switchboard/$service.env" ] && run chgrp switchboard "/etc/switchboard/$service.env"
  done
  run systemctl daemon-reload
  run systemctl enable switchboard.target switchboard-topology.service "${instances[@]}"
  echo "installed; edit /etc/switchboard/switchboard.env, then: systemctl start switchboard.target"
else
  run systemctl --root="$root" enable switchboard.target switchboard-topology.service "${instances[@]}"
  echo "installed into $root"
fi
