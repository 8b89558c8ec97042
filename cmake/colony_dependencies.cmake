# The packages colony's library needs, found the same way by this build and
# by an installed colony's package config (colonyConfig.cmake). Each is a
# Debian package; see scripts/install-deps.sh.
#
# In the build a missing package stops the configure. From the package
# config it makes find_package(colony) fail with a message saying which
# package is missing; the failure is fatal only if the caller said REQUIRED,
# and the including file must then stop (colonyConfig.cmake checks
# colony_FOUND).

if(CMAKE_FIND_PACKAGE_NAME STREQUAL "colony")
  include(CMakeFindDependencyMacro)
  macro(colony_find_dependency)
    find_dependency(${ARGV})
  endmacro()
  macro(colony_dependency_missing what)
    set(colony_NOT_FOUND_MESSAGE "colony needs ${what}")
    set(colony_FOUND FALSE)
    return()
  endmacro()
else()
  macro(colony_find_dependency)
    find_package(${ARGV} REQUIRED)
  endmacro()
  macro(colony_dependency_missing what)
    message(FATAL_ERROR "colony needs ${what}")
  endmacro()
endif()

# CapnProtoConfig looks for libatomic with a C test program, which fails in
# a project that enabled only C++ (the usual outside project).
if(NOT CMAKE_C_COMPILER_LOADED)
  enable_language(C)
endif()

colony_find_dependency(CAF 0.17)
colony_find_dependency(Torch)
# CapnProto 0.9's config fails when loaded twice in one directory (it
# creates its imported targets unguarded), e.g. by a second
# find_package(colony).
if(NOT TARGET CapnProto::capnp)
  colony_find_dependency(CapnProto)
endif()
colony_find_dependency(spdlog)
colony_find_dependency(tomlplusplus)
colony_find_dependency(PkgConfig)
# OpenSSL's libcrypto seals the transport's frames: its AES-256-GCM and
# ChaCha20-Poly1305 run ~4x faster than libsodium 1.0.18's.
colony_find_dependency(OpenSSL COMPONENTS Crypto)

# libsodium (Ed25519 identities) ships a pkg-config file, no CMake config.
if(NOT TARGET colony::sodium)
  pkg_check_modules(COLONY_SODIUM QUIET IMPORTED_TARGET libsodium)
  if(NOT COLONY_SODIUM_FOUND)
    colony_dependency_missing("libsodium (pkg-config module libsodium)")
  endif()
  add_library(colony::sodium INTERFACE IMPORTED)
  set_target_properties(colony::sodium PROPERTIES INTERFACE_LINK_LIBRARIES
                                                  PkgConfig::COLONY_SODIUM)
endif()

# Cap'n Proto's gzip stream (libcapnp-dev ships it, no CMake target): reads
# the gzipped Fashion-MNIST files without another dependency.
if(NOT TARGET colony::kj_gzip)
  find_library(COLONY_KJ_GZIP_LIBRARY kj-gzip)
  if(NOT COLONY_KJ_GZIP_LIBRARY)
    colony_dependency_missing("libkj-gzip (from Cap'n Proto)")
  endif()
  add_library(colony::kj_gzip UNKNOWN IMPORTED)
  set_target_properties(
    colony::kj_gzip PROPERTIES IMPORTED_LOCATION "${COLONY_KJ_GZIP_LIBRARY}"
                               INTERFACE_LINK_LIBRARIES CapnProto::kj-async)
endif()
