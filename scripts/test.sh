#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole suite with ctest.
# Every test starts its own peers (mosquitto) on ephemeral loopback ports.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
"$root/tests/browser/setup.sh"
"$root/tests/ocpp/setup.sh"
build="${BUILD_DIR:-$root/build}"
cd "$build"
ctest --output-on-failure -j"${TEST_JOBS:-2}" "$@"
# The boards are ARM: the same sources cross-built for arm64, packaged, and their unit
# tests run under qemu-user. SKIP_CROSS=1 leaves it out of a quick local run.
if [ "${SKIP_CROSS:-0}" != 1 ]; then
  "$root/scripts/cross-build.sh" arm64
fi
