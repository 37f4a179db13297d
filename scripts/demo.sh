#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a private mosquitto on a free
# loopback port and the gateway on config/demo.yaml with the simulator driving four
# facilities, and shows live occupancy and the uplink state until Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build="${BUILD_DIR:-$root/build}"

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
log_dest file $work/mosquitto.log
CONF
# Its own session, so that Ctrl-C reaches the gateway (which then publishes NDEATH)
# and not the broker under it.
setsid mosquitto -c "$work/mosquitto.conf" &
broker=$!
cleanup() {
  kill "$broker" 2>/dev/null || true
  wait "$broker" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
echo "mosquitto on 127.0.0.1:$port (watch the wire: mosquitto_sub -p $port -t 'spBv1.0/#' -v)"
cd "$root"
"$build/gateway/community-gateway" run --config config/demo.yaml --broker "tcp://127.0.0.1:$port" \
  --live "$@" 2>"$work/gateway.log" || { echo "gateway exited; its log: $work/gateway.log"; tail -20 "$work/gateway.log"; exit 1; }
echo "gateway log: $work/gateway.log"
