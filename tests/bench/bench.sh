#!/bin/bash
# firmclust benchmark: synthetic Kazakh firms (firmclust synth), eps 1000 m,
# min-pts 20, all firms one sector, as in issue 7. Prints a table: seconds per
# stage, peak memory, firms per second; and, when python3-sklearn is
# installed, scikit-learn's DBSCAN on the same projected points, its time,
# and whether both agree on core and noise firms.
#
#   bash tests/bench/bench.sh [FIRMS ...]     default: 1000000
#
# Needs a release build (made in build/ if missing) and /usr/bin/time
# (Debian package time) for peak memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FIRMCLUST_BIN:-$root/build/firmclust}
if [ ! -x "$bin" ]; then
    cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DFIRMCLUST_TESTS=OFF >/dev/null
    cmake --build "$root/build" -j "$(nproc)" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes=${*:-1000000}
timer=""
[ -x /usr/bin/time ] && timer="/usr/bin/time -f %M -o $work/rss"

stage() { # the seconds of a stage in firmclust's --debug log, or -
    sed -n "s/^FIRMCLUST: $1: \([0-9.]*\) s$/\1/p" "$work/log" | head -1 | grep . || echo -
}

echo "firmclust $("$bin" --version | cut -d' ' -f2) on $(nproc) cores, $(date -u +%Y-%m-%d)"
printf "%-10s %-9s %7s %7s %8s %7s %7s %7s %7s %8s %12s\n" firms distance read reproj cluster \
    hulls write total peakMB B/firm "firms/s(cl)"
for n in $sizes; do
    "$bin" synth -q --firms "$n" --seed 1 "$work/firms$n.gpkg"
    for mode in planar geodesic; do
        start=$(date +%s.%N)
        $timer "$bin" cluster "$work/firms$n.gpkg" "$work/out$n-$mode.gpkg" --eps 1000 --min-pts 20 \
            --permutations 0 --distance "$mode" --hull convex --debug on -q 2>"$work/log"
        end=$(date +%s.%N)
        rss=$([ -n "$timer" ] && awk '{printf "%.0f", $1 / 1024}' "$work/rss" || echo -)
        per_firm=$([ -n "$timer" ] && awk -v k="$(cat "$work/rss")" -v n="$n" \
            'BEGIN {printf "%.0f", k * 1024 / n}' || echo -)
        cl=$(stage clustering)
        write=$(awk -v a="$(stage "writing clusters")" -v b="$(stage "writing firms")" \
            'BEGIN {printf "%.3f", a + b}')
        printf "%-10s %-9s %7s %7s %8s %7s %7s %7.2f %7s %8s %12.0f\n" "$n" "$mode" "$(stage reading)" \
            "$(stage reprojecting)" "$cl" "$(stage "cluster polygons")" "$write" \
            "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')" "$rss" "$per_firm" \
            "$(awk -v n="$n" -v c="$cl" 'BEGIN {print (c > 0) ? n / c : 0}')"
    done
done

# scikit-learn on the same points, projected (UTM 42N, planar distances)
if /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
    n=$(echo "$sizes" | awk '{print $1}')
    "$bin" cluster "$work/firms$n.gpkg" "$work/utm" -f CSV --t-srs EPSG:32642 --eps 1000 \
        --permutations 0 -q 2>/dev/null
    "$bin" cluster "$work/utm/firms.csv" "$work/utm-out" -f CSV --s-srs EPSG:32642 --eps 1000 \
        --min-pts 20 --permutations 0 --hull convex --debug on -q 2>"$work/log"
    cl=$(stage clustering)
    /usr/bin/python3 - "$work/utm-out/firms.csv" "$cl" <<'PY'
import csv, sys, time
import numpy as np
from sklearn.cluster import DBSCAN
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
xy = np.array([[float(v) for v in r["WKT"][7:-1].split()] for r in rows])
start = time.perf_counter()
db = DBSCAN(eps=1000, min_samples=20).fit(xy)
took = time.perf_counter() - start
core = np.zeros(len(xy), bool)
core[db.core_sample_indices_] = True
ours_core = np.array([r["role"] == "core" for r in rows])
ours_noise = np.array([r["role"] == "noise" for r in rows])
same = (core == ours_core).all() and ((db.labels_ == -1) == ours_noise).all()
print(f"scikit-learn DBSCAN, {len(xy)} firms in UTM 42N: {took:.2f} s; firmclust "
      f"{float(sys.argv[2]):.3f} s ({took / float(sys.argv[2]):.0f}x); core and noise "
      f"{'agree' if same else 'DIFFER'}")
PY
else
    echo "(python3-sklearn not installed: no scikit-learn comparison)"
fi
