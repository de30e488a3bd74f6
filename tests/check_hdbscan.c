/* SPDX-License-Identifier: MIT */
/* HDBSCAN*: a case to check by eye, then an oracle over random cases that
 * follows the definition with no spanning tree: the components of the
 * mutual reachability graph at every distinct distance, from the largest
 * down (planar and geodesic, duplicates, lattice ties, groups, 1 to 3
 * threads, both selections). */
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
/* Box-Muller: a standard normal deviate. */
static double normal(void) { return sqrt(-2 * log(1 - uniform())) * cos(2 * M_PI * uniform()); }

START_TEST(by_eye)
{
    /* Two blobs on a line, 0..3 and 100..103, and a lone point at 50. With
     * min-samples 2 every blob point's core distance is 1; the lone point's
     * is 47. The hierarchy: at 50 the lone point's side splits from the
     * other blob, both big enough (3); at 47 the lone point falls out of
     * its side; at 1 every blob point falls out. */
    double x[] = {0, 1, 2, 3, 50, 100, 101, 102, 103}, y[9] = {0};
    int32_t cid[9];
    double prob[9], out[9];
    fc_hdbscan_cluster cl[9];
    size_t k = 0;
    fc_hdbscan_params p = {.min_cluster_size = 3, .min_samples = 2};
    ck_assert_int_eq(fc_hdbscan(ctx, 9, x, y, NULL, &p, &(fc_hdbscan_labels){cid, prob, out, NULL}, cl, &k), FC_OK);
    ck_assert_uint_eq(k, 2);
    const int32_t want[9] = {0, 0, 0, 0, 0, 1, 1, 1, 1};
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(cid[i], want[i]);
    ck_assert_double_eq(cl[0].birth, 50);
    ck_assert_double_eq(cl[0].death, 1);
    ck_assert_double_eq_tol(cl[0].stability, (1.0 / 47 - 1.0 / 50) + 4 * (1 - 1.0 / 50), 1e-12);
    ck_assert_double_eq_tol(cl[1].stability, 4 * (1 - 1.0 / 50), 1e-12);
    ck_assert_double_eq(prob[0], 1);
    ck_assert_double_eq_tol(prob[4], 1.0 / 47, 1e-15);
    ck_assert_double_eq(out[0], 0);
    ck_assert_double_eq_tol(out[4], 46.0 / 47, 1e-15);
    /* leaves: the same two */
    p.selection = FC_SELECT_LEAF;
    ck_assert_int_eq(fc_hdbscan(ctx, 9, x, y, NULL, &p, &(fc_hdbscan_labels){.cluster = cid}, NULL, &k), FC_OK);
    ck_assert_uint_eq(k, 2);
    /* clusters of 6 at least: none (the whole input is never a cluster) */
    p.min_cluster_size = 6;
    ck_assert_int_eq(fc_hdbscan(ctx, 9, x, y, NULL, &p, &(fc_hdbscan_labels){cid, prob, out, NULL}, NULL, &k), FC_OK);
    ck_assert_uint_eq(k, 0);
    for (int i = 0; i < 9; i++)
        ck_assert(cid[i] == -1 && prob[i] == 0);
    p.min_cluster_size = 1;
    ck_assert_int_eq(fc_hdbscan(ctx, 9, x, y, NULL, &p, &(fc_hdbscan_labels){.cluster = cid}, NULL, &k), FC_EINVAL);
}
END_TEST

/* ---- the oracle ------------------------------------------------------------ */

enum { MAX_N = 48 };

typedef struct oracle_cluster {
    int parent;
    double birth, death, stability, subtree_max, value;
    double birth_d, death_d; /* as distances */
    bool has_children, chosen;
    int label, group, first;
} oracle_cluster;

typedef struct oracle {
    size_t n;
    double mrd[MAX_N][MAX_N];
    oracle_cluster c[MAX_N];
    int n_c;
    double fall[MAX_N];
    int fall_from[MAX_N];
} oracle;

static double lambda_of(double d) { return d > 0 ? 1 / d : INFINITY; }

/* The components of the points in set (flags) joined by mrd below limit. */
static int components(const oracle *o, const bool *in, double limit, int *comp)
{
    int n_comp = 0;
    for (size_t i = 0; i < o->n; i++)
        comp[i] = -1;
    for (size_t s = 0; s < o->n; s++) {
        if (!in[s] || comp[s] >= 0)
            continue;
        int stack[MAX_N], top = 0;
        stack[top++] = (int)s;
        comp[s] = n_comp;
        while (top) {
            int a = stack[--top];
            for (size_t b = 0; b < o->n; b++)
                if (in[b] && comp[b] < 0 && o->mrd[a][b] < limit) {
                    comp[b] = n_comp;
                    stack[top++] = (int)b;
                }
        }
        n_comp++;
    }
    return n_comp;
}

static int add_cluster(oracle *o, int parent, int group, double birth)
{
    o->c[o->n_c] = (oracle_cluster){.parent = parent, .birth = lambda_of(birth), .label = -1,
                                    .group = group, .first = -1, .birth_d = birth,
                                    .death_d = INFINITY};
    if (parent >= 0)
        o->c[parent].has_children = true;
    return o->n_c++;
}

/* Cluster c holds the points of `in`, which are one component below
 * `limit`; goes down the distinct distances below it. */
static void descend(oracle *o, const bool *in, int c, double limit, size_t min_size,
                    const double *levels, size_t n_levels)
{
    for (size_t l = 0; l < n_levels; l++) {
        if (levels[l] >= limit)
            continue;
        int comp[MAX_N];
        int n_comp = components(o, in, levels[l], comp);
        size_t size[MAX_N] = {0};
        for (size_t i = 0; i < o->n; i++)
            if (comp[i] >= 0)
                size[comp[i]]++;
        if (n_comp == 1)
            continue; /* nothing parts at this distance */
        const double lambda = lambda_of(levels[l]);
        int big = 0;
        for (int k = 0; k < n_comp; k++)
            big += size[k] >= min_size;
        oracle_cluster *cl = &o->c[c];
        for (int k = 0; k < n_comp; k++) {
            bool part[MAX_N];
            for (size_t i = 0; i < o->n; i++)
                part[i] = comp[i] == k;
            if (size[k] < min_size) {
                for (size_t i = 0; i < o->n; i++)
                    if (part[i]) {
                        o->fall[i] = lambda;
                        o->fall_from[i] = c;
                        cl->stability += lambda - cl->birth;
                    }
                cl->death = fmax(cl->death, lambda);
                cl->death_d = fmin(cl->death_d, levels[l]);
            } else if (big == 1) {
                descend(o, part, c, levels[l], min_size, levels, n_levels);
                cl = &o->c[c];
            } else {
                cl->stability += (double)size[k] * (lambda - cl->birth);
                cl->death = fmax(cl->death, lambda);
                cl->death_d = fmin(cl->death_d, levels[l]);
                int child = add_cluster(o, c, cl->group, levels[l]);
                descend(o, part, child, levels[l], min_size, levels, n_levels);
                cl = &o->c[c];
            }
        }
        return; /* every part went its way */
    }
    /* no distance below: only zeros joined them; they fall out at infinity */
    oracle_cluster *cl = &o->c[c];
    for (size_t i = 0; i < o->n; i++)
        if (in[i]) {
            o->fall[i] = INFINITY;
            o->fall_from[i] = c;
            cl->stability += INFINITY;
            cl->death = INFINITY;
            cl->death_d = 0;
        }
}

static int compare_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

/* The whole of HDBSCAN* by its definition. */
static void oracle_run(oracle *o, size_t n, const double *x, const double *y, const uint32_t *g,
                       bool geodesic, size_t min_size, size_t min_samples, int selection,
                       int32_t *cid, double *prob, double *outlier, fc_hdbscan_cluster *cl,
                       size_t *k_out)
{
    struct geod_geodesic geod;
    geod_init(&geod, 6378137, 1 / 298.257223563);
    static double d[MAX_N][MAX_N];
    double core[MAX_N];
    memset(o, 0, sizeof *o);
    o->n = n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            size_t a = i < j ? i : j, b = i < j ? j : i;
            double s12 = 0;
            if (geodesic && a != b)
                geod_inverse(&geod, y[a], x[a], y[b], x[b], &s12, NULL, NULL);
            else if (!geodesic)
                s12 = sqrt((x[a] - x[b]) * (x[a] - x[b]) + (y[a] - y[b]) * (y[a] - y[b]));
            d[i][j] = s12;
        }
    size_t group_size[4] = {0};
    for (size_t i = 0; i < n; i++)
        group_size[g[i]]++;
    for (size_t i = 0; i < n; i++) {
        double row[MAX_N];
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (g[j] == g[i])
                row[m++] = d[i][j];
        qsort(row, m, sizeof *row, compare_desc);
        core[i] = m >= min_samples ? row[m - min_samples] : NAN;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            o->mrd[i][j] = g[i] != g[j] ? INFINITY : fmax(fmax(core[i], core[j]), d[i][j]);
    for (size_t i = 0; i < n; i++) {
        o->fall[i] = NAN;
        o->fall_from[i] = -1;
    }
    for (uint32_t grp = 0; grp < 4; grp++) {
        if (group_size[grp] < min_size || group_size[grp] < min_samples)
            continue;
        bool in[MAX_N];
        double levels[MAX_N * MAX_N];
        size_t n_levels = 0;
        for (size_t i = 0; i < n; i++) {
            in[i] = g[i] == grp;
            for (size_t j = i + 1; j < n; j++)
                if (g[i] == grp && g[j] == grp)
                    levels[n_levels++] = o->mrd[i][j];
        }
        qsort(levels, n_levels, sizeof *levels, compare_desc);
        int root = add_cluster(o, -1, (int)grp, INFINITY);
        descend(o, in, root, INFINITY, min_size, levels, n_levels);
    }
    /* choose: children sum, from the last cluster made back */
    double below_sum[MAX_N] = {0};
    for (int c = o->n_c - 1; c >= 0; c--) {
        oracle_cluster *k = &o->c[c];
        k->subtree_max = fmax(k->subtree_max, k->death);
        if (selection == FC_SELECT_LEAF)
            k->chosen = !k->has_children;
        else if (k->has_children && below_sum[c] > k->stability)
            k->value = below_sum[c];
        else
            k->chosen = true, k->value = k->stability;
        if (k->parent < 0) {
            k->chosen = false;
            continue;
        }
        below_sum[k->parent] += k->value;
        o->c[k->parent].subtree_max = fmax(o->c[k->parent].subtree_max, k->subtree_max);
    }
    for (int c = 0; c < o->n_c; c++) {
        oracle_cluster *k = &o->c[c];
        int above = k->parent < 0 ? -1 : o->c[k->parent].label;
        k->chosen = k->chosen && above < 0;
        k->label = above >= 0 ? above : k->chosen ? c : -1;
    }
    for (size_t i = 0; i < n; i++) {
        int lab = o->fall_from[i] < 0 ? -1 : o->c[o->fall_from[i]].label;
        if (lab >= 0 && o->c[lab].first < 0)
            o->c[lab].first = (int)i;
    }
    /* number by (group, first member) */
    int number[MAX_N];
    size_t k = 0;
    for (uint32_t grp = 0; grp < 4; grp++)
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < o->n_c; c++)
                if (o->c[c].chosen && o->c[c].group == (int)grp && o->c[c].first == (int)i) {
                    number[c] = (int)k;
                    cl[k++] = (fc_hdbscan_cluster){o->c[c].stability, o->c[c].birth_d,
                                                   o->c[c].death_d};
                }
    *k_out = k;
    for (size_t i = 0; i < n; i++) {
        int from = o->fall_from[i], lab = from < 0 ? -1 : o->c[from].label;
        cid[i] = lab < 0 ? -1 : number[lab];
        double lambda = o->fall[i];
        prob[i] = 0;
        if (lab >= 0) {
            double top = o->c[lab].death;
            prob[i] = top == 0 || !isfinite(lambda) ? 1 : fmin(lambda, top) / top;
        }
        outlier[i] = NAN;
        if (from >= 0) {
            double top = o->c[from].subtree_max;
            outlier[i] = isinf(top) ? (isinf(lambda) ? 0 : 1) : top > 0 ? 1 - lambda / top : 0;
        }
    }
}

static bool same_double(double a, double b, double rel)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b))
        return a == b;
    return fabs(a - b) <= rel * fmax(fabs(a), fabs(b));
}

START_TEST(matches_the_definition)
{
    enum { CASES = 3000 };
    static oracle o;
    double x[MAX_N], y[MAX_N], prob[MAX_N], out[MAX_N], wprob[MAX_N], wout[MAX_N];
    int32_t cid[MAX_N], want[MAX_N];
    uint32_t g[MAX_N];
    fc_hdbscan_cluster cl[MAX_N], wcl[MAX_N];
    rng_state = 15;
    size_t clusters_seen = 0, noise_seen = 0;
    for (int t = 0; t < CASES; t++) {
        const bool geodesic = t % 4 == 0;
        const size_t n = 1 + below(MAX_N), n_groups = 1 + below(t % 5 == 0 ? 3 : 1);
        const size_t min_size = 2 + below(5), min_samples = 1 + below(6);
        const int selection = t % 3 == 0 ? FC_SELECT_LEAF : FC_SELECT_EOM;
        const int kind = (int)below(3); /* blobs, a lattice (ties), a line (collinear) */
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && below(6) == 0) { /* duplicates */
                x[i] = x[i - 1];
                y[i] = y[i - 1];
            } else if (geodesic) {
                x[i] = 71.4 + (below(3) * 0.2) + uniform() * 0.02;
                y[i] = (t % 8 ? 51.1 : 89.9) + uniform() * 0.02;
            } else if (kind == 1) {
                x[i] = (double)below(12);
                y[i] = (double)below(12);
            } else if (kind == 2) {
                x[i] = (double)below(30);
                y[i] = 2 * x[i];
            } else {
                double cx = (double)(below(3) * 50);
                x[i] = cx + uniform() * (1 + below(8));
                y[i] = uniform() * 5;
            }
            g[i] = (uint32_t)below(n_groups);
        }
        fc_hdbscan_params p = {.min_cluster_size = min_size, .min_samples = min_samples,
                               .selection = selection, .threads = 1 + t % 3,
                               .distance = geodesic ? FC_DISTANCE_GEODESIC : FC_DISTANCE_PLANAR};
        size_t k = 0, wk = 0;
        ck_assert_int_eq(fc_hdbscan(ctx, n, x, y, g, &p, &(fc_hdbscan_labels){cid, prob, out, NULL}, cl, &k), FC_OK);
        oracle_run(&o, n, x, y, g, geodesic, min_size, min_samples, selection, want, wprob, wout,
                   wcl, &wk);
        ck_assert_msg(k == wk, "case %d (n %zu, mcs %zu, ms %zu, %s): %zu clusters, by the "
                      "definition %zu", t, n, min_size, min_samples,
                      selection ? "leaf" : "eom", k, wk);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(cid[i] == want[i], "case %d point %zu: cluster %d, by the definition %d",
                          t, i, cid[i], want[i]);
            ck_assert_msg(same_double(prob[i], wprob[i], 1e-12) &&
                              same_double(out[i], wout[i], 1e-12),
                          "case %d point %zu: probability %.17g outlier %.17g, by the "
                          "definition %.17g %.17g", t, i, prob[i], out[i], wprob[i], wout[i]);
            noise_seen += cid[i] < 0;
        }
        for (size_t c = 0; c < k; c++)
            ck_assert_msg(cl[c].birth == wcl[c].birth && cl[c].death == wcl[c].death &&
                              same_double(cl[c].stability, wcl[c].stability, 1e-9),
                          "case %d cluster %zu: birth %g death %g stability %.17g, by the "
                          "definition %g %g %.17g", t, c, cl[c].birth, cl[c].death,
                          cl[c].stability, wcl[c].birth, wcl[c].death, wcl[c].stability);
        clusters_seen += k;
    }
    ck_assert_uint_gt(clusters_seen, 2000);
    ck_assert_uint_gt(noise_seen, 2000);
}
END_TEST

START_TEST(same_for_any_thread_count)
{
    enum { N = 20000 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    int32_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    double *pa = malloc(N * sizeof *pa), *pb = malloc(N * sizeof *pb);
    uint32_t *g = malloc(N * sizeof *g);
    rng_state = 16;
    for (size_t i = 0; i < N; i++) { /* towns of many sizes, duplicates */
        double cx = (double)below(30) * 3000, s = 20 + (double)below(5) * 200;
        x[i] = i && below(10) == 0 ? x[i - 1] : cx + normal() * s;
        y[i] = i && below(10) == 0 ? y[i - 1] : normal() * s;
        g[i] = (uint32_t)below(3);
    }
    fc_hdbscan_params p = {.min_cluster_size = 15, .min_samples = 10, .threads = 1};
    size_t ka = 0, kb = 0;
    ck_assert_int_eq(fc_hdbscan(ctx, N, x, y, g, &p, &(fc_hdbscan_labels){a, pa, NULL, NULL}, NULL, &ka), FC_OK);
    p.threads = 3;
    ck_assert_int_eq(fc_hdbscan(ctx, N, x, y, g, &p, &(fc_hdbscan_labels){b, pb, NULL, NULL}, NULL, &kb), FC_OK);
    ck_assert_uint_eq(ka, kb);
    ck_assert_uint_gt(ka, 30);
    ck_assert(memcmp(a, b, N * sizeof *a) == 0);
    ck_assert(memcmp(pa, pb, N * sizeof *pa) == 0);
    free(x), free(y), free(a), free(b), free(pa), free(pb), free(g);
}
END_TEST

static Suite *hdbscan_suite(void)
{
    Suite *s = suite_create("hdbscan");
    TCase *tc = fc_tcase("hdbscan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, by_eye);
    tcase_add_test(tc, matches_the_definition);
    tcase_add_test(tc, same_for_any_thread_count);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(hdbscan_suite)
