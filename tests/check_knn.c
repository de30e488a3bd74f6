/* SPDX-License-Identifier: MIT */
/* k-distances for choosing eps: a case to check by eye, then brute force
 * over random cases (planar and geodesic, duplicates, groups, 1 to 3
 * threads), and the knee of a curve. */
#include "core/core.h"
#include "check_main.h"

#include <geodesic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static fc_context *ctx;
static void setup(void) { ctx = fc_context_new(); }
static void teardown(void) { ctx = fc_context_destroy(ctx); }

static size_t below(size_t n) { return (size_t)(uniform() * (double)n); }

START_TEST(by_eye)
{
    /* Four points of group 0 on a line at 0, 1, 3, 6; one of group 1. With
     * k = 2 (itself and one more): 1, 1, 2, 3; group 1 has too few: NaN.
     * With k = 1, every point's own distance: 0. */
    double x[] = {0, 1, 3, 6, 100}, y[] = {0, 0, 0, 0, 0}, d[5];
    uint32_t g[] = {0, 0, 0, 0, 1};
    fc_dbscan_params p = {.eps = 1};
    ck_assert_int_eq(fc_kth_distances(ctx, 5, x, y, g, 2, &p, 2, d), FC_OK);
    ck_assert_double_eq(d[0], 1);
    ck_assert_double_eq(d[1], 1);
    ck_assert_double_eq(d[2], 2);
    ck_assert_double_eq(d[3], 3);
    ck_assert(isnan(d[4]));
    ck_assert_int_eq(fc_kth_distances(ctx, 5, x, y, g, 2, &p, 1, d), FC_OK);
    ck_assert_double_eq(d[3], 0);
    ck_assert_double_eq(d[4], 0);
}
END_TEST

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

START_TEST(matches_brute_force)
{
    enum { MAX_N = 300, CASES = 600 };
    static double x[MAX_N], y[MAX_N], got[MAX_N], d[MAX_N];
    static uint32_t g[MAX_N];
    struct geod_geodesic geod;
    geod_init(&geod, 6378137, 1 / 298.257223563);
    rng_state = 14;
    size_t checked = 0;
    for (int t = 0; t < CASES; t++) {
        const bool geodesic = t % 3 == 0;
        size_t n = 1 + below(MAX_N), n_groups = 1 + below(3), k = 1 + below(6);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && below(5) == 0) { /* duplicates */
                x[i] = x[i - 1];
                y[i] = y[i - 1];
            } else if (geodesic) {
                x[i] = 71.4 + uniform() * 0.05;
                y[i] = (t % 2 ? 51.1 : 89.95) + uniform() * 0.03;
            } else {
                x[i] = (double)below(40); /* a lattice: ties */
                y[i] = (double)below(40);
            }
            g[i] = (uint32_t)below(n_groups);
        }
        fc_dbscan_params p = {.eps = 1, .threads = 1 + t % 3,
                              .distance = geodesic ? FC_DISTANCE_GEODESIC : FC_DISTANCE_PLANAR};
        ck_assert_int_eq(fc_kth_distances(ctx, n, x, y, g, n_groups, &p, k, got), FC_OK);
        for (size_t i = 0; i < n; i++) {
            size_t m = 0;
            for (size_t j = 0; j < n; j++) {
                if (g[j] != g[i])
                    continue;
                double s12 = 0;
                if (geodesic && i != j)
                    geod_inverse(&geod, y[i < j ? i : j], x[i < j ? i : j], y[i < j ? j : i],
                                 x[i < j ? j : i], &s12, NULL, NULL);
                else if (!geodesic)
                    s12 = sqrt((x[i] - x[j]) * (x[i] - x[j]) + (y[i] - y[j]) * (y[i] - y[j]));
                d[m++] = s12;
            }
            if (m < k) {
                ck_assert_msg(isnan(got[i]), "case %d point %zu: %g, group of %zu < k %zu", t, i,
                              got[i], m, k);
                continue;
            }
            qsort(d, m, sizeof *d, compare_double);
            ck_assert_msg(got[i] == d[k - 1], "case %d (%s, n %zu, k %zu) point %zu: %.17g, by "
                          "brute force %.17g", t, geodesic ? "geodesic" : "planar", n, k, i,
                          got[i], d[k - 1]);
            checked++;
        }
    }
    ck_assert_uint_gt(checked, 20000);
}
END_TEST

START_TEST(knee_of_a_hockey_stick)
{
    /* flat at 1 for 90 values, then up by 10 a step: the knee is where it
     * turns, at the last flat value or the first steep one */
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i < 90 ? 1 + i * 0.001 : 1 + (i - 89) * 10.0;
    size_t k = fc_knee(v, 100, false);
    ck_assert_msg(k >= 88 && k <= 90, "knee at %zu", k);
    k = fc_knee(v, 100, true);
    ck_assert_msg(k >= 88 && k <= 90, "knee of the logarithms at %zu", k);
    double flat[5] = {2, 2, 2, 2, 2};
    ck_assert_uint_eq(fc_knee(flat, 5, false), 2); /* no knee: the middle */
    ck_assert_uint_eq(fc_knee(flat, 5, true), 2);
    /* a heavy tail: the linear knee runs out into it, the logarithmic one
     * stays where the curve turns (values 1 ... 1.9, then 10, 100, ... 1e9) */
    double tail[100];
    for (int i = 0; i < 100; i++)
        tail[i] = i < 90 ? 1 + i * 0.01 : pow(10, i - 89);
    k = fc_knee(tail, 100, true);
    ck_assert_msg(k >= 88 && k <= 91, "knee of a heavy tail at %zu", k);
}
END_TEST

static Suite *knn_suite(void)
{
    Suite *s = suite_create("knn");
    TCase *tc = fc_tcase("knn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, by_eye);
    tcase_add_test(tc, matches_brute_force);
    tcase_add_test(tc, knee_of_a_hockey_stick);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(knn_suite)
