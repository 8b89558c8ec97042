# Writes one ctest per GoogleTest suite of TEST_BINARY into CTEST_FILE (run
# after each build of the binary). Unit tests are short, and a LibTorch
# binary takes most of a second to start: one process per suite instead of
# one per test case saves minutes of a test run.
# Inputs: TEST_BINARY, CTEST_FILE, LABEL, TIMEOUT.
execute_process(
  COMMAND "${TEST_BINARY}" --gtest_list_tests
  OUTPUT_VARIABLE listing
  RESULT_VARIABLE result
  TIMEOUT 60)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${TEST_BINARY} --gtest_list_tests failed: ${result}")
endif()

string(REPLACE "\n" ";" lines "${listing}")
set(script "")
foreach(line IN LISTS lines)
  # Suite lines start in column 0 and end with '.' (maybe a comment after).
  if(line MATCHES "^([^ #][^ ]*)\\.( .*)?$")
    set(suite "${CMAKE_MATCH_1}")
    if(suite MATCHES "^DISABLED_|/DISABLED_")
      continue()
    endif()
    set(name "${LABEL}.${suite}")
    string(APPEND script
           "add_test([==[${name}]==] [==[${TEST_BINARY}]==] "
           "[==[--gtest_filter=${suite}.*]==])\n"
           "set_tests_properties([==[${name}]==] PROPERTIES LABELS ${LABEL} "
           "TIMEOUT ${TIMEOUT})\n")
  endif()
endforeach()
file(WRITE "${CTEST_FILE}" "${script}")
