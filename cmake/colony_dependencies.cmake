# The packages colony's library needs, found the same way by this build and
# by an installed colony's package config (colonyConfig.cmake). Each is a
# Debian package; see scripts/install-deps.sh.

find_package(CAF 0.17 REQUIRED)
find_package(Torch REQUIRED)
find_package(CapnProto REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(PkgConfig REQUIRED)

# libsodium (Ed25519 identities) ships a pkg-config file, no CMake config.
if(NOT TARGET colony::sodium)
  pkg_check_modules(COLONY_SODIUM REQUIRED IMPORTED_TARGET libsodium)
  add_library(colony::sodium INTERFACE IMPORTED)
  set_target_properties(colony::sodium PROPERTIES INTERFACE_LINK_LIBRARIES
                                                  PkgConfig::COLONY_SODIUM)
endif()

# Cap'n Proto's gzip stream (libcapnp-dev ships it, no CMake target): reads
# the gzipped Fashion-MNIST files without another dependency.
if(NOT TARGET colony::kj_gzip)
  find_library(COLONY_KJ_GZIP_LIBRARY kj-gzip REQUIRED)
  add_library(colony::kj_gzip UNKNOWN IMPORTED)
  set_target_properties(
    colony::kj_gzip PROPERTIES IMPORTED_LOCATION "${COLONY_KJ_GZIP_LIBRARY}"
                               INTERFACE_LINK_LIBRARIES CapnProto::kj-async)
endif()
