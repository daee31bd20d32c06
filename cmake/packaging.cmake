# Packaging: installs the systemd units, the sysusers.d and tmpfiles.d
# entries, the man pages and the sample config, and builds a Debian package
# with CPack (`cpack -G DEB` in the build directory). The same install rules
# serve `cmake --install build --prefix DIR` and the package, so both
# install the same set of files (tests/packaging checks it). The units are
# written at install time (packaging/install-files.cmake), when the prefix
# is known. Tests that need root and a built package carry the label
# "packaging".

get_filename_component(KM_PKG_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}" DIRECTORY)
set(KM_PKG_BINARY_DIR "${CMAKE_BINARY_DIR}/packaging")

set(KM_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
  "systemd system unit directory, relative to the install prefix")
set(KM_SYSUSERSDIR "lib/sysusers.d" CACHE STRING
  "sysusers.d directory, relative to the install prefix")
set(KM_TMPFILESDIR "lib/tmpfiles.d" CACHE STRING
  "tmpfiles.d directory, relative to the install prefix")
set(KM_PACKAGE_MAINTAINER "kaifa-meter developers <dev@kaifa-meter.invalid>" CACHE STRING
  "Maintainer field of the Debian package")
# cmake/daemon.cmake installs kaifa-meterd; it may set KM_DAEMON_INSTALL_DIR.
if(NOT DEFINED KM_DAEMON_INSTALL_DIR)
  set(KM_DAEMON_INSTALL_DIR "${CMAKE_INSTALL_SBINDIR}")
endif()
set(KM_SAMPLE_CONFIG "${KM_PKG_SOURCE_DIR}/config/kaifa-meter.conf")

# Units, sysusers.d, tmpfiles.d and the config (as a conffile in the package).
install(CODE "
  set(KM_PKG_SOURCE_DIR \"${KM_PKG_SOURCE_DIR}\")
  set(KM_PKG_BINARY_DIR \"${KM_PKG_BINARY_DIR}\")
  set(KM_DAEMON_INSTALL_DIR \"${KM_DAEMON_INSTALL_DIR}\")
  set(KM_SYSTEMD_UNITDIR \"${KM_SYSTEMD_UNITDIR}\")
  set(KM_SYSUSERSDIR \"${KM_SYSUSERSDIR}\")
  set(KM_TMPFILESDIR \"${KM_TMPFILESDIR}\")
  set(KM_SAMPLE_CONFIG \"${KM_SAMPLE_CONFIG}\")
")
install(SCRIPT "${KM_PKG_SOURCE_DIR}/packaging/install-files.cmake")

# A pristine copy of the sample config, to start a template instance from.
if(EXISTS "${KM_SAMPLE_CONFIG}")
  install(FILES "${KM_SAMPLE_CONFIG}"
    DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples")
endif()

# The licence, as Debian's copyright file, once the project has one.
foreach(_lic LICENSE LICENSE.md COPYING)
  if(EXISTS "${KM_PKG_SOURCE_DIR}/${_lic}")
    install(FILES "${KM_PKG_SOURCE_DIR}/${_lic}" DESTINATION "${CMAKE_INSTALL_DOCDIR}"
      RENAME copyright)
    break()
  endif()
endforeach()

# Man pages, compressed at build time as Debian wants them, with the
# project's version in their footer.
find_program(KM_GZIP gzip REQUIRED)
set(KM_MAN_PAGES kaifa-meter.1 kaifa-meterd.8 kaifa-meter.conf.5)
set(_km_man_gz)
foreach(_page ${KM_MAN_PAGES})
  string(REGEX MATCH "[0-9]$" _sect "${_page}")
  set(_gz "${KM_PKG_BINARY_DIR}/man/${_page}.gz")
  add_custom_command(OUTPUT "${_gz}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${KM_PKG_BINARY_DIR}/man"
    COMMAND sh -c "sed 's/\"kaifa-meter [0-9.]*\"/\"kaifa-meter ${PROJECT_VERSION}\"/' \"$0\" | ${KM_GZIP} -9 -n > \"$1\""
            "${KM_PKG_SOURCE_DIR}/man/${_page}" "${_gz}"
    DEPENDS "${KM_PKG_SOURCE_DIR}/man/${_page}"
    COMMENT "Compressing man page ${_page}"
    VERBATIM)
  list(APPEND _km_man_gz "${_gz}")
  install(FILES "${_gz}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man${_sect}")
endforeach()
add_custom_target(km_man_pages ALL DEPENDS ${_km_man_gz})

# The Debian package.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "kaifa-meter")
set(CPACK_PACKAGE_VENDOR "kaifa-meter")
set(CPACK_PACKAGE_CONTACT "${KM_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "smart electricity meter HAN port reader publishing to MQTT")
set(CPACK_PACKAGE_DESCRIPTION
"kaifa-meterd reads the HAN (M-Bus) port of Kaifa, Aidon and Kamstrup
smart electricity meters through a serial adapter and publishes every
value to an MQTT broker, with Home Assistant discovery. It runs as a
sandboxed systemd service; a template unit serves homes with several
meters.

The kaifa-meter command decodes captures and serial ports to the
terminal, JSON or PostgreSQL, and simulates a meter.")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "electronics")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The units' ExecReload=/bin/kill is procps's on Debian (not essential; a
# minimal image lacks it and `systemctl reload` would fail). shlibdeps
# appends the libraries to this.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "procps, tzdata")
# libpq5: the PostgreSQL output loads libpq.so.5 with dlopen() only when it
# is configured (cmake/postgresql.cmake), so shlibdeps does not see it. It is
# an optional output (docs/daemon.md, docs/outputs.md): a Recommends, which
# apt installs by default; without it the output says to install libpq5.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd, libpq5")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto, mosquitto-clients, postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${KM_PKG_SOURCE_DIR}/packaging/debian/postinst"
  "${KM_PKG_SOURCE_DIR}/packaging/debian/prerm"
  "${KM_PKG_SOURCE_DIR}/packaging/debian/postrm"
  "${KM_PKG_SOURCE_DIR}/packaging/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
# Install with DESTDIR so the config lands in /etc, not /usr/etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "/usr")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_SOURCE_GENERATOR "TGZ")
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/_CPack_Packages/")

# Debian wants a changelog beside the package's documentation. The date
# follows SOURCE_DATE_EPOCH when it is set (reproducible builds).
string(TIMESTAMP KM_PKG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file("${KM_PKG_SOURCE_DIR}/packaging/debian/changelog.in"
  "${KM_PKG_BINARY_DIR}/changelog.Debian" @ONLY)
add_custom_command(OUTPUT "${KM_PKG_BINARY_DIR}/changelog.Debian.gz"
  COMMAND ${KM_GZIP} -9 -n -f -k "${KM_PKG_BINARY_DIR}/changelog.Debian"
  DEPENDS "${KM_PKG_BINARY_DIR}/changelog.Debian"
  VERBATIM)
add_custom_target(km_deb_changelog ALL DEPENDS "${KM_PKG_BINARY_DIR}/changelog.Debian.gz")
install(FILES "${KM_PKG_BINARY_DIR}/changelog.Debian.gz" DESTINATION "${CMAKE_INSTALL_DOCDIR}")
install(FILES "${KM_PKG_SOURCE_DIR}/packaging/debian/lintian-overrides"
  DESTINATION "${CMAKE_INSTALL_DATADIR}/lintian/overrides" RENAME kaifa-meter)

include(CPack)

if(KM_BUILD_TESTS)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  set(_km_pt "${KM_PKG_SOURCE_DIR}/tests/packaging/pkgtest.py")
  set(_km_pt_args --build "${CMAKE_BINARY_DIR}" --source "${KM_PKG_SOURCE_DIR}")
  # Builds the .deb (no root needed).
  add_test(NAME packaging_cpack COMMAND Python3::Interpreter ${_km_pt} cpack ${_km_pt_args})
  # `cmake --install --prefix` installs the same files as the .deb (no root).
  add_test(NAME packaging_prefix_install
    COMMAND Python3::Interpreter ${_km_pt} prefix ${_km_pt_args})
  # Installs the .deb with apt (root), checks it, runs the daemon like the
  # unit does, purges it.
  add_test(NAME packaging_deb_install COMMAND Python3::Interpreter ${_km_pt} install ${_km_pt_args})
  add_test(NAME packaging_deb_files COMMAND Python3::Interpreter ${_km_pt} files ${_km_pt_args})
  add_test(NAME packaging_deb_units COMMAND Python3::Interpreter ${_km_pt} units ${_km_pt_args})
  add_test(NAME packaging_deb_sandbox COMMAND Python3::Interpreter ${_km_pt} sandbox ${_km_pt_args})
  add_test(NAME packaging_deb_noproc COMMAND Python3::Interpreter ${_km_pt} noproc ${_km_pt_args})
  add_test(NAME packaging_deb_purge COMMAND Python3::Interpreter ${_km_pt} purge ${_km_pt_args})

  set_tests_properties(packaging_cpack PROPERTIES FIXTURES_SETUP km_deb_built)
  set_tests_properties(packaging_prefix_install PROPERTIES FIXTURES_REQUIRED km_deb_built)
  set_tests_properties(packaging_deb_install PROPERTIES
    FIXTURES_REQUIRED km_deb_built FIXTURES_SETUP km_deb_installed)
  set_tests_properties(packaging_deb_files packaging_deb_units packaging_deb_sandbox packaging_deb_noproc
    PROPERTIES FIXTURES_REQUIRED km_deb_installed)
  set_tests_properties(packaging_deb_purge PROPERTIES FIXTURES_CLEANUP km_deb_installed)
  set_tests_properties(packaging_cpack packaging_prefix_install packaging_deb_install
    packaging_deb_files packaging_deb_units packaging_deb_sandbox packaging_deb_noproc packaging_deb_purge
    PROPERTIES LABELS packaging RUN_SERIAL TRUE TIMEOUT 120)
  # A test that exits 77 was skipped (e.g. not root).
  set_tests_properties(packaging_deb_install packaging_deb_files packaging_deb_units
    packaging_deb_sandbox packaging_deb_noproc packaging_deb_purge PROPERTIES SKIP_RETURN_CODE 77)
endif()
