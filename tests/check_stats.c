/* SPDX-License-Identifier: MIT */
/* Regions, location quotients and the Monte Carlo significance of clusters,
 * on cases small enough to compute by hand. */
#include "pipeline/pipeline.h"
#include "core/null_bound.h"
#include "check_main.h"
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static fc_context *ctx;
static char messages[4096];

static void collect(int level, const char *message, void *arg)
{
    (void)level, (void)arg;
    strncat(messages, message, sizeof messages - strlen(messages) - 2);
    strcat(messages, "\n");
}

static void setup(void)
{
    ctx = fc_context_new();
    messages[0] = '\0';
    fc_context_set_message_handler(ctx, collect, NULL);
    fc_test_mkdtemp(dir, sizeof dir);
}

static void teardown(void)
{
    fc_test_rmtree(dir);
    ctx = fc_context_destroy(ctx);
}

/* A GeoPackage of named polygons in the test directory. */
static const char *write_regions(const char *name, int code, size_t n, const char *const *names,
                                 const char *const *wkt)
{
    static char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fc_test_write_polygons(path, code, n, names, wkt);
    return path;
}

/* Two 10 x 10 km squares side by side (UTM 42N, offsets from 500000,
 * 5000000), and eleven firms: A holds X X X Y and, on the shared border,
 * Y; B holds X Y Y Y; one X lies outside both. */
static const char *const square_names[] = {"A", "B"};
static const char *const square_wkt[] = {
    "POLYGON ((500000 5000000, 510000 5000000, 510000 5010000, 500000 5010000, 500000 5000000))",
    "POLYGON ((510000 5000000, 520000 5000000, 520000 5010000, 510000 5010000, 510000 5000000))"};
static const double fx[] = {501000, 502000, 503000, 504000, 510000, 515000, 512000, 513000, 514000, 530000};
static const double fy[] = {5001000, 5002000, 5003000, 5004000, 5005000, 5005000, 5002000, 5003000, 5004000, 5030000};
static const uint32_t fs[] = {0, 0, 0, 1, 1, 0, 1, 1, 1, 0}; /* 0 = X, 1 = Y */
static const double fw[] = {10, 10, 10, 1, 1, 50, 2, 2, 2, 100};
#define N_FIRMS 10

START_TEST(location_quotients_by_hand)
{
    OGRSpatialReferenceH utm = fc_test_epsg(32642);
    fc_regions r;
    const char *path = write_regions("squares.gpkg", 32642, 2, square_names, square_wkt);
    ck_assert_int_eq(fc_regions_read(ctx, path, NULL, NULL, utm, &r), FC_OK);
    ck_assert_str_eq(r.field, "name");
    ck_assert(r.field_guessed);
    int32_t region_of[N_FIRMS];
    ck_assert_int_eq(fc_regions_assign(ctx, &r, N_FIRMS, fx, fy, region_of), FC_OK);
    const int32_t expected[N_FIRMS] = {0, 0, 0, 0, 0, 1, 1, 1, 1, -1}; /* border -> A, read first */
    ck_assert_mem_eq(region_of, expected, sizeof expected);

    fc_region_stats st;
    ck_assert_int_eq(fc_region_stats_compute(ctx, N_FIRMS, region_of, fs, fw, 2, 2, &st), FC_OK);
    ck_assert_uint_eq(st.n_outside, 1);
    ck_assert_uint_eq(st.n_total, 9);
    /* A: 3 X of 5 firms; X: 4 of 9 firms in regions -> (3/5) / (4/9) = 1.35 */
    ck_assert_double_eq_tol(fc_lq(&st, 0, 0), (3.0 / 5) / (4.0 / 9), 1e-12);
    ck_assert_double_eq_tol(fc_lq(&st, 0, 1), (2.0 / 5) / (5.0 / 9), 1e-12);
    ck_assert_double_eq_tol(fc_lq(&st, 1, 0), (1.0 / 4) / (4.0 / 9), 1e-12);
    ck_assert_double_eq_tol(fc_lq(&st, 1, 1), (3.0 / 4) / (5.0 / 9), 1e-12);
    /* by weight: A's X employ 30 of A's 32; X employs 80 of 88 */
    ck_assert_double_eq_tol(fc_lq_weight(&st, 0, 0), (30.0 / 32) / (80.0 / 88), 1e-12);
    ck_assert_double_eq_tol(fc_lq_weight(&st, 1, 1), (6.0 / 56) / (8.0 / 88), 1e-12);
    fc_region_stats_free(&st);
    fc_regions_free(&r);
    OSRRelease(utm);
}
END_TEST

START_TEST(regions_in_another_crs)
{
    /* The same squares in longitude/latitude: their corners transformed,
     * edges straight in degrees (a few metres off the UTM ones). Firms well
     * inside land in the same regions. */
    OGRSpatialReferenceH utm = fc_test_epsg(32642), ll = fc_test_epsg(4326);
    double cx[] = {500000, 510000, 520000, 500000, 510000, 520000};
    double cy[] = {5000000, 5000000, 5000000, 5010000, 5010000, 5010000};
    ck_assert_int_eq(fc_transform_points(ctx, utm, ll, 6, cx, cy), FC_OK);
    char a[512], b[512];
    snprintf(a, sizeof a, "POLYGON ((%.9f %.9f, %.9f %.9f, %.9f %.9f, %.9f %.9f, %.9f %.9f))", cx[0],
             cy[0], cx[1], cy[1], cx[4], cy[4], cx[3], cy[3], cx[0], cy[0]);
    snprintf(b, sizeof b, "POLYGON ((%.9f %.9f, %.9f %.9f, %.9f %.9f, %.9f %.9f, %.9f %.9f))", cx[1],
             cy[1], cx[2], cy[2], cx[5], cy[5], cx[4], cy[4], cx[1], cy[1]);
    const char *wkt[] = {a, b};
    const char *path = write_regions("lonlat.gpkg", 4326, 2, square_names, wkt);
    fc_regions r;
    ck_assert_int_eq(fc_regions_read(ctx, path, NULL, "name", utm, &r), FC_OK);
    ck_assert(!r.field_guessed);
    double x[] = {505000, 515000, 530000}, y[] = {5005000, 5005000, 5005000};
    int32_t region_of[3];
    ck_assert_int_eq(fc_regions_assign(ctx, &r, 3, x, y, region_of), FC_OK);
    ck_assert_int_eq(region_of[0], 0);
    ck_assert_int_eq(region_of[1], 1);
    ck_assert_int_eq(region_of[2], -1);
    fc_regions_free(&r);
    OSRRelease(utm);
    OSRRelease(ll);
}
END_TEST

START_TEST(bow_tie_is_repaired_and_reported)
{
    /* A figure eight: two triangles meeting at (5, 5). */
    const char *names[] = {"Bow tie"};
    const char *wkt[] = {"POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))"};
    const char *path = write_regions("bowtie.gpkg", 32642, 1, names, wkt);
    OGRSpatialReferenceH utm = fc_test_epsg(32642);
    fc_regions r;
    ck_assert_int_eq(fc_regions_read(ctx, path, NULL, NULL, utm, &r), FC_OK);
    ck_assert_uint_eq(r.n_repaired, 1);
    ck_assert_msg(strstr(messages, "region 'Bow tie' (feature 1) is not a valid polygon (Self-intersection"),
                  "messages: %s", messages);
    ck_assert_int_eq(GEOSisValid_r(r.h, r.geoms[0]), 1);
    double area;
    GEOSArea_r(r.h, r.geoms[0], &area);
    ck_assert_double_eq_tol(area, 50, 1e-9); /* both triangles kept */
    double x[] = {8, 2, 5}, y[] = {5, 5, 8};
    int32_t region_of[3];
    ck_assert_int_eq(fc_regions_assign(ctx, &r, 3, x, y, region_of), FC_OK);
    ck_assert_int_eq(region_of[0], 0);
    ck_assert_int_eq(region_of[1], 0);
    ck_assert_int_eq(region_of[2], -1); /* between the triangles */
    fc_regions_free(&r);
    OSRRelease(utm);
}
END_TEST

START_TEST(kazakhstan_oblasts_have_collapsed_rings_removed)
{
    const char *source_dir = getenv("FIRMCLUST_SOURCE_DIR");
    ck_assert_ptr_nonnull(source_dir);
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/kz/kaz_admbnda_adm1_2024.shp", source_dir);
    OGRSpatialReferenceH ll = fc_test_epsg(4326);
    fc_regions r;
    ck_assert_int_eq(fc_regions_read(ctx, path, NULL, NULL, ll, &r), FC_OK);
    ck_assert_uint_eq(r.n, 20);
    ck_assert_str_eq(r.field, "ADM1_EN");
    ck_assert_ptr_nonnull(strstr(messages, "region 'Zhetysu' (feature 7) has 2 rings without area"));
    ck_assert_ptr_nonnull(strstr(messages, "region 'Turkestan'"));
    /* Astana, an enclave in Akmola, keeps its hole in Akmola */
    double x[] = {71.43}, y[] = {51.13};
    int32_t region_of[1];
    ck_assert_int_eq(fc_regions_assign(ctx, &r, 1, x, y, region_of), FC_OK);
    ck_assert_str_eq(r.names[region_of[0]], "Astana (city)");
    fc_regions_free(&r);
    OSRRelease(ll);
}
END_TEST

/* GEOS reports its errors on the regions' handle, which lives as long as
 * the regions do, into a buffer that lives as long too (it was once on the
 * stack of fc_regions_read, which had returned). */
START_TEST(geos_messages_outlive_the_reading)
{
    const char *names[] = {"A"};
    const char *path = write_regions("one.gpkg", 32642, 1, names, square_wkt);
    fc_regions r;
    ck_assert_int_eq(fc_regions_read(ctx, path, NULL, NULL, NULL, &r), FC_OK);
    ck_assert_ptr_nonnull(r.geos_msg);
    ck_assert_ptr_null(GEOSGeomFromWKT_r(r.h, "POLYGON ((0 0, 1"));
    ck_assert_msg(strstr(r.geos_msg, "ParseException"), "GEOS said '%s'", r.geos_msg);
    fc_regions_free(&r);
    ck_assert_ptr_null(r.geos_msg);
}
END_TEST

/* ---- significance ------------------------------------------------------- */


typedef struct mc_case {
    size_t n, k;
    double x[600], y[600];
    uint32_t s[600];
    int32_t cid[600];
    int32_t cluster_sector[600];
    size_t size[600];
    double p[600];
    int runs[600];
} mc_case;

/* Clusters the case and computes the p-values of its clusters. */
static void significance(mc_case *c, const fc_dbscan_params *p, int perms, uint64_t seed, int threads)
{
    ck_assert_int_eq(fc_dbscan(ctx, c->n, c->x, c->y, c->s, p, c->cid, NULL, &c->k), FC_OK);
    memset(c->size, 0, sizeof c->size);
    for (size_t i = 0; i < c->n; i++)
        if (c->cid[i] >= 0) {
            c->size[c->cid[i]]++;
            c->cluster_sector[c->cid[i]] = (int32_t)c->s[i];
        }
    ck_assert_int_eq(fc_cluster_pvalues(ctx, c->n, c->x, c->y, c->s, NULL, p, NULL, NULL, 2, c->k,
                                        c->cluster_sector, c->size, perms, seed, threads, c->p,
                                        c->runs, NULL),
                     FC_OK);
}

START_TEST(planted_cluster_is_significant)
{
    /* 500 firms of sector 1 spread over 10 x 10 km, and 40 of sector 0:
     * 30 within 300 m of one spot, 10 anywhere. */
    static mc_case c;
    rng_state = 3;
    c.n = 540;
    for (size_t i = 0; i < c.n; i++) {
        bool planted = i < 30;
        c.x[i] = planted ? 5000 + 300 * uniform() : 10000 * uniform();
        c.y[i] = planted ? 5000 + 300 * uniform() : 10000 * uniform();
        c.s[i] = i < 40 ? 0 : 1;
    }
    fc_dbscan_params p = {.eps = 200, .min_pts = 5};
    significance(&c, &p, 199, 1, 2);
    bool found = false;
    for (size_t k = 0; k < c.k; k++)
        if (c.cluster_sector[k] == 0 && c.size[k] >= 25) {
            found = true;
            ck_assert_msg(c.p[k] < 0.01, "planted cluster of %zu firms: p = %g", c.size[k], c.p[k]);
            ck_assert_double_eq_tol(c.p[k], 1.0 / 200, 1e-12); /* never matched by chance */
            ck_assert_int_eq(c.runs[k], 199); /* so it needed every run */
        }
    ck_assert(found);
}
END_TEST

START_TEST(chance_clusters_are_not_significant)
{
    /* Two sectors drawn from the same spread: the largest cluster of a
     * sector is as large as chance makes it, so its p-value is uniform on
     * (0, 1]. Over 20 such inputs, few fall below 0.05 and they spread. */
    static mc_case c;
    fc_dbscan_params p = {.eps = 400, .min_pts = 4};
    int below_005 = 0, above_05 = 0, datasets = 0;
    for (int d = 0; d < 20; d++) {
        rng_state = 100 + (uint64_t)d;
        c.n = 300;
        for (size_t i = 0; i < c.n; i++) {
            c.x[i] = 10000 * uniform();
            c.y[i] = 10000 * uniform();
            c.s[i] = uniform() < 0.5;
        }
        significance(&c, &p, 99, 7, 2);
        double largest_p = -1;
        size_t largest = 0;
        for (size_t k = 0; k < c.k; k++)
            if (c.cluster_sector[k] == 1 && c.size[k] > largest) {
                largest = c.size[k];
                largest_p = c.p[k];
            }
        if (largest_p < 0)
            continue;
        datasets++;
        below_005 += largest_p <= 0.05;
        above_05 += largest_p > 0.5;
        /* Every cluster's p-value follows from its runs: stopped early
         * after FC_MC_EXCEEDANCES matches, or the full test's. */
        for (size_t k = 0; k < c.k; k++) {
            ck_assert(c.runs[k] >= FC_MC_EXCEEDANCES && c.runs[k] <= 99);
            if (c.runs[k] < 99)
                ck_assert_double_eq_tol(c.p[k], (double)FC_MC_EXCEEDANCES / c.runs[k], 1e-12);
            else
                ck_assert(c.p[k] > 0 && c.p[k] <= 1 && fabs(c.p[k] * 100 - round(c.p[k] * 100)) < 1e-9);
        }
    }
    ck_assert_int_ge(datasets, 15);
    ck_assert_int_le(below_005, 4);
    ck_assert_int_ge(above_05, 4);
}
END_TEST

START_TEST(same_seed_same_pvalues_any_threads)
{
    static mc_case a, b, c;
    rng_state = 11;
    a.n = 400;
    for (size_t i = 0; i < a.n; i++) {
        a.x[i] = 5000 * uniform();
        a.y[i] = 5000 * uniform() * uniform();
        a.s[i] = uniform() < 0.3;
    }
    b = a;
    c = a;
    fc_dbscan_params p = {.eps = 250, .min_pts = 4};
    significance(&a, &p, 60, 42, 1);
    significance(&b, &p, 60, 42, 3);
    significance(&c, &p, 60, 43, 2);
    ck_assert_uint_gt(a.k, 2);
    ck_assert_mem_eq(a.p, b.p, a.k * sizeof *a.p);
    ck_assert_mem_eq(a.runs, b.runs, a.k * sizeof *a.runs);
    ck_assert_msg(memcmp(a.p, c.p, a.k * sizeof *a.p) != 0, "another seed, the same p-values");
}
END_TEST

/* A cluster that needs every run gets exactly the full test's p-value,
 * (r + 1) / (R + 1): the brute-force count over the stored null maxima is
 * not available from outside, so it is checked through its two limits
 * above (1 / (R + 1) when never matched) and here through R = 1, where the
 * p-value can only be 1/2 or 1. */
START_TEST(one_run_gives_half_or_one)
{
    static mc_case c;
    rng_state = 5;
    c.n = 300;
    for (size_t i = 0; i < c.n; i++) {
        c.x[i] = 3000 * uniform();
        c.y[i] = 3000 * uniform();
        c.s[i] = uniform() < 0.5;
    }
    fc_dbscan_params p = {.eps = 300, .min_pts = 4};
    significance(&c, &p, 1, 9, 2);
    ck_assert_uint_gt(c.k, 1);
    for (size_t k = 0; k < c.k; k++) {
        ck_assert(c.p[k] == 0.5 || c.p[k] == 1.0);
        ck_assert_int_eq(c.runs[k], 1);
    }
}
END_TEST

/* The null runs' sample of a stratum: every subset of its size equally
 * likely, in increasing order, and the bitmap left zero. By hand, then the
 * 20 subsets of 3 of 6 counted over 40,000 draws (2,000 each expected; a
 * standard deviation of 44), then random sizes. */
START_TEST(sample_positions_uniform_and_sorted)
{
    uint64_t bits[8] = {0}, state = 77;
    size_t out[512];
    ck_assert_uint_eq(fc_sample_positions(&state, 5, 5, bits, out), 5);
    for (size_t k = 0; k < 5; k++)
        ck_assert_uint_eq(out[k], k);
    ck_assert_uint_eq(fc_sample_positions(&state, 5, 0, bits, out), 0);
    ck_assert_uint_eq(fc_sample_positions(&state, 3, 7, bits, out), 3); /* at most len */
    static int seen[64];
    for (int draw = 0; draw < 40000; draw++) {
        ck_assert_uint_eq(fc_sample_positions(&state, 6, 3, bits, out), 3);
        ck_assert(out[0] < out[1] && out[1] < out[2] && out[2] < 6);
        seen[(1 << out[0]) | (1 << out[1]) | (1 << out[2])]++;
    }
    int subsets = 0;
    for (int mask = 0; mask < 64; mask++)
        if (__builtin_popcount((unsigned)mask) == 3) {
            subsets++;
            ck_assert_msg(seen[mask] > 1700 && seen[mask] < 2300, "subset %#x drawn %d times",
                          mask, seen[mask]);
        } else {
            ck_assert_int_eq(seen[mask], 0);
        }
    ck_assert_int_eq(subsets, 20);
    rng_state = 3;
    for (int t = 0; t < 2000; t++) {
        size_t len = (size_t)(uniform() * 500), take = (size_t)(uniform() * (double)(len + 1));
        ck_assert_uint_eq(fc_sample_positions(&state, len, take, bits, out), take);
        for (size_t k = 0; k < take; k++)
            ck_assert(out[k] < len && (k == 0 || out[k - 1] < out[k]));
        for (size_t w = 0; w < 8; w++)
            ck_assert_uint_eq(bits[w], 0);
    }
}
END_TEST

START_TEST(q_values_by_hand)
{
    /* Benjamini-Hochberg: sorted p 0.01 0.02 0.03 0.5 (m = 4) give
     * 0.04, 0.04, 0.04, 0.5; the running minimum keeps them monotone. */
    double p[] = {0.5, 0.03, 0.01, 0.02}, q[4];
    ck_assert_int_eq(fc_qvalues(ctx, 4, p, q), FC_OK);
    ck_assert_double_eq_tol(q[0], 0.5, 1e-15);
    ck_assert_double_eq_tol(q[1], 0.04, 1e-15);
    ck_assert_double_eq_tol(q[2], 0.04, 1e-15);
    ck_assert_double_eq_tol(q[3], 0.04, 1e-15);
    /* ties, and a q never above 1 */
    double p2[] = {0.9, 0.9, 1.0}, q2[3];
    ck_assert_int_eq(fc_qvalues(ctx, 3, p2, q2), FC_OK);
    ck_assert_double_eq_tol(q2[0], 1.0, 1e-15);
    ck_assert_double_eq_tol(q2[1], 1.0, 1e-15);
    ck_assert_double_eq_tol(q2[2], 1.0, 1e-15);
    double p3[] = {0.001, 0.04, 0.03, 0.2, 0.05}, q3[5];
    ck_assert_int_eq(fc_qvalues(ctx, 5, p3, q3), FC_OK);
    /* sorted: 0.001 (x5/1 = 0.005), 0.03 (x5/2 = 0.075), 0.04 (x5/3), 0.05 (x5/4 = 0.0625),
     * 0.2 (x5/5): q = 0.005, 0.0625, 0.0625, 0.0625, 0.2 */
    ck_assert_double_eq_tol(q3[0], 0.005, 1e-15);
    ck_assert_double_eq_tol(q3[1], 0.0625, 1e-15);
    ck_assert_double_eq_tol(q3[2], 0.0625, 1e-15);
    ck_assert_double_eq_tol(q3[3], 0.2, 1e-15);
    ck_assert_double_eq_tol(q3[4], 0.0625, 1e-15);
}
END_TEST

START_TEST(distance_scale_by_hand)
{
    /* Sector 0 on a line at 0, 10 and 30 m; sector 1 has a cluster; sector
     * 2 has fewer firms than k. With k = 2 (a firm and its nearest): 10, 10
     * and 20, median 10; with k = 3: 30, 20, 30, median 30. */
    double x[] = {0, 10, 30, 500, 501, 900}, y[] = {0, 0, 0, 0, 0, 0};
    uint32_t s[] = {0, 0, 0, 1, 1, 2};
    size_t clusters[] = {0, 1, 0};
    double scale[3];
    ck_assert_int_eq(fc_sector_scales(ctx, 6, x, y, 1.0, s, 3, clusters, 2, scale), FC_OK);
    ck_assert_double_eq(scale[0], 10);
    ck_assert(isnan(scale[1]) && isnan(scale[2]));
    ck_assert_int_eq(fc_sector_scales(ctx, 6, x, y, 2.0, s, 3, clusters, 3, scale), FC_OK);
    ck_assert_double_eq(scale[0], 60); /* in metres: units of 2 m */
    /* an oracle: the median of brute-force k-th distances, random sets */
    rng_state = 17;
    for (int trial = 0; trial < 50; trial++) {
        size_t n = 2 + next_u64() % 150, k = 1 + next_u64() % 6;
        double *px = malloc(n * sizeof *px), *py = malloc(n * sizeof *py), *kth = malloc(n * sizeof *kth);
        uint32_t *ps = calloc(n, sizeof *ps);
        for (size_t i = 0; i < n; i++) {
            px[i] = floor(100 * uniform()); /* ties and duplicates */
            py[i] = floor(100 * uniform());
        }
        size_t none = 0;
        double got;
        ck_assert_int_eq(fc_sector_scales(ctx, n, px, py, 1.0, ps, 1, &none, k, &got), FC_OK);
        if (n < k) {
            ck_assert(isnan(got));
        } else {
            for (size_t i = 0; i < n; i++) {
                double *d = malloc(n * sizeof *d);
                for (size_t j = 0; j < n; j++)
                    d[j] = hypot(px[j] - px[i], py[j] - py[i]);
                for (size_t a = 1; a < n; a++) /* insertion sort */
                    for (size_t b = a; b > 0 && d[b - 1] > d[b]; b--) {
                        double t = d[b];
                        d[b] = d[b - 1];
                        d[b - 1] = t;
                    }
                kth[i] = d[k - 1];
                free(d);
            }
            for (size_t a = 1; a < n; a++)
                for (size_t b = a; b > 0 && kth[b - 1] > kth[b]; b--) {
                    double t = kth[b];
                    kth[b] = kth[b - 1];
                    kth[b - 1] = t;
                }
            double want = n % 2 ? kth[n / 2] : (kth[n / 2 - 1] + kth[n / 2]) / 2;
            ck_assert_msg(fabs(got - want) <= 1e-9 * (1 + want), "n %zu k %zu: %g, want %g", n, k,
                          got, want);
        }
        free(px), free(py), free(kth), free(ps);
    }
}
END_TEST

/* ---- the null runs' bound (null_bound.c) --------------------------------- */

/* The sizes of the clusters DBSCAN finds among the m points x, y (weights
 * w or NULL), largest first, in sizes (room for m); returns how many. */
static size_t cluster_sizes(size_t m, const double *x, const double *y, const double *w,
                            const fc_dbscan_params *params, size_t *sizes)
{
    if (m == 0)
        return 0;
    int32_t *cid = malloc(m * sizeof *cid);
    size_t k = 0;
    fc_dbscan_params p = *params;
    p.weight = w;
    ck_assert_int_eq(fc_dbscan(ctx, m, x, y, NULL, &p, cid, NULL, &k), FC_OK);
    memset(sizes, 0, m * sizeof *sizes);
    for (size_t i = 0; i < m; i++)
        if (cid[i] >= 0)
            sizes[cid[i]]++;
    for (size_t a = 1; a < k; a++) /* insertion sort, descending */
        for (size_t b = a; b > 0 && sizes[b - 1] < sizes[b]; b--) {
            size_t t = sizes[b];
            sizes[b] = sizes[b - 1];
            sizes[b - 1] = t;
        }
    free(cid);
    return k;
}

START_TEST(null_bound_by_hand)
{
    /* 30 firms on one spot, 12 firms 1 km apart on a line far from it,
     * 200 m eps, min-pts 5: the spot is the one place a cluster can form,
     * and the bound is its 30 firms, which are kept for a size of 30 but
     * not of 31, and DBSCAN on the grid finds it; with min-pts 40, no
     * cluster at all. */
    double x[42], y[42];
    size_t picked[42], bound;
    for (size_t i = 0; i < 42; i++) {
        x[i] = i < 30 ? 0 : 10000 + 1000.0 * (double)(i - 30);
        y[i] = 0;
        picked[i] = 41 - i; /* the line first: kept in this order */
    }
    fc_dbscan_params p = {.eps = 200, .min_pts = 5, .distance = FC_DISTANCE_PLANAR, .threads = 1};
    fc_null_bound *nb;
    fc_null_scratch sc;
    ck_assert_int_eq(fc_null_bound_build(ctx, 42, x, y, &p, 0, &nb), FC_OK);
    ck_assert_int_eq(fc_null_scratch_init(nb, &sc), FC_OK);
    ck_assert_uint_eq(fc_null_bound_keep(nb, &sc, 42, picked, NULL, 31, &bound), 0);
    ck_assert_uint_eq(bound, 30);
    ck_assert_uint_eq(fc_null_bound_keep(nb, &sc, 42, picked, NULL, 30, &bound), 30);
    ck_assert_uint_eq(bound, 30);
    for (size_t i = 0; i < 30; i++)
        ck_assert_uint_eq(picked[i], 29 - i);
    ck_assert_uint_eq(fc_null_bound_keep(nb, &sc, 4, picked, NULL, 1, &bound), 0); /* 4 < min-pts */
    ck_assert_uint_eq(bound, 0);
    for (size_t i = 0; i < 12; i++)
        picked[i] = 30 + i;
    ck_assert_uint_eq(fc_null_bound_keep(nb, &sc, 12, picked, NULL, 1, &bound), 0);
    ck_assert_uint_eq(bound, 0);
    for (size_t i = 0; i < 42; i++)
        picked[i] = i; /* the sample is every firm, in order: its x, y are the firms' */
    size_t largest;
    ck_assert_int_eq(fc_null_bound_cluster(nb, &sc, 42, picked, x, y, &largest), FC_OK);
    ck_assert_uint_eq(largest, 30);
    ck_assert_int_eq(fc_null_bound_cluster(nb, &sc, 29, picked + 13, x + 13, y + 13, &largest),
                     FC_OK); /* 17 of the spot and the line */
    ck_assert_uint_eq(largest, 17);
    fc_null_scratch_free(&sc);
    fc_null_bound_free(nb);
    p.min_pts = 40;
    for (size_t i = 0; i < 42; i++)
        picked[i] = i;
    ck_assert_int_eq(fc_null_bound_build(ctx, 42, x, y, &p, 0, &nb), FC_OK);
    ck_assert_int_eq(fc_null_scratch_init(nb, &sc), FC_OK);
    ck_assert_uint_eq(fc_null_bound_keep(nb, &sc, 42, picked, NULL, 1, &bound), 0);
    ck_assert_uint_eq(bound, 0);
    fc_null_scratch_free(&sc);
    fc_null_bound_free(nb);
}
END_TEST

/* The oracle: over random firms (planar and geodesic, duplicates, lattice
 * ties at exactly eps, weights) and random samples of them, the bound is
 * never below the largest cluster DBSCAN finds in the sample, DBSCAN of
 * the firms kept for a size finds the same clusters of that size or more
 * as DBSCAN of the whole sample, and DBSCAN on the bound's grid
 * (fc_null_bound_cluster) finds fc_dbscan's largest cluster. The bound
 * must also say something: below the sample's size in many cases. */
START_TEST(null_bound_never_below_the_largest_cluster)
{
    enum { MAX_N = 400 };
    static double x[MAX_N], y[MAX_N], w[MAX_N], sx[MAX_N], sy[MAX_N], sw[MAX_N];
    static size_t picked[MAX_N], all[MAX_N], kept[MAX_N];
    rng_state = 29;
    int informative = 0, trials = 0, partly_kept = 0, clustered = 0;
    for (int trial = 0; trial < 600; trial++) {
        const size_t n = 1 + next_u64() % MAX_N;
        const bool geodesic = trial % 3 == 2, weighted = trial % 4 == 3, lattice = trial % 5 == 1;
        fc_dbscan_params p = {.eps = geodesic ? 2000 : 100, .min_pts = 2 + (int)(next_u64() % 8),
                              .min_weight = 3 + 10 * uniform(),
                              .distance = geodesic ? FC_DISTANCE_GEODESIC : FC_DISTANCE_PLANAR,
                              .threads = 1 + (int)(next_u64() % 3)};
        const double spread = 2000 * uniform() + 50;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && uniform() < 0.1) { /* a duplicate */
                x[i] = x[i - 1];
                y[i] = y[i - 1];
            } else if (lattice) { /* neighbours at exactly eps */
                x[i] = p.eps * (double)(next_u64() % 12);
                y[i] = p.eps * (double)(next_u64() % 12);
            } else {
                x[i] = spread * uniform() * uniform();
                y[i] = spread * uniform();
            }
            w[i] = floor(4 * uniform());
        }
        if (geodesic)
            for (size_t i = 0; i < n; i++) {
                x[i] = 76.9 + x[i] / 20000 * (trial % 2 ? 1 : 0.01); /* lattice: a deg apart */
                y[i] = trial % 7 == 0 ? 89.9 + y[i] / 400000 : 43.2 + y[i] / 40000;
            }
        p.weight = weighted ? w : NULL;
        fc_null_bound *nb;
        fc_null_scratch sc;
        const bool fine = trial % 2;
        ck_assert_msg(fc_null_bound_build(ctx, n, x, y, &p, fine ? 0 : p.eps * (0.5 + 2 * uniform()),
                                          &nb) == FC_OK,
                      "%s", fc_errmsg(ctx));
        ck_assert_int_eq(fc_null_scratch_init(nb, &sc), FC_OK);
        for (int sample = 0; sample < 4; sample++) {
            size_t m = 0;
            const double share = uniform();
            for (size_t i = 0; i < n; i++)
                if (uniform() < share) {
                    picked[m] = i;
                    sx[m] = x[i], sy[m] = y[i], sw[m] = w[i];
                    m++;
                }
            size_t k_all = cluster_sizes(m, sx, sy, weighted ? sw : NULL, &p, all);
            size_t open = 1 + next_u64() % (k_all && uniform() < 0.7 ? all[0] + 1 : 30), bound;
            size_t n_kept = fc_null_bound_keep(nb, &sc, m, picked, weighted ? w : NULL, open, &bound);
            ck_assert_msg(bound >= (k_all ? all[0] : 0),
                          "trial %d sample %d: bound %zu below a cluster of %zu", trial, sample,
                          bound, all[0]);
            ck_assert_uint_le(bound, m);
            for (size_t i = 0; i < n_kept; i++) {
                ck_assert(i == 0 || picked[i] > picked[i - 1]); /* in sample order */
                sx[i] = x[picked[i]], sy[i] = y[picked[i]], sw[i] = w[picked[i]];
            }
            size_t k_kept = cluster_sizes(n_kept, sx, sy, weighted ? sw : NULL, &p, kept);
            if (!weighted && fine) { /* DBSCAN on the bound's grid: the same largest cluster */
                size_t largest;
                ck_assert_int_eq(fc_null_bound_cluster(nb, &sc, n_kept, picked, sx, sy, &largest),
                                 FC_OK);
                ck_assert_msg(largest == (k_kept ? kept[0] : 0),
                              "trial %d sample %d: %zu, DBSCAN %zu", trial, sample, largest,
                              k_kept ? kept[0] : 0);
                clustered += largest > 0;
            }
            for (size_t k = 0; k < k_all || k < k_kept; k++) {
                size_t want = k < k_all && all[k] >= open ? all[k] : 0;
                size_t got = k < k_kept && kept[k] >= open ? kept[k] : 0;
                ck_assert_msg(got == want, "trial %d sample %d, size %zu: cluster %zu has %zu, want %zu",
                              trial, sample, open, k, got, want);
            }
            informative += bound < m;
            partly_kept += n_kept > 0 && n_kept < m;
            trials++;
        }
        fc_null_scratch_free(&sc);
        fc_null_bound_free(nb);
    }
    ck_assert_msg(informative > trials / 3, "the bound was below the sample's size in %d of %d",
                  informative, trials);
    ck_assert_msg(partly_kept > trials / 20, "part of the sample kept in %d of %d", partly_kept,
                  trials);
    ck_assert_msg(clustered > trials / 20, "a cluster found on the bound's grid in %d of %d",
                  clustered, trials);
}
END_TEST

/* The bound only skips runs that cannot change a p-value: with it and
 * without it, the same p-values and runs, and it did settle runs. */
START_TEST(null_bound_changes_no_pvalue)
{
    /* planar, weighted (min-weight), geodesic; with and without regions */
    static mc_case a, b;
    static double w[600];
    static int32_t region[600];
    long bounded = 0;
    for (int d = 0; d < 12; d++) {
        rng_state = 500 + (uint64_t)d;
        a.n = 500;
        const bool weighted = d % 3 == 1, geodesic = d % 3 == 2, regions = d % 4 >= 2;
        for (size_t i = 0; i < a.n; i++) {
            bool planted = i < 20 + 5 * (size_t)(d % 6); /* of sector 0, on a spot */
            a.x[i] = planted ? 3000 + 400 * uniform() : 8000 * uniform() * uniform();
            a.y[i] = planted ? 3000 + 400 * uniform() : 8000 * uniform();
            a.s[i] = planted || uniform() < 0.2 ? 0 : 1 + (uint32_t)(d % 2) * (i % 2);
            w[i] = floor(3 * uniform());
            region[i] = a.x[i] < 2500 ? 0 : 1;
            if (geodesic) {
                a.x[i] = 76.9 + a.x[i] / 81000; /* metres to degrees, near 43.2 N */
                a.y[i] = 43.2 + a.y[i] / 111000;
            }
        }
        fc_dbscan_params p = {.eps = 250, .min_pts = 4 + d % 3, .weight = weighted ? w : NULL,
                              .min_weight = 5,
                              .distance = geodesic ? FC_DISTANCE_GEODESIC : FC_DISTANCE_PLANAR};
        fc_mc_tally with = {0}, without = {.cluster_every_run = true};
        ck_assert_int_eq(fc_dbscan(ctx, a.n, a.x, a.y, a.s, &p, a.cid, NULL, &a.k), FC_OK);
        memset(a.size, 0, sizeof a.size);
        for (size_t i = 0; i < a.n; i++)
            if (a.cid[i] >= 0) {
                a.size[a.cid[i]]++;
                a.cluster_sector[a.cid[i]] = (int32_t)a.s[i];
            }
        ck_assert_uint_gt(a.k, 1);
        b = a;
        const int32_t *strata = regions ? region : NULL;
        ck_assert_int_eq(fc_cluster_pvalues(ctx, a.n, a.x, a.y, a.s, strata, &p, NULL, NULL, 3,
                                            a.k, a.cluster_sector, a.size, 199, 3, 1 + d % 3, a.p,
                                            a.runs, &with),
                         FC_OK);
        ck_assert_int_eq(fc_cluster_pvalues(ctx, b.n, b.x, b.y, b.s, strata, &p, NULL, NULL, 3,
                                            b.k, b.cluster_sector, b.size, 199, 3, 2, b.p, b.runs,
                                            &without),
                         FC_OK);
        ck_assert_mem_eq(a.p, b.p, a.k * sizeof *a.p);
        ck_assert_mem_eq(a.runs, b.runs, a.k * sizeof *a.runs);
        ck_assert_int_eq(without.bounded, 0);
        bounded += with.bounded;
    }
    ck_assert_int_gt(bounded, 100);
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = fc_tcase("stats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, location_quotients_by_hand);
    tcase_add_test(tc, regions_in_another_crs);
    tcase_add_test(tc, bow_tie_is_repaired_and_reported);
    tcase_add_test(tc, kazakhstan_oblasts_have_collapsed_rings_removed);
    tcase_add_test(tc, geos_messages_outlive_the_reading);
    tcase_add_test(tc, planted_cluster_is_significant);
    tcase_add_test(tc, chance_clusters_are_not_significant);
    tcase_add_test(tc, same_seed_same_pvalues_any_threads);
    tcase_add_test(tc, one_run_gives_half_or_one);
    tcase_add_test(tc, null_bound_by_hand);
    tcase_add_test(tc, null_bound_never_below_the_largest_cluster);
    tcase_add_test(tc, null_bound_changes_no_pvalue);
    tcase_add_test(tc, q_values_by_hand);
    tcase_add_test(tc, sample_positions_uniform_and_sorted);
    tcase_add_test(tc, distance_scale_by_hand);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(stats_suite)
