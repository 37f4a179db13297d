#!/usr/bin/env bash
# Configures and builds into ./build (or $BUILD_DIR). Used by demo.sh and test.sh.
# SANITIZE=address,undefined or SANITIZE=thread builds with those sanitizers (the test
# command's own build directories); BUILD_TYPE sets CMAKE_BUILD_TYPE (default
# RelWithDebInfo); WERROR=ON makes warnings errors (the test command's builds; off by
# default, so that a compiler's new warning never costs a user the build). Arguments
# name targets to build (default: all).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DGATEWAY_SANITIZE="${SANITIZE:-}" -DGATEWAY_WERROR="${WERROR:-OFF}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
