# stackbill_test(NAME SOURCES ... LIBS ... [LABELS label]): one GoogleTest
# executable whose tests ctest discovers one by one, so the summary counts real
# test cases. LABELS (one label, default "unit") lets presets pick tests: the tsan preset
# runs "concurrent".
function(stackbill_test name)
  if(NOT STACKBILL_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "LABELS;FIXTURES;TEST_PREFIX" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} stackbill_warnings GTest::gtest GTest::gmock
                                        GTest::gtest_main)
  # One label per test: gtest_discover_tests flattens a list-valued LABELS
  # property into separate words, so "unit;concurrent" would not survive.
  set(label unit)
  if(ARG_LABELS)
    set(label ${ARG_LABELS})
  endif()
  # FIXTURES: a ctest fixture every test of the executable requires (e.g.
  # postgres_server, the PostgreSQL server of store/postgres's tests).
  set(fixtures)
  if(ARG_FIXTURES)
    set(fixtures FIXTURES_REQUIRED ${ARG_FIXTURES})
  endif()
  # TEST_PREFIX: prepended to the test names, for a second executable built
  # from the same tests (e.g. "Postgres.").
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${ARG_TEST_PREFIX}"
                       PROPERTIES ENVIRONMENT "STACKBILL_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
                                  LABELS ${label} ${fixtures})
endfunction()
