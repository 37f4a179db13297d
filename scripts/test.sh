#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole suite with ctest.
# Every test starts its own peers (mosquitto) on ephemeral loopback ports.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
"$root/tests/browser/setup.sh"
build="${BUILD_DIR:-$root/build}"
cd "$build"
ctest --output-on-failure -j"${TEST_JOBS:-2}" "$@"
