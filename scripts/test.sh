#!/usr/bin/env bash
# The test command: installs what is missing, then
#   1. builds the whole suite with AddressSanitizer + UndefinedBehaviorSanitizer (and
#      LeakSanitizer) in ./build-test (or $BUILD_DIR) and runs all of it with ctest;
#   2. builds the gateway, the unit tests and the threaded tests' helpers (target
#      threads_tests) with ThreadSanitizer in ./build-tsan (or
#      $TSAN_BUILD_DIR) and runs the unit tests and the integration tests whose code
#      runs on several threads (ctest label "threads": Paho's callback threads, the
#      Modbus pollers, ...);
#   3. cross-builds for arm64 in Release in ./build-test-arm64 (or $CROSS_BUILD_DIR),
#      packages, and runs the unit tests under qemu-user;
#   4. builds the town host (community-host) natively in Release in
#      ./build-test-release (or $RELEASE_BUILD_DIR): the board's cross build leaves the
#      host out (its sysroot has no libpq), so this is where the host meets -O3.
# Its builds treat warnings as errors (WERROR=ON; a user's build does not). Steps 1 and
# 2 are RelWithDebInfo, compiled -Og -g1 by the sanitizer option; step 3 is Release
# (-O3), where the optimizer's false-positive warnings show. RelWithDebInfo's own -O2
# (the default build, and the packages') is the level it does not compile.
# A sanitizer report fails its test (tests/sanitizers/README.md). ./build, the demo's,
# stays a normal build. Arguments go to both ctest runs (e.g. -R modbus).
# SANITIZE=none runs step 1 on a build without sanitizers; SKIP_TSAN=1, SKIP_CROSS=1 and
# SKIP_RELEASE=1 leave steps 2, 3 and 4 out of a quick local run; TEST_JOBS sets ctest's parallelism.
# Every test starts its own peers (mosquitto...) on ephemeral loopback ports.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
# Most integration tests wait on sockets and timers, not on the CPU: three at a time
# keep two cores busy.
jobs="${TEST_JOBS:-3}"

build="${BUILD_DIR:-$root/build-test}"
sanitize="${SANITIZE:-address,undefined}"
[ "$sanitize" = none ] && sanitize=""
BUILD_DIR="$build" SANITIZE="$sanitize" WERROR=ON "$root/scripts/build.sh"
"$root/tests/browser/setup.sh"
"$root/tests/ocpp/setup.sh"
(cd "$build" && ctest --output-on-failure -j"$jobs" "$@")

if [ "${SKIP_TSAN:-0}" != 1 ]; then
  tsan="${TSAN_BUILD_DIR:-$root/build-tsan}"
  BUILD_DIR="$tsan" SANITIZE=thread WERROR=ON "$root/scripts/build.sh" threads_tests
  (cd "$tsan" && ctest --output-on-failure -j"$jobs" -L '^(unit|threads)$' "$@")
fi

# The boards are ARM: the same sources cross-built for arm64, packaged (a check of
# cpack), and their unit tests run under qemu-user. In Release, the build type the two
# builds above do not use: -O3 inlines more than -O2 and is where GCC's false-positive
# warnings (-Wrestrict, -Warray-bounds, -Wstringop-overflow) appear, so a build type
# that would fail with -Werror shows here rather than on a packager's machine. In its
# own directory, so that ./build-arm64 stays the package's build (RelWithDebInfo, what
# `scripts/cross-build.sh arm64` ships); the sysroot is shared with it.
if [ "${SKIP_CROSS:-0}" != 1 ]; then
  BUILD_DIR="${CROSS_BUILD_DIR:-$root/build-test-arm64}" BUILD_TYPE=Release WERROR=ON \
    GATEWAY_SYSROOT="${GATEWAY_SYSROOT:-$root/build-arm64/sysroot}" "$root/scripts/cross-build.sh" arm64
fi

# The town host runs on a server, not on a board, so step 3 does not build it: compiled
# here at -O3 (Release) with -Werror, the optimizer's false positives in host/ show in
# CI too.
if [ "${SKIP_RELEASE:-0}" != 1 ]; then
  BUILD_DIR="${RELEASE_BUILD_DIR:-$root/build-test-release}" BUILD_TYPE=Release WERROR=ON \
    "$root/scripts/build.sh" community-host
fi
