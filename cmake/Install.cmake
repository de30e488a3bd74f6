# SPDX-License-Identifier: MIT
# What `cmake --install` puts under the prefix: the library with its header,
# the command-line tool, a pkg-config file and a CMake package config, so
# that another program finds the library with either
#   pkg-config --cflags --libs firmclust
#   find_package(firmclust) and target_link_libraries(app firmclust::firmclust)
include(CMakePackageConfigHelpers)

set(FIRMCLUST_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/firmclust)
install(TARGETS firmclust EXPORT firmclustTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS firmclust_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/firmclust.h ${CMAKE_CURRENT_BINARY_DIR}/include/firmclust_version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT firmclustTargets NAMESPACE firmclust:: DESTINATION ${FIRMCLUST_CMAKE_DIR})
configure_package_config_file(cmake/firmclustConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/firmclustConfig.cmake INSTALL_DESTINATION ${FIRMCLUST_CMAKE_DIR})
# 0.x: a new minor version may break the API
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/firmclustConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/firmclustConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/firmclustConfigVersion.cmake
        DESTINATION ${FIRMCLUST_CMAKE_DIR})

# The .pc file finds the prefix from where it lies (${pcfiledir}), so that
# `cmake --install build --prefix DIR` gives a working file in any DIR.
file(RELATIVE_PATH pc_to_prefix ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
if(BUILD_SHARED_LIBS)
  set(FIRMCLUST_PC_PRIVATE "")
else()
  # a static library needs its dependencies on the link line too
  set(FIRMCLUST_PC_PRIVATE "Requires.private: gdal proj geos\nLibs.private: -lm -pthread")
endif()
configure_file(cmake/firmclust.pc.in ${CMAKE_CURRENT_BINARY_DIR}/firmclust.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/firmclust.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
