#!/usr/bin/env bash
# Installs a community-gateway .deb into a fresh Debian 12 chroot (mmdebstrap, as root)
# and checks what the maintainer scripts did: the system user, the config's owner and
# mode, the unit enabled, the packaged config accepted, the gateway starting as its
# user with its buffer in /var/lib/community-gateway, and purge removing the buffer.
# The installed config is inert: check-config and the log say what is not set up, the
# gateway tries no broker, and its buffer holds no reading (counted from outside the
# chroot, with the host's python3, since the minimal chroot has no sqlite3).
# No systemd runs in the chroot, so the service is started by hand with the unit's
# ExecStart; tests/integration/test_package.py checks the unit with systemd-analyze.
#
#   scripts/check-deb-install.sh build/community-gateway_0.1.0-1_amd64.deb
set -euo pipefail
deb="$(realpath "${1:?usage: $0 PACKAGE.deb}")"
[ "$(id -u)" -eq 0 ] || { echo "run as root (chroot)" >&2; exit 2; }
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mmdebstrap --quiet --variant=apt --include=systemd bookworm "$root" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main"
cp "$deb" "$root/tmp/gateway.deb"
chroot "$root" sh -euc '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq /tmp/gateway.deb >/dev/null
  getent passwd community-gateway
  test "$(stat -c %U:%G:%a /etc/community-gateway/config.yaml)" = root:community-gateway:640
  test "$(systemctl is-enabled community-gateway)" = enabled
  su -s /bin/sh community-gateway -c "community-gateway check-config --config /etc/community-gateway/config.yaml" \
    >/tmp/check.out
  cat /tmp/check.out
  grep -q "not set up yet: facilities: none configured" /tmp/check.out
  grep -q "not set up yet: uplink.brokers: none configured" /tmp/check.out
  # What StateDirectory= would do, then the unit'"'"'s ExecStart for 3 s.
  install -d -o community-gateway -g community-gateway -m 0750 /var/lib/community-gateway
  cd /var/lib/community-gateway
  # timeout inside su: it signals the gateway itself, so nothing outlives the check.
  su -s /bin/sh community-gateway -c \
    "timeout -s TERM 3 community-gateway run --config /etc/community-gateway/config.yaml" >/tmp/run.log 2>&1 || true
  grep -q "running:" /tmp/run.log || { cat /tmp/run.log; exit 1; }
  grep -q "not set up yet: facilities: none configured, nothing is measured" /tmp/run.log
  grep -q "uplink: no broker configured" /tmp/run.log
  if grep -qi "simulator" /tmp/run.log; then cat /tmp/run.log; exit 1; fi
  test -s /var/lib/community-gateway/buffer.db
'
readings="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM outbox").fetchone()[0])' \
  "$root/var/lib/community-gateway/buffer.db")"
[ "$readings" = 0 ] || { echo "the installed default stored $readings readings" >&2; exit 1; }
chroot "$root" sh -euc '
  dpkg --purge community-gateway >/dev/null
  test ! -e /var/lib/community-gateway
'
echo "$deb: installs, creates its user, enables its unit, runs inert (0 readings stored), purges: OK"
