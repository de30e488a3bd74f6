/* Exact grid DBSCAN.
 *
 * Points are binned into square cells of side eps/sqrt(2), so that any two
 * points of one cell are within eps of each other, and sorted by (group,
 * cell) with a stable radix sort. A point's neighbours all lie in the 5x5
 * block of cells around its own (offsets beyond 2 are more than 2 sides, so
 * more than eps, away). Then:
 *  1. core points: a cell holding at least min_pts points is all core with
 *     no distance test; other points count their neighbours, stopping as
 *     soon as they reach min_pts;
 *  2. clusters: union-find over core points; the core points of one cell are
 *     one component, and two neighbouring cells are joined when any pair of
 *     their core points is within eps;
 *  3. border points join the cluster of their nearest core point.
 *
 * Exactness: the neighbour test is dx*dx + dy*dy <= eps*eps in double, the
 * same expression a brute-force reference uses (the build disables FMA
 * contraction). Cell membership is computed in floating point, so the
 * "whole cell within eps" shortcut is taken only when the cell's actual
 * bounding box passes that same test: because IEEE rounding is monotone,
 * every pair inside the box then passes it too. With side eps/sqrt(2) the
 * box practically always passes; the tests also run larger cells, where it
 * does not, through fc_dbscan_with_side().
 */
#include "fc_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NO_POINT UINT32_MAX

typedef struct grid {
    size_t n;           /* points */
    size_t n_cells;
    uint32_t *order;    /* sorted position -> input index */
    double *sx, *sy;    /* coordinates in sorted order */
    double *sw;         /* weights in sorted order (1 without weights) */
    uint32_t *cell_start; /* n_cells + 1 offsets into sorted positions */
    uint32_t *cg, *cx, *cy; /* cell keys: group, column, row */
    uint8_t *cell_within_eps; /* 1: every pair in the cell is within eps */
} grid;

static void grid_free(grid *g)
{
    free(g->order);
    free(g->sx);
    free(g->sy);
    free(g->sw);
    free(g->cell_start);
    free(g->cg);
    free(g->cx);
    free(g->cy);
    free(g->cell_within_eps);
}

static inline int within(double ax, double ay, double bx, double by, double eps2)
{
    double dx = ax - bx, dy = ay - by;
    return dx * dx + dy * dy <= eps2;
}

/* Stable LSD radix sort of idx[] by key[idx[i]], 8 bits at a time, skipping
 * bytes that are the same for every key. */
static void radix_sort_by(uint32_t *idx, uint32_t *tmp, size_t n, const uint32_t *key)
{
    uint32_t all_or = 0, all_and = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        all_or |= key[i];
        all_and &= key[i];
    }
    for (int shift = 0; shift < 32; shift += 8) {
        if ((((all_or ^ all_and) >> shift) & 0xFF) == 0)
            continue; /* this byte never varies */
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((key[idx[i]] >> shift) & 0xFF) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            tmp[count[(key[idx[i]] >> shift) & 0xFF]++] = idx[i];
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

static int key_cmp(const grid *g, size_t c, uint32_t kg, uint32_t kx, uint32_t ky)
{
    if (g->cg[c] != kg)
        return g->cg[c] < kg ? -1 : 1;
    if (g->cx[c] != kx)
        return g->cx[c] < kx ? -1 : 1;
    if (g->cy[c] != ky)
        return g->cy[c] < ky ? -1 : 1;
    return 0;
}

/* First cell whose key is >= (kg, kx, ky). */
static size_t lower_bound(const grid *g, uint32_t kg, uint32_t kx, uint32_t ky)
{
    size_t lo = 0, hi = g->n_cells;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(g, mid, kg, kx, ky) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The cells around cell c, as up to 5 runs [lo, hi) of cell indices, one
 * per column offset -2..2 (each run covers rows -2..2). Returns the number
 * of runs. */
static int neighbour_runs(const grid *g, size_t c, size_t runs[5][2])
{
    int k = 0;
    int64_t x0 = g->cx[c], y0 = g->cy[c];
    uint32_t ylo = (uint32_t)(y0 >= 2 ? y0 - 2 : 0);
    uint32_t yhi = (uint32_t)(y0 + 2); /* cells per axis < 2^32 - 4 */
    for (int64_t x = x0 - 2; x <= x0 + 2; x++) {
        if (x < 0 || x > UINT32_MAX)
            continue;
        size_t lo = lower_bound(g, g->cg[c], (uint32_t)x, ylo);
        size_t hi = lo;
        while (hi < g->n_cells && g->cg[hi] == g->cg[c] && g->cx[hi] == (uint32_t)x &&
               g->cy[hi] <= yhi)
            hi++;
        if (hi > lo) {
            runs[k][0] = lo;
            runs[k][1] = hi;
            k++;
        }
    }
    return k;
}

static int grid_build(fc_context *ctx, grid *g, size_t n, const double *x,
                      const double *y, const uint32_t *group, const double *weight,
                      double eps, double side)
{
    double xmin = INFINITY, ymin = INFINITY, xmax = -INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return fc_error(ctx, FC_EINVAL, "point %zu has a coordinate that is not finite", i);
        xmin = fmin(xmin, x[i]);
        xmax = fmax(xmax, x[i]);
        ymin = fmin(ymin, y[i]);
        ymax = fmax(ymax, y[i]);
    }
    const double max_cells = 4294967290.0; /* keeps column + 2 inside uint32 */
    if ((xmax - xmin) / side >= max_cells || (ymax - ymin) / side >= max_cells)
        return fc_error(ctx, FC_EINVAL,
                        "eps %g is too small for the extent of the points "
                        "(%g by %g): more than 4 billion grid cells across",
                        eps, xmax - xmin, ymax - ymin);

    uint32_t *kx = malloc(n * sizeof *kx), *ky = malloc(n * sizeof *ky);
    uint32_t *tmp = malloc(n * sizeof *tmp);
    g->n = n;
    g->order = malloc(n * sizeof *g->order);
    g->sx = malloc(n * sizeof *g->sx);
    g->sy = malloc(n * sizeof *g->sy);
    g->sw = malloc(n * sizeof *g->sw);
    if (!kx || !ky || !tmp || !g->order || !g->sx || !g->sy || !g->sw) {
        free(kx), free(ky), free(tmp);
        return fc_error(ctx, FC_ENOMEM, "out of memory building the grid of %zu points", n);
    }
    for (size_t i = 0; i < n; i++) {
        kx[i] = (uint32_t)floor((x[i] - xmin) / side);
        ky[i] = (uint32_t)floor((y[i] - ymin) / side);
        g->order[i] = (uint32_t)i;
    }
    /* Lexicographic (group, column, row), ties in input order. */
    radix_sort_by(g->order, tmp, n, ky);
    radix_sort_by(g->order, tmp, n, kx);
    if (group)
        radix_sort_by(g->order, tmp, n, group);
    free(tmp);

    size_t n_cells = 0;
    for (size_t p = 0; p < n; p++) {
        uint32_t i = g->order[p];
        g->sx[p] = x[i];
        g->sy[p] = y[i];
        g->sw[p] = weight ? weight[i] : 1.0;
        if (p == 0) {
            n_cells = 1;
            continue;
        }
        uint32_t j = g->order[p - 1];
        if (kx[i] != kx[j] || ky[i] != ky[j] || (group && group[i] != group[j]))
            n_cells++;
    }
    g->n_cells = n_cells;
    g->cell_start = malloc((n_cells + 1) * sizeof *g->cell_start);
    g->cg = malloc(n_cells * sizeof *g->cg);
    g->cx = malloc(n_cells * sizeof *g->cx);
    g->cy = malloc(n_cells * sizeof *g->cy);
    g->cell_within_eps = malloc(n_cells);
    if (!g->cell_start || !g->cg || !g->cx || !g->cy || !g->cell_within_eps) {
        free(kx), free(ky);
        return fc_error(ctx, FC_ENOMEM, "out of memory building the grid of %zu points", n);
    }
    size_t c = 0;
    for (size_t p = 0; p < n; p++) {
        uint32_t i = g->order[p];
        uint32_t gi = group ? group[i] : 0;
        if (p == 0 || kx[i] != g->cx[c - 1] || ky[i] != g->cy[c - 1] || gi != g->cg[c - 1]) {
            g->cell_start[c] = (uint32_t)p;
            g->cg[c] = gi;
            g->cx[c] = kx[i];
            g->cy[c] = ky[i];
            c++;
        }
    }
    g->cell_start[n_cells] = (uint32_t)n;
    free(kx);
    free(ky);

    const double eps2 = eps * eps;
    for (c = 0; c < n_cells; c++) {
        double bx0 = INFINITY, by0 = INFINITY, bx1 = -INFINITY, by1 = -INFINITY;
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++) {
            bx0 = fmin(bx0, g->sx[p]);
            bx1 = fmax(bx1, g->sx[p]);
            by0 = fmin(by0, g->sy[p]);
            by1 = fmax(by1, g->sy[p]);
        }
        g->cell_within_eps[c] = (uint8_t)within(bx1, by1, bx0, by0, eps2);
    }
    return FC_OK;
}

static uint32_t uf_find(uint32_t *parent, uint32_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]]; /* path halving */
        a = parent[a];
    }
    return a;
}

static void uf_union(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a != b) {
        if (a < b)
            parent[b] = a;
        else
            parent[a] = b;
    }
}

/* Step 1: core flags, by sorted position. */
static void mark_core(const grid *g, double eps2, double threshold, uint8_t *core)
{
    for (size_t c = 0; c < g->n_cells; c++) {
        const uint32_t s = g->cell_start[c], e = g->cell_start[c + 1];
        double cell_sum = 0;
        if (g->cell_within_eps[c])
            for (uint32_t p = s; p < e; p++)
                cell_sum += g->sw[p];
        if (g->cell_within_eps[c] && cell_sum >= threshold) {
            memset(core + s, 1, e - s);
            continue;
        }
        size_t runs[5][2];
        int nr = neighbour_runs(g, c, runs);
        for (uint32_t p = s; p < e; p++) {
            /* A cell within eps holds only neighbours: count it whole. */
            double sum = g->cell_within_eps[c] ? cell_sum : 0;
            for (int r = 0; r < nr && sum < threshold; r++) {
                for (size_t cc = runs[r][0]; cc < runs[r][1] && sum < threshold; cc++) {
                    if (cc == c && g->cell_within_eps[c])
                        continue;
                    for (uint32_t q = g->cell_start[cc]; q < g->cell_start[cc + 1]; q++) {
                        if (within(g->sx[p], g->sy[p], g->sx[q], g->sy[q], eps2)) {
                            sum += g->sw[q];
                            if (sum >= threshold)
                                break;
                        }
                    }
                }
            }
            core[p] = sum >= threshold;
        }
    }
}

/* Whether any core point of cell a is within eps of a core point of b. */
static int cells_touch(const grid *g, const uint8_t *core, size_t a, size_t b, double eps2)
{
    for (uint32_t p = g->cell_start[a]; p < g->cell_start[a + 1]; p++) {
        if (!core[p])
            continue;
        for (uint32_t q = g->cell_start[b]; q < g->cell_start[b + 1]; q++)
            if (core[q] && within(g->sx[p], g->sy[p], g->sx[q], g->sy[q], eps2))
                return 1;
    }
    return 0;
}

/* Joins core points p (of cell a) and q (of cell b) pair by pair: for cells
 * whose core points are not known to form one component. */
static void join_pairwise(const grid *g, const uint8_t *core, uint32_t *parent,
                          size_t a, size_t b, double eps2)
{
    for (uint32_t p = g->cell_start[a]; p < g->cell_start[a + 1]; p++) {
        if (!core[p])
            continue;
        uint32_t q0 = a == b ? p + 1 : g->cell_start[b];
        for (uint32_t q = q0; q < g->cell_start[b + 1]; q++)
            if (core[q] && uf_find(parent, p) != uf_find(parent, q) &&
                within(g->sx[p], g->sy[p], g->sx[q], g->sy[q], eps2))
                uf_union(parent, p, q);
    }
}

/* Step 2: connected components of core points. */
static void join_cores(const grid *g, const uint8_t *core, const uint32_t *first_core,
                       double eps2, uint32_t *parent)
{
    for (size_t c = 0; c < g->n_cells; c++) {
        if (first_core[c] == NO_POINT)
            continue;
        if (g->cell_within_eps[c]) {
            for (uint32_t p = first_core[c] + 1; p < g->cell_start[c + 1]; p++)
                if (core[p])
                    uf_union(parent, first_core[c], p);
        } else {
            join_pairwise(g, core, parent, c, c, eps2);
        }
        size_t runs[5][2];
        int nr = neighbour_runs(g, c, runs);
        for (int r = 0; r < nr; r++) {
            for (size_t cc = runs[r][0]; cc < runs[r][1]; cc++) {
                if (cc <= c || first_core[cc] == NO_POINT)
                    continue; /* each pair of cells once */
                if (g->cell_within_eps[c] && g->cell_within_eps[cc]) {
                    if (uf_find(parent, first_core[c]) != uf_find(parent, first_core[cc]) &&
                        cells_touch(g, core, c, cc, eps2))
                        uf_union(parent, first_core[c], first_core[cc]);
                } else {
                    join_pairwise(g, core, parent, c, cc, eps2);
                }
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

int fc_dbscan(fc_context *ctx, size_t n, const double *x, const double *y,
              const uint32_t *group, const fc_dbscan_params *params,
              int32_t *cluster_out, uint8_t *role_out, size_t *n_clusters_out)
{
    double side = params ? params->eps / sqrt(2.0) : 0;
    return fc_dbscan_with_side(ctx, n, x, y, group, params, side, cluster_out, role_out,
                               n_clusters_out);
}

int fc_dbscan_with_side(fc_context *ctx, size_t n, const double *x, const double *y,
                        const uint32_t *group, const fc_dbscan_params *params, double side,
                        int32_t *cluster_out, uint8_t *role_out, size_t *n_clusters_out)
{
    if (!params || !(params->eps > 0) || !isfinite(params->eps))
        return fc_error(ctx, FC_EINVAL, "eps must be a finite number greater than 0");
    if (!params->weight && params->min_pts < 1)
        return fc_error(ctx, FC_EINVAL, "min-pts must be at least 1");
    if (params->weight && !isfinite(params->min_weight))
        return fc_error(ctx, FC_EINVAL, "min-weight must be a finite number");
    if (n > INT32_MAX)
        return fc_error(ctx, FC_EINVAL, "%zu points are more than the %d supported", n, INT32_MAX);
    if (params->weight)
        for (size_t i = 0; i < n; i++)
            if (!(params->weight[i] >= 0) || !isfinite(params->weight[i]))
                return fc_error(ctx, FC_EINVAL, "point %zu has weight %g: weights must be finite and >= 0",
                                i, params->weight[i]);
    if (n_clusters_out)
        *n_clusters_out = 0;
    if (n == 0)
        return FC_OK;

    const double eps2 = params->eps * params->eps;
    const double threshold = params->weight ? params->min_weight : (double)params->min_pts;
    grid g = {0};
    uint8_t *core = NULL;
    uint32_t *parent = NULL, *first_core = NULL, *min_index = NULL;
    root_key *roots = NULL;
    if (!(side >= params->eps / 2))
        return fc_error(ctx, FC_EINTERNAL, "grid cells of side %g miss neighbours at eps %g",
                        side, params->eps);
    int status = grid_build(ctx, &g, n, x, y, group, params->weight, params->eps, side);
    if (status != FC_OK)
        goto done;

    core = calloc(n, 1);
    parent = malloc(n * sizeof *parent);
    first_core = malloc(g.n_cells * sizeof *first_core);
    min_index = malloc(n * sizeof *min_index);
    if (!core || !parent || !first_core || !min_index) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory clustering %zu points", n);
        goto done;
    }
    mark_core(&g, eps2, threshold, core);

    for (size_t c = 0; c < g.n_cells; c++) {
        first_core[c] = NO_POINT;
        for (uint32_t p = g.cell_start[c]; p < g.cell_start[c + 1]; p++)
            if (core[p]) {
                first_core[c] = p;
                break;
            }
    }
    for (size_t p = 0; p < n; p++)
        parent[p] = (uint32_t)p;
    join_cores(&g, core, first_core, eps2, parent);

    /* Number the components by (group, smallest input index). */
    size_t n_roots = 0;
    for (size_t p = 0; p < n; p++)
        min_index[p] = UINT32_MAX;
    for (size_t p = 0; p < n; p++) {
        if (!core[p])
            continue;
        uint32_t r = uf_find(parent, (uint32_t)p);
        if (g.order[p] < min_index[r])
            min_index[r] = g.order[p];
        if (r == p)
            n_roots++;
    }
    roots = malloc((n_roots ? n_roots : 1) * sizeof *roots);
    if (!roots) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory numbering clusters");
        goto done;
    }
    size_t k = 0;
    for (size_t p = 0; p < n; p++)
        if (core[p] && parent[p] == p)
            roots[k++] = (root_key){group ? group[g.order[p]] : 0, min_index[p], (uint32_t)p};
    qsort(roots, n_roots, sizeof *roots, root_key_cmp);
    /* Reuse min_index as root -> cluster id. */
    for (k = 0; k < n_roots; k++)
        min_index[roots[k].root] = (uint32_t)k;

    /* Step 3: labels; border points take their nearest core point's cluster. */
    for (size_t c = 0; c < g.n_cells; c++) {
        size_t runs[5][2];
        int nr = -1;
        for (uint32_t p = g.cell_start[c]; p < g.cell_start[c + 1]; p++) {
            uint32_t i = g.order[p];
            if (core[p]) {
                cluster_out[i] = (int32_t)min_index[uf_find(parent, p)];
                if (role_out)
                    role_out[i] = FC_ROLE_CORE;
                continue;
            }
            if (nr < 0)
                nr = neighbour_runs(&g, c, runs);
            double best_d2 = INFINITY;
            uint32_t best = NO_POINT;
            for (int r = 0; r < nr; r++)
                for (size_t cc = runs[r][0]; cc < runs[r][1]; cc++) {
                    if (first_core[cc] == NO_POINT)
                        continue;
                    for (uint32_t q = first_core[cc]; q < g.cell_start[cc + 1]; q++) {
                        if (!core[q])
                            continue;
                        double dx = g.sx[p] - g.sx[q], dy = g.sy[p] - g.sy[q];
                        double d2 = dx * dx + dy * dy;
                        if (d2 <= eps2 && (d2 < best_d2 ||
                                           (d2 == best_d2 && g.order[q] < g.order[best]))) {
                            best_d2 = d2;
                            best = q;
                        }
                    }
                }
            if (best != NO_POINT) {
                cluster_out[i] = (int32_t)min_index[uf_find(parent, best)];
                if (role_out)
                    role_out[i] = FC_ROLE_BORDER;
            } else {
                cluster_out[i] = -1;
                if (role_out)
                    role_out[i] = FC_ROLE_NOISE;
            }
        }
    }
    if (n_clusters_out)
        *n_clusters_out = n_roots;

done:
    grid_free(&g);
    free(core);
    free(parent);
    free(first_core);
    free(min_index);
    free(roots);
    return status;
}
