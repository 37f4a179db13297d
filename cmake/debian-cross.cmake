# Shared part of the cross toolchain files (toolchain-arm64.cmake, toolchain-armhf.cmake):
# Debian's cross compilers (crossbuild-essential-ARCH) against a sysroot of Debian 12's
# ARCH -dev packages, which scripts/cross-build.sh fills (mmdebstrap --variant=extract).
# Programs run at build time (protoc) are the host's; tests run under qemu-user.
#
# The including file sets GATEWAY_TRIPLET, GATEWAY_DEB_ARCH, GATEWAY_PROCESSOR, GATEWAY_QEMU.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${GATEWAY_PROCESSOR})
set(CMAKE_C_COMPILER ${GATEWAY_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${GATEWAY_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${GATEWAY_TRIPLET})

if(NOT GATEWAY_SYSROOT)
  set(GATEWAY_SYSROOT "$ENV{GATEWAY_SYSROOT}")
endif()
if(NOT GATEWAY_SYSROOT)
  message(FATAL_ERROR "set GATEWAY_SYSROOT (scripts/cross-build.sh makes one)")
endif()
# try_compile projects get it too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES GATEWAY_SYSROOT)
set(ENV{GATEWAY_SYSROOT} "${GATEWAY_SYSROOT}")
set(CMAKE_SYSROOT ${GATEWAY_SYSROOT})
set(CMAKE_FIND_ROOT_PATH ${GATEWAY_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Libraries' own dependencies (libpaho -> libssl) are found in the sysroot at link time.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${GATEWAY_SYSROOT}/usr/lib/${GATEWAY_TRIPLET} -Wl,-rpath-link,${GATEWAY_SYSROOT}/lib/${GATEWAY_TRIPLET}")

set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_LIBDIR} "${GATEWAY_SYSROOT}/usr/lib/${GATEWAY_TRIPLET}/pkgconfig:${GATEWAY_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${GATEWAY_SYSROOT}")

# protoc runs on the build machine; Debian 12 ships the same protobuf (3.21.12) for
# every architecture, so the generated code matches the target's libprotobuf.
set(Protobuf_PROTOC_EXECUTABLE /usr/bin/protoc CACHE FILEPATH "host protoc")
# ctest (and Catch2's test discovery) run the target's binaries through qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR ${GATEWAY_QEMU} -L ${GATEWAY_SYSROOT})
