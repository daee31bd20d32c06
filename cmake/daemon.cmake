# kaifa-meterd: the systemd service that publishes every value to MQTT with
# Home Assistant discovery (src/daemon/, src/sinks/mqtt.c,
# src/sinks/homeassistant.c) and optionally stores it in PostgreSQL (the
# km_sink_postgresql library of cmake/postgresql.cmake) and a JSON-lines
# file, and its integration tests (tests/integration/daemon/, python3
# standard library, real mosquitto, real PostgreSQL, socat ptys and a real
# NOTIFY_SOCKET listener).

pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
# src/CMakeLists.txt's imported targets are local to that directory.
pkg_check_modules(KMD_JSONC REQUIRED IMPORTED_TARGET json-c)

# The MQTT connection: the only code that includes mosquitto.h.
add_library(km_sink_mqtt STATIC ${PROJECT_SOURCE_DIR}/src/sinks/mqtt.c)
target_include_directories(km_sink_mqtt PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(km_sink_mqtt PRIVATE PkgConfig::MOSQUITTO)

# Home Assistant discovery documents (json-c).
add_library(km_sink_homeassistant STATIC ${PROJECT_SOURCE_DIR}/src/sinks/homeassistant.c)
target_include_directories(km_sink_homeassistant PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(km_sink_homeassistant PUBLIC PkgConfig::KMD_JSONC)

add_executable(kaifa-meterd
  ${PROJECT_SOURCE_DIR}/src/daemon/main.c
  ${PROJECT_SOURCE_DIR}/src/daemon/config.c
  ${PROJECT_SOURCE_DIR}/src/daemon/loop.c
  ${PROJECT_SOURCE_DIR}/src/daemon/manager.c
  ${PROJECT_SOURCE_DIR}/src/daemon/meter.c
  ${PROJECT_SOURCE_DIR}/src/daemon/mqtt_link.c
  ${PROJECT_SOURCE_DIR}/src/daemon/outputs.c
  ${PROJECT_SOURCE_DIR}/src/daemon/publish.c
  ${PROJECT_SOURCE_DIR}/src/daemon/derived.c
  ${PROJECT_SOURCE_DIR}/src/daemon/values.c)
target_include_directories(kaifa-meterd PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(kaifa-meterd PRIVATE
  km_sink_mqtt km_sink_homeassistant km_sink_postgresql km_sources km_sink_json km_util km_security km_derived kaifa_core
  PkgConfig::LIBSYSTEMD PkgConfig::INIH PkgConfig::KMD_JSONC)

# A daemon: sbin, where the systemd units (cmake/packaging.cmake) look for it.
set(KM_DAEMON_INSTALL_DIR "${CMAKE_INSTALL_SBINDIR}")
install(TARGETS kaifa-meterd RUNTIME DESTINATION ${KM_DAEMON_INSTALL_DIR})

if(KM_BUILD_TESTS)
  # Pure parts (decimal payloads, names, discovery JSON, config from strings)
  # and the publisher on an unconnected libmosquitto client.
  add_executable(unit_daemon
    ${PROJECT_SOURCE_DIR}/tests/integration/daemon/unit_daemon.c
    ${PROJECT_SOURCE_DIR}/src/daemon/config.c
    ${PROJECT_SOURCE_DIR}/src/daemon/publish.c
    ${PROJECT_SOURCE_DIR}/src/daemon/derived.c
    ${PROJECT_SOURCE_DIR}/src/daemon/values.c)
  target_include_directories(unit_daemon PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(unit_daemon PRIVATE km_sink_mqtt km_sink_homeassistant km_sink_postgresql km_sources km_sink_json km_util km_security km_derived kaifa_core
    PkgConfig::INIH PkgConfig::KMD_JSONC)
  add_test(NAME unit_daemon COMMAND unit_daemon)
  set_tests_properties(unit_daemon PROPERTIES LABELS "unit;daemon")

  find_package(Python3 COMPONENTS Interpreter)
  set(KM_DAEMON_TESTS ${PROJECT_SOURCE_DIR}/tests/integration/daemon)
  set(KM_DAEMON_TEST_ENV
    "KM_DAEMON=$<TARGET_FILE:kaifa-meterd>"
    "KM_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "KM_CLI=$<TARGET_FILE:kaifa-meter>")
  if(Python3_Interpreter_FOUND)
    # name | script | timeout (s): a net for a hang, far above the run time
    # (seconds to a minute) so that a loaded machine does not fail them
    set(KM_DAEMON_TEST_CASES
      "daemon_config|test_config.py|300"
      "daemon_publish|test_publish.py|300"
      "daemon_p1|test_p1.py|300"
      "daemon_broker_outage|test_broker_outage.py|300"
      "daemon_serial_reconnect|test_serial_reconnect.py|300"
      "daemon_notify|test_notify.py|300"
      "daemon_parity_auto|test_parity.py|300"
      "daemon_pty_reopen|test_pty_reopen.py|300"
      "daemon_identity|test_identity.py|300"
      "daemon_meters|test_meters.py|300"
      "daemon_qos|test_qos.py|300"
      "daemon_stale|test_stale.py|300"
      "daemon_two_services|test_two_services.py|300"
      "daemon_hints|test_hints.py|300"
      "daemon_tls|test_tls.py|300"
      "daemon_reload|test_reload.py|300"
      "daemon_tcp_source|test_tcp.py|300"
      "daemon_file|test_file.py|300"
      "daemon_source_backoff|test_source_backoff.py|300"
      "daemon_postgresql|test_postgresql.py|300"
      "daemon_postgresql_commit|test_pg_commit.py|120"
      "daemon_security|test_security.py|300"
      "daemon_template_instances|test_template_instances.py|300"
      "daemon_day_replay|test_day_replay.py|300"
      "daemon_derived|test_derived.py|900")
    foreach(case ${KM_DAEMON_TEST_CASES})
      string(REPLACE "|" ";" f "${case}")
      list(GET f 0 name)
      list(GET f 1 script)
      list(GET f 2 timeout)
      add_test(NAME ${name} COMMAND ${Python3_EXECUTABLE} ${KM_DAEMON_TESTS}/${script})
      set_tests_properties(${name} PROPERTIES
        ENVIRONMENT "${KM_DAEMON_TEST_ENV}"
        TIMEOUT ${timeout}
        LABELS "integration;daemon")
    endforeach()
    # needs PostgreSQL's server binaries (tests/integration/pg/pgserver.py); 77 = none here
    set_tests_properties(daemon_postgresql daemon_postgresql_commit PROPERTIES SKIP_RETURN_CODE 77
                         LABELS "integration;daemon;postgresql")
    # Faults repeated (test_faults.py): the broker killed 10 times, the pty
    # removed 10 times, PostgreSQL restarted twice, under load; fds, RSS,
    # retained values and rows checked at the end.
    foreach(mode broker pty postgresql)
      add_test(NAME daemon_fault_${mode} COMMAND ${Python3_EXECUTABLE} ${KM_DAEMON_TESTS}/test_faults.py ${mode})
      set_tests_properties(daemon_fault_${mode} PROPERTIES
        ENVIRONMENT "${KM_DAEMON_TEST_ENV}" TIMEOUT 300 COST 60 SKIP_RETURN_CODE 77 LABELS "integration;daemon")
    endforeach()
    set_tests_properties(daemon_fault_postgresql PROPERTIES LABELS "integration;daemon;postgresql")
    # needs root and a writable cgroup2 hierarchy (runs the daemons as template units); 77 = not here
    set_tests_properties(daemon_template_instances PROPERTIES SKIP_RETURN_CODE 77)
    # The longest tests (30-50 s, mostly waiting): ctest -j starts them first.
    set_tests_properties(daemon_postgresql daemon_broker_outage PROPERTIES COST 50)
    # about 90 s of simulated days through the daemon
    set_tests_properties(daemon_derived PROPERTIES COST 90)
  endif()
  add_test(NAME daemon_demo
    COMMAND bash ${KM_DAEMON_TESTS}/demo.sh --check --daemon $<TARGET_FILE:kaifa-meterd>)
  set_tests_properties(daemon_demo PROPERTIES TIMEOUT 300 LABELS "integration;daemon")
endif()
