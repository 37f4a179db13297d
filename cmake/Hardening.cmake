# Debian's hardening flags, as dpkg-buildflags gives them with hardening=+all:
# _FORTIFY_SOURCE, -fstack-protector-strong, format-security, RELRO and BIND_NOW
# (PIE is GCC 12's default on Debian). Asked of dpkg-buildflags at configure time so
# the package is built the way a Debian package of it would be; the optimisation and
# debug flags it also prints are left to CMAKE_BUILD_TYPE. Lintian's pedantic
# hardening tags (hardening-no-fortify-functions, hardening-no-bindnow) check this.
# Sanitized builds (the test command's) keep all but _FORTIFY_SOURCE, whose checked
# wrappers would stand between the sanitizers and the accesses they check.
option(GATEWAY_HARDENING "Build with dpkg-buildflags' hardening flags" ON)
if(GATEWAY_HARDENING)
  find_program(DPKG_BUILDFLAGS dpkg-buildflags)
  if(NOT DPKG_BUILDFLAGS)
    message(FATAL_ERROR "dpkg-buildflags not found (dpkg-dev); or configure with -DGATEWAY_HARDENING=OFF")
  endif()
  set(_hardening_env DEB_BUILD_MAINT_OPTIONS=hardening=+all)
  if(GATEWAY_DEB_ARCH)
    list(APPEND _hardening_env DEB_HOST_ARCH=${GATEWAY_DEB_ARCH})
  endif()
  foreach(_var CPPFLAGS CXXFLAGS LDFLAGS)
    execute_process(COMMAND ${CMAKE_COMMAND} -E env ${_hardening_env} ${DPKG_BUILDFLAGS} --get ${_var}
                    OUTPUT_VARIABLE _flags OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
    separate_arguments(_flags UNIX_COMMAND "${_flags}")
    # Optimisation, debug info and path maps belong to the build type and the builder.
    list(FILTER _flags EXCLUDE REGEX "^-(g|O[0-9s]?|ffile-prefix-map=.*|fdebug-prefix-map=.*)$")
    if(GATEWAY_SANITIZE)
      list(FILTER _flags EXCLUDE REGEX "^-D_FORTIFY_SOURCE=.*$")
    endif()
    set(GATEWAY_HARDENING_${_var} ${_flags})
  endforeach()
  list(JOIN GATEWAY_HARDENING_CPPFLAGS " " _cpp)
  list(JOIN GATEWAY_HARDENING_CXXFLAGS " " _cxx)
  list(JOIN GATEWAY_HARDENING_LDFLAGS " " _ld)
  message(STATUS "Hardening (dpkg-buildflags): ${_cpp} ${_cxx}; link: ${_ld}")
  add_compile_options(${GATEWAY_HARDENING_CPPFLAGS} ${GATEWAY_HARDENING_CXXFLAGS})
  add_link_options(${GATEWAY_HARDENING_LDFLAGS})
endif()
