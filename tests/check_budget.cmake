# SPDX-License-Identifier: MIT
# Fails when a Check suite makes a test case or sets a timeout by itself:
# every test case must come from fc_tcase() (tests/check_main.h), which gives
# it the suite's one time budget.
file(GLOB sources ${TESTS_DIR}/check_*.c)
set(offenders "")
foreach(source ${sources})
  file(STRINGS ${source} lines REGEX "tcase_create|tcase_set_timeout")
  if(lines)
    list(APPEND offenders "${source}: ${lines}")
  endif()
endforeach()
if(offenders)
  message(FATAL_ERROR "test cases made without fc_tcase() (tests/check_main.h):\n${offenders}")
endif()
list(LENGTH sources n)
if(n EQUAL 0)
  message(FATAL_ERROR "no tests/check_*.c found in ${TESTS_DIR}")
endif()
message(STATUS "${n} suites, every test case made by fc_tcase()")
