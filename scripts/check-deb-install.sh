#!/usr/bin/env bash
# Installs a community-gateway .deb into a fresh Debian 12 chroot (mmdebstrap, as root)
# and checks what the maintainer scripts did: the system user, the config's owner and
# mode, the unit enabled, the packaged config accepted, the gateway starting as its
# user with its buffer in /var/lib/community-gateway, and purge removing the buffer.
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
  su -s /bin/sh community-gateway -c "community-gateway check-config --config /etc/community-gateway/config.yaml"
  # What StateDirectory= would do, then the unit'"'"'s ExecStart for 3 s.
  install -d -o community-gateway -g community-gateway -m 0750 /var/lib/community-gateway
  cd /var/lib/community-gateway
  timeout -s TERM 3 su -s /bin/sh community-gateway -c \
    "community-gateway run --config /etc/community-gateway/config.yaml" >/tmp/run.log 2>&1 || true
  grep -q "running:" /tmp/run.log || { cat /tmp/run.log; exit 1; }
  test -s /var/lib/community-gateway/buffer.db
  dpkg --purge community-gateway >/dev/null
  test ! -e /var/lib/community-gateway
'
echo "$deb: installs, creates its user, enables its unit, runs, purges: OK"
