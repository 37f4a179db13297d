#!/usr/bin/env bash
# Makes docs/sample-report.html (and .csv, .json): one simulated week of the demo's four
# facilities (config/demo.yaml, the same seed, sensor dropouts and opening hours), fed
# through the real gateway binary, then `community-gateway report`.
#
# The demo runs the simulator at 60x with a sample every 10 s; a week of that takes
# hours, so this copy samples every 5 simulated minutes at 18000x (a day in about five
# seconds). Nothing else differs from the demo. No broker is needed: the readings wait
# in the buffer, and the history is kept as they are committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
bin="$build/gateway/community-gateway"
out="${1:-$root/docs/sample-report}"
work="$(mktemp -d)"
trap 'kill "$gw" 2>/dev/null || true; wait "$gw" 2>/dev/null || true; rm -rf "$work"' EXIT

sed -e "s#data_dir: ./demo-data#data_dir: $work/data#" \
    -e 's/^  speed: 60 .*/  speed: 18000/' \
    -e 's/^  interval_s: 10 .*/  interval_s: 300/' \
    -e 's/^  start: .*/  start: "2026-03-02T00:00"\n  max_samples: 2016/' \
    -e 's/^log:/buffer:\n  commit_interval_ms: 2\n  synchronous: normal\n\nlog:/' \
    "$root/config/demo.yaml" > "$work/demo-week.yaml"
"$bin" check-config --config "$work/demo-week.yaml"

"$bin" run --config "$work/demo-week.yaml" --broker tcp://127.0.0.1:1 2>"$work/gateway.log" &
gw=$!
# The week is over when the last day's report has been made (after its midnight).
for _ in $(seq 600); do
  if grep -qs "daily report of fitness-1 for 2026-03-08 queued" "$work/gateway.log"; then break; fi
  sleep 0.2
done
kill -TERM "$gw"
wait "$gw" || true

for fmt in html csv json; do
  "$bin" report --config "$work/demo-week.yaml" --from 2026-03-02 --to 2026-03-08 \
    --format "$fmt" --out "$out.$fmt" --generated-at "2026-03-09T00:00:00+08:00"
done
echo "wrote $out.html, $out.csv, $out.json"
