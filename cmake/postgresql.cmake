# PostgreSQL output (libpq): the sink used by parse-file, serial and the
# daemon, `kaifa-meter initdb`, and the tests against a real server.
# libpq is not linked: the sink loads libpq.so.5 with dlopen() when it is
# first needed (src/sinks/postgresql.c), so only its header is used here.
# The package names it (cmake/packaging.cmake), shlibdeps cannot see it.
pkg_check_modules(LIBPQ REQUIRED libpq)

add_library(km_sink_postgresql STATIC ${PROJECT_SOURCE_DIR}/src/sinks/postgresql.c)
target_include_directories(km_sink_postgresql PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_include_directories(km_sink_postgresql PRIVATE ${LIBPQ_INCLUDE_DIRS})
target_link_libraries(km_sink_postgresql PUBLIC kaifa_core km_util PRIVATE ${CMAKE_DL_LIBS})

target_sources(kaifa-meter PRIVATE ${PROJECT_SOURCE_DIR}/src/cli/cmd_initdb.c)
target_compile_definitions(kaifa-meter PRIVATE KM_HAVE_PG)
target_link_libraries(kaifa-meter PRIVATE km_sink_postgresql)

if(KM_BUILD_TESTS)
  # Drives the sink directly for the hung-server / bounded-queue test.
  add_executable(pg_queue_client ${PROJECT_SOURCE_DIR}/tests/integration/pg/pg_queue_client.c)
  target_link_libraries(pg_queue_client PRIVATE km_sink_postgresql km_sim kaifa_core)

  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    foreach(t initdb parse_file outage queue nolib)
      add_test(NAME pg_${t}
        COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/integration/pg/test_pg.py ${t}
                $<TARGET_FILE:kaifa-meter> ${PROJECT_SOURCE_DIR}/tests/data/captures
                $<TARGET_FILE:pg_queue_client>)
      # 77: no PostgreSQL server binaries on this machine
      set_tests_properties(pg_${t} PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77
                           LABELS "integration;postgresql")
    endforeach()
    # The longest of them (about 40 s, mostly waiting): ctest -j starts it first.
    set_tests_properties(pg_outage PROPERTIES COST 40)
  endif()
endif()
