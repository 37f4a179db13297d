# The Debian package (CPack DEB): the binary, /etc/community-gateway/config.yaml (the
# reference example, a conffile), the systemd unit, the sysusers file, docs.
#   cmake --build build && (cd build && cpack -G DEB)
# Cross builds set GATEWAY_DEB_ARCH in their toolchain file (cmake/toolchain-*.cmake).

set(PKG_DIR ${CMAKE_CURRENT_LIST_DIR})
set(GATEWAY_RUNTIME_DEPENDS "libc6 (>= 2.34), libdate-tz3 (>= 3.0.1), libfmt9 (>= 9.1.0+ds1), libgcc-s1 (>= 3.0), libmodbus5 (>= 3.0.2), libpaho-mqtt1.3 (>= 1.3.0), libpaho-mqttpp3-1 (>= 1.2.0), libprotobuf32 (>= 3.21.12), libspdlog1.10-fmt9, libsqlite3-0 (>= 3.37.0), libssl3 (>= 3.0.0), libstdc++6 (>= 12), libsystemd0, libyaml-cpp0.7 (>= 0.7.0)")
set(DOC_DIR share/doc/community-gateway)

# The installed config is inert (config/installed.yaml): no simulator, no facilities, no
# broker, so a board booted before anyone edited it measures and forwards nothing.
install(FILES ${CMAKE_SOURCE_DIR}/config/installed.yaml DESTINATION /etc/community-gateway RENAME config.yaml)
install(FILES ${PKG_DIR}/community-gateway.service DESTINATION /lib/systemd/system)
install(FILES ${PKG_DIR}/community-gateway.sysusers DESTINATION lib/sysusers.d RENAME community-gateway.conf)
install(FILES ${CMAKE_SOURCE_DIR}/config/example.yaml ${CMAKE_SOURCE_DIR}/config/demo.yaml
        DESTINATION ${DOC_DIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${PKG_DIR}/debian/copyright DESTINATION ${DOC_DIR})

# Debian wants the changelog compressed, reproducibly (-n: no name or time stamp).
set(PKG_CHANGELOG_GZ ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/packaging)
execute_process(COMMAND gzip -9nc ${PKG_DIR}/debian/changelog OUTPUT_FILE ${PKG_CHANGELOG_GZ})
install(FILES ${PKG_CHANGELOG_GZ} DESTINATION ${DOC_DIR})
set(PKG_MAN_GZ ${CMAKE_BINARY_DIR}/packaging/community-gateway.8.gz)
execute_process(COMMAND gzip -9nc ${PKG_DIR}/community-gateway.8 OUTPUT_FILE ${PKG_MAN_GZ})
install(FILES ${PKG_MAN_GZ} DESTINATION share/man/man8)

if(NOT GATEWAY_DEB_ARCH)
  execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE GATEWAY_DEB_ARCH
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME community-gateway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "community-gateway")
set(CPACK_PACKAGE_CONTACT "Community gateway team <gateway@example.com>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${GATEWAY_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "IoT edge gateway for community facilities
Takes readings from the sensors of elderly canteens, day-care stations, EV
charging stations and fitness points, keeps every accepted reading in a local
SQLite buffer, and forwards them over MQTT as Sparkplug B to city platforms.
Serves a live status page, Prometheus metrics and health probes, on 127.0.0.1
by default.")
if(CMAKE_CROSSCOMPILING)
  # dpkg-shlibdeps maps libraries to packages through the dpkg database, which holds
  # the host's packages, not the sysroot's: name the run-time packages here. Debian 12
  # gives them the same names on every architecture; this is what dpkg-shlibdeps
  # computes for the native build (test_package.py checks that it still does).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "tzdata, adduser, init-system-helpers (>= 1.52), ${GATEWAY_RUNTIME_DEPENDS}")
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "tzdata, adduser, init-system-helpers (>= 1.52)")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PKG_DIR}/debian/postinst ${PKG_DIR}/debian/prerm ${PKG_DIR}/debian/postrm ${PKG_DIR}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
include(CPack)
