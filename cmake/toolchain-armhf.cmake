# Cross build for 32-bit ARM boards with hardware floating point (ARMv7: Raspberry Pi
# 2/3 on a 32-bit OS, Allwinner H3, i.MX6). See scripts/cross-build.sh.
set(GATEWAY_TRIPLET arm-linux-gnueabihf)
set(GATEWAY_PROCESSOR armv7l)
set(GATEWAY_DEB_ARCH armhf)
set(GATEWAY_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
