# Installs colony into a scratch prefix, builds an example as an outside
# project against it (its CMakeLists.txt does find_package(colony) and links
# colony::colony, nothing else) and runs the program.
#
#   cmake -DBUILD_DIR=<colony build> -DEXAMPLE_DIR=<examples/training>
#         -DEXAMPLE=<program name> -DWORK_DIR=<scratch dir>
#         [-DLAUNCHER=<compiler launcher, e.g. ccache>]
#         [-DCXX_FLAGS=<flags colony was built with that the program needs
#                      too, e.g. -fsanitize=address>]
#         -P tests/install/install_test.cmake
#
# WORK_DIR is emptied first and removed after a success. Keep it at a fixed
# path: ccache then serves the example's compile from the second run on.

foreach(var BUILD_DIR EXAMPLE_DIR EXAMPLE WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_test: -D${var}=... is missing")
  endif()
endforeach()

# Runs a command, fails the test with its output unless it exits 0.
function(run_step what timeout)
  execute_process(
    COMMAND ${ARGN}
    RESULT_VARIABLE status
    OUTPUT_VARIABLE output
    ERROR_VARIABLE output
    TIMEOUT ${timeout})
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "install_test: ${what} failed (${status}):\n${output}")
  endif()
  message(STATUS "${what}: done")
  set(step_output "${output}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(example_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")

run_step("cmake --install" 300 "${CMAKE_COMMAND}" --install "${BUILD_DIR}"
         --prefix "${prefix}")

# What the package promises: the executable, headers at their in-tree
# paths, generated Cap'n Proto headers beside their schemas, the config.
file(GLOB config "${prefix}/lib*/cmake/colony/colonyConfig.cmake")
foreach(
  file
  bin/colony
  include/colony/apps/node/node.hpp
  include/colony/actors/moe/client/moe_layer.hpp
  include/colony/messages/wire.capnp
  include/colony/messages/wire.capnp.h)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "install_test: ${prefix}/${file} was not installed")
  endif()
endforeach()
if(NOT config)
  message(FATAL_ERROR "install_test: no colonyConfig.cmake under ${prefix}")
endif()

set(configure_args -S "${EXAMPLE_DIR}" -B "${example_build}"
                   "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_BUILD_TYPE=Release)
if(LAUNCHER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
endif()
if(CXX_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
       "-DCMAKE_EXE_LINKER_FLAGS=${CXX_FLAGS}")
endif()
run_step("configure ${EXAMPLE_DIR}" 300 "${CMAKE_COMMAND}" ${configure_args})

# The example must have found this prefix's colony, not a build tree's.
file(STRINGS "${example_build}/CMakeCache.txt" colony_dir
     REGEX "^colony_DIR:PATH=")
string(REGEX REPLACE "^colony_DIR:PATH=" "" colony_dir "${colony_dir}")
file(REAL_PATH "${prefix}" real_prefix)
file(REAL_PATH "${colony_dir}" colony_dir)
string(FIND "${colony_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "install_test: the example found colony in "
                      "'${colony_dir}', not under ${real_prefix}")
endif()

run_step("build ${EXAMPLE}" 900 "${CMAKE_COMMAND}" --build "${example_build}")
run_step("run ${EXAMPLE}" 120 "${example_build}/${EXAMPLE}")
message(STATUS "${step_output}")
file(REMOVE_RECURSE "${WORK_DIR}")
