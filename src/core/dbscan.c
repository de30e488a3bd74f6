/* SPDX-License-Identifier: MIT */
/* Exact grid DBSCAN, planar or geodesic.
 *
 * The grid (grid.c) bins points into cells, so that any two points of one
 * cell are within eps of each other, sorted by (group, cell). Then:
 *  1. core points: a cell holding at least min_pts points is all core with
 *     no distance test; other points count their neighbours, stopping as
 *     soon as they reach min_pts;
 *  2. clusters: union-find over core points; the core points of one cell are
 *     one component, and two nearby cells are joined when any pair of their
 *     core points is within eps;
 *  3. border points join the cluster of their nearest core point.
 *
 * Threads share the cells of each step. Each cell's core flags and labels
 * are written by one thread only, and the union-find is lock-free (a root is
 * linked under a smaller root by compare-and-swap), so the components, and
 * with them the numbered clusters, do not depend on the thread count.
 *
 * Memory, beyond the caller's arrays: per point a sort index (4 bytes), the
 * sorted coordinates (16 bytes planar, 24 geodesic), a union-find parent (4)
 * and a core flag (1), plus the weights (8) when there are any; per occupied
 * cell 17 to 29 bytes. While sorting, 16 bytes of keys and indices more;
 * the geodesic 3D coordinates are put in sorted order one axis at a time.
 */

#include "core/grid.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>


/* ---- union-find, safe to share between threads -------------------------- */

typedef _Atomic uint32_t atomic_u32;

static inline uint32_t load(atomic_u32 *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

/* A root is only ever linked under a smaller one, and a parent only ever
 * replaced by one of its ancestors, so parent[a] <= a and no thread can
 * make a cycle. */
static uint32_t uf_find(atomic_u32 *parent, uint32_t a)
{
    for (;;) {
        uint32_t p = load(&parent[a]);
        if (p == a)
            return a;
        uint32_t gp = load(&parent[p]);
        if (gp == p)
            return p;
        /* path halving; losing the race to another thread is harmless */
        atomic_compare_exchange_weak_explicit(&parent[a], &p, gp, memory_order_relaxed,
                                              memory_order_relaxed);
        a = gp;
    }
}

static void uf_union(atomic_u32 *parent, uint32_t a, uint32_t b)
{
    for (;;) {
        a = uf_find(parent, a);
        b = uf_find(parent, b);
        if (a == b)
            return;
        if (a > b) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        uint32_t expected = b;
        if (atomic_compare_exchange_strong_explicit(&parent[b], &expected, a,
                                                    memory_order_acq_rel, memory_order_relaxed))
            return;
    }
}

/* ---- the three steps, each parallel over cells -------------------------- */

typedef struct scratch {
    uint32_t *points;
    size_t cap;
} scratch;

typedef struct dbscan_job {
    grid *g;
    scratch *scratch;   /* one per thread */
    double threshold;   /* min_pts, or min_weight */
    uint8_t *core;      /* by sorted position */
    uint32_t *first_core; /* by cell: its first core point, or NO_POINT */
    atomic_u32 *parent; /* by sorted position */
    int32_t *cluster_out;
    uint8_t *role_out;
} dbscan_job;

/* Step 1: core flags, by sorted position. */
static void mark_core(void *arg, size_t begin, size_t end, int worker)
{
    dbscan_job *j = arg;
    const grid *g = j->g;
    cell_run *runs = g->runs + (size_t)worker * (size_t)g->max_runs;
    const double threshold = j->threshold;
    for (size_t c = begin; c < end; c++) {
        const uint32_t s = g->cell_start[c], e = g->cell_start[c + 1];
        double cell_sum = 0;
        if (g->cell_within_eps[c])
            for (uint32_t p = s; p < e; p++)
                cell_sum += weight_at(g, p);
        if (g->cell_within_eps[c] && cell_sum >= threshold) {
            memset(j->core + s, 1, e - s);
            j->first_core[c] = s;
            continue;
        }
        int nr = fc_grid_neighbour_runs(g, c, runs);
        j->first_core[c] = NO_POINT;
        for (uint32_t p = s; p < e; p++) {
            /* A cell within eps holds only neighbours: count it whole. */
            double sum = g->cell_within_eps[c] ? cell_sum : 0;
            for (int r = 0; r < nr && sum < threshold; r++) {
                for (size_t cc = runs[r][0]; cc < runs[r][1] && sum < threshold; cc++) {
                    if (cc == c && g->cell_within_eps[c])
                        continue;
                    for (uint32_t q = g->cell_start[cc]; q < g->cell_start[cc + 1]; q++) {
                        if (within(g, p, q)) {
                            sum += weight_at(g, q);
                            if (sum >= threshold)
                                break;
                        }
                    }
                }
            }
            j->core[p] = sum >= threshold;
            if (j->core[p] && j->first_core[c] == NO_POINT)
                j->first_core[c] = p;
        }
    }
}

/* The bounding box of some points. */
typedef struct box {
    double lo[3], hi[3];
} box;

static void box_add(const grid *g, box *b, uint32_t p)
{
    for (int d = 0; d < g->dims; d++) {
        const double v = g->s[d][p]; /* finite: no NaN care needed */
        b->lo[d] = v < b->lo[d] ? v : b->lo[d];
        b->hi[d] = v > b->hi[d] ? v : b->hi[d];
    }
}

static box core_box(const grid *g, const uint8_t *core, size_t c)
{
    box b = {{INFINITY, INFINITY, INFINITY}, {-INFINITY, -INFINITY, -INFINITY}};
    for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++)
        if (core[p])
            box_add(g, &b, p);
    return b;
}

/* The squared distance from point p to box b, in the same floating-point
 * steps as within(). Rounding is monotone, so it is never more than what
 * within() computes for p and any point in the box: above the limit, no
 * point of the box is a neighbour of p. */
static inline double gap2_point(const grid *g, uint32_t p, const box *b)
{
    double sum = 0;
    for (int d = 0; d < g->dims; d++) {
        double v = g->s[d][p];
        double t = v < b->lo[d] ? b->lo[d] - v : v > b->hi[d] ? v - b->hi[d] : 0;
        sum += t * t;
    }
    return sum;
}

/* Per-thread room for candidate points; false when out of memory. */
static bool scratch_reserve(scratch *sc, size_t m)
{
    if (m <= sc->cap)
        return true;
    uint32_t *more = realloc(sc->points, m * sizeof *more);
    if (!more)
        return false;
    sc->points = more;
    sc->cap = m;
    return true;
}

/* Whether any core point of cell a is within eps of a core point of b.
 * Dense cells hold thousands of points, so only the points near the other
 * cell's core points are paired up: the bound gap2 rules the others out. */
static int cells_touch(const grid *g, const uint8_t *core, size_t a, size_t b, scratch *sc)
{
    const double limit = g->geodesic ? g->chord_max2 : g->eps2;
    const box box_a = core_box(g, core, a);
    box near_a = {{INFINITY, INFINITY, INFINITY}, {-INFINITY, -INFINITY, -INFINITY}};
    const uint32_t b0 = g->cell_start[b], b1 = g->cell_start[b + 1];
    size_t m = 0;
    const bool listed = scratch_reserve(sc, b1 - b0);
    for (uint32_t q = b0; q < b1; q++) {
        if (!core[q] || gap2_point(g, q, &box_a) > limit)
            continue;
        box_add(g, &near_a, q);
        if (listed)
            sc->points[m++] = q;
    }
    if (near_a.lo[0] > near_a.hi[0])
        return 0; /* no core point of b comes near a */
    for (uint32_t p = g->cell_start[a]; p < g->cell_start[a + 1]; p++) {
        if (!core[p] || gap2_point(g, p, &near_a) > limit)
            continue;
        if (listed) {
            for (size_t k = 0; k < m; k++)
                if (within(g, p, sc->points[k]))
                    return 1;
        } else {
            for (uint32_t q = b0; q < b1; q++)
                if (core[q] && within(g, p, q))
                    return 1;
        }
    }
    return 0;
}

/* Joins core points p (of cell a) and q (of cell b) pair by pair: for cells
 * whose core points are not known to form one component. */
static void join_pairwise(const grid *g, const uint8_t *core, atomic_u32 *parent, size_t a,
                          size_t b)
{
    for (uint32_t p = g->cell_start[a]; p < g->cell_start[a + 1]; p++) {
        if (!core[p])
            continue;
        uint32_t q0 = a == b ? p + 1 : g->cell_start[b];
        for (uint32_t q = q0; q < g->cell_start[b + 1]; q++)
            if (core[q] && uf_find(parent, p) != uf_find(parent, q) && within(g, p, q))
                uf_union(parent, p, q);
    }
}

/* Step 2: connected components of core points. */
static void join_cores(void *arg, size_t begin, size_t end, int worker)
{
    dbscan_job *j = arg;
    const grid *g = j->g;
    cell_run *runs = g->runs + (size_t)worker * (size_t)g->max_runs;
    const uint8_t *core = j->core;
    const uint32_t *first_core = j->first_core;
    atomic_u32 *parent = j->parent;
    for (size_t c = begin; c < end; c++) {
        if (first_core[c] == NO_POINT)
            continue;
        if (g->cell_within_eps[c]) {
            for (uint32_t p = first_core[c] + 1; p < g->cell_start[c + 1]; p++)
                if (core[p])
                    uf_union(parent, first_core[c], p);
        } else {
            join_pairwise(g, core, parent, c, c);
        }
        int nr = fc_grid_neighbour_runs(g, c, runs);
        for (int r = 0; r < nr; r++) {
            for (size_t cc = runs[r][0]; cc < runs[r][1]; cc++) {
                if (cc <= c || first_core[cc] == NO_POINT)
                    continue; /* each pair of cells once */
                if (g->cell_within_eps[c] && g->cell_within_eps[cc]) {
                    if (uf_find(parent, first_core[c]) != uf_find(parent, first_core[cc]) &&
                        cells_touch(g, core, c, cc, &j->scratch[worker]))
                        uf_union(parent, first_core[c], first_core[cc]);
                } else {
                    join_pairwise(g, core, parent, c, cc);
                }
            }
        }
    }
}

static void parent_is_self(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    dbscan_job *j = arg;
    for (size_t p = begin; p < end; p++)
        atomic_init(&j->parent[p], (uint32_t)p);
}

/* Every core point's parent becomes its component's root. */
static void flatten(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    dbscan_job *j = arg;
    for (size_t p = begin; p < end; p++)
        if (j->core[p])
            atomic_store_explicit(&j->parent[p], uf_find(j->parent, (uint32_t)p),
                                  memory_order_relaxed);
}

/* Every core point's parent becomes its cluster id, which the numbering left
 * in cluster_out at the root's input index. */
static void parent_to_cluster(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    dbscan_job *j = arg;
    for (size_t p = begin; p < end; p++)
        if (j->core[p])
            atomic_store_explicit(
                &j->parent[p],
                (uint32_t)j->cluster_out[j->g->order[load(&j->parent[p])]],
                memory_order_relaxed);
}

/* Step 3: labels; border points take their nearest core point's cluster. */
static void label(void *arg, size_t begin, size_t end, int worker)
{
    dbscan_job *j = arg;
    const grid *g = j->g;
    cell_run *runs = g->runs + (size_t)worker * (size_t)g->max_runs;
    for (size_t c = begin; c < end; c++) {
        int nr = -1;
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++) {
            uint32_t i = g->order[p];
            if (j->core[p]) {
                j->cluster_out[i] = (int32_t)load(&j->parent[p]);
                if (j->role_out)
                    j->role_out[i] = FC_ROLE_CORE;
                continue;
            }
            if (nr < 0)
                nr = fc_grid_neighbour_runs(g, c, runs);
            double best_d = INFINITY;
            uint32_t best = NO_POINT;
            for (int r = 0; r < nr; r++)
                for (size_t cc = runs[r][0]; cc < runs[r][1]; cc++) {
                    if (j->first_core[cc] == NO_POINT)
                        continue;
                    for (uint32_t q = j->first_core[cc]; q < g->cell_start[cc + 1]; q++) {
                        if (!j->core[q] || !within(g, p, q))
                            continue;
                        double d = distance_key(g, p, q);
                        if (d < best_d || (d == best_d && g->order[q] < g->order[best])) {
                            best_d = d;
                            best = q;
                        }
                    }
                }
            if (best != NO_POINT) {
                j->cluster_out[i] = (int32_t)load(&j->parent[best]);
                if (j->role_out)
                    j->role_out[i] = FC_ROLE_BORDER;
            } else {
                j->cluster_out[i] = -1;
                if (j->role_out)
                    j->role_out[i] = FC_ROLE_NOISE;
            }
        }
    }
}

typedef struct root_key {
    uint32_t group;
    uint32_t min_index;
    uint32_t root;
} root_key;

static int root_key_cmp(const void *a, const void *b)
{
    const root_key *ra = a, *rb = b;
    if (ra->group != rb->group)
        return ra->group < rb->group ? -1 : 1;
    return (ra->min_index > rb->min_index) - (ra->min_index < rb->min_index);
}

/* Numbers the components by (group, smallest input index): leaves each
 * root's cluster id in cluster_out at the root's input index. Returns the
 * number of clusters, or -1 when out of memory. */
static ptrdiff_t number_components(const grid *g, const uint32_t *group, const uint8_t *core,
                                   atomic_u32 *parent, int32_t *cluster_out)
{
    /* A root is its component's first sorted position (parent[p] <= p), so
     * one pass in sorted order finds the smallest input index of each. */
    size_t n_roots = 0;
    for (size_t p = 0; p < g->n; p++) {
        if (!core[p])
            continue;
        uint32_t r = load(&parent[p]), i = g->order[p];
        int32_t *min_index = &cluster_out[g->order[r]];
        if (r == p) {
            *min_index = (int32_t)i;
            n_roots++;
        } else if ((int32_t)i < *min_index) {
            *min_index = (int32_t)i;
        }
    }
    root_key *roots = malloc((n_roots ? n_roots : 1) * sizeof *roots);
    if (!roots)
        return -1;
    size_t k = 0;
    for (size_t p = 0; p < g->n; p++)
        if (core[p] && load(&parent[p]) == p)
            roots[k++] = (root_key){group ? group[g->order[p]] : 0,
                                    (uint32_t)cluster_out[g->order[p]], (uint32_t)p};
    qsort(roots, n_roots, sizeof *roots, root_key_cmp);
    for (k = 0; k < n_roots; k++)
        cluster_out[g->order[roots[k].root]] = (int32_t)k;
    free(roots);
    return (ptrdiff_t)n_roots;
}


int fc_dbscan(fc_context *ctx, size_t n, const double *x, const double *y,
              const uint32_t *group, const fc_dbscan_params *params,
              int32_t *cluster_out, uint8_t *role_out, size_t *n_clusters_out)
{
    fc_dbscan_params p; /* as this library lays it out (struct_size) */
    if (params && fc_struct_in(ctx, params, params->struct_size, &p, sizeof p,
                               "fc_dbscan_params") != FC_OK)
        return fc_errcode(ctx);
    double side = params ? fc_grid_default_side(&p) : 0;
    return fc_dbscan_with_side(ctx, n, x, y, group, params ? &p : NULL, side, cluster_out,
                               role_out, n_clusters_out);
}

int fc_dbscan_with_side(fc_context *ctx, size_t n, const double *x, const double *y,
                        const uint32_t *group, const fc_dbscan_params *params, double side,
                        int32_t *cluster_out, uint8_t *role_out, size_t *n_clusters_out)
{
    grid g = {0};
    int status = fc_grid_metric(ctx, &g, n, x, y, params);
    if (status != FC_OK)
        return status;
    if (n_clusters_out)
        *n_clusters_out = 0;
    if (n == 0)
        return FC_OK;
    dbscan_job job = {.g = &g, .cluster_out = cluster_out, .role_out = role_out};
    job.threshold = params->weight ? params->min_weight : (double)params->min_pts;
    if ((status = fc_grid_build(ctx, &g, n, x, y, group, params, side)) != FC_OK)
        goto done;

    job.core = malloc(n);
    job.scratch = calloc((size_t)g.threads, sizeof *job.scratch);
    job.first_core = malloc(g.n_cells * sizeof *job.first_core);
    job.parent = malloc(n * sizeof *job.parent);
    if (!job.core || !job.scratch || !job.first_core || !job.parent) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory clustering %zu points", n);
        goto done;
    }
    fc_parallel_for(g.threads, g.n_cells, CELL_CHUNK, mark_core, &job);
    fc_parallel_for(g.threads, n, POINT_CHUNK, parent_is_self, &job);
    fc_parallel_for(g.threads, g.n_cells, CELL_CHUNK, join_cores, &job);
    fc_parallel_for(g.threads, n, POINT_CHUNK, flatten, &job);
    ptrdiff_t n_clusters = number_components(&g, group, job.core, job.parent, cluster_out);
    if (n_clusters < 0) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory numbering clusters");
        goto done;
    }
    fc_parallel_for(g.threads, n, POINT_CHUNK, parent_to_cluster, &job);
    fc_parallel_for(g.threads, g.n_cells, CELL_CHUNK, label, &job);
    if (n_clusters_out)
        *n_clusters_out = (size_t)n_clusters;

done:
    fc_grid_free(&g);
    free(job.core);
    for (int t = 0; job.scratch && t < g.threads; t++)
        free(job.scratch[t].points);
    free(job.scratch);
    free(job.first_core);
    free((void *)job.parent);
    return status;
}
