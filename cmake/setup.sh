#!/bin/sh
# SPDX-License-Identifier: MIT
# Set-up, build and check firmclust on Debian 12, in one command.
#
#   sh cmake/setup.sh demo   install what is missing, build, cluster the bundled
#                            Kazakhstan sample into build/kz_clusters.gpkg
#   sh cmake/setup.sh test   install what is missing, build, run the whole test
#                            suite: a release build, an AddressSanitizer and
#                            UndefinedBehaviorSanitizer build (each with the
#                            QGIS integration test and the README's examples),
#                            ThreadSanitizer on the threaded clustering, and
#                            valgrind on a normal and a failing run
#
# Installing needs root (or sudo); nothing is installed when all is there.
set -eu

cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
demo | test) ;;
*)
    echo "usage: sh cmake/setup.sh demo|test" >&2
    exit 2
    ;;
esac

# gdal-bin: ogrinfo and ogr2ogr, which the README's examples use
packages="build-essential cmake pkg-config libgdal-dev libproj-dev libgeos-dev gdal-bin"
if [ "$mode" = test ]; then
    # Check and valgrind; QGIS for the integration test that opens every
    # output format in real QGIS
    # poppler-utils: pdfinfo and pdftoppm, to read the atlas back
    # man-db and groff-base: the man pages read back with man -l
    packages="$packages check libsubunit-dev valgrind qgis python3-qgis poppler-utils man-db groff-base"
fi

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "== installing:$missing"
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi

jobs=$(nproc 2>/dev/null || echo 2)

if [ "$mode" = demo ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFIRMCLUST_TESTS=OFF
    cmake --build build -j "$jobs"
    echo "== clustering fixtures/kz/firms.gpkg"
    build/firmclust cluster fixtures/kz/firms.gpkg build/kz_clusters.gpkg \
        --sector-field oked --sector-digits 2 --eps 2000 --min-pts 10 \
        --weight-field employees --regions fixtures/kz/kaz_admbnda_adm1_2024.shp \
        --json build/kz_clusters.json --overwrite
    echo "== open build/kz_clusters.gpkg in QGIS, over fixtures/kz/kaz_admbnda_adm1_2024.shp"
    exit 0
fi

echo "== release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFIRMCLUST_TESTS=ON -DFIRMCLUST_QGIS_TESTS=ON
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

echo "== AddressSanitizer and UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFIRMCLUST_TESTS=ON -DFIRMCLUST_SANITIZE=ON \
    -DFIRMCLUST_QGIS_TESTS=ON
cmake --build build-asan -j "$jobs"
(cd build-asan && ctest --output-on-failure -j "$jobs")

echo "== ThreadSanitizer: the threaded clustering, against its oracle tests"
# GDAL itself is not built with it: its own lock order is not checked.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DFIRMCLUST_TESTS=ON \
    -DFIRMCLUST_QGIS_TESTS=OFF -DCMAKE_C_FLAGS="-fsanitize=thread -O1" \
    -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread
cmake --build build-tsan -j "$jobs" --target check_dbscan check_geodesic
for t in check_dbscan check_geodesic; do
    CK_FORK=no CK_TIMEOUT_MULTIPLIER=10 TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0" build-tsan/tests/$t
done

echo "== valgrind: no leak on a normal run and on a failing run"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
$vg build/firmclust cluster fixtures/kz/firms.gpkg "$tmp/ok.gpkg" -q \
    --sector-field oked --sector-digits 2 --eps 2000 --min-pts 10 --weight-field employees \
    --regions fixtures/kz/kaz_admbnda_adm1_2024.shp --permutations 20 --json "$tmp/ok.json"
status=0
$vg build/firmclust cluster fixtures/kz/firms.gpkg "$tmp/fail.gpkg" -q \
    --sector-field no_such_field --eps 2000 2>"$tmp/err" || status=$?
if [ "$status" != 1 ] || ! grep -q "no field named 'no_such_field'" "$tmp/err"; then
    echo "valgrind failing run: exit $status, expected 1 with a clear message:" >&2
    cat "$tmp/err" >&2
    exit 1
fi
echo "valgrind: 2 passed, 0 failed"
