#!/bin/bash
# SPDX-License-Identifier: MIT
# firmclust benchmark: synthetic Kazakh firms (firmclust synth), eps 1000 m,
# min-pts 20, all firms one sector, as in issue 7. Prints three tables:
#
#  1. the clustering core alone (bench_core: fc_dbscan on points in memory,
#     I/O excluded), planar (equidistant conic metres) and geodesic (WGS84
#     longitude/latitude), on 1 and 2 threads: best of three runs, firms per
#     second, and peak memory per firm, of the whole process and the part
#     the clustering added; then with a small and a large eps, and with a
#     fifth of the firms in one city;
#  2. the tool end to end, GeoPackage in and out (convex hulls, no
#     significance test): seconds per stage, peak memory; 2c, the polygon
#     stage with each kind of hull; 2b, default options (24 OKED divisions,
#     999 Monte Carlo runs a sector) against --permutations 0; 2d, the
#     co-location quotients of 24 OKED divisions against the clustering;
#  3. the tools users have, on the same projected points of the first size,
#     when installed: scikit-learn (python3-sklearn), R dbscan
#     (r-cran-dbscan), QGIS native:dbscanclustering (qgis), PostGIS
#     ST_ClusterDBSCAN (postgresql-15-postgis-3; needs root to start a
#     private server): seconds, peak memory, how many times slower than
#     firmclust on 2 threads, and whether they agree with it on core points
#     and noise points.
#
#  1c. HDBSCAN* (fc_hdbscan), planar, geodesic, a dense city and piles of
#      duplicates (every fifth firm onto one of 100 addresses); 3b, against
#      R dbscan::hdbscan on 20,000 firms (the same clusters, and each firm
#      that differs on noise checked to be a tie).
#
#   bash tests/bench/bench.sh [FIRMS ...]      default: 1000000 10000000
#   PEERS=no bash tests/bench/bench.sh ...     without the other tools
#   SIGNIFICANCE=no ...                        without 2b (two default runs)
#
# Needs a release build (made in build/ if missing) and /usr/bin/time
# (Debian package time). Takes some 10 minutes for the defaults.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FIRMCLUST_BUILD:-$root/build}
if [ ! -x "$build/firmclust" ] || [ ! -x "$build/bench_core" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFIRMCLUST_TESTS=OFF >/dev/null
    cmake --build "$build" -j "$(nproc)" >/dev/null
fi
bin=$build/firmclust
core=$build/bench_core
work=$(mktemp -d)
chmod 755 "$work"
pgdata=""
cleanup() {
    if [ -n "$pgdata" ]; then
        su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D '$pgdata' -m immediate stop" \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
sizes=${*:-1000000 10000000}
eps=1000
minpts=20
hdb_samples=10

peak_mb() { awk '{printf "%.0f", $1 / 1024}' "$work/rss"; }

echo "firmclust $("$bin" --version | cut -d' ' -f2), $(date -u +%Y-%m-%d), $(nproc) cores," \
    "$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'),"\
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
echo "eps $eps m, min-pts $minpts, one sector"

for n in $sizes; do
    "$bin" synth -q --firms "$n" --seed 1 "$work/firms$n.gpkg"
    "$core" dump "$work/firms$n.gpkg" "$work/points$n.bin" >/dev/null
done

echo
echo "1. Clustering core (fc_dbscan, points in memory)"
printf "%-10s %-9s %7s %9s %12s %13s %13s\n" firms distance threads seconds firms/s \
    "B/firm(all)" "B/firm(core)"
for n in $sizes; do
    for mode in planar geodesic; do
        for threads in 1 2; do
            read -r best _ <<<"$("$core" run "$work/points$n.bin" "$mode" $eps $minpts "$threads" 3)"
            read -r _ _ _ _ all added <<<"$("$core" run "$work/points$n.bin" "$mode" $eps $minpts \
                "$threads" 1)"
            printf "%-10s %-9s %7s %9.3f %12.0f %13.0f %13.0f\n" "$n" "$mode" "$threads" "$best" \
                "$(awk -v n="$n" -v t="$best" 'BEGIN {print n / t}')" "$all" "$added"
        done
    done
done

echo
echo "1b. The core when eps grows, and when one city holds a fifth of all firms (every fifth"
echo "    firm moved into a 5 km disc), planar, 2 threads"
printf "%-10s %-20s %9s %12s %13s\n" firms case seconds firms/s "B/firm(core)"
for n in $sizes; do
    for case in "planar 250" "planar 5000" "dense $eps"; do
        read -r mode e <<<"$case"
        read -r best _ _ _ _ added <<<"$("$core" run "$work/points$n.bin" "$mode" "$e" $minpts 2 1)"
        label=$([ "$mode" = dense ] && echo "dense city, eps $e" || echo "eps $e m")
        printf "%-10s %-20s %9.3f %12.0f %13.0f\n" "$n" "$label" "$best" \
            "$(awk -v n="$n" -v t="$best" 'BEGIN {print n / t}')" "$added"
    done
done

echo
echo "1c. HDBSCAN* (fc_hdbscan, points in memory), one sector, min-samples = min-cluster-size"
echo "    = $hdb_samples, 2 threads: one cold run and the best of three (up to 2,000,000 firms);"
echo "    firms/s of the cold run; peak memory per firm of the part the clustering added (cold);"
echo "    duplicates: every fifth firm moved onto one of 100 firms' addresses"
printf "%-10s %-20s %9s %9s %12s %9s %13s\n" firms case cold best firms/s clusters "B/firm(core)"
for n in $sizes; do
    for mode in planar geodesic dense piles geodesic-piles; do
        read -r cold k _ _ _ added <<<"$("$core" hdbscan "$work/points$n.bin" "$mode" \
            $hdb_samples 2 1)"
        best=- # best of three up to two million firms; beyond, the cold run alone
        if [ "$n" -le 2000000 ]; then
            read -r best _ <<<"$("$core" hdbscan "$work/points$n.bin" "$mode" $hdb_samples 2 3)"
        fi
        case $mode in
        dense) label="dense city, planar" ;;
        piles) label="duplicates, planar" ;;
        geodesic-piles) label="duplicates, geodesic" ;;
        *) label=$mode ;;
        esac
        printf "%-10s %-20s %9.3f %9s %12.0f %9s %13.0f\n" "$n" "$label" "$cold" "$best" \
            "$(awk -v n="$n" -v t="$cold" 'BEGIN {print n / t}')" "$k" "$added"
    done
done
echo "(targets: 1,000,000 firms in at most 5 s and 120 bytes a firm, 10,000,000 in at most" \
    "60 s, geodesic within 3x planar)"

echo
echo "2. End to end: firmclust cluster FIRMS.gpkg OUT.gpkg --eps $eps --min-pts $minpts" \
    "--hull convex --permutations 0 (geodesic distances, 2 threads)"
stage() { # the seconds of a stage in the --debug log, or -
    sed -n "s/^FIRMCLUST: $1: \([0-9.]*\) s.*$/\1/p" "$work/log" | head -1 | grep . || echo -
}
printf "%-10s %7s %7s %8s %8s %8s %7s %8s %7s %12s\n" firms read reproj cluster polygons \
    "firms" "index" total peakMB "firms/s(all)"
for n in $sizes; do
    start=$(date +%s.%N)
    /usr/bin/time -f %M -o "$work/rss" "$bin" cluster "$work/firms$n.gpkg" "$work/out$n.gpkg" \
        --eps $eps --min-pts $minpts --permutations 0 --hull convex --debug on -q 2>"$work/log"
    end=$(date +%s.%N)
    total=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')
    index=$(sed -n "s/^FIRMCLUST: spatial index of [0-9]* firms: \([0-9.]*\) s.*$/\1/p" "$work/log")
    printf "%-10s %7s %7s %8s %8s %8s %7s %8s %7s %12.0f\n" "$n" "$(stage reading)" \
        "$(stage reprojecting)" "$(stage clustering)" "$(stage "cluster polygons")" \
        "$(stage "writing firms")" "${index:--}" "$total" "$(peak_mb)" \
        "$(awk -v n="$n" -v t="$total" 'BEGIN {print n / t}')"
    rm -f "$work/out$n.gpkg"
done
echo "(firms: writing the firms layer, its spatial index included; index: packing and writing" \
    "that index)"

n=$(echo "$sizes" | awk '{print $1}')
echo
echo "2c. Cluster polygons of the $n firms, each kind of hull (--permutations 0, 2 threads):"
echo "    seconds of the polygon stage, cold and best of two, and the run's peak memory"
printf "%-10s %-8s %8s %8s %7s\n" firms hull cold best peakMB
for hull in concave convex buffer; do
    times=""
    for k in 1 2; do
        /usr/bin/time -f %M -o "$work/rss" "$bin" cluster "$work/firms$n.gpkg" "$work/hull.gpkg" \
            --eps $eps --min-pts $minpts --permutations 0 --hull $hull --debug on -q \
            --overwrite 2>"$work/log"
        times="$times $(stage "cluster polygons")"
    done
    read -r cold second <<<"$times"
    printf "%-10s %-8s %8s %8s %7s\n" "$n" "$hull" "$cold" \
        "$(awk -v a="$cold" -v b="$second" 'BEGIN {print (a < b ? a : b)}')" "$(peak_mb)"
done
echo "(target: buffer at most 3x concave)"
echo
echo "2d. Co-location of the $n firms: --sector-field oked --sector-digits 2 --eps $eps"
echo "    --min-pts $minpts --permutations 1 --hull convex (24 OKED divisions, 2 threads; one"
echo "    Monte Carlo run for the clusters, the quotients' p-values as by default): seconds of"
echo "    the clustering, the quotients and their p-values, cold and best of two, and the run's"
echo "    peak memory with and without co-location"
printf "%-10s %-9s %9s %9s %9s %9s %9s %9s %7s %7s\n" firms distance clust clust coloc coloc \
    pvalues pvalues peakMB offMB
printf "%-10s %-9s %9s %9s %9s %9s %9s %9s\n" "" "" cold best cold best cold best
for mode in geodesic planar; do
    clust="" coloc="" pvalues=""
    for k in 1 2; do
        /usr/bin/time -f %M -o "$work/rss" "$bin" cluster "$work/firms$n.gpkg" "$work/co.gpkg" \
            --sector-field oked --sector-digits 2 --eps $eps --min-pts $minpts --permutations 1 \
            --hull convex --distance $mode --debug on -q --overwrite 2>"$work/log"
        clust="$clust $(stage clustering)"
        coloc="$coloc $(stage co-location)"
        pvalues="$pvalues $(stage "co-location p-values")"
    done
    on=$(peak_mb)
    /usr/bin/time -f %M -o "$work/rss" "$bin" cluster "$work/firms$n.gpkg" "$work/co.gpkg" \
        --sector-field oked --sector-digits 2 --eps $eps --min-pts $minpts --permutations 1 \
        --hull convex --distance $mode --colocation off -q --overwrite 2>/dev/null
    read -r c1 c2 <<<"$clust"
    read -r o1 o2 <<<"$coloc"
    read -r p1 p2 <<<"$pvalues"
    least() { awk -v a="$1" -v b="$2" 'BEGIN {print (a < b ? a : b)}'; }
    printf "%-10s %-9s %9s %9s %9s %9s %9s %9s %7s %7s\n" "$n" "$mode" "$c1" "$(least "$c1" "$c2")" \
        "$o1" "$(least "$o1" "$o2")" "$p1" "$(least "$p1" "$p2")" "$on" "$(peak_mb)"
done
echo "(target: co-location, p-values included, at most 3x the clustering)"
times=""
for groups in "" "--groups $root/fixtures/groups/oked_groups_example.csv"; do
    # shellcheck disable=SC2086 # $groups is two words or none
    "$bin" cluster "$work/firms$n.gpkg" "$work/co.gpkg" --sector-field oked --sector-digits 2 \
        --eps $eps --min-pts $minpts --permutations 0 --hull convex --colocation off $groups \
        --debug on -q --overwrite 2>"$work/log"
    times="$times $(stage clustering)"
done
read -r by_sector by_group <<<"$times"
echo "clustering by sector $by_sector s, by the example groups (fixtures/groups) $by_group s" \
    "(target: at most 2x)"
if [ "${SIGNIFICANCE:-yes}" != no ]; then
    echo
    echo "2b. Default options, significance included: firmclust cluster FIRMS.gpkg OUT.gpkg"
    echo "    --sector-field oked --sector-digits 2 --eps $eps --min-pts $minpts (24 OKED divisions,"
    echo "    geodesic, concave hulls, 999 Monte Carlo runs a sector), against --permutations 0"
    printf "%-10s %-18s %8s %8s %12s %8s %7s
" firms options cold best "significance" tested peakMB
    for perms in 0 999; do
        times=""
        for k in 1 2; do
            start=$(date +%s.%N)
            /usr/bin/time -f %M -o "$work/rss" "$bin" cluster "$work/firms$n.gpkg" \
                "$work/sig.gpkg" --sector-field oked --sector-digits 2 --eps $eps \
                --min-pts $minpts --permutations $perms --json "$work/sig.json" --debug on -q \
                --overwrite 2>"$work/log"
            end=$(date +%s.%N)
            times="$times $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')"
        done
        read -r cold second <<<"$times"
        best=$(awk -v a="$cold" -v b="$second" 'BEGIN {print (a < b ? a : b)}')
        tested=$(/usr/bin/python3 -c "import json, sys; d = json.load(open(sys.argv[1]));
c = d['cluster_list']; print(sum(1 for x in c if x.get('runs')) if c else 0)" "$work/sig.json")
        printf "%-10s %-18s %8s %8s %12s %8s %7s\n" "$n" "--permutations $perms" "$cold" "$best" \
            "$(stage statistics)" "$tested" "$(peak_mb)"
    done
    echo "(cold: the first run; best: of two; significance: the statistics stage of the last run," \
        "Monte Carlo included; tested: clusters with a p-value; target: default at most 2x" \
        "--permutations 0)"
fi

[ "${PEERS:-yes}" = no ] && exit 0
pts=$work/points$n.bin
"$core" csv "$pts" "$work/points.csv"
read -r ours _ _ _ _ _ <<<"$("$core" run "$pts" planar $eps $minpts 2 3 "$work/roles.bin")"
echo
echo "3. The same $n points, projected (equidistant conic), planar distances; firmclust:" \
    "$ours s on 2 threads"
printf "%-34s %9s %8s %8s %-10s %-10s\n" tool seconds peakMB slower core noise

# Each tool writes one line to $work/peer: seconds, then a file of one byte
# per point (1 core, 2 border, 0 noise; or for tools that do not say which
# points are core: 3 in a cluster, 0 noise).
compare() { # tool name
    local took rss
    read -r took < "$work/peer"
    rss=$(peak_mb)
    /usr/bin/python3 - "$work/roles.bin" "$work/peer_roles.bin" "$1" "$took" "$rss" "$ours" <<'PY'
import sys
ours = open(sys.argv[1], "rb").read()
theirs = open(sys.argv[2], "rb").read()
name, took, rss, base = sys.argv[3], float(sys.argv[4]), sys.argv[5], float(sys.argv[6])
if len(ours) != len(theirs):
    core = noise = "DIFFER"
else:
    has_core = any(b == 1 for b in theirs)
    core = ("agree" if all((a == 1) == (b == 1) for a, b in zip(ours, theirs)) else "DIFFER") \
        if has_core else "-"
    noise = "agree" if all((a == 0) == (b == 0) for a, b in zip(ours, theirs)) else "DIFFER"
rss = rss if rss != "0" else "-"
print(f"{name:34s} {took:9.2f} {rss:>8s} {took / base:7.0f}x {core:10s} {noise:10s}")
PY
}

if /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
    /usr/bin/time -f %M -o "$work/rss" /usr/bin/python3 - "$work" $eps $minpts <<'PY'
import sys, time
import numpy as np
from sklearn import __version__
from sklearn.cluster import DBSCAN
work, eps, min_pts = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
xy = np.loadtxt(f"{work}/points.csv", delimiter=",", skiprows=1)
start = time.perf_counter()
db = DBSCAN(eps=eps, min_samples=min_pts).fit(xy)
took = time.perf_counter() - start
roles = np.where(db.labels_ >= 0, 2, 0).astype(np.uint8)
roles[db.core_sample_indices_] = 1
roles.tofile(f"{work}/peer_roles.bin")
open(f"{work}/peer", "w").write(f"{took}\n")
open(f"{work}/version", "w").write(__version__)
PY
    compare "scikit-learn $(cat "$work/version") DBSCAN"
else
    echo "(python3-sklearn not installed: no scikit-learn)"
fi

if Rscript -e 'library(dbscan)' >/dev/null 2>&1; then
    /usr/bin/time -f %M -o "$work/rss" Rscript - "$work" $eps $minpts <<'R' >/dev/null
args <- commandArgs(trailingOnly = TRUE)
work <- args[1]; eps <- as.numeric(args[2]); min_pts <- as.integer(args[3])
suppressMessages(library(dbscan))
xy <- as.matrix(read.csv(file.path(work, "points.csv")))
took <- system.time(db <- dbscan(xy, eps = eps, minPts = min_pts))[["elapsed"]]
# Without border points (DBSCAN*), exactly the core points stay in clusters.
# (is.corepoint() would list every neighbourhood: 20 GB for these firms.)
core <- dbscan(xy, eps = eps, minPts = min_pts, borderPoints = FALSE)$cluster > 0
roles <- ifelse(core, 1L, ifelse(db$cluster > 0, 2L, 0L))
writeBin(as.raw(roles), file.path(work, "peer_roles.bin"))
writeLines(as.character(took), file.path(work, "peer"))
writeLines(as.character(packageVersion("dbscan")), file.path(work, "version"))
R
    compare "R dbscan $(cat "$work/version") dbscan()"
else
    echo "(r-cran-dbscan not installed: no R dbscan)"
fi


if [ -x /usr/bin/qgis_process.bin ]; then
    # DBSCAN* (border points as noise) leaves exactly the core points in
    # clusters; plain DBSCAN, the noise. Times include reading and writing.
    uri="delimitedtext://file://$work/points.csv?type=csv&xField=x&yField=y&spatialIndex=no"
    qgis() { # DBSCAN* flag, output
        QT_QPA_PLATFORM=offscreen /usr/bin/time -f %M -o "$work/rss" /usr/bin/qgis_process.bin \
            run native:dbscanclustering -- "INPUT=$uri" MIN_SIZE=$minpts EPS=$eps "DBSCAN*=$1" \
            "OUTPUT=$2" >/dev/null 2>&1
    }
    start=$(date +%s.%N)
    qgis 0 "$work/qgis.csv"
    end=$(date +%s.%N)
    qgis 1 "$work/qgis_core.csv"
    awk -v a="$start" -v b="$end" 'BEGIN {print b - a}' >"$work/peer"
    /usr/bin/python3 - "$work" <<'PY'
import csv, sys
work = sys.argv[1]
def clustered(name):
    return [row["CLUSTER_ID"] not in ("", None) for row in csv.DictReader(open(f"{work}/{name}"))]
member, core = clustered("qgis.csv"), clustered("qgis_core.csv")
open(f"{work}/peer_roles.bin", "wb").write(bytes(1 if c else 2 if m else 0 for m, c in zip(member, core)))
PY
    compare "QGIS $(dpkg-query -W -f '${Version}' qgis 2>/dev/null | cut -d+ -f1) dbscanclustering"
else
    echo "(qgis not installed: no QGIS)"
fi

initdb=/usr/lib/postgresql/15/bin/initdb
if [ "$(id -u)" = 0 ] && [ -x "$initdb" ] && [ -f /usr/share/postgresql/15/extension/postgis.control ]; then
    pgdata=$work/pg
    mkdir "$pgdata" && chown postgres "$pgdata" && chmod 700 "$pgdata"
    su postgres -s /bin/sh -c "$initdb -D '$pgdata' -A trust -U postgres >/dev/null &&
        /usr/lib/postgresql/15/bin/pg_ctl -D '$pgdata' -w -l '$pgdata/log' \
        -o \"-k '$pgdata' -p 5499 -c listen_addresses= -c shared_buffers=1GB -c work_mem=1GB\" \
        start >/dev/null"
    psql() { su postgres -s /bin/sh -c "psql -h '$pgdata' -p 5499 -qAt -v ON_ERROR_STOP=1 $*"; }
    psql "-c 'CREATE EXTENSION postgis' -c 'CREATE TABLE pts(id serial, x float8, y float8)'"
    psql "-c \"COPY pts(x, y) FROM STDIN CSV HEADER\"" <"$work/points.csv"
    psql "-c 'ALTER TABLE pts ADD COLUMN geom geometry(Point)' \
        -c 'UPDATE pts SET geom = ST_MakePoint(x, y)' -c 'VACUUM ANALYZE pts'"
    start=$(date +%s.%N)
    psql "-c \"COPY (SELECT id, ST_ClusterDBSCAN(geom, $eps, $minpts) OVER () FROM pts) TO STDOUT\"" \
        >"$work/pg.txt"
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN {print b - a}' >"$work/peer"
    echo 0 >"$work/rss" # the server's memory is not the client's: not measured
    /usr/bin/python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
rows = sorted((int(i), c) for i, c in (line.split("\t") for line in open(f"{work}/pg.txt")))
open(f"{work}/peer_roles.bin", "wb").write(bytes(0 if c.strip() == "\\N" else 3 for _, c in rows))
PY
    compare "PostGIS $(psql "-c 'SELECT postgis_lib_version()'") ST_ClusterDBSCAN"
else
    echo "(postgresql-15-postgis-3 not installed, or not root: no PostGIS)"
fi
echo "(slower: seconds over firmclust's on 2 threads; core: - where the tool does not say" \
    "which points are core; PostGIS memory is the server's, not measured)"

# HDBSCAN* against R dbscan::hdbscan, which needs n^2 memory: 20,000 firms.
if Rscript -e 'library(dbscan)' >/dev/null 2>&1; then
    "$bin" synth -q --firms 20000 --seed 1 "$work/firms20k.gpkg"
    "$core" dump "$work/firms20k.gpkg" "$work/points20k.bin" >/dev/null
    "$core" csv "$work/points20k.bin" "$work/points20k.csv"
    /usr/bin/time -f %M -o "$work/rss" Rscript - "$work" $hdb_samples <<'R' >/dev/null
args <- commandArgs(trailingOnly = TRUE)
work <- args[1]; min_pts <- as.integer(args[2])
suppressMessages(library(dbscan))
xy <- as.matrix(read.csv(file.path(work, "points20k.csv")))
took <- system.time(h <- hdbscan(xy, minPts = min_pts))[["elapsed"]]
writeBin(as.integer(h$cluster), file.path(work, "r_hdbscan.bin"), size = 4)
writeLines(as.character(took), file.path(work, "peer"))
writeLines(as.character(packageVersion("dbscan")), file.path(work, "version"))
R
    r_mb=$(peak_mb)
    read -r r_took <"$work/peer"
    read -r cold k _ _ _ _ <<<"$(/usr/bin/time -f %M -o "$work/rss" "$core" hdbscan \
        "$work/points20k.bin" planar $hdb_samples 2 1)"
    read -r k_ours k_r conflicts differ explained <<<"$("$core" hdbscan-compare \
        "$work/points20k.bin" $hdb_samples "$work/r_hdbscan.bin")"
    echo
    echo "3b. HDBSCAN* of 20,000 synthetic firms (projected, planar), min-pts $hdb_samples, against" \
        "R dbscan $(cat "$work/version") hdbscan()"
    printf "%-34s %9s %8s %9s\n" tool seconds peakMB clusters
    printf "%-34s %9.3f %8s %9s\n" "firmclust fc_hdbscan, 2 threads" "$cold" "$(peak_mb)" "$k_ours"
    printf "%-34s %9.2f %8s %9s\n" "R dbscan hdbscan()" "$r_took" "$r_mb" "$k_r"
    echo "same partition of the clustered firms: $([ "$conflicts" = 0 ] && [ "$k_ours" = "$k_r" ] \
        && echo yes || echo "NO ($conflicts conflicts)"); firms that differ on noise: $differ," \
        "of which $explained are ties (the firm's lightest link into the cluster R put it in is" \
        "its own core distance and the cluster's birth distance: firmclust removes edges of one" \
        "length together, as Campello et al. 2015 define, R one by one)"
else
    echo "(r-cran-dbscan not installed: no R dbscan hdbscan)"
fi
