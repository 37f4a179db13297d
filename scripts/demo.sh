#!/usr/bin/env bash
# The demo, as a town is deployed: a private mosquitto and PostgreSQL (initdb in a
# temporary directory, free loopback ports), the town host (community-host) and one
# gateway per facility of config/demo.yaml, each with the simulator driving its
# facility. Prints the town board's URL, then waits until Ctrl-C.
#
# Installs only what it runs (scripts/install-deps.sh --demo) and builds only the two
# binaries it runs, in their own build directory without the tests ($DEMO_BUILD_DIR,
# default ./build-demo).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh" --demo
build="${DEMO_BUILD_DIR:-$root/build-demo}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target community-gateway --target community-host

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

work="$(mktemp -d)"
chmod 755 "$work"
# Logs of the servers, which drop root to their own accounts (mosquitto, postgres).
mkdir "$work/log"
chmod 1777 "$work/log"
pids=()
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
pg_as=()
# The server refuses to run as root: then it runs as the postgres account.
if [ "$(id -u)" -eq 0 ]; then pg_as=(runuser -u postgres --); fi
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "${pg_as[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  echo "logs kept in $work"
}
trap cleanup EXIT

# mosquitto; its own session, so that Ctrl-C reaches the gateways (which then publish
# NDEATH) and the host (STATE offline) before the broker under them goes.
mport="$(free_port)"
cat > "$work/mosquitto.conf" <<CONF
listener $mport 127.0.0.1
allow_anonymous true
persistence false
log_dest file $work/log/mosquitto.log
CONF
setsid mosquitto -c "$work/mosquitto.conf" &
pids+=($!)
wait_port "$mport"

# PostgreSQL in the temporary directory.
pport="$(free_port)"
mkdir -p "$work/pg" "$work/pgsock"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$work/pg" "$work/pgsock"; fi
"${pg_as[@]}" "$pgbin/initdb" -D "$work/pg" -U town --auth=trust -E UTF8 >"$work/log/initdb.log"
"${pg_as[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/log/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pport -k $work/pgsock" start >/dev/null
"${pg_as[@]}" "$pgbin/createdb" -h 127.0.0.1 -p "$pport" -U town town

# The town host.
bport="$(free_port)"
cat > "$work/host.yaml" <<CONF
host:
  id: town-host
  groups: [huacao]
mqtt:
  host: 127.0.0.1
  port: $mport
database:
  conninfo: "host=127.0.0.1 port=$pport dbname=town user=town"
metrics:
  port: 0
board:
  port: $bport
CONF
setsid "$build/host/community-host" --config "$work/host.yaml" >"$work/log/host.log" 2>&1 &
pids+=($!)
wait_port "$bport"

# One gateway per facility of config/demo.yaml: its header, one facility block, its
# own edge node id and data directory, following the host (primary_host_id), no page.
awk '/^facilities:/ {exit} {print}' "$root/config/demo.yaml" > "$work/head.yaml"
ids=$(awk '/^facilities:/ {f=1; next} f && /^[^ #]/ {f=0} f && /^  - id:/ {print $3}' "$root/config/demo.yaml")
for id in $ids; do
  cfg="$work/gw-$id.yaml"
  sed -e "s/^  edge_node_id: .*/  edge_node_id: gw-$id/" -e "s#^  data_dir: .*#  data_dir: $work/data-$id#" \
      -e "s/^  qos: 1$/  qos: 1\n  primary_host_id: town-host/" "$work/head.yaml" > "$cfg"
  echo "facilities:" >> "$cfg"
  awk -v id="$id" '/^facilities:/ {f=1; next} f && /^[^ #]/ {f=0} f && /^  - id:/ {take = ($3 == id)}
                   f && take {print}' "$root/config/demo.yaml" >> "$cfg"
  printf 'web:\n  enabled: false\n' >> "$cfg"
  setsid "$build/gateway/community-gateway" run --config "$cfg" --broker "tcp://127.0.0.1:$mport" \
    2>"$work/log/gw-$id.log" &
  pids+=($!)
done

echo "mosquitto  127.0.0.1:$mport (watch the wire: mosquitto_sub -p $mport -t 'spBv1.0/#' -v)"
echo "PostgreSQL 127.0.0.1:$pport (psql -h 127.0.0.1 -p $pport -U town town)"
echo "gateways   $(echo $ids | sed 's/\([^ ]*\)/gw-\1/g')"
echo
echo "town board: http://127.0.0.1:$bport/"
echo "town report: $build/host/community-host report --config $work/host.yaml --from 2026-03-02 --to 2026-03-02 --format html --out town.html"
echo "(Ctrl-C stops everything)"
wait "${pids[1]}"
