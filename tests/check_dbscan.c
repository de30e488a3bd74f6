/* SPDX-License-Identifier: MIT */
/* fc_dbscan: small cases to check by eye, then a brute-force O(n^2)
 * DBSCAN (tests/support.c) as the oracle over thousands of random cases. */
#include "core/core.h"
#include "check_main.h"
#include "support.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The oracle is tests/support.c's brute-force DBSCAN, the same one
 * check_geodesic.c uses with geodesic distances. */

/* ---- small cases -------------------------------------------------------- */

static fc_context *ctx;
static void setup(void) { ctx = fc_context_new(); }
static void teardown(void) { ctx = fc_context_destroy(ctx); }

START_TEST(three_in_a_row)
{
    /* Middle point sees both ends (distance 1 = eps): core; the ends see
     * two points: border. */
    double x[] = {0, 1, 2}, y[] = {0, 0, 0};
    int32_t c[3];
    uint8_t r[3];
    size_t k;
    fc_dbscan_params p = {.eps = 1, .min_pts = 3};
    ck_assert_int_eq(fc_dbscan(ctx, 3, x, y, NULL, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 1);
    ck_assert_int_eq(r[0], FC_ROLE_BORDER);
    ck_assert_int_eq(r[1], FC_ROLE_CORE);
    ck_assert_int_eq(r[2], FC_ROLE_BORDER);
    ck_assert_int_eq(c[0], 0);
    ck_assert_int_eq(c[1], 0);
    ck_assert_int_eq(c[2], 0);
}
END_TEST

/* Issue 27: the parameter structs carry their size, so that a later
 * library reads of an older caller's struct only what it has. */
START_TEST(params_carry_their_size)
{
    double x[] = {0, 1, 2}, y[] = {0, 0, 0};
    int32_t c[3];
    uint8_t r[3];
    size_t k;
    fc_dbscan_params full = {.struct_size = sizeof full, .eps = 1, .min_pts = 3, .threads = 1};
    ck_assert_int_eq(fc_dbscan(ctx, 3, x, y, NULL, &full, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 1);
    /* an older caller's, that ends before distance: the rest is read as 0
     * (planar, one thread a core), never from beyond what it has */
    fc_dbscan_params older = full;
    older.struct_size = offsetof(fc_dbscan_params, distance);
    older.distance = 42; /* an unknown kind, were it read */
    ck_assert_int_eq(fc_dbscan(ctx, 3, x, y, NULL, &older, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 1);
    ck_assert_int_eq(r[1], FC_ROLE_CORE);
    /* a newer caller's, larger than this library knows */
    fc_dbscan_params newer = full;
    newer.struct_size = sizeof newer + 8;
    ck_assert_int_eq(fc_dbscan(ctx, 3, x, y, NULL, &newer, c, r, &k), FC_EINVAL);
    ck_assert_ptr_nonnull(strstr(fc_errmsg(ctx), "fc_dbscan_params of"));
    fc_hdbscan_params hp = {.struct_size = sizeof hp + 1, .min_cluster_size = 2};
    fc_hdbscan_labels labels = {.cluster = c};
    ck_assert_int_eq(fc_hdbscan(ctx, 3, x, y, NULL, &hp, &labels, NULL, &k), FC_EINVAL);
    ck_assert_ptr_nonnull(strstr(fc_errmsg(ctx), "fc_hdbscan_params of"));
    hp.struct_size = 0; /* this version's */
    ck_assert_int_eq(fc_hdbscan(ctx, 3, x, y, NULL, &hp, &labels, NULL, &k), FC_OK);
}
END_TEST

START_TEST(exactly_eps_counts)
{
    double x[] = {0, 3}, y[] = {0, 4}; /* 5 apart */
    int32_t c[2];
    uint8_t r[2];
    size_t k;
    fc_dbscan_params p = {.eps = 5, .min_pts = 2};
    ck_assert_int_eq(fc_dbscan(ctx, 2, x, y, NULL, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 1);
    ck_assert_int_eq(r[0], FC_ROLE_CORE);
    ck_assert_int_eq(r[1], FC_ROLE_CORE);
    p.eps = 4.999;
    ck_assert_int_eq(fc_dbscan(ctx, 2, x, y, NULL, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 0);
    ck_assert_int_eq(c[0], -1);
    ck_assert_int_eq(r[1], FC_ROLE_NOISE);
}
END_TEST

START_TEST(groups_never_mix)
{
    /* Two sectors at the same places: neither reaches min_pts 3 alone. */
    double x[] = {0, 0.5, 0, 0.5}, y[] = {0, 0, 0, 0};
    uint32_t g[] = {7, 7, 3, 3};
    int32_t c[4];
    uint8_t r[4];
    size_t k;
    fc_dbscan_params p = {.eps = 1, .min_pts = 3};
    ck_assert_int_eq(fc_dbscan(ctx, 4, x, y, g, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 0);
    p.min_pts = 2; /* now each sector is one cluster; group 3 numbers first */
    ck_assert_int_eq(fc_dbscan(ctx, 4, x, y, g, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 2);
    ck_assert_int_eq(c[2], 0);
    ck_assert_int_eq(c[3], 0);
    ck_assert_int_eq(c[0], 1);
    ck_assert_int_eq(c[1], 1);
}
END_TEST

START_TEST(border_tie_goes_to_first_core_in_input)
{
    /* Cluster B (indices 0-2) around x=4, cluster A (3-5) around x=0, and
     * P at x=2, exactly 2 from both A's and B's innermost core points.
     * With eps 2 and min_pts 4, A(0,0) sees A2, A3, P and itself: core;
     * P sees only A, B and itself: border, tied; B(4,0) comes first. */
    double x[] = {4, 5, 6, 0, -1, -2, 2}, y[7] = {0};
    int32_t c[7];
    uint8_t r[7];
    size_t k;
    fc_dbscan_params p = {.eps = 2, .min_pts = 4};
    ck_assert_int_eq(fc_dbscan(ctx, 7, x, y, NULL, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 2);
    ck_assert_int_eq(r[6], FC_ROLE_BORDER);
    ck_assert_int_eq(r[0], FC_ROLE_CORE);
    ck_assert_int_eq(r[3], FC_ROLE_CORE);
    ck_assert_int_eq(c[6], c[0]);
    ck_assert_int_ne(c[6], c[3]);
}
END_TEST

START_TEST(min_pts_one_makes_every_point_a_cluster)
{
    double x[] = {0, 10, 20}, y[] = {0, 0, 0};
    int32_t c[3];
    uint8_t r[3];
    size_t k;
    fc_dbscan_params p = {.eps = 1, .min_pts = 1};
    ck_assert_int_eq(fc_dbscan(ctx, 3, x, y, NULL, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(c[i], i);
        ck_assert_int_eq(r[i], FC_ROLE_CORE);
    }
}
END_TEST

START_TEST(empty_input)
{
    size_t k = 99;
    fc_dbscan_params p = {.eps = 1, .min_pts = 1};
    ck_assert_int_eq(fc_dbscan(ctx, 0, NULL, NULL, NULL, &p, NULL, NULL, &k), FC_OK);
    ck_assert_uint_eq(k, 0);
}
END_TEST

START_TEST(weights_replace_counts)
{
    /* One firm of 50 employees and two of 1, within eps: with min_weight
     * 51 all are core (sum 52); the far one with 60 alone is core too. */
    double x[] = {0, 1, 2, 100}, y[4] = {0};
    double w[] = {50, 1, 1, 60};
    int32_t c[4];
    uint8_t r[4];
    size_t k;
    fc_dbscan_params p = {.eps = 2, .weight = w, .min_weight = 51};
    ck_assert_int_eq(fc_dbscan(ctx, 4, x, y, NULL, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 2);
    ck_assert_int_eq(r[0], FC_ROLE_CORE);
    ck_assert_int_eq(r[2], FC_ROLE_CORE);
    ck_assert_int_eq(r[3], FC_ROLE_CORE);
    p.min_weight = 61; /* nobody reaches it */
    ck_assert_int_eq(fc_dbscan(ctx, 4, x, y, NULL, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 0);
}
END_TEST

START_TEST(dense_cell_is_all_core)
{
    enum { N = 200 };
    double x[N], y[N];
    int32_t c[N];
    uint8_t r[N];
    size_t k;
    for (int i = 0; i < N; i++) {
        x[i] = 1e6 + (i % 10) * 0.01;
        y[i] = 5e6 + (i / 10) * 0.01;
    }
    fc_dbscan_params p = {.eps = 10, .min_pts = 100};
    ck_assert_int_eq(fc_dbscan(ctx, N, x, y, NULL, &p, c, r, &k), FC_OK);
    ck_assert_uint_eq(k, 1);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(r[i], FC_ROLE_CORE);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
    double x[] = {0, NAN}, y[] = {0, 0}, w[] = {1, -1};
    int32_t c[2];
    fc_dbscan_params p = {.eps = 0, .min_pts = 1};
    ck_assert_int_eq(fc_dbscan(ctx, 1, x, y, NULL, &p, c, NULL, NULL), FC_EINVAL);
    p.eps = 1;
    p.min_pts = 0;
    ck_assert_int_eq(fc_dbscan(ctx, 1, x, y, NULL, &p, c, NULL, NULL), FC_EINVAL);
    p.min_pts = 1;
    ck_assert_int_eq(fc_dbscan(ctx, 2, x, y, NULL, &p, c, NULL, NULL), FC_EINVAL);
    ck_assert_ptr_nonnull(strstr(fc_errmsg(ctx), "point 1"));
    p.weight = w;
    ck_assert_int_eq(fc_dbscan(ctx, 2, y, y, NULL, &p, c, NULL, NULL), FC_EINVAL);
    ck_assert_ptr_nonnull(strstr(fc_errmsg(ctx), "weight"));
}
END_TEST

/* ---- random cases against the oracle ------------------------------------ */

static size_t below(size_t n) { return (size_t)(uniform() * (double)n); }

/* One random case of a given shape; returns n. */
static size_t make_case(int shape, double *x, double *y, uint32_t *g, double *w, size_t max_n,
                        fc_dbscan_params *p, int *use_groups, int *use_weights)
{
    size_t n = below(max_n + 1);
    double eps = (double)(1 + below(6));
    double offset = (next_u64() & 1) ? 0 : 1e6; /* projected-like coordinates */
    double span = eps * (double)(2 + below(12));
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case 0: /* integer lattice: many pairs exactly eps apart, duplicates */
            x[i] = offset + (double)below((size_t)span + 1);
            y[i] = offset + (double)below((size_t)span + 1);
            break;
        case 1: /* uniform */
            x[i] = offset + uniform() * span;
            y[i] = offset + uniform() * span;
            break;
        case 2: /* blobs */
            if (i == 0 || below(8) == 0) {
                x[i] = offset + uniform() * span;
                y[i] = offset + uniform() * span;
            } else {
                size_t j = below(i);
                x[i] = x[j] + (uniform() - 0.5) * eps * 1.5;
                y[i] = y[j] + (uniform() - 0.5) * eps * 1.5;
            }
            break;
        case 3: /* collinear, on a slanted line and on an axis */
        {
            double t = (double)below((size_t)span * 4 + 1) / 4;
            x[i] = offset + t;
            y[i] = (next_u64() & 1) ? offset + 0.5 * t : offset;
            break;
        }
        default: /* multiples of eps/sqrt(2): points on cell borders */
            x[i] = offset + (double)below(12) * (eps / sqrt(2.0));
            y[i] = offset + (double)below(12) * (eps / sqrt(2.0));
            break;
        }
        g[i] = (uint32_t)below(3) * 1000;
        w[i] = (double)below(5) * 0.5; /* dyadic: sums are exact */
    }
    *use_groups = (int)(next_u64() & 1);
    *use_weights = below(4) == 0;
    *p = (fc_dbscan_params){.eps = eps,
                            .min_pts = 1 + below(7),
                            .weight = *use_weights ? w : NULL,
                            .min_weight = (double)below(9) * 0.5};
    return n;
}

START_TEST(matches_brute_force)
{
    enum { MAX_N = 260, CASES = 4000 };
    static double x[MAX_N], y[MAX_N], w[MAX_N];
    static uint32_t g[MAX_N];
    static int32_t c_fast[MAX_N], c_ref[MAX_N];
    static uint8_t r_fast[MAX_N], r_ref[MAX_N];
    rng_state = 20261124;
    size_t total_clusters = 0, total_border = 0;
    for (int t = 0; t < CASES; t++) {
        fc_dbscan_params p;
        int use_groups, use_weights;
        int shape = t % 5;
        size_t n = make_case(shape, x, y, g, w, MAX_N, &p, &use_groups, &use_weights);
        const uint32_t *groups = use_groups ? g : NULL;
        size_t k_fast, k_ref = fc_test_dbscan_oracle(n, x, y, groups, &p, c_ref, r_ref);
        /* Every third case uses cells larger than eps/sqrt(2) (up to 2 eps),
         * whose points are not all neighbours, or the smallest cells that
         * still work (eps/2). */
        static const double side_factor[] = {1.0, 1.0, 1.0, 1.6, 2.8, 0.7072};
        double side = p.eps / sqrt(2.0) * side_factor[t % 6];
        p.threads = 1 + t % 3;
        ck_assert_int_eq(fc_dbscan_with_side(ctx, n, x, y, groups, &p, side, c_fast, r_fast,
                                             &k_fast), FC_OK);
        ck_assert_msg(k_fast == k_ref, "case %d (shape %d, n %zu, side %g): %zu clusters, oracle %zu",
                      t, shape, n, side, k_fast, k_ref);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(r_fast[i] == r_ref[i] && c_fast[i] == c_ref[i],
                          "case %d (shape %d, n %zu, eps %g, min_pts %zu, weights %d): point "
                          "%zu (%.17g, %.17g) is role %d cluster %d, oracle role %d cluster %d",
                          t, shape, n, p.eps, p.min_pts, use_weights, i, x[i], y[i], r_fast[i],
                          c_fast[i], r_ref[i], c_ref[i]);
            total_border += r_ref[i] == FC_ROLE_BORDER;
        }
        total_clusters += k_ref;
    }
    /* The random cases must exercise what they are meant to. */
    ck_assert_uint_gt(total_clusters, 1000);
    ck_assert_uint_gt(total_border, 1000);
}
END_TEST

START_TEST(same_result_in_any_input_order_of_groups)
{
    /* Cluster ids depend on the input, never on memory or timing: two runs
     * give identical arrays. */
    enum { N = 2000 };
    static double x[N], y[N];
    static uint32_t g[N];
    static int32_t c1[N], c2[N];
    rng_state = 7;
    for (int i = 0; i < N; i++) {
        x[i] = uniform() * 100;
        y[i] = uniform() * 100;
        g[i] = (uint32_t)below(4);
    }
    fc_dbscan_params p = {.eps = 3, .min_pts = 4};
    size_t k1, k2;
    ck_assert_int_eq(fc_dbscan(ctx, N, x, y, g, &p, c1, NULL, &k1), FC_OK);
    ck_assert_int_eq(fc_dbscan(ctx, N, x, y, g, &p, c2, NULL, &k2), FC_OK);
    ck_assert_uint_eq(k1, k2);
    ck_assert_uint_gt(k1, 3);
    ck_assert_mem_eq(c1, c2, sizeof c1);
}
END_TEST

/* Blobs of dense points over a sparse background, in three groups, with
 * weights: many cells for the threads to share. */
static void make_blobs(size_t n, double *x, double *y, uint32_t *g, double *w)
{
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 0) { /* background */
            x[i] = uniform() * 5000;
            y[i] = uniform() * 5000;
        } else { /* one of 40 blobs, each a few eps wide */
            size_t b = below(40);
            double cx = 100 + (double)(b % 8) * 600, cy = 100 + (double)(b / 8) * 900;
            x[i] = cx + (uniform() - 0.5) * (20 + (double)(b % 5) * 30);
            y[i] = cy + (uniform() - 0.5) * (20 + (double)(b % 7) * 25);
        }
        g[i] = (uint32_t)below(3);
        w[i] = (double)below(4);
    }
}

START_TEST(same_result_whatever_the_thread_count)
{
    enum { N = 300000 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *w = malloc(N * sizeof *w);
    uint32_t *g = malloc(N * sizeof *g);
    int32_t *c1 = malloc(N * sizeof *c1), *ct = malloc(N * sizeof *ct);
    uint8_t *r1 = malloc(N), *rt = malloc(N);
    rng_state = 99;
    make_blobs(N, x, y, g, w);
    for (int weighted = 0; weighted < 2; weighted++) {
        fc_dbscan_params p = {.eps = 6, .min_pts = 12, .threads = 1};
        if (weighted) {
            p.weight = w;
            p.min_weight = 18;
        }
        size_t k1, kt;
        ck_assert_int_eq(fc_dbscan(ctx, N, x, y, g, &p, c1, r1, &k1), FC_OK);
        ck_assert_uint_gt(k1, 100);
        const int threads[] = {2, 3, 8};
        for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
            p.threads = threads[t];
            ck_assert_int_eq(fc_dbscan(ctx, N, x, y, g, &p, ct, rt, &kt), FC_OK);
            ck_assert_uint_eq(kt, k1);
            ck_assert_msg(memcmp(c1, ct, N * sizeof *c1) == 0 && memcmp(r1, rt, N) == 0,
                          "%d threads (weighted %d) label differently from one", threads[t],
                          weighted);
        }
    }
    free(x), free(y), free(w), free(g), free(c1), free(ct), free(r1), free(rt);
}
END_TEST

/* fc_dbscan and the oracle give the same clusters and roles, and the case
 * has at least `min_clusters` clusters (so that it tests something). */
static void assert_matches_oracle(size_t n, const double *x, const double *y, const uint32_t *g,
                                  const fc_dbscan_params *p, size_t min_clusters)
{
    int32_t *c_fast = malloc(n * sizeof *c_fast), *c_ref = malloc(n * sizeof *c_ref);
    uint8_t *r_fast = malloc(n), *r_ref = malloc(n);
    size_t k_fast, k_ref = fc_test_dbscan_oracle(n, x, y, g, p, c_ref, r_ref);
    ck_assert_int_eq(fc_dbscan(ctx, n, x, y, g, p, c_fast, r_fast, &k_fast), FC_OK);
    ck_assert_uint_gt(k_ref, min_clusters);
    ck_assert_uint_eq(k_fast, k_ref);
    ck_assert_mem_eq(c_fast, c_ref, n * sizeof *c_ref);
    ck_assert_mem_eq(r_fast, r_ref, n);
    free(c_fast), free(c_ref), free(r_fast), free(r_ref);
}

START_TEST(threaded_run_matches_brute_force)
{
    enum { N = 6000 };
    static double x[N], y[N], w[N];
    static uint32_t g[N];
    rng_state = 5;
    make_blobs(N, x, y, g, w);
    for (size_t i = 0; i < N; i++) { /* denser: 6000 points over a tenth of the area */
        x[i] /= 10;
        y[i] /= 10;
    }
    fc_dbscan_params p = {.eps = 2, .min_pts = 5, .threads = 4};
    assert_matches_oracle(N, x, y, g, &p, 20);
}
END_TEST

START_TEST(grid_of_more_than_2_to_the_32_cells)
{
    /* Small clusters spread over a billion eps: the cell numbers do not fit
     * 32 bits, and the points are sorted in several stages. */
    enum { N = 3000 };
    static double x[N], y[N];
    static uint32_t g[N];
    rng_state = 11;
    for (size_t i = 0; i < N; i++) {
        size_t site = below(60);
        x[i] = (double)(site * 16777259 % 1000003) * 1000 + uniform() * 4;
        y[i] = (double)(site * 7919 % 999983) * 1000 + uniform() * 4;
        g[i] = (uint32_t)below(2) * 70000;
    }
    fc_dbscan_params p = {.eps = 1, .min_pts = 4, .threads = 2};
    assert_matches_oracle(N, x, y, g, &p, 60);
}
END_TEST

static Suite *dbscan_suite(void)
{
    Suite *s = suite_create("dbscan");
    TCase *small = fc_tcase("small");
    tcase_add_checked_fixture(small, setup, teardown);
    tcase_add_test(small, three_in_a_row);
    tcase_add_test(small, params_carry_their_size);
    tcase_add_test(small, exactly_eps_counts);
    tcase_add_test(small, groups_never_mix);
    tcase_add_test(small, border_tie_goes_to_first_core_in_input);
    tcase_add_test(small, min_pts_one_makes_every_point_a_cluster);
    tcase_add_test(small, empty_input);
    tcase_add_test(small, weights_replace_counts);
    tcase_add_test(small, dense_cell_is_all_core);
    tcase_add_test(small, bad_arguments_are_refused);
    suite_add_tcase(s, small);
    TCase *oracle_case = fc_tcase("oracle");
    tcase_add_checked_fixture(oracle_case, setup, teardown);
    tcase_add_test(oracle_case, matches_brute_force);
    tcase_add_test(oracle_case, same_result_in_any_input_order_of_groups);
    tcase_add_test(oracle_case, same_result_whatever_the_thread_count);
    tcase_add_test(oracle_case, threaded_run_matches_brute_force);
    tcase_add_test(oracle_case, grid_of_more_than_2_to_the_32_cells);
    suite_add_tcase(s, oracle_case);
    return s;
}

FC_CHECK_MAIN(dbscan_suite)
