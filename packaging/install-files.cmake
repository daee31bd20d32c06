# Install-time half of cmake/packaging.cmake: writes the systemd units and
# installs them with the sysusers.d/tmpfiles.d entries and the sample config.
# It runs inside `cmake --install` and `cpack`, because only then is the
# prefix known: paths inside the units (ExecStart=, -c FILE) must name the
# installed daemon and config, whichever --prefix is given. The config goes
# to /etc for the prefixes /usr and / (as GNU and Debian want) and to
# PREFIX/etc otherwise. Set by the caller: KM_PKG_SOURCE_DIR,
# KM_PKG_BINARY_DIR, KM_DAEMON_INSTALL_DIR, KM_SYSTEMD_UNITDIR,
# KM_SYSUSERSDIR, KM_TMPFILESDIR, KM_SAMPLE_CONFIG.

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" OR CMAKE_INSTALL_PREFIX STREQUAL "/")
  set(KM_SYSCONFDIR "/etc")
else()
  set(KM_SYSCONFDIR "${CMAKE_INSTALL_PREFIX}/etc")
endif()
string(REGEX REPLACE "/+$" "" _km_prefix "${CMAKE_INSTALL_PREFIX}")
set(KM_DAEMON_PATH "${_km_prefix}/${KM_DAEMON_INSTALL_DIR}/kaifa-meterd")
set(KM_GENERATED "Generated for prefix ${CMAKE_INSTALL_PREFIX} from systemd/*.in.")

file(READ "${KM_PKG_SOURCE_DIR}/systemd/sandbox.conf.in" KM_SANDBOX)
string(STRIP "${KM_SANDBOX}" KM_SANDBOX)

set(_km_units "${KM_PKG_BINARY_DIR}/units")
foreach(_u kaifa-meter.service kaifa-meter@.service)
  configure_file("${KM_PKG_SOURCE_DIR}/systemd/${_u}.in" "${_km_units}/${_u}" @ONLY)
endforeach()

file(INSTALL DESTINATION "${_km_prefix}/${KM_SYSTEMD_UNITDIR}" TYPE FILE
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  FILES "${_km_units}/kaifa-meter.service" "${_km_units}/kaifa-meter@.service")
file(INSTALL DESTINATION "${_km_prefix}/${KM_SYSUSERSDIR}" TYPE FILE
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  FILES "${KM_PKG_SOURCE_DIR}/systemd/kaifa-meter.sysusers" RENAME kaifa-meter.conf)
file(INSTALL DESTINATION "${_km_prefix}/${KM_TMPFILESDIR}" TYPE FILE
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  FILES "${KM_PKG_SOURCE_DIR}/systemd/kaifa-meter.tmpfiles" RENAME kaifa-meter.conf)

# The config may hold a broker password and a meter key: 0640, and the
# package's postinst (or systemd-tmpfiles and a chgrp, for source installs)
# gives it to the kaifa-meter group.
if(EXISTS "${KM_SAMPLE_CONFIG}")
  file(INSTALL DESTINATION "${KM_SYSCONFDIR}/kaifa-meter" TYPE FILE
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
    FILES "${KM_SAMPLE_CONFIG}")
else()
  message(WARNING "kaifa-meter: no sample config at ${KM_SAMPLE_CONFIG}, none installed")
endif()
