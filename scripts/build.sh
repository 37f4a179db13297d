#!/usr/bin/env bash
# Configures and builds into ./build (or $BUILD_DIR). Used by demo.sh and test.sh.
# SANITIZE=address,undefined or SANITIZE=thread builds with those sanitizers (the test
# command's own build directories); arguments name targets to build (default: all).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DGATEWAY_SANITIZE="${SANITIZE:-}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
