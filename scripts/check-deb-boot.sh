#!/usr/bin/env bash
# Boots a fresh Debian 12 root with the package installed under systemd (systemd-nspawn
# --boot: systemd 252 as PID 1, no network but loopback) and checks the hardened unit
# as systemd runs it, which check-deb-install.sh's chroot cannot:
#   1. as installed: the unit starts (Type=notify, the SystemCallFilter, PrivateUsers,
#      ProtectProc, DevicePolicy ...), the log says what is not set up, /readyz is 503,
#      nothing is stored; `systemd-analyze security` gives the figure README records;
#   2. on the demo config with a mosquitto in the container: readings reach the broker,
#      /readyz is 200, and `systemctl stop` ends it cleanly (Result=success).
# A container is not a board: the device cgroup and the namespaces are nspawn's.
#
#   scripts/check-deb-boot.sh build/community-gateway_0.1.0-1_amd64.deb   (root, network)
set -euo pipefail
deb="$(realpath "${1:?usage: $0 PACKAGE.deb}")"
here="$(cd "$(dirname "$0")" && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "run as root (mmdebstrap, systemd-nspawn)" >&2; exit 2; }
command -v systemd-nspawn >/dev/null || { echo "systemd-nspawn missing: apt-get install systemd-container" >&2; exit 2; }
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mmdebstrap --quiet --variant=apt --include=systemd,systemd-sysv,dbus,mosquitto,mosquitto-clients,curl bookworm \
  "$root" "deb $mirror bookworm main" "deb $mirror bookworm-updates main"
cp "$deb" "$root/tmp/gateway.deb"
chroot "$root" sh -euc 'apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/gateway.deb >/dev/null'

# A oneshot unit inside the container runs the probe (a shell script, so that systemd's
# own $ and % expansion stays out of it) after boot and powers off.
probe() {
  printf '%s\n' "$1" >"$root/probe.sh"
  cat >"$root/etc/systemd/system/probe.service" <<'EOF'
[Unit]
After=community-gateway.service mosquitto.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/bin/sh /probe.sh >/probe.txt 2>&1; systemctl poweroff'
[Install]
WantedBy=multi-user.target
EOF
  chroot "$root" systemctl enable probe.service >/dev/null 2>&1
  rm -f "$root/probe.txt"
  # --keep-unit --register=no: no systemd or machined on the host is needed.
  timeout 180 systemd-nspawn -q -D "$root" --boot --register=no --keep-unit --private-network >/dev/null 2>&1 || true
  cat "$root/probe.txt"
}

out="$(probe 'sleep 5; systemctl is-active community-gateway; curl -s http://127.0.0.1:8080/readyz; echo
  journalctl --no-pager -u community-gateway -p warning; systemd-analyze security community-gateway | tail -1
  systemctl stop community-gateway; systemctl show -p Result community-gateway
  echo "rows $(journalctl --no-pager -u community-gateway | grep -c "stopped: 0 readings accepted")"')"
echo "$out"
grep -qx "active" <<<"$out"
grep -q "^not ready: not set up yet: facilities" <<<"$out"
grep -q "not set up yet: uplink.brokers: none configured, nothing is forwarded" <<<"$out"
grep -qx "Result=success" <<<"$out"
grep -qx "rows 1" <<<"$out"
exposure="$(sed -n 's/.*Overall exposure level for community-gateway.service: \([0-9.]*\).*/\1/p' <<<"$out")"
recorded="$(sed -n 's/.*`systemd-analyze security community-gateway` rates the unit \([0-9.]*\).*/\1/p' "$here/../README.md")"
[ -n "$exposure" ] && [ "$exposure" = "$recorded" ] || { echo "exposure $exposure, README says $recorded" >&2; exit 1; }

# Set up: the demo's facilities and simulator, the container's mosquitto.
sed 's|data_dir: ./demo-data|data_dir: /var/lib/community-gateway|' "$here/../config/demo.yaml" \
  >"$root/etc/community-gateway/config.yaml"
chroot "$root" sh -euc 'chown root:community-gateway /etc/community-gateway/config.yaml
  chmod 0640 /etc/community-gateway/config.yaml; rm -rf /var/lib/community-gateway/*'
out="$(probe 'timeout 6 mosquitto_sub -h 127.0.0.1 -t "spBv1.0/#" -F "%t" >/sub.txt

  systemctl is-active community-gateway; curl -s http://127.0.0.1:8080/readyz
  systemctl stop community-gateway; systemctl show -p Result community-gateway
  echo "ddata $(grep -c /DDATA/ /sub.txt)"')"
echo "$out"
grep -qx "active" <<<"$out"
grep -qx "ready" <<<"$out"
grep -qx "Result=success" <<<"$out"
ddata="$(sed -n 's/^ddata \([0-9]*\)$/\1/p' <<<"$out")"
[ "${ddata:-0}" -gt 0 ] || { echo "no DDATA reached the broker" >&2; exit 1; }
echo "$deb: the hardened unit runs under systemd (exposure $exposure): inert as installed, $ddata DDATA set up: OK"
