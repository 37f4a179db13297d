#!/usr/bin/env bash
# Cross-builds the gateway for an ARM board and packages it as a .deb, then runs the
# unit tests on the result under qemu-user:
#
#   scripts/cross-build.sh arm64      # -> build-arm64/community-gateway_<v>-1_arm64.deb
#   scripts/cross-build.sh armhf      # -> build-armhf/community-gateway_<v>-1_armhf.deb
#   scripts/cross-build.sh arm64 --no-test
#
# What it uses, all Debian 12 packages: the cross compilers (crossbuild-essential-ARCH),
# qemu-user, and a sysroot holding Debian's ARCH builds of the same -dev packages as the
# native build, made by mmdebstrap --variant=extract (packages unpacked, nothing run).
# A sysroot rather than `dpkg --add-architecture` multiarch: multiarch needs the host's
# and the target's copies of every shared library at the very same version, which a
# mirror in mid-sync (or a host with security updates the ARCH index lacks) breaks;
# the sysroot leaves the host's packages alone. Set GATEWAY_SYSROOT to reuse one, and
# DEBIAN_MIRROR (default http://deb.debian.org/debian) for another mirror.
# BUILD_TYPE sets CMAKE_BUILD_TYPE (default RelWithDebInfo, as the package is built),
# BUILD_DIR the build directory, WERROR=ON makes warnings errors (the test command).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
arch="${1:-}"
run_tests=1
[ "${2:-}" = "--no-test" ] && run_tests=0
case "$arch" in
  arm64) triplet=aarch64-linux-gnu; qemu=qemu-aarch64 ;;
  armhf) triplet=arm-linux-gnueabihf; qemu=qemu-arm ;;
  *) echo "usage: $0 arm64|armhf [--no-test]" >&2; exit 2 ;;
esac
build="${BUILD_DIR:-$root/build-$arch}"
sysroot="${GATEWAY_SYSROOT:-$build/sysroot}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

# The target's -dev packages: the native list of scripts/install-deps.sh, for ARCH.
target_packages=(
  libc6-dev libstdc++-12-dev
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  libboost-dev libsqlite3-dev libprotobuf-dev libyaml-cpp-dev libspdlog-dev
  libcli11-dev nlohmann-json3-dev libhowardhinnant-date-dev libsystemd-dev catch2
  libmodbus-dev
)
host_packages=(crossbuild-essential-"$arch" qemu-user mmdebstrap cmake protobuf-compiler dpkg-dev fakeroot)

missing=()
for p in "${host_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The sysroot is remade when the package list changes.
stamp="$sysroot/.gateway-sysroot"
want="$arch ${target_packages[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "making the $arch sysroot in $sysroot"
  rm -rf "$sysroot"
  mkdir -p "$(dirname "$sysroot")"
  include="$(IFS=,; echo "${target_packages[*]}")"
  if ! mmdebstrap --quiet --variant=extract --architectures="$arch" --include="$include" bookworm "$sysroot" \
      "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"; then
    # A security index caught mid-sync fails apt's update. Building against the point
    # release is safe: the binary links the shared libraries by soname, and the board's
    # own apt brings their security updates.
    echo "mmdebstrap with bookworm-security failed; retrying without it" >&2
    rm -rf "$sysroot"
    mmdebstrap --quiet --variant=extract --architectures="$arch" --include="$include" bookworm "$sysroot" \
      "deb $mirror bookworm main" "deb $mirror bookworm-updates main"
  fi
  echo "$want" > "$stamp"
fi

cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-$arch.cmake" \
  -DGATEWAY_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DGATEWAY_WERROR="${WERROR:-OFF}" >/dev/null
cmake --build "$build" -j"${JOBS:-2}"
(cd "$build" && cpack -G DEB >/dev/null)
deb="$(ls "$build"/community-gateway_*_"$arch".deb)"
echo "package: $deb"
file "$build/gateway/community-gateway"

if [ "$run_tests" = 1 ]; then
  # Unit tests only: the integration tests need the native binary beside mosquitto.
  (cd "$build" && ctest --output-on-failure -j"${TEST_JOBS:-2}" -R '^unit:')
fi
