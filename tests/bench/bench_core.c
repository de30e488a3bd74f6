/* SPDX-License-Identifier: MIT */
/* The clustering core alone, I/O excluded: the benchmark's fc_dbscan timer.
 *
 *   bench_core dump FIRMS OUT.bin       points of a vector file (lon/lat),
 *                                       and projected (equidistant conic)
 *   bench_core csv IN.bin OUT.csv       the projected points, for other tools
 *   bench_core run IN.bin planar|geodesic|dense EPS MIN_PTS THREADS REPEATS [ROLES]
 *       clusters REPEATS times and prints one line: best seconds, clusters,
 *       core and noise points, peak memory of the process in bytes per
 *       point and the part of it the clustering added (both from
 *       getrusage); ROLES gets one byte per point (0 noise, 1 core, 2 border).
 *       dense: planar, with every fifth firm moved into a disc of 5 km
 *       radius around the first one (a city holding a fifth of all firms);
 *       piles (planar) and geodesic-piles: every fifth firm moved onto one of
 *       100 firms' addresses (duplicates: piles of n / 500 firms).
 *   bench_core hdbscan IN.bin planar|geodesic|dense MIN_SAMPLES THREADS REPEATS [LABELS]
 *       the same for fc_hdbscan (min-cluster-size = min-samples): best
 *       seconds, clusters, clustered and noise points, peak memory per
 *       point; LABELS gets each point's cluster (int32, -1 noise).
 *   bench_core hdbscan-compare IN.bin MIN_SAMPLES THEIRS
 *       fc_hdbscan (planar, min-cluster-size = min-samples) against another
 *       tool's labels (int32, 0 noise, as R dbscan gives them): whether
 *       the clusters are the same partition, and which points differ on
 *       noise; a differing point is explained when its lightest link into
 *       the cluster the other tool put it in is its own core distance and
 *       that cluster's birth distance (a tie: edges of one length are
 *       removed together here, one by one in R and scikit-learn). Prints
 *       "clusters ours theirs conflicts noise_differ explained".
 */
#include "firmclust.h"

#include <gdal.h>
#include <malloc.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define PROJECTED "+proj=eqdc +lat_0=48 +lon_0=67 +lat_1=44 +lat_2=52 +datum=WGS84 +units=m"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long peak_kib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_core: %s\n", what);
    return 1;
}

static int dump(const char *in, const char *out)
{
    GDALAllRegister();
    GDALDatasetH ds = GDALOpenEx(in, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds)
        return fail("cannot open the firms");
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    size_t cap = 1 << 20, n = 0;
    double *v = malloc(2 * cap * sizeof *v);
    OGRFeatureH f;
    while (v && (f = OGR_L_GetNextFeature(l))) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        if (n == cap && !(v = realloc(v, 2 * (cap *= 2) * sizeof *v)))
            return fail("out of memory");
        v[2 * n] = OGR_G_GetX(g, 0);
        v[2 * n + 1] = OGR_G_GetY(g, 0);
        n++;
        OGR_F_Destroy(f);
    }
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL), eqdc = OSRNewSpatialReference(NULL);
    OSRSetFromUserInput(wgs84, "EPSG:4326");
    OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetFromUserInput(eqdc, PROJECTED);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(wgs84, eqdc);
    double *lon = malloc(n * sizeof *lon), *lat = malloc(n * sizeof *lat);
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    if (!v || !ct || !lon || !lat || !x || !y)
        return fail("out of memory");
    for (size_t i = 0; i < n; i++) {
        lon[i] = x[i] = v[2 * i];
        lat[i] = y[i] = v[2 * i + 1];
    }
    if (!OCTTransform(ct, (int)n, x, y, NULL))
        return fail("cannot project the points");
    FILE *o = fopen(out, "wb");
    if (!o || fwrite(&n, sizeof n, 1, o) != 1 || fwrite(lon, sizeof *lon, n, o) != n ||
        fwrite(lat, sizeof *lat, n, o) != n || fwrite(x, sizeof *x, n, o) != n ||
        fwrite(y, sizeof *y, n, o) != n || fclose(o) != 0)
        return fail("cannot write the points");
    free(lon), free(lat), free(x), free(y);
    printf("%zu points\n", n);
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(wgs84);
    OSRDestroySpatialReference(eqdc);
    free(v);
    GDALClose(ds);
    return 0;
}

/* Reads arrays k and k + 1 (0: lon, lat; 2: x, y) of a dump. */
static size_t load(const char *path, int k, double **x, double **y)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    if (!f || fread(&n, sizeof n, 1, f) != 1)
        exit(fail("cannot read the points"));
    *x = malloc(n * sizeof **x);
    *y = malloc(n * sizeof **y);
    if (!*x || !*y || fseek(f, (long)(sizeof n + (size_t)k * n * sizeof(double)), SEEK_SET) ||
        fread(*x, sizeof **x, n, f) != n || fread(*y, sizeof **y, n, f) != n)
        exit(fail("cannot read the points"));
    fclose(f);
    return n;
}

/* See the usage above: hdbscan-compare. */
static int compare(const char *in, size_t min_samples, const char *theirs_path)
{
    double *x, *y;
    size_t n = load(in, 2, &x, &y);
    int32_t *ours = malloc(n * sizeof *ours), *theirs = malloc(n * sizeof *theirs);
    double *core = malloc(n * sizeof *core);
    fc_hdbscan_cluster *cl = malloc(n * sizeof *cl);
    FILE *f = fopen(theirs_path, "rb");
    if (!ours || !theirs || !core || !cl || !f || fread(theirs, sizeof *theirs, n, f) != n)
        return fail("cannot read the other tool's labels");
    fclose(f);
    fc_context *ctx = fc_context_new();
    fc_hdbscan_params p = {.min_cluster_size = min_samples, .threads = 2};
    size_t k = 0;
    if (fc_hdbscan(ctx, n, x, y, NULL, &p, &(fc_hdbscan_labels){ours, NULL, NULL, core}, cl,
                   &k) != FC_OK)
        return fail(fc_errmsg(ctx));
    /* the same partition: each of our clusters is one of theirs, and back */
    int32_t *to_theirs = malloc((k + 1) * sizeof *to_theirs), k_theirs = 0;
    int32_t *to_ours = calloc(n + 1, sizeof *to_ours); /* theirs 1..: ours + 1 */
    size_t conflicts = 0, differ = 0, explained = 0;
    for (size_t c = 0; c <= k; c++)
        to_theirs[c] = -1;
    for (size_t i = 0; i < n; i++) {
        if ((ours[i] < 0) != (theirs[i] <= 0) || ours[i] < 0)
            continue;
        k_theirs = theirs[i] > k_theirs ? theirs[i] : k_theirs;
        if (to_theirs[ours[i]] < 0)
            to_theirs[ours[i]] = theirs[i];
        if (!to_ours[theirs[i]])
            to_ours[theirs[i]] = ours[i] + 1;
        conflicts += to_theirs[ours[i]] != theirs[i] || to_ours[theirs[i]] != ours[i] + 1;
    }
    for (size_t q = 0; q < n; q++) {
        if ((ours[q] < 0) == (theirs[q] <= 0))
            continue;
        differ++;
        if (ours[q] >= 0 || !to_ours[theirs[q]])
            continue; /* only the tie below is explained */
        const int32_t c = to_ours[theirs[q]] - 1;
        double best = INFINITY;
        for (size_t i = 0; i < n; i++)
            if (ours[i] == c) {
                const double d = sqrt((x[q] - x[i]) * (x[q] - x[i]) + (y[q] - y[i]) * (y[q] - y[i]));
                const double m = fmax(fmax(core[q], core[i]), d);
                best = m < best ? m : best;
            }
        explained += best == core[q] && best == cl[c].birth;
    }
    printf("%zu %d %zu %zu %zu\n", k, k_theirs, conflicts, differ, explained);
    fc_context_destroy(ctx);
    free(x), free(y), free(ours), free(theirs), free(core), free(cl), free(to_theirs);
    free(to_ours);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "dump") == 0)
        return dump(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "csv") == 0) {
        double *x, *y;
        size_t n = load(argv[2], 2, &x, &y);
        FILE *o = fopen(argv[3], "w");
        if (!o)
            return fail("cannot write the csv");
        fprintf(o, "x,y\n");
        for (size_t i = 0; i < n; i++)
            fprintf(o, "%.17g,%.17g\n", x[i], y[i]);
        return fclose(o) != 0;
    }
    if (argc == 5 && strcmp(argv[1], "hdbscan-compare") == 0)
        return compare(argv[2], (size_t)atol(argv[3]), argv[4]);
    const int hdbscan = argc >= 7 && strcmp(argv[1], "hdbscan") == 0;
    char *shifted[10] = {0};
    if (hdbscan && argc <= 8) { /* the same arguments as run, without eps */
        for (int a = 0; a < argc; a++)
            shifted[a < 4 ? a : a + 1] = argv[a];
        shifted[4] = "0";
        argv = shifted;
        argc++;
    }
    if ((argc != 8 && argc != 9) || (strcmp(argv[1], "run") != 0 && !hdbscan))
        return fail("usage: dump FIRMS OUT.bin | csv IN.bin OUT.csv | "
                    "run IN.bin planar|geodesic|dense EPS MIN_PTS THREADS REPEATS [ROLES] | "
                    "hdbscan IN.bin planar|geodesic|dense MIN_SAMPLES THREADS REPEATS [LABELS]");
    /* Large blocks always from mmap, so that what a run frees goes back to
     * the system and later repeats measure the same peak. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    const int geodesic = strncmp(argv[3], "geodesic", 8) == 0;
    const int piles = strcmp(argv[3], "piles") == 0 || strcmp(argv[3], "geodesic-piles") == 0;
    if (!geodesic && !piles && strcmp(argv[3], "planar") && strcmp(argv[3], "dense"))
        return fail("the case is planar, geodesic, dense, piles or geodesic-piles");
    double *x, *y;
    size_t n = load(argv[2], geodesic ? 0 : 2, &x, &y);
    if (piles) { /* every fifth firm onto one of 100 addresses */
        for (size_t i = 5; i < n; i += 5) {
            const size_t address = (i / 5) % 100 * (n / 100);
            x[i] = x[address];
            y[i] = y[address];
        }
    }
    if (strcmp(argv[3], "dense") == 0) {
        uint64_t state = 1;
        for (size_t i = 5; i < n; i += 5) { /* the first stays: the centre */
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(state >> 11) * 0x1.0p-53;
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            double v = (double)(state >> 11) * 0x1.0p-53;
            x[i] = x[0] + 5000 * sqrt(u) * cos(6.283185307179586 * v);
            y[i] = y[0] + 5000 * sqrt(u) * sin(6.283185307179586 * v);
        }
    }
    int32_t *cluster = malloc(n * sizeof *cluster);
    uint8_t *role = malloc(n);
    memset(cluster, 0, n * sizeof *cluster); /* touched: counted in the baseline */
    memset(role, 0, n);
    fc_context *ctx = fc_context_new();
    const long baseline = peak_kib();
    fc_dbscan_params p = {.eps = atof(argv[4]), .min_pts = (size_t)atol(argv[5]),
                          .threads = atoi(argv[6]),
                          .distance = geodesic ? FC_DISTANCE_GEODESIC : FC_DISTANCE_PLANAR};
    double best = 1e300;
    size_t k = 0;
    for (int r = 0; r < atoi(argv[7]); r++) {
        double t0 = now();
        if (hdbscan) {
            fc_hdbscan_params h = {.min_cluster_size = p.min_pts, .threads = p.threads,
                                   .distance = p.distance};
            if (fc_hdbscan(ctx, n, x, y, NULL, &h, &(fc_hdbscan_labels){.cluster = cluster}, NULL, &k) != FC_OK)
                return fail(fc_errmsg(ctx));
            for (size_t i = 0; i < n; i++) /* clustered: "core", as HDBSCAN* has no border */
                role[i] = cluster[i] >= 0 ? FC_ROLE_CORE : FC_ROLE_NOISE;
        } else if (fc_dbscan(ctx, n, x, y, NULL, &p, cluster, role, &k) != FC_OK) {
            return fail(fc_errmsg(ctx));
        }
        double t = now() - t0;
        best = t < best ? t : best;
    }
    size_t core = 0, noise = 0;
    for (size_t i = 0; i < n; i++) {
        core += role[i] == FC_ROLE_CORE;
        noise += role[i] == FC_ROLE_NOISE;
    }
    const long peak = peak_kib();
    printf("%.3f %zu %zu %zu %.1f %.1f\n", best, k, core, noise, peak * 1024.0 / (double)n,
           (double)(peak - baseline) * 1024.0 / (double)n);
    if (argc == 9 && hdbscan) {
        FILE *o = fopen(argv[8], "wb");
        if (!o || fwrite(cluster, sizeof *cluster, n, o) != n || fclose(o))
            return fail("cannot write the labels");
    } else if (argc == 9) {
        FILE *o = fopen(argv[8], "wb");
        for (size_t i = 0; i < n; i++)
            role[i] = role[i] == FC_ROLE_CORE ? 1 : role[i] == FC_ROLE_BORDER ? 2 : 0;
        if (!o || fwrite(role, 1, n, o) != n || fclose(o))
            return fail("cannot write the roles");
    }
    fc_context_destroy(ctx);
    free(x), free(y), free(cluster), free(role);
    return 0;
}
