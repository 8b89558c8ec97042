# `cmake --install BUILD --prefix P` installs the library, its headers under
# P/include/colony (the include paths a program in the tree uses:
# "actors/dht/dht_node.hpp"), the generated Cap'n Proto headers and their
# schemas, the `colony` executable and a package config, so that an outside
# project needs only find_package(colony) and colony::colony.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(COLONY_INSTALL_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}/colony")
set(COLONY_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/colony")

foreach(dir ${COLONY_LIBRARY_DIRS})
  install(
    DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/${dir}/"
    DESTINATION "${COLONY_INSTALL_INCLUDEDIR}/${dir}"
    FILES_MATCHING
    PATTERN "*.hpp"
    PATTERN "*.capnp")
endforeach()
install(FILES ${COLONY_CAPNP_HDRS}
        DESTINATION "${COLONY_INSTALL_INCLUDEDIR}/messages")

install(
  TARGETS colony
  EXPORT colonyTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(TARGETS colony_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(
  EXPORT colonyTargets
  NAMESPACE colony::
  DESTINATION "${COLONY_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${CMAKE_CURRENT_SOURCE_DIR}/cmake/colonyConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/colonyConfig.cmake"
  INSTALL_DESTINATION "${COLONY_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_BINDIR COLONY_INSTALL_INCLUDEDIR)
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/colonyConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(
  FILES "${CMAKE_CURRENT_BINARY_DIR}/colonyConfig.cmake"
        "${CMAKE_CURRENT_BINARY_DIR}/colonyConfigVersion.cmake"
        "${CMAKE_CURRENT_SOURCE_DIR}/cmake/FindCAF.cmake"
        "${CMAKE_CURRENT_SOURCE_DIR}/cmake/colony_dependencies.cmake"
  DESTINATION "${COLONY_INSTALL_CMAKEDIR}")
