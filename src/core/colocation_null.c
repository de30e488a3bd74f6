/* SPDX-License-Identifier: MIT */
/* Significance of the co-location quotients, from the exact mean and
 * variance of their numerators under the clusters' null model.
 *
 * T(A, B) = sum over i, j of W_ij a_i b_j, with W_ij = 1/|N(i)| for j in
 * N(i) (else 0), a_i = [firm i is of A], b_j = [firm j is of B]. The null
 * model shuffles the sector codes among the firms of each stratum (region,
 * or the whole input), independently. A Monte Carlo test would recount
 * every neighbourhood for every run: 999 runs of a million firms, some 45
 * minutes. But T is a bilinear form of the labels, so its mean and variance
 * under the null are exact sums over the neighbourhoods, taken once:
 *   E[T]   = sum over (i, j) of W_ij P(i is A, j is B),
 *   E[T^2] = sum over (i, j), (k, l) of W_ij W_kl P(i, k are A; j, l are B),
 * where P for distinct positions is a product over strata of falling
 * factorials, n_sA (n_sA - 1) ... / (n_s (n_s - 1) ...). The quadruples are
 * grouped by which of i, j, k, l coincide (inclusion and exclusion), and
 * each group by the strata of its positions, so that the whole sum needs
 * per stratum (and pair and triple of strata) only:
 *   M[s][t]   = sum of W_ij,            i in s, j in t
 *   M2[s][t]  = sum of W_ij^2
 *   X[s][t]   = sum of W_ij W_ji
 *   KR[s][t][t']  = sum over i in s of R_i[t] R_i[t']   (R_i[t]: row sum of i into t)
 *   KC[s][t][t']  = sum over j in s of C_j[t] C_j[t']   (C_j[t]: column sum of j from t)
 *   KRC[s][t][t'] = sum over i in s of R_i[t] C_i[t']
 * One more pass over the neighbourhoods (after the quotients' pass, which
 * gives |N(i)|) finds R and C. With one stratum (no regions), R_i is 1 and
 * C_i the sum of u over N(i), which the quotients' pass gathers itself
 * (colocation.c): then no second pass is needed. The sums are taken in
 * 64.64 fixed point, so any thread count gives the same bits;
 * check_colocation compares the moments with every permutation of small
 * cases.
 *
 * The p-value is then the normal approximation P(Z >= (T - E[T]) / sd):
 * one-sided, for attraction (B over-represented around A). Where the
 * expected T is below FC_CLQ_MIN_EXPECTED, the normal curve is no guide to
 * so few (it would understate the right tail), and the p-value is
 * Cantelli's bound Var / (Var + d^2) for d = T - E[T] > 0 (1 otherwise),
 * which holds for any distribution: never too small. NULL where T cannot
 * vary. */
#include "core/colocation_sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 fixed;
#define FIXED_ONE 18446744073709551616.0 /* 2^64 */

static fixed to_fixed(double v) { return (fixed)(v * FIXED_ONE); }
static double from_fixed(fixed v) { return (double)v / FIXED_ONE; }

/* The neighbourhood sums, per stratum; dense, n_strata^2 or ^3. */
typedef struct null_sums {
    size_t K; /* strata */
    fixed *m, *m2, *x;   /* [s * K + t] */
    fixed *kr, *kc, *krc; /* [(s * K + t) * K + t'] */
} null_sums;

static bool sums_alloc(null_sums *z, size_t K)
{
    z->K = K;
    z->m = calloc(K * K, sizeof *z->m);
    z->m2 = calloc(K * K, sizeof *z->m2);
    z->x = calloc(K * K, sizeof *z->x);
    z->kr = calloc(K * K * K, sizeof *z->kr);
    z->kc = calloc(K * K * K, sizeof *z->kc);
    z->krc = calloc(K * K * K, sizeof *z->krc);
    return z->m && z->m2 && z->x && z->kr && z->kc && z->krc;
}

static void sums_free(null_sums *z)
{
    free(z->m), free(z->m2), free(z->x), free(z->kr), free(z->kc), free(z->krc);
}

static void sums_add(null_sums *to, const null_sums *from)
{
    const size_t K = to->K;
    for (size_t k = 0; k < K * K; k++) {
        to->m[k] += from->m[k];
        to->m2[k] += from->m2[k];
        to->x[k] += from->x[k];
    }
    for (size_t k = 0; k < K * K * K; k++) {
        to->kr[k] += from->kr[k];
        to->kc[k] += from->kc[k];
        to->krc[k] += from->krc[k];
    }
}

/* ---- the pass over the neighbourhoods ------------------------------------ */

typedef struct pass_job {
    const grid *g;
    size_t K;
    uint32_t *stratum; /* by sorted position */
    double *u;         /* by sorted position: 1 / |N|, 0 without neighbours */
    /* per cell, its strata: [cell_start[c], + len[c]) of hs, hn, hu */
    uint32_t *hs, *hn, *hlen;
    double *hu;
    double *lo, *hi;   /* cell boxes, 3 values each */
    null_sums *sums;   /* per thread */
    double *scratch;   /* per thread: 4 K doubles */
    uint32_t *partial; /* per thread: max_partial cells */
    size_t max_partial;
} pass_job;


/* Adds cell d's strata to the counts and u sums. */
static void add_cell(const pass_job *j, size_t d, double *cnt, double *us)
{
    const uint32_t at = j->g->cell_start[d];
    for (uint32_t e = at; e < at + j->hlen[d]; e++) {
        cnt[j->hs[e]] += j->hn[e];
        us[j->hs[e]] += j->hu[e];
    }
}

/* Point p's neighbours by stratum: counts and sums of u, on top of the
 * cells shared by its whole cell. */
static void point_neighbours(const pass_job *j, uint32_t p, size_t n_partial,
                             const uint32_t *partial, double *cnt, double *us)
{
    const grid *g = j->g;
    double at[3];
    for (int d = 0; d < g->dims; d++)
        at[d] = g->s[d][p];
    for (size_t k = 0; k < n_partial; k++) {
        const size_t d = partial[k];
        const bool own = p >= g->cell_start[d] && p < g->cell_start[d + 1];
        box_coverage cv = fc_grid_box_coverage(g, at, at, j->lo + d * 3, j->hi + d * 3);
        if (cv == BOX_FULL && !own) {
            add_cell(j, d, cnt, us);
        } else if (cv != BOX_NONE) {
            for (uint32_t q = g->cell_start[d]; q < g->cell_start[d + 1]; q++)
                if (q != p && within(g, p, q)) {
                    cnt[j->stratum[q]] += 1;
                    us[j->stratum[q]] += j->u[q];
                }
        }
    }
}

/* Adds a point's part of the sums: its stratum s, u = 1/|N|, and its
 * neighbours' counts and sums of u by stratum; R = u * counts, C = sums of
 * u. */
static void add_point(size_t K, null_sums *z, size_t s, double u, const double *cnt,
                      const double *us)
{
    for (size_t t = 0; t < K; t++) {
        if (cnt[t] == 0)
            continue;
        const double r_t = u * cnt[t], c_t = us[t];
        z->m[s * K + t] += to_fixed(r_t);
        z->m2[s * K + t] += to_fixed(u * r_t);
        z->x[s * K + t] += to_fixed(u * c_t);
        for (size_t v = 0; v < K; v++) {
            if (cnt[v] == 0)
                continue;
            const size_t at = (s * K + t) * K + v;
            z->kr[at] += to_fixed(r_t * u * cnt[v]);
            z->kc[at] += to_fixed(c_t * us[v]);
            z->krc[at] += to_fixed(r_t * us[v]);
        }
    }
}

static void pass_cells(void *arg, size_t begin, size_t end, int worker)
{
    const pass_job *j = arg;
    const grid *g = j->g;
    const size_t K = j->K;
    cell_run *runs = g->runs + (size_t)worker * (size_t)g->max_runs;
    double *cell_cnt = j->scratch + (size_t)worker * 4 * K, *cell_us = cell_cnt + K;
    double *cnt = cell_us + K, *us = cnt + K;
    uint32_t *partial = j->partial + (size_t)worker * j->max_partial;
    for (size_t c = begin; c < end && !fc_parallel_cancelled(); c++) {
        memset(cell_cnt, 0, 2 * K * sizeof *cell_cnt);
        size_t n_partial = 0;
        const double *lo = j->lo + c * 3, *hi = j->hi + c * 3;
        const int nr = fc_grid_neighbour_runs(g, c, runs);
        for (int r = 0; r < nr; r++)
            for (size_t d = runs[r][0]; d < runs[r][1]; d++) {
                box_coverage cv = fc_grid_box_coverage(g, lo, hi, j->lo + d * 3, j->hi + d * 3);
                if (cv == BOX_FULL)
                    add_cell(j, d, cell_cnt, cell_us);
                else if (cv == BOX_PARTIAL)
                    partial[n_partial++] = (uint32_t)d;
            }
        const bool self = fc_grid_box_coverage(g, lo, hi, lo, hi) == BOX_FULL;
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++) {
            if (j->u[p] == 0) /* no neighbour: no part in any sum */
                continue;
            memcpy(cnt, cell_cnt, 2 * K * sizeof *cnt);
            if (self) { /* the cell's histogram counted p itself */
                cnt[j->stratum[p]] -= 1;
                us[j->stratum[p]] -= j->u[p];
            }
            point_neighbours(j, p, n_partial, partial, cnt, us);
            add_point(K, &j->sums[worker], j->stratum[p], j->u[p], cnt, us);
        }
    }
}

/* Each cell's box and strata, with the count and sum of u of each. */
static void describe(void *arg, size_t begin, size_t end, int worker)
{
    const pass_job *j = arg;
    const grid *g = j->g;
    double *cnt = j->scratch + (size_t)worker * 4 * j->K, *us = cnt + j->K;
    for (size_t c = begin; c < end; c++) {
        fc_grid_cell_box(g, c, j->lo + c * 3, j->hi + c * 3);
        memset(cnt, 0, 2 * j->K * sizeof *cnt);
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++) {
            cnt[j->stratum[p]] += 1;
            us[j->stratum[p]] += j->u[p];
        }
        uint32_t at = g->cell_start[c], len = 0;
        for (size_t t = 0; t < j->K; t++)
            if (cnt[t] > 0) {
                j->hs[at + len] = (uint32_t)t;
                j->hn[at + len] = (uint32_t)cnt[t];
                j->hu[at + len++] = us[t];
            }
        j->hlen[c] = len;
    }
}

/* One stratum, and the co-location pass gave each point's sum of u: then
 * the sums need no second pass over the neighbourhoods. */
static int sums_of_one_stratum(fc_context *ctx, size_t n, const fc_neighbourhoods *nb,
                               null_sums *total)
{
    if (!sums_alloc(total, 1))
        return fc_error(ctx, FC_ENOMEM, "out of memory testing the co-location of %zu firms", n);
    for (size_t i = 0; i < n; i++)
        if (nb->count[i]) { /* no neighbour: no part in any sum */
            const double cnt = nb->count[i], us = nb->u_sum[i];
            add_point(1, total, 0, 1.0 / nb->count[i], &cnt, &us);
        }
    return FC_OK;
}

/* The sums on a grid of cells, into total. */
static int sums_by_cells(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                         const uint32_t *stratum, size_t K, const uint32_t *neighbours,
                         const fc_dbscan_params *metric, null_sums *total)
{
    int status = fc_grid_build(ctx, g, n, x, y, NULL, metric,
                               fc_grid_default_side(metric) / FC_COLOCATION_SUBDIVIDE);
    pass_job j = {.g = g, .K = K};
    if (status == FC_OK) {
        j.max_partial = fc_grid_max_near_cells(g);
        j.stratum = malloc(n * sizeof *j.stratum);
        j.u = malloc(n * sizeof *j.u);
        j.hs = malloc(n * sizeof *j.hs);
        j.hn = malloc(n * sizeof *j.hn);
        j.hu = malloc(n * sizeof *j.hu);
        j.hlen = malloc(g->n_cells * sizeof *j.hlen);
        j.lo = malloc(g->n_cells * 3 * sizeof *j.lo);
        j.hi = malloc(g->n_cells * 3 * sizeof *j.hi);
        j.sums = calloc((size_t)g->threads, sizeof *j.sums);
        j.scratch = malloc((size_t)g->threads * 4 * K * sizeof *j.scratch);
        j.partial = malloc((size_t)g->threads * j.max_partial * sizeof *j.partial);
        bool ok = j.stratum && j.u && j.hs && j.hn && j.hu && j.hlen && j.lo && j.hi && j.sums &&
                  j.scratch && j.partial;
        for (int t = 0; ok && t < g->threads; t++)
            ok = sums_alloc(&j.sums[t], K);
        if (!ok)
            status = fc_error(ctx, FC_ENOMEM, "out of memory testing the co-location of %zu firms",
                              n);
    }
    if (status == FC_OK) {
        for (size_t p = 0; p < n; p++) {
            const uint32_t i = g->order[p];
            j.stratum[p] = stratum ? stratum[i] : 0;
            j.u[p] = neighbours[i] ? 1.0 / neighbours[i] : 0;
        }
        fc_parallel_for(g->threads, g->n_cells, 256, describe, &j);
        status = fc_parallel_for_cancel(ctx, g->threads, g->n_cells, 16, pass_cells, &j);
        for (int t = 0; status == FC_OK && t < g->threads; t++)
            sums_add(total, &j.sums[t]);
    }
    for (int t = 0; j.sums && t < g->threads; t++)
        sums_free(&j.sums[t]);
    free(j.sums), free(j.stratum), free(j.u), free(j.hs), free(j.hn), free(j.hu), free(j.hlen);
    free(j.lo), free(j.hi), free(j.scratch), free(j.partial);
    return status;
}

static bool sweep_strata = true; /* see fc_colocation_moments_by_cells() */

void fc_colocation_moments_by_cells(bool by_cells)
{
    sweep_strata = !by_cells;
}

/* The strata pass by the sweep (colocation_sweep.c): each point's
 * neighbours by stratum, their u summed in fixed point. */
typedef struct strata_visit {
    size_t K;
    const uint32_t *stratum, *neighbours; /* by input index */
    int u_bits;
    double unit;      /* 2^-u_bits: a weight of 1 as a u */
    null_sums *sums;  /* per thread */
    double *scratch;  /* per thread: 2 K doubles */
} strata_visit;

static void visit_strata(void *arg, int worker, uint32_t i, const uint32_t *count,
                         const uint64_t *weight)
{
    const strata_visit *v = arg;
    double *cnt = v->scratch + (size_t)worker * 2 * v->K, *us = cnt + v->K;
    for (size_t t = 0; t < v->K; t++) { /* times a power of two: exact */
        cnt[t] = count[t];
        us[t] = (double)weight[t] * v->unit;
    }
    add_point(v->K, &v->sums[worker], v->stratum ? v->stratum[i] : 0, 1.0 / v->neighbours[i],
              cnt, us);
}

/* The sums by the sweep, into total; FC_EINVAL, said nowhere, where the
 * sweep leaves the points to the cells. */
static int sums_by_sweep(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                         const uint32_t *stratum, size_t K, const uint32_t *neighbours,
                         const fc_dbscan_params *params, null_sums *total)
{
    g->threads = fc_threads_or_cores(params->threads);
    strata_visit v = {.K = K, .stratum = stratum, .neighbours = neighbours, .u_bits = 63};
    for (size_t rest = n; rest > 0; rest >>= 1) /* a point's sum of u below 2^63 */
        v.u_bits--;
    v.unit = ldexp(1, -v.u_bits);
    uint32_t *zero = stratum ? NULL : calloc(n ? n : 1, sizeof *zero);
    uint64_t *weight = malloc((n ? n : 1) * sizeof *weight);
    v.sums = calloc((size_t)g->threads, sizeof *v.sums);
    v.scratch = malloc((size_t)g->threads * 2 * K * sizeof *v.scratch);
    bool ok = weight && v.sums && v.scratch && (stratum || zero);
    for (int t = 0; ok && t < g->threads; t++)
        ok = sums_alloc(&v.sums[t], K);
    int status = ok ? FC_OK : FC_ENOMEM;
    for (size_t i = 0; ok && i < n; i++)
        weight[i] = neighbours[i] ? ((uint64_t)1 << v.u_bits) / neighbours[i] : 0;
    if (status == FC_OK)
        status = fc_colocation_sweep_strata(ctx, g, n, x, y, stratum ? stratum : zero, K, weight,
                                            fc_grid_default_side(params) /
                                                FC_COLOCATION_SUBDIVIDE,
                                            visit_strata, &v);
    for (int t = 0; status == FC_OK && t < g->threads; t++)
        sums_add(total, &v.sums[t]);
    for (int t = 0; v.sums && t < g->threads; t++)
        sums_free(&v.sums[t]);
    free(v.sums), free(v.scratch), free(weight), free(zero);
    return status;
}

/* The sums over the neighbourhoods of n points in K strata: by the sweep,
 * or, where it declines, on a grid of cells. */
static int neighbourhood_sums(fc_context *ctx, size_t n, const double *x, const double *y,
                              const uint32_t *stratum, size_t K, const fc_neighbourhoods *nb,
                              const fc_dbscan_params *params, null_sums *total)
{
    if (K == 1 && nb->u_sum)
        return sums_of_one_stratum(ctx, n, nb, total);
    const uint32_t *neighbours = nb->count;
    fc_dbscan_params metric = *params;
    metric.weight = NULL;
    metric.min_pts = 1;
    grid g = {0};
    int status = fc_grid_metric(ctx, &g, n, x, y, &metric);
    if (status == FC_OK && !sums_alloc(total, K))
        status = fc_error(ctx, FC_ENOMEM, "out of memory testing the co-location of %zu firms", n);
    int swept = FC_EINVAL;
    if (status == FC_OK && params->threads >= 0 && sweep_strata)
        swept = sums_by_sweep(ctx, &g, n, x, y, stratum, K, neighbours, &metric, total);
    if (swept == FC_ENOMEM)
        status = fc_error(ctx, FC_ENOMEM, "out of memory testing the co-location of %zu firms", n);
    else if (swept != FC_OK && swept != FC_EINVAL)
        status = swept;
    if (status == FC_OK && swept != FC_OK)
        status = sums_by_cells(ctx, &g, n, x, y, stratum, K, neighbours, &metric, total);
    fc_grid_free(&g);
    return status;
}

/* ---- the moments --------------------------------------------------------- */

/* What a position must be: of A, of B, or (coinciding positions) both. */
enum { IS_A = 1, IS_B = 2 };

typedef struct stratum_counts {
    size_t K;
    const double *n;          /* firms per stratum */
    const double *na, *nb;    /* firms of A and of B per stratum */
    bool same;                /* A = B */
} stratum_counts;

/* x (x - 1) ... (x - k + 1) */
static double falling(double x, int k)
{
    double f = 1;
    for (int i = 0; i < k; i++)
        f *= x - i;
    return f;
}

/* The probability that m distinct positions, in strata at[] and required
 * to be of the sectors need[], all are under the null. */
static double chance(const stratum_counts *sc, int m, const size_t *at, const int *need)
{
    int alpha[4] = {0}, beta[4] = {0};
    size_t strata[4];
    int k = 0;
    for (int i = 0; i < m; i++) {
        int want = sc->same ? IS_A : need[i];
        if (want == (IS_A | IS_B))
            return 0; /* one firm of two sectors */
        int e = 0;
        while (e < k && strata[e] != at[i])
            e++;
        if (e == k) {
            strata[k++] = at[i];
            alpha[e] = beta[e] = 0;
        }
        alpha[e] += want == IS_A;
        beta[e] += want == IS_B;
    }
    double p = 1;
    for (int e = 0; e < k && p > 0; e++) {
        const size_t s = strata[e];
        const double ways = falling(sc->n[s], alpha[e] + beta[e]);
        /* a stratum of fewer firms than positions: not possible */
        p = ways > 0 ? p * falling(sc->na[s], alpha[e]) * falling(sc->nb[s], beta[e]) / ways : 0;
    }
    return p;
}

#define P2(s, a, t, b) chance(sc, 2, (size_t[]){s, t}, (int[]){a, b})
#define P3(s, a, t, b, u, c) chance(sc, 3, (size_t[]){s, t, u}, (int[]){a, b, c})
#define P4(s, a, t, b, u, c, v, d) chance(sc, 4, (size_t[]){s, t, u, v}, (int[]){a, b, c, d})

/* Var(T) for one pair (A, B), from the sums (as doubles). E[T]^2 cancels
 * from the all-distinct term: only quadruples whose strata overlap are
 * summed there. */
typedef struct moments_in {
    size_t K;
    const double *m, *m2, *x, *kr, *kc, *krc;
} moments_in;

static double variance(const moments_in *z, const stratum_counts *sc)
{
    const size_t K = z->K;
    const int A = IS_A, B = IS_B, AB = IS_A | IS_B;
    double v = 0;
    for (size_t s = 0; s < K; s++)
        for (size_t t = 0; t < K; t++) {
            const double m = z->m[s * K + t], m2 = z->m2[s * K + t], x = z->x[s * K + t];
            /* i = k and j = l; i = l and j = k; the all-distinct corrections */
            v += m2 * (P2(s, A, t, B) + P4(s, A, t, B, s, A, t, B));
            v += x * (P2(s, AB, t, AB) + P4(s, A, t, B, t, A, s, B));
            v -= m2 * (P3(s, A, t, B, t, B) + P3(s, A, s, A, t, B));
            /* i = l only and j = k only, less their j = k and i = l terms,
             * as if those positions were distinct */
            v -= x * (P3(s, AB, t, B, t, A) + P3(s, A, t, AB, s, B));
            if (m == 0) /* then no firm of s has a neighbour in t: kr, kc, krc are 0 too */
                continue;
            for (size_t s2 = 0; s2 < K; s2++) /* all distinct, strata overlapping */
                for (size_t t2 = 0; t2 < K; t2++) {
                    const double m_2 = z->m[s2 * K + t2];
                    if (m_2 != 0 && (s2 == s || s2 == t || t2 == s || t2 == t))
                        v += m * m_2 *
                             (P4(s, A, t, B, s2, A, t2, B) - P2(s, A, t, B) * P2(s2, A, t2, B));
                }
            for (size_t u = 0; u < K; u++) {
                const size_t at = (s * K + t) * K + u;
                const double kr = z->kr[at], kc = z->kc[at], krc = z->krc[at];
                /* kr: i = k (row s, j in t, l in u); kc: j = l (column s, i in t, k in u);
                 * krc: i = l (i in s, j in t, k in u) and j = k (j in s, l in t, i in u) */
                v += kr * (P3(s, A, t, B, u, B) - P4(s, A, t, B, s, A, u, B));
                v += kc * (P3(t, A, u, A, s, B) - P4(t, A, s, B, u, A, s, B));
                v += krc * (P3(s, AB, t, B, u, A) - P4(s, A, t, B, u, A, s, B));
                v += krc * (P3(u, A, s, AB, t, B) - P4(u, A, s, B, s, A, t, B));
            }
        }
    return v;
}

static double expectation(const moments_in *z, const stratum_counts *sc)
{
    double e = 0;
    for (size_t s = 0; s < z->K; s++)
        for (size_t t = 0; t < z->K; t++)
            if (z->m[s * z->K + t] != 0)
                e += z->m[s * z->K + t] * P2(s, IS_A, t, IS_B);
    return e;
}

int fc_colocation_moments(fc_context *ctx, size_t n, const double *x, const double *y,
                          const uint32_t *sector, size_t n_sectors, const uint32_t *stratum,
                          size_t n_strata, const fc_neighbourhoods *nb,
                          const fc_dbscan_params *params, double *mean, double *var)
{
    const size_t K = n_strata ? n_strata : 1, S = n_sectors;
    null_sums sums = {0};
    int status = neighbourhood_sums(ctx, n, x, y, stratum, K, nb, params, &sums);
    double *d = status == FC_OK ? malloc((3 * K * K + 3 * K * K * K) * sizeof *d) : NULL;
    double *count = status == FC_OK ? calloc(K * (S + 1), sizeof *count) : NULL;
    if (status == FC_OK && (!d || !count))
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    if (status == FC_OK) {
        moments_in z = {K, d, d + K * K, d + 2 * K * K, d + 3 * K * K, d + 3 * K * K + K * K * K,
                        d + 3 * K * K + 2 * K * K * K};
        for (size_t k = 0; k < K * K; k++) {
            d[k] = from_fixed(sums.m[k]);
            d[K * K + k] = from_fixed(sums.m2[k]);
            d[2 * K * K + k] = from_fixed(sums.x[k]);
        }
        for (size_t k = 0; k < K * K * K; k++) {
            d[3 * K * K + k] = from_fixed(sums.kr[k]);
            d[3 * K * K + K * K * K + k] = from_fixed(sums.kc[k]);
            d[3 * K * K + 2 * K * K * K + k] = from_fixed(sums.krc[k]);
        }
        double *total = count + K * S; /* count[a * K + s]: firms of a in stratum s */
        for (size_t i = 0; i < n; i++) {
            const size_t s = stratum ? stratum[i] : 0;
            count[sector[i] * K + s] += 1;
            total[s] += 1;
        }
        for (size_t a = 0; a < S; a++)
            for (size_t b = 0; b < S; b++) {
                stratum_counts sc = {K, total, count + a * K, count + b * K, a == b};
                mean[a * S + b] = expectation(&z, &sc);
                var[a * S + b] = variance(&z, &sc);
            }
    }
    free(d);
    free(count);
    sums_free(&sums);
    return status;
}

int fc_colocation_pvalues(fc_context *ctx, size_t n, const double *x, const double *y,
                          const uint32_t *sector, const uint32_t *stratum, size_t n_strata,
                          const fc_neighbourhoods *nb, const fc_dbscan_params *params,
                          fc_colocation *c)
{
    const size_t S = c->n_sectors, pairs = S * S;
    double *mean = malloc(pairs * sizeof *mean), *var = malloc(pairs * sizeof *var);
    c->p_value = malloc(pairs * sizeof *c->p_value);
    c->q_value = malloc(pairs * sizeof *c->q_value);
    int status = mean && var && c->p_value && c->q_value
                     ? fc_colocation_moments(ctx, n, x, y, sector, S, stratum, n_strata, nb,
                                             params, mean, var)
                     : fc_error(ctx, FC_ENOMEM, "out of memory");
    size_t tested = 0;
    for (size_t k = 0; k < pairs && status == FC_OK; k++) {
        const double v = var[k] > 0 ? var[k] : 0, d = c->share[k] - mean[k];
        if (!(v > 0))
            c->p_value[k] = NAN; /* T cannot vary: nothing to test */
        else if (mean[k] >= FC_CLQ_MIN_EXPECTED)
            c->p_value[k] = 0.5 * erfc(d / sqrt(v) / M_SQRT2);
        else /* Cantelli: P(T - E >= d) <= v / (v + d^2), whatever T's distribution */
            c->p_value[k] = d > 0 ? v / (v + d * d) : 1;
        tested += v > 0;
    }
    /* q over the pairs tested: NaN p-values stay out of the count */
    double *p = status == FC_OK ? malloc((tested + 1) * sizeof *p) : NULL;
    double *q = status == FC_OK ? malloc((tested + 1) * sizeof *q) : NULL;
    if (status == FC_OK && (!p || !q))
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    if (status == FC_OK) {
        size_t k = 0;
        for (size_t i = 0; i < pairs; i++)
            if (!isnan(c->p_value[i]))
                p[k++] = c->p_value[i];
        status = fc_qvalues(ctx, tested, p, q);
        k = 0;
        for (size_t i = 0; i < pairs && status == FC_OK; i++)
            c->q_value[i] = isnan(c->p_value[i]) ? NAN : q[k++];
    }
    free(p), free(q), free(mean), free(var);
    if (status != FC_OK) {
        free(c->p_value), free(c->q_value);
        c->p_value = c->q_value = NULL;
    }
    return status;
}
