/* SPDX-License-Identifier: MIT */
/* Co-location quotients: a case to check by eye, then the brute-force
 * definition (tests/support.c) over thousands of random cases, planar and
 * geodesic, with cells of many sides; the same bits on any thread count. */
#include "core/colocation_sweep.h"
#include "core/core.h"
#include "check_main.h"
#include "support.h"

#include <geodesic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static fc_context *ctx;
static void setup(void) { ctx = fc_context_new(); }
static void teardown(void) { ctx = fc_context_destroy(ctx); }

static size_t below(size_t n) { return (size_t)(uniform() * (double)n); }

START_TEST(by_eye)
{
    /* Sector 0 (A) at the origin and far away; sector 1 (B) at (1, 0) and
     * (0, 1), which are sqrt(2) apart. eps 1: the first A sees both Bs
     * (share of B: 1); each B sees the first A only; the far A sees no one.
     * n = 4, n'(A) = 1, n'(B) = 2:
     *   CLQ(A->B) = 1 / (1 * 2 / 3) = 1.5, CLQ(B->A) = 2 / (2 * 2 / 3) = 1.5,
     *   CLQ(A->A) = 0 / (1 * 1 / 3) = 0,   CLQ(B->B) = 0. */
    double x[] = {0, 1, 0, 10}, y[] = {0, 0, 1, 10};
    uint32_t s[] = {0, 1, 1, 0};
    fc_dbscan_params p = {.eps = 1};
    fc_colocation c;
    ck_assert_int_eq(fc_colocation_compute(ctx, 4, x, y, s, 2, &p, &c, NULL), FC_OK);
    ck_assert_uint_eq(c.n_firms[0], 2);
    ck_assert_uint_eq(c.n_with[0], 1);
    ck_assert_uint_eq(c.n_with[1], 2);
    ck_assert_double_eq_tol(c.clq[0 * 2 + 1], 1.5, 1e-12);
    ck_assert_double_eq_tol(c.clq[1 * 2 + 0], 1.5, 1e-12);
    ck_assert_double_eq_tol(c.clq[0 * 2 + 0], 0, 1e-12);
    ck_assert_double_eq_tol(c.clq[1 * 2 + 1], 0, 1e-12);
    fc_colocation_free(&c);
}
END_TEST

START_TEST(alone_among_its_own)
{
    /* Four As in a row, each seeing only As; one B far away. T(A, A) = 4,
     * n'(A) = 4, so CLQ(A->A) = 4 / (4 * (4 - 1) / (5 - 1)) = 4/3. B has no
     * neighbour: its row is undefined (NaN). */
    double x[] = {0, 1, 2, 3, 50}, y[] = {0, 0, 0, 0, 0};
    uint32_t s[] = {0, 0, 0, 0, 1};
    fc_dbscan_params p = {.eps = 1.5};
    fc_colocation c;
    ck_assert_int_eq(fc_colocation_compute(ctx, 5, x, y, s, 2, &p, &c, NULL), FC_OK);
    ck_assert_double_eq_tol(c.share[0], 4, 1e-12);
    ck_assert_double_eq_tol(c.clq[0], 4.0 / 3.0, 1e-12);
    ck_assert(isnan(c.clq[1 * 2 + 1])); /* B has no neighbour (and no other B) */
    ck_assert(isnan(c.clq[1 * 2 + 0])); /* n'(B) = 0 */
    ck_assert_double_eq_tol(c.clq[0 * 2 + 1], 0, 1e-12);
    fc_colocation_free(&c);
}
END_TEST

START_TEST(refuses_bad_input)
{
    double x[] = {0, 1}, y[] = {0, 0};
    uint32_t s[] = {0, 3};
    fc_dbscan_params p = {.eps = 1};
    fc_colocation c;
    ck_assert_int_eq(fc_colocation_compute(ctx, 2, x, y, s, 2, &p, &c, NULL), FC_EINVAL);
    ck_assert_ptr_null(c.clq);
    p.eps = 0;
    s[1] = 1;
    ck_assert_int_eq(fc_colocation_compute(ctx, 2, x, y, s, 2, &p, &c, NULL), FC_EINVAL);
    ck_assert_ptr_null(c.clq);
    p.eps = 1;
    ck_assert_int_eq(
        fc_colocation_compute(ctx, 2, x, y, s, FC_COLOCATION_MAX_SECTORS + 1, &p, &c, NULL),
                     FC_EINVAL);
    double u_sum[2]; /* u sums need the counts they come from */
    ck_assert_int_eq(fc_colocation_compute(ctx, 2, x, y, s, 2, &p, &c,
                                           &(fc_neighbourhoods){.u_sum = u_sum}),
                     FC_EINVAL);
    ck_assert_ptr_null(c.clq);
}
END_TEST

/* One random case; returns n. Shapes as in check_dbscan.c: lattice (pairs
 * exactly eps apart, duplicates), uniform, blobs, collinear, cell borders. */
static size_t make_case(int shape, double *x, double *y, uint32_t *s, size_t max_n,
                        size_t *n_sectors, double *eps_out)
{
    size_t n = below(max_n + 1);
    double eps = (double)(1 + below(6));
    double offset = (next_u64() & 1) ? 0 : 1e6;
    /* a third of the cases spread over several of the sweep's tiles (20 eps),
     * one in ten over so many tile numbers (some 10^5) that the sweep sorts
     * its tiles' members instead of counting them */
    const size_t spread = below(30);
    double span = eps * (double)(2 + below(10)) * (spread < 10 ? 8 : spread < 13 ? 2000 : 1);
    *n_sectors = 1 + below(4);
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case 0:
            x[i] = offset + (double)below((size_t)span + 1);
            y[i] = offset + (double)below((size_t)span + 1);
            break;
        case 1:
            x[i] = offset + uniform() * span;
            y[i] = offset + uniform() * span;
            break;
        case 2:
            if (i == 0 || below(8) == 0) {
                x[i] = offset + uniform() * span;
                y[i] = offset + uniform() * span;
            } else {
                size_t j = below(i);
                x[i] = x[j] + (uniform() - 0.5) * eps * 1.5;
                y[i] = y[j] + (uniform() - 0.5) * eps * 1.5;
            }
            break;
        case 3: {
            double t = (double)below((size_t)span * 4 + 1) / 4;
            x[i] = offset + t;
            y[i] = (next_u64() & 1) ? offset + 0.5 * t : offset;
            break;
        }
        default:
            x[i] = offset + (double)below(12) * (eps / sqrt(2.0) / 4);
            y[i] = offset + (double)below(12) * (eps / sqrt(2.0) / 4);
            break;
        }
        s[i] = (uint32_t)below(*n_sectors);
    }
    *eps_out = eps;
    return n;
}

static void assert_matches(const fc_colocation *c, size_t n_sectors, const double *share,
                           const size_t *n_with, const char *what, int t)
{
    for (size_t a = 0; a < n_sectors; a++) {
        ck_assert_msg(c->n_with[a] == n_with[a], "%s case %d: n'(%zu) %zu, oracle %zu", what, t,
                      a, c->n_with[a], n_with[a]);
        for (size_t b = 0; b < n_sectors; b++) {
            double got = c->share[a * n_sectors + b], want = share[a * n_sectors + b];
            ck_assert_msg(fabs(got - want) <= 1e-9 * (1 + want),
                          "%s case %d: share(%zu, %zu) %.17g, oracle %.17g", what, t, a, b, got,
                          want);
        }
    }
}

static void assert_neighbourhoods(size_t n, const fc_neighbourhoods *nb, const uint32_t *totals,
                                  const double *u_sums, const char *what, int t)
{
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(nb->count[i] == totals[i], "%s case %d: |N(%zu)| %u, oracle %u", what, t, i,
                      nb->count[i], totals[i]);
        ck_assert_msg(fabs(nb->u_sum[i] - u_sums[i]) <= 1e-12 * (1 + u_sums[i]),
                      "%s case %d: u sum of %zu %.17g, oracle %.17g", what, t, i, nb->u_sum[i],
                      u_sums[i]);
    }
}

/* The null's moments with strata by the sweep equal those on cells (mean to
 * 1e-12, variance to 1e-9, relative to 1 + the cells'); what and t name
 * the case. */
static void assert_moments_both_ways(size_t n, const double *x, const double *y,
                                     const uint32_t *s, size_t S, const uint32_t *stratum,
                                     size_t K, const fc_neighbourhoods *nb,
                                     const fc_dbscan_params *p, const char *what, int t)
{
    double mean[2][64], var[2][64];
    ck_assert_uint_le(S * S, 64);
    for (int by_cells = 0; by_cells <= 1; by_cells++) {
        fc_colocation_moments_by_cells(by_cells);
        ck_assert_int_eq(fc_colocation_moments(ctx, n, x, y, s, S, stratum, K, nb, p,
                                               mean[by_cells], var[by_cells]),
                         FC_OK);
    }
    fc_colocation_moments_by_cells(false);
    for (size_t k = 0; k < S * S; k++)
        ck_assert_msg(fabs(mean[0][k] - mean[1][k]) <= 1e-12 * (1 + mean[1][k]) &&
                          fabs(var[0][k] - var[1][k]) <= 1e-9 * (1 + var[1][k]),
                      "%s case %d, pair %zu: mean %.17g var %.17g by the sweep, %.17g and %.17g "
                      "on cells", what, t, k, mean[0][k], var[0][k], mean[1][k], var[1][k]);
}

START_TEST(matches_brute_force)
{
    enum { MAX_N = 300, CASES = 3000, S = 4 };
    static double x[MAX_N], y[MAX_N], share[S * S], u_sums[MAX_N], u_sum[MAX_N];
    static uint32_t s[MAX_N], totals[MAX_N], count[MAX_N];
    static size_t n_with[S];
    rng_state = 20261130;
    /* Cells of the default side (a quarter of DBSCAN's), DBSCAN's, larger
     * ones whose points are not all neighbours, and the smallest allowed. */
    static const double side_factor[] = {0.25, 0.25, 1.0, 1.6, 0.125, 0.0885};
    double total_share = 0;
    for (int t = 0; t < CASES; t++) {
        size_t n_sectors;
        double eps;
        size_t n = make_case(t % 5, x, y, s, MAX_N, &n_sectors, &eps);
        fc_dbscan_params p = {.eps = eps, .threads = 1 + t % 3};
        fc_test_colocation_oracle(n, x, y, s, n_sectors, &p, share, n_with, totals, u_sums);
        fc_colocation c;
        double side = eps / sqrt(2.0) * side_factor[t % 6];
        /* every other case asks for each point's |N| and sum of u, which
         * must change nothing else */
        fc_neighbourhoods nb = {.count = count, .u_sum = u_sum};
        fc_colocation_sweep_simd(t % 4 < 2); /* half the cases one point at a time */
        ck_assert_int_eq(fc_colocation_with_side(ctx, n, x, y, s, n_sectors, &p, side, &c,
                                                 t % 2 ? &nb : NULL),
                         FC_OK);
        fc_colocation_sweep_simd(true);
        assert_matches(&c, n_sectors, share, n_with, "planar", t);
        if (t % 2)
            assert_neighbourhoods(n, &nb, totals, u_sums, "planar", t);
        for (size_t k = 0; k < n_sectors * n_sectors; k++)
            total_share += share[k];
        fc_colocation_free(&c);
    }
    ck_assert_double_gt(total_share, 10000); /* the cases have neighbours */
}
END_TEST

START_TEST(matches_brute_force_geodesic)
{
    enum { MAX_N = 150, CASES = 400, S = 3 };
    static double lon[MAX_N], lat[MAX_N], share[S * S], u_sums[MAX_N], u_sum[MAX_N];
    static uint32_t s[MAX_N], totals[MAX_N], count[MAX_N];
    static size_t n_with[S];
    rng_state = 1130;
    struct geod_geodesic wgs84;
    geod_init(&wgs84, 6378137, 1 / 298.257223563);
    double total_share = 0;
    for (int t = 0; t < CASES; t++) {
        size_t n = below(MAX_N + 1), n_sectors = 1 + below(S);
        double eps = 100 + (double)below(500);
        /* near the pole (left to the cells), across the antimeridian (half
         * the firms written west of it), in Kazakhstan's latitudes */
        double lat0 = t % 4 == 0 ? 89.97 : 43 + (double)below(10);
        double lon0 = t % 8 == 1 ? 179.985 : 50 + (double)below(30);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && below(5) == 0) { /* eps from an earlier point, or 1 mm off */
                const size_t j = below(i);
                const double d = eps + (double)((int)below(3) - 1) * 1e-3;
                geod_direct(&wgs84, lat[j], lon[j], 360 * uniform(), d, &lat[i], &lon[i], NULL);
                s[i] = (uint32_t)below(n_sectors);
                continue;
            }
            /* a few km across; some duplicates */
            lon[i] = i > 0 && below(6) == 0 ? lon[i - 1] : lon0 + uniform() * 0.03;
            lat[i] = i > 0 && lon[i] == lon[i - 1] ? lat[i - 1] : lat0 + uniform() * 0.02;
            if (t % 8 == 1 && lon[i] > 180 && below(2) == 0)
                lon[i] -= 360;
            s[i] = (uint32_t)below(n_sectors);
        }
        fc_dbscan_params p = {.eps = eps, .distance = FC_DISTANCE_GEODESIC, .threads = 1 + t % 3};
        fc_test_colocation_oracle(n, lon, lat, s, n_sectors, &p, share, n_with, totals, u_sums);
        fc_colocation c;
        fc_neighbourhoods nb = {.count = count, .u_sum = u_sum};
        fc_colocation_sweep_simd(t % 4 < 2); /* half the cases one point at a time */
        ck_assert_int_eq(fc_colocation_compute(ctx, n, lon, lat, s, n_sectors, &p, &c, &nb),
                         FC_OK);
        fc_colocation_sweep_simd(true);
        assert_matches(&c, n_sectors, share, n_with, "geodesic", t);
        assert_neighbourhoods(n, &nb, totals, u_sums, "geodesic", t);
        for (size_t k = 0; k < n_sectors * n_sectors; k++)
            total_share += share[k];
        fc_colocation_free(&c);
        /* the null's moments in two strata, by the sweep as on cells (ties at eps too) */
        static uint32_t stratum[MAX_N];
        for (size_t i = 0; i < n; i++)
            stratum[i] = (uint32_t)(i % 2);
        assert_moments_both_ways(n, lon, lat, s, n_sectors, stratum, 2, &nb, &p, "geodesic", t);
    }
    ck_assert_double_gt(total_share, 1000);
}
END_TEST

START_TEST(same_bits_whatever_the_thread_count)
{
    enum { N = 200000, S = 7 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    uint32_t *s = malloc(N * sizeof *s);
    rng_state = 99;
    for (size_t i = 0; i < N; i++) { /* dense blobs over a sparse background */
        size_t b = below(30);
        double spread = i % 3 == 0 ? 5000 : 30 + (double)(b % 5) * 40;
        x[i] = (i % 3 == 0 ? 0 : 200 + (double)(b % 6) * 800) + uniform() * spread;
        y[i] = (i % 3 == 0 ? 0 : 200 + (double)(b / 6) * 900) + uniform() * spread;
        s[i] = (uint32_t)(b % S + below(2)) % S;
    }
    fc_colocation one, many;
    fc_dbscan_params p = {.eps = 25, .threads = 1};
    ck_assert_int_eq(fc_colocation_compute(ctx, N, x, y, s, S, &p, &one, NULL), FC_OK);
    for (int threads = 2; threads <= 4; threads++) {
        p.threads = threads;
        ck_assert_int_eq(fc_colocation_compute(ctx, N, x, y, s, S, &p, &many, NULL), FC_OK);
        ck_assert_mem_eq(one.share, many.share, S * S * sizeof *one.share);
        ck_assert_mem_eq(one.n_with, many.n_with, S * sizeof *one.n_with);
        fc_colocation_free(&many);
    }
    /* The null model's moments too, with strata, and from them the p-values */
    uint32_t *stratum = malloc(N * sizeof *stratum), *neighbours = malloc(N * sizeof *neighbours);
    for (size_t i = 0; i < N; i++)
        stratum[i] = (uint32_t)(x[i] > 2500) + (uint32_t)(y[i] > 2500);
    fc_neighbourhoods nb = {.count = neighbours};
    p.threads = 1;
    ck_assert_int_eq(fc_colocation_compute(ctx, N, x, y, s, S, &p, &many, &nb), FC_OK);
    ck_assert_int_eq(fc_colocation_pvalues(ctx, N, x, y, s, stratum, 3, &nb, &p, &one), FC_OK);
    fc_colocation_free(&many);
    for (int threads = 2; threads <= 3; threads++) {
        p.threads = threads;
        ck_assert_int_eq(fc_colocation_compute(ctx, N, x, y, s, S, &p, &many, NULL), FC_OK);
        ck_assert_int_eq(fc_colocation_pvalues(ctx, N, x, y, s, stratum, 3, &nb, &p, &many),
                         FC_OK);
        ck_assert_mem_eq(one.p_value, many.p_value, S * S * sizeof *one.p_value);
        ck_assert_mem_eq(one.q_value, many.q_value, S * S * sizeof *one.q_value);
        fc_colocation_free(&many);
    }
    ck_assert_double_lt(one.q_value[0 * S + 1], 0.05); /* planted together: significant */
    /* The strata's pass by the sweep gives the moments the grid of cells does */
    assert_moments_both_ways(N, x, y, s, S, stratum, 3, &nb, &p, "blobs", 0);
    /* One stratum: the u sums come from the quotients' pass, the same bits
     * on any thread count, and the p-values those of a second pass */
    fc_colocation two_pass, fused;
    ck_assert_int_eq(fc_colocation_compute(ctx, N, x, y, s, S, &p, &two_pass, &nb), FC_OK);
    ck_assert_int_eq(fc_colocation_pvalues(ctx, N, x, y, s, NULL, 1, &nb, &p, &two_pass), FC_OK);
    nb.u_sum = malloc(N * sizeof *nb.u_sum);
    double *u_first = malloc(N * sizeof *u_first);
    for (int threads = 1; threads <= 3; threads++) {
        p.threads = threads;
        ck_assert_int_eq(fc_colocation_compute(ctx, N, x, y, s, S, &p, &fused, &nb), FC_OK);
        ck_assert_int_eq(fc_colocation_pvalues(ctx, N, x, y, s, NULL, 1, &nb, &p, &fused), FC_OK);
        if (threads == 1)
            memcpy(u_first, nb.u_sum, N * sizeof *u_first);
        ck_assert_mem_eq(u_first, nb.u_sum, N * sizeof *u_first);
        for (size_t k = 0; k < S * S; k++)
            ck_assert_msg(fabs(fused.p_value[k] - two_pass.p_value[k]) <=
                              1e-9 * (1e-300 + two_pass.p_value[k]),
                          "pair %zu: p %.17g fused, %.17g in two passes", k, fused.p_value[k],
                          two_pass.p_value[k]);
        fc_colocation_free(&fused);
    }
    fc_colocation_free(&two_pass);
    free(u_first);
    free(nb.u_sum);
    free(stratum);
    free(neighbours);
    /* Related sectors (b and b + 1 share blobs) sit together: CLQ above 1. */
    ck_assert_double_gt(one.clq[0 * S + 1], 1.2);
    fc_colocation_free(&one);
    free(x);
    free(y);
    free(s);
}
END_TEST

/* ---- the null model's moments, against every permutation --------------- */

/* The next arrangement of a[0..n) in lexicographic order (a multiset):
 * false after the last, leaving a sorted again. */
static bool next_arrangement(uint32_t *a, size_t n)
{
    if (n < 2)
        return false;
    size_t i = n - 1;
    while (i > 0 && a[i - 1] >= a[i])
        i--;
    if (i == 0) { /* the last: back to the first */
        for (size_t l = 0, r = n - 1; l < r; l++, r--) {
            uint32_t t = a[l]; a[l] = a[r]; a[r] = t;
        }
        return false;
    }
    size_t j = n - 1;
    while (a[j] <= a[i - 1])
        j--;
    uint32_t t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
    for (size_t l = i, r = n - 1; l < r; l++, r--) {
        t = a[l]; a[l] = a[r]; a[r] = t;
    }
    return true;
}

typedef struct enumeration {
    size_t n, n_sectors, n_strata;
    const double *x, *y;
    const uint32_t *stratum;
    /* per stratum, its firms' labels; 4, not 3: GCC cannot see that
     * enumerate() stops at n_strata */
    uint32_t *labels[4];
    size_t members[4][8], size[4];
    const fc_dbscan_params *p;
    double sum[9], sum2[9], runs;
} enumeration;

/* Every arrangement of strata k, k + 1, ...: T of each pair, summed. */
static void enumerate(enumeration *e, size_t k)
{
    if (k >= e->n_strata) {
        uint32_t sector[8];
        for (size_t s = 0; s < e->n_strata; s++)
            for (size_t m = 0; m < e->size[s]; m++)
                sector[e->members[s][m]] = e->labels[s][m];
        double share[9];
        size_t n_with[3];
        fc_test_colocation_oracle(e->n, e->x, e->y, sector, e->n_sectors, e->p, share, n_with, NULL,
                                  NULL);
        for (size_t q = 0; q < e->n_sectors * e->n_sectors; q++) {
            e->sum[q] += share[q];
            e->sum2[q] += share[q] * share[q];
        }
        e->runs += 1;
        return;
    }
    do
        enumerate(e, k + 1);
    while (next_arrangement(e->labels[k], e->size[k]));
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

START_TEST(null_moments_are_exact)
{
    enum { CASES = 300 };
    rng_state = 31;
    double total_var = 0;
    for (int t = 0; t < CASES; t++) {
        size_t n = 2 + below(7), S = 1 + below(3), K = 1 + below(3);
        double x[8], y[8];
        uint32_t sector[8], stratum[8], neighbours[8], labels[3][8];
        fc_dbscan_params p = {.eps = 1 + (double)below(3), .threads = 1 + t % 2};
        enumeration e = {.n = n, .n_sectors = S, .n_strata = K, .x = x, .y = y,
                         .stratum = stratum, .p = &p};
        for (size_t i = 0; i < n; i++) {
            x[i] = (double)below(4); /* a lattice: ties at exactly eps, duplicates */
            y[i] = (double)below(3);
            sector[i] = (uint32_t)below(S);
            stratum[i] = (uint32_t)below(K);
            size_t s = stratum[i];
            e.members[s][e.size[s]] = i;
            labels[s][e.size[s]++] = sector[i];
        }
        for (size_t s = 0; s < K; s++) {
            e.labels[s] = labels[s];
            qsort(labels[s], e.size[s], sizeof labels[s][0], compare_u32);
        }
        enumerate(&e, 0);
        /* with one stratum, also from the u sums of the quotients' pass */
        double u_sum[8];
        fc_neighbourhoods nb = {.count = neighbours, .u_sum = K == 1 ? u_sum : NULL};
        fc_colocation c;
        ck_assert_int_eq(fc_colocation_compute(ctx, n, x, y, sector, S, &p, &c, &nb), FC_OK);
        fc_colocation_free(&c);
        /* by the sweep, on cells, and with one stratum from the quotients' u sums */
        for (int how = 0; how <= 1 + (K == 1); how++) {
            const bool fused = how == 2;
            fc_neighbourhoods use = {.count = neighbours, .u_sum = fused ? u_sum : NULL};
            double mean[9], var[9];
            fc_colocation_moments_by_cells(how == 1);
            ck_assert_int_eq(fc_colocation_moments(ctx, n, x, y, sector, S, stratum, K, &use, &p,
                                                   mean, var),
                             FC_OK);
            fc_colocation_moments_by_cells(false);
            for (size_t q = 0; q < S * S; q++) {
                double m = e.sum[q] / e.runs, v = e.sum2[q] / e.runs - m * m;
                ck_assert_msg(fabs(mean[q] - m) <= 1e-9 * (1 + m) &&
                                  fabs(var[q] - v) <= 1e-9 * (1 + v),
                              "case %d (n %zu, %zu sectors, %zu strata%s), pair %zu: mean %.12g "
                              "var %.12g, by every permutation %.12g and %.12g",
                              t, n, S, K, fused ? ", u sums" : how ? ", cells" : "", q, mean[q],
                              var[q], m, v);
                total_var += v;
            }
        }
    }
    ck_assert_double_gt(total_var, 10); /* the cases vary */
}
END_TEST

/* The sweep's sums of n points, straight from fc_colocation_sweep(). */
static int sweep_sums(size_t n, const double *x, const double *y, const uint32_t *s, size_t S,
                      const fc_dbscan_params *p, double *share, uint32_t *count, double *u_sum)
{
    grid g = {0};
    ck_assert_int_eq(fc_grid_metric(ctx, &g, n, x, y, p), FC_OK);
    g.threads = 2;
    colocation_fixed t[16] = {0};
    size_t n_with[4] = {0};
    colocation_totals totals = {.t = t, .n_with = n_with, .count = count, .u_sum = u_sum,
                                .u_bits = 40};
    const int status = fc_colocation_sweep(ctx, &g, n, x, y, s, S, p->eps / 6, &totals);
    for (size_t k = 0; k < S * S; k++)
        share[k] = (double)t[k] / (double)COLOCATION_FIXED_ONE;
    fc_grid_free(&g);
    return status;
}

/* The sweep does the counting (it declines only near the poles and the
 * like), and gives the very bits of the grid of cells, which counts when
 * the columns would be wider than eps: on blobs of firms planar and around
 * Almaty geodesic (testing four points at a time or one; and the null's
 * moments by stratum, by the sweep and on cells), and at 85 N, where it
 * declines. */
START_TEST(sweep_gives_the_cells_bits)
{
    enum { N = 4000, S = 4 };
    static double x[N], y[N], share[S * S], u_sum[N];
    static uint32_t s[N], count[N];
    rng_state = 7;
    for (int geodesic = 0; geodesic <= 2; geodesic++) {
        for (size_t i = 0; i < N; i++) {
            const size_t blob = below(12);
            const double bx = (double)(blob % 4) * 9000, by = (double)(blob / 4) * 7000;
            x[i] = bx + (uniform() - 0.5) * 4000 * uniform();
            y[i] = by + (uniform() - 0.5) * 4000 * uniform();
            s[i] = (uint32_t)below(S);
            if (geodesic) { /* metres to degrees around Almaty, or at 85 N */
                x[i] = 76.9 + x[i] / (geodesic == 1 ? 81000 : 9700);
                y[i] = (geodesic == 1 ? 43.2 : 85) + y[i] / 111000;
            }
        }
        fc_dbscan_params p = {.eps = 500, .min_pts = 1, .threads = 2,
                              .distance = geodesic ? FC_DISTANCE_GEODESIC : FC_DISTANCE_PLANAR};
        const int status = sweep_sums(N, x, y, s, S, &p, share, count, u_sum);
        if (geodesic == 2) {
            ck_assert_int_eq(status, FC_EINVAL);
            continue;
        }
        ck_assert_int_eq(status, FC_OK);
        { /* the same bits one point at a time as four at a time */
            static double share_one[S * S], u_sum_one[N];
            static uint32_t count_one[N];
            fc_colocation_sweep_simd(false);
            ck_assert_int_eq(sweep_sums(N, x, y, s, S, &p, share_one, count_one, u_sum_one),
                             FC_OK);
            fc_colocation_sweep_simd(true);
            ck_assert_mem_eq(share, share_one, sizeof share_one);
            ck_assert_mem_eq(count, count_one, sizeof count_one);
            ck_assert_mem_eq(u_sum, u_sum_one, sizeof u_sum_one);
        }
        fc_colocation cells;
        uint32_t cell_count[N];
        double cell_u[N];
        fc_neighbourhoods nb = {.count = cell_count, .u_sum = cell_u};
        ck_assert_int_eq(fc_colocation_with_side(ctx, N, x, y, s, S, &p, 1.5 * p.eps, &cells, &nb),
                         FC_OK);
        ck_assert_mem_eq(share, cells.share, S * S * sizeof *share);
        ck_assert_mem_eq(count, cell_count, N * sizeof *count);
        double total = 0;
        for (size_t i = 0; i < N; i++) /* u bits differ: 40 here, as n leaves there */
            ck_assert(fabs(u_sum[i] - cell_u[i]) <= 1e-9 * (1 + cell_u[i]));
        for (size_t k = 0; k < S * S; k++)
            total += share[k];
        ck_assert_double_gt(total, 1000); /* the blobs are dense */
        fc_colocation_free(&cells);
        /* the null's moments with three strata (the blobs' rows): by the sweep as on cells */
        static uint32_t stratum[N];
        for (size_t i = 0; i < N; i++)
            stratum[i] = (uint32_t)(geodesic ? (y[i] - 43.2) * 111000 / 7000 + 0.5
                                             : y[i] / 7000 + 0.5) % 3;
        assert_moments_both_ways(N, x, y, s, S, stratum, 3, &nb, &p,
                                 geodesic ? "geodesic" : "planar", 0);
    }
}
END_TEST

/* Counts the calls and cancels from the first. */
static int cancel_at_once(double complete, const char *message, void *arg)
{
    (void)complete, (void)message;
    ++*(int *)arg;
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

START_TEST(cancel_stops_the_passes)
{
    /* 200,000 firms in a square of 10 km, eps 5 km: some 10^10 pairs within
     * eps, minutes of work by either way. A cancel must stop each pass: the
     * sweep's tiles and the cells (eps over 100 km declines the sweep: the
     * square is then 1,000 km), the null's moments with strata too. The
     * time is not asserted (the machine may be busy); only that the passes
     * were stopped, not finished. */
    enum { N = 200000 };
    static double x[N], y[N];
    static uint32_t s[N], stratum[N];
    rng_state = 77;
    for (int cells = 0; cells < 2; cells++) {
        const double scale = cells ? 100 : 1;
        for (size_t i = 0; i < N; i++) {
            x[i] = uniform() * 10000 * scale;
            y[i] = uniform() * 10000 * scale;
            s[i] = (uint32_t)(next_u64() % 8);
            stratum[i] = (uint32_t)(next_u64() % 3);
        }
        fc_dbscan_params p = {.eps = 5000 * scale, .threads = 2};
        int calls = 0;
        fc_context_set_progress(ctx, cancel_at_once, &calls);
        fc_colocation c;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert_int_eq(fc_colocation_compute(ctx, N, x, y, s, 8, &p, &c, NULL), FC_ECANCEL);
        ck_assert_str_eq(fc_errmsg(ctx), "cancelled by the progress callback");
        ck_assert_int_ge(calls, 1);
        fprintf(stderr, "co-location %s cancelled after %.3f s\n", cells ? "cells" : "sweep",
                seconds_since(&t0));
        /* the moments' pass by stratum */
        static uint32_t count[N];
        for (size_t i = 0; i < N; i++)
            count[i] = 1 + (uint32_t)(next_u64() % 1000);
        fc_neighbourhoods nb = {.count = count};
        static double mean[64], var[64];
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert_int_eq(fc_colocation_moments(ctx, N, x, y, s, 8, stratum, 3, &nb, &p, mean, var),
                         FC_ECANCEL);
        fprintf(stderr, "null moments %s cancelled after %.3f s\n", cells ? "cells" : "sweep",
                seconds_since(&t0));
        fc_context_set_progress(ctx, NULL, NULL);
    }
}
END_TEST

static Suite *colocation_suite(void)
{
    Suite *s = suite_create("colocation");
    TCase *tc = fc_tcase("colocation");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, by_eye);
    tcase_add_test(tc, alone_among_its_own);
    tcase_add_test(tc, refuses_bad_input);
    tcase_add_test(tc, matches_brute_force);
    tcase_add_test(tc, matches_brute_force_geodesic);
    tcase_add_test(tc, same_bits_whatever_the_thread_count);
    tcase_add_test(tc, sweep_gives_the_cells_bits);
    tcase_add_test(tc, null_moments_are_exact);
    tcase_add_test(tc, cancel_stops_the_passes);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(colocation_suite)
