#!/usr/bin/env bash
# The longer fuzz runs recorded in RESULTS.md ("Fuzzing"): every libFuzzer target of a
# build, each for SECONDS on a copy of its seed corpus (the tree is not written to),
# one after the other. Prints a Markdown table: executions, executions per second, the
# corpus before and after, peak RSS, and the finding (crash, leak, timeout or OOM input
# kept under OUT) if any.
#
#   bench/fuzz_long.sh [BUILD_DIR] [SECONDS] [OUT]     (defaults: build 600 /tmp/fuzz-long)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
seconds="${2:-600}"
out="${3:-/tmp/fuzz-long}"
mkdir -p "$out"

targets=("$build"/tests/fuzz/fuzz_*)
[ -x "${targets[0]}" ] || { echo "no fuzz targets in $build/tests/fuzz (is clang installed?)" >&2; exit 1; }

echo "| target | seconds | executions | exec/s | corpus (seed -> end) | peak RSS MB | finding |"
echo "|---|---|---|---|---|---|---|"
status=0
for bin in "${targets[@]}"; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  name="${bin##*/fuzz_}"
  seed="$root/tests/fuzz/corpus/$name"
  corpus="$out/corpus_$name"
  rm -rf "$corpus" && cp -r "$seed" "$corpus"
  seeds=$(find "$seed" -type f | wc -l)
  log="$out/$name.log"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/$name-" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  end=$(find "$corpus" -type f | wc -l)
  finding="none"
  if [ "$rc" -ne 0 ]; then
    finding="exit $rc: $(ls "$out/$name-"* 2>/dev/null | head -1) (see $log)"
    status=1
  fi
  echo "| $name | $seconds | ${execs:-?} | ${rate:-?} | $seeds -> $end | ${rss:-?} | $finding |"
done
exit $status
