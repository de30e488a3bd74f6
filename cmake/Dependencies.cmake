# SPDX-License-Identifier: MIT
# The versions Debian 12 ships; see README.md for the packages.
find_package(GDAL 3.6 CONFIG REQUIRED)   # GDAL::GDAL
find_package(PROJ 9.1 CONFIG REQUIRED)   # PROJ::proj
find_package(GEOS 3.11 CONFIG REQUIRED)  # GEOS::geos_c
find_package(Threads REQUIRED)
if(FIRMCLUST_TESTS)
  find_package(PkgConfig REQUIRED)
  # Debian's check.pc needs libsubunit-dev to link.
  pkg_check_modules(CHECK REQUIRED IMPORTED_TARGET check>=0.15)
endif()
