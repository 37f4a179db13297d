# Cross build for 64-bit ARM boards (Raspberry Pi 4/5 on a 64-bit OS, RK3568/RK3588).
# See scripts/cross-build.sh, which is the documented way to use it.
set(GATEWAY_TRIPLET aarch64-linux-gnu)
set(GATEWAY_PROCESSOR aarch64)
set(GATEWAY_DEB_ARCH arm64)
set(GATEWAY_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
