# The simulated Kaifa meter: `kaifa-meter simulate` and its frame encoder
# (src/sim), with the encode -> decode unit test and the pipe test.
add_library(km_sim STATIC
  ${PROJECT_SOURCE_DIR}/src/sim/kfm_encode.c
  ${PROJECT_SOURCE_DIR}/src/sim/meter_sim.c
  ${PROJECT_SOURCE_DIR}/src/sim/p1_encode.c
)
target_include_directories(km_sim PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(km_sim PUBLIC kaifa_core m)

target_sources(kaifa-meter PRIVATE ${PROJECT_SOURCE_DIR}/src/cli/cmd_simulate.c)
target_compile_definitions(kaifa-meter PRIVATE KM_HAVE_SIMULATE)
target_link_libraries(kaifa-meter PRIVATE km_sim km_util m)

if(KM_BUILD_TESTS)
  pkg_check_modules(KM_SIM_CMOCKA REQUIRED IMPORTED_TARGET cmocka)
  add_executable(test_kfm_encode ${PROJECT_SOURCE_DIR}/tests/integration/simulate/test_kfm_encode.c)
  target_link_libraries(test_kfm_encode PRIVATE km_sim kaifa_core PkgConfig::KM_SIM_CMOCKA)
  add_test(NAME sim_encode_decode COMMAND test_kfm_encode)
  set_tests_properties(sim_encode_decode PROPERTIES LABELS "unit;simulate")
  add_executable(test_p1_encode ${PROJECT_SOURCE_DIR}/tests/integration/simulate/test_p1_encode.c)
  target_link_libraries(test_p1_encode PRIVATE km_sim kaifa_core PkgConfig::KM_SIM_CMOCKA)
  add_test(NAME sim_p1_encode_decode COMMAND test_p1_encode)
  set_tests_properties(sim_p1_encode_decode PROPERTIES LABELS "unit;simulate")

  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    add_test(NAME sim_pipe_one_hour
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/integration/simulate/test_simulate.py
              $<TARGET_FILE:kaifa-meter> ${PROJECT_SOURCE_DIR}/tests/data/captures)
    set_tests_properties(sim_pipe_one_hour PROPERTIES TIMEOUT 120 LABELS "integration;simulate")
    # `kaifa-meter serial` on ptys (the simulator's and socat's): parity auto, the
    # hint for a wrong setting, the same pty reopened with even parity
    add_test(NAME cli_serial_parity
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/integration/cli/test_serial_parity.py
              $<TARGET_FILE:kaifa-meter> ${PROJECT_SOURCE_DIR}/tests/data/captures)
    set_tests_properties(cli_serial_parity PROPERTIES TIMEOUT 300 LABELS "integration;cli")
  endif()
endif()
