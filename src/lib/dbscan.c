/* Exact grid DBSCAN, planar or geodesic.
 *
 * Points are binned into cells, so that any two points of one cell are
 * within eps of each other, and sorted by (group, cell) with a stable radix
 * sort. A point's neighbours all lie within `reach` cells of its own. Then:
 *  1. core points: a cell holding at least min_pts points is all core with
 *     no distance test; other points count their neighbours, stopping as
 *     soon as they reach min_pts;
 *  2. clusters: union-find over core points; the core points of one cell are
 *     one component, and two nearby cells are joined when any pair of their
 *     core points is within eps;
 *  3. border points join the cluster of their nearest core point.
 *
 * Planar: 2D cells of side eps/sqrt(2), reach 2. The neighbour test is
 * dx*dx + dy*dy <= eps*eps in double, the same expression a brute-force
 * reference uses (the build disables FMA contraction).
 *
 * Geodesic: x, y are longitude and latitude; points are placed on the
 * ellipsoid in 3D (earth-centred coordinates, by PROJ) and binned into cubes.
 * The straight chord between two points is never longer than the geodesic,
 * and (by Schur's comparison theorem, the geodesic's curvature being at
 * most 1/rho with rho the smallest radius of curvature of the ellipsoid) the
 * geodesic is never longer than 2 rho asin(chord / (2 rho)). So a chord above
 * eps means "apart", a chord below chord_sure means "within eps", and only
 * the pairs in the thin shell between (a few micrometres wide at eps = 2 km)
 * need PROJ's geod_inverse. Both bounds keep a 1 micrometre margin, far above
 * the rounding of the 3D coordinates and geod_inverse's 15 nm accuracy, so
 * the answer is always the one geod_inverse gives. geod_inverse is always
 * called with the point that comes first in the input first.
 *
 * Cell membership is computed in floating point, so the "whole cell within
 * eps" shortcut is taken only when the cell's actual bounding box passes the
 * test (planar: the same expression, which by monotone IEEE rounding bounds
 * every pair inside; geodesic: its diagonal below chord_sure). With the
 * default cell sides the box practically always passes; the tests also run
 * larger cells, where it does not, through fc_dbscan_with_side().
 */
#include "fc_internal.h"

#include <geodesic.h>
#include <math.h>
#include <proj.h>
#include <stdlib.h>
#include <string.h>

#define NO_POINT UINT32_MAX
#define GEODESIC_MARGIN 1e-6 /* metres */

typedef struct grid {
    int dims;           /* 2: planar, 3: geodesic (earth-centred x, y, z) */
    bool geodesic;
    size_t n;           /* points */
    size_t n_cells;
    uint32_t *order;    /* sorted position -> input index */
    double *s[3];       /* coordinates in sorted order */
    double *slon, *slat; /* geodesic: longitude, latitude in sorted order */
    double *sw;         /* weights in sorted order (1 without weights) */
    uint32_t *cell_start; /* n_cells + 1 offsets into sorted positions */
    uint32_t *cg;       /* cell keys: group, then one column per dimension */
    uint32_t *ck[3];
    uint8_t *cell_within_eps; /* 1: every pair in the cell is within eps */
    int reach;          /* neighbours lie within this many cells */
    size_t (*runs)[2];  /* scratch for neighbour_runs() */
    /* the neighbour test */
    double eps, eps2;
    double chord_max2, chord_sure2; /* geodesic: squared chord bounds */
    struct geod_geodesic geod;
} grid;

static void grid_free(grid *g)
{
    free(g->order);
    for (int d = 0; d < 3; d++) {
        free(g->s[d]);
        free(g->ck[d]);
    }
    free(g->slon);
    free(g->slat);
    free(g->sw);
    free(g->cell_start);
    free(g->cg);
    free(g->cell_within_eps);
    free(g->runs);
}

/* Geodesic distance between sorted positions p and q. */
static double geodesic(const grid *g, uint32_t p, uint32_t q)
{
    if (g->order[p] > g->order[q]) { /* the same call whatever the order */
        uint32_t t = p;
        p = q;
        q = t;
    }
    double s12;
    geod_inverse(&g->geod, g->slat[p], g->slon[p], g->slat[q], g->slon[q], &s12, NULL, NULL);
    return s12;
}

static inline int within(const grid *g, uint32_t p, uint32_t q)
{
    double dx = g->s[0][p] - g->s[0][q], dy = g->s[1][p] - g->s[1][q];
    if (!g->geodesic)
        return dx * dx + dy * dy <= g->eps2;
    double dz = g->s[2][p] - g->s[2][q];
    double c2 = dx * dx + dy * dy + dz * dz;
    if (c2 > g->chord_max2)
        return 0;
    if (c2 <= g->chord_sure2)
        return 1;
    return geodesic(g, p, q) <= g->eps;
}

/* Distance for ranking core points by nearness: squared for planar. */
static inline double distance_key(const grid *g, uint32_t p, uint32_t q)
{
    if (g->geodesic)
        return geodesic(g, p, q);
    double dx = g->s[0][p] - g->s[0][q], dy = g->s[1][p] - g->s[1][q];
    return dx * dx + dy * dy;
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

/* Compares cell c with the key (group, k[0..dims-1]). */
static int key_cmp(const grid *g, size_t c, uint32_t group, const uint32_t *k)
{
    if (g->cg[c] != group)
        return g->cg[c] < group ? -1 : 1;
    for (int d = 0; d < g->dims; d++)
        if (g->ck[d][c] != k[d])
            return g->ck[d][c] < k[d] ? -1 : 1;
    return 0;
}

static size_t lower_bound(const grid *g, uint32_t group, const uint32_t *k)
{
    size_t lo = 0, hi = g->n_cells;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(g, mid, group, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The cells within `reach` of cell c in every dimension, as runs [lo, hi)
 * of cell indices: one run per column (2D) or per column and row (3D), each
 * covering the last dimension's range. Returns the number of runs. */
static int neighbour_runs(grid *g, size_t c)
{
    const int last = g->dims - 1, r = g->reach;
    int k = 0;
    int64_t c0 = g->ck[0][c], c1 = g->ck[1][c];
    int64_t cl = g->ck[last][c];
    uint32_t key[3];
    key[last] = (uint32_t)(cl >= r ? cl - r : 0);
    const uint32_t last_hi = (uint32_t)(cl + r); /* cells per axis < 2^32 - 2 reach */
    for (int64_t a = c0 - r; a <= c0 + r; a++) {
        if (a < 0 || a > UINT32_MAX)
            continue;
        key[0] = (uint32_t)a;
        for (int64_t b = (last == 2 ? c1 - r : 0); b <= (last == 2 ? c1 + r : 0); b++) {
            if (last == 2) {
                if (b < 0 || b > UINT32_MAX)
                    continue;
                key[1] = (uint32_t)b;
            }
            size_t lo = lower_bound(g, g->cg[c], key), hi = lo;
            while (hi < g->n_cells && g->cg[hi] == g->cg[c] && g->ck[0][hi] == key[0] &&
                   (last < 2 || g->ck[1][hi] == key[1]) && g->ck[last][hi] <= last_hi)
                hi++;
            if (hi > lo) {
                g->runs[k][0] = lo;
                g->runs[k][1] = hi;
                k++;
            }
        }
    }
    return k;
}

/* Geodesic mode: earth-centred 3D coordinates of the points, by PROJ. */
static int to_earth_centred(fc_context *ctx, size_t n, const double *lon, const double *lat,
                            double a, double f, double *x, double *y, double *z)
{
    char def[128];
    snprintf(def, sizeof def, "+proj=cart +a=%.17g +rf=%.17g", a, f != 0 ? 1 / f : 0.0);
    if (f == 0)
        snprintf(def, sizeof def, "+proj=cart +R=%.17g", a);
    PJ_CONTEXT *pc = proj_context_create();
    PJ *cart = pc ? proj_create(pc, def) : NULL;
    if (!cart) {
        proj_context_destroy(pc);
        return fc_error(ctx, FC_ECRS, "PROJ cannot place points on the ellipsoid (%s)", def);
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = proj_torad(lon[i]);
        y[i] = proj_torad(lat[i]);
        z[i] = 0;
    }
    size_t done = proj_trans_generic(cart, PJ_FWD, x, sizeof *x, n, y, sizeof *y, n, z,
                                     sizeof *z, n, NULL, 0, 0);
    proj_destroy(cart);
    proj_context_destroy(pc);
    if (done != n)
        return fc_error(ctx, FC_ECRS, "PROJ placed only %zu of %zu points on the ellipsoid", done, n);
    return FC_OK;
}

static int grid_build(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                      const uint32_t *group, const fc_dbscan_params *params, double side)
{
    const int dims = g->dims;
    g->n = n;
    for (int d = 0; d < dims; d++)
        g->s[d] = malloc(n * sizeof(double));
    g->order = malloc(n * sizeof *g->order);
    g->sw = malloc(n * sizeof *g->sw);
    if (g->geodesic) {
        g->slon = malloc(n * sizeof *g->slon);
        g->slat = malloc(n * sizeof *g->slat);
    }
    uint32_t *key[3] = {NULL, NULL, NULL}, *tmp = malloc(n * sizeof *tmp);
    double *coord[3] = {NULL, NULL, NULL}; /* input order */
    bool ok = g->s[0] && g->s[1] && (dims < 3 || g->s[2]) && g->order && g->sw && tmp &&
              (!g->geodesic || (g->slon && g->slat));
    for (int d = 0; d < dims && ok; d++)
        ok = (key[d] = malloc(n * sizeof(uint32_t))) != NULL;
    int status = FC_OK;
    if (ok && g->geodesic) {
        for (int d = 0; d < 3 && ok; d++)
            ok = (coord[d] = malloc(n * sizeof(double))) != NULL;
        if (ok)
            status = to_earth_centred(ctx, n, x, y, g->geod.a, g->geod.f, coord[0], coord[1],
                                      coord[2]);
    } else {
        coord[0] = (double *)x;
        coord[1] = (double *)y;
    }
    if (!ok)
        status = fc_error(ctx, FC_ENOMEM, "out of memory building the grid of %zu points", n);

    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (size_t i = 0; i < n && status == FC_OK; i++)
        for (int d = 0; d < dims; d++) {
            lo[d] = fmin(lo[d], coord[d][i]);
            hi[d] = fmax(hi[d], coord[d][i]);
        }
    const double max_cells = 4294967290.0 - 2.0 * g->reach; /* column + reach fits uint32 */
    for (int d = 0; d < dims && status == FC_OK; d++)
        if ((hi[d] - lo[d]) / side >= max_cells)
            status = fc_error(ctx, FC_EINVAL,
                              "eps %g is too small for the extent of the points (%g across): "
                              "more than 4 billion grid cells",
                              params->eps, hi[d] - lo[d]);
    if (status == FC_OK) {
        for (size_t i = 0; i < n; i++) {
            for (int d = 0; d < dims; d++)
                key[d][i] = (uint32_t)floor((coord[d][i] - lo[d]) / side);
            g->order[i] = (uint32_t)i;
        }
        /* Lexicographic (group, columns...), ties in input order. */
        for (int d = dims - 1; d >= 0; d--)
            radix_sort_by(g->order, tmp, n, key[d]);
        if (group)
            radix_sort_by(g->order, tmp, n, group);
    }
    free(tmp);

    size_t n_cells = 0;
    for (size_t p = 0; p < n && status == FC_OK; p++) {
        uint32_t i = g->order[p];
        for (int d = 0; d < dims; d++)
            g->s[d][p] = coord[d][i];
        if (g->geodesic) {
            g->slon[p] = x[i];
            g->slat[p] = y[i];
        }
        g->sw[p] = params->weight ? params->weight[i] : 1.0;
        bool new_cell = p == 0;
        if (!new_cell) {
            uint32_t j = g->order[p - 1];
            new_cell = group && group[i] != group[j];
            for (int d = 0; d < dims && !new_cell; d++)
                new_cell = key[d][i] != key[d][j];
        }
        n_cells += new_cell;
    }
    if (g->geodesic)
        for (int d = 0; d < 3; d++)
            free(coord[d]);
    if (status == FC_OK) {
        g->n_cells = n_cells;
        g->cell_start = malloc((n_cells + 1) * sizeof *g->cell_start);
        g->cg = malloc(n_cells * sizeof *g->cg);
        g->cell_within_eps = malloc(n_cells);
        ok = g->cell_start && g->cg && g->cell_within_eps;
        for (int d = 0; d < dims && ok; d++)
            ok = (g->ck[d] = malloc(n_cells * sizeof(uint32_t))) != NULL;
        if (!ok)
            status = fc_error(ctx, FC_ENOMEM, "out of memory building the grid of %zu points", n);
    }
    if (status == FC_OK) {
        size_t c = 0;
        for (size_t p = 0; p < n; p++) {
            uint32_t i = g->order[p], gi = group ? group[i] : 0;
            bool new_cell = p == 0 || gi != g->cg[c - 1];
            for (int d = 0; d < dims && !new_cell; d++)
                new_cell = key[d][i] != g->ck[d][c - 1];
            if (new_cell) {
                g->cell_start[c] = (uint32_t)p;
                g->cg[c] = gi;
                for (int d = 0; d < dims; d++)
                    g->ck[d][c] = key[d][i];
                c++;
            }
        }
        g->cell_start[n_cells] = (uint32_t)n;
    }
    for (int d = 0; d < dims; d++)
        free(key[d]);
    if (status != FC_OK)
        return status;

    for (size_t c = 0; c < n_cells; c++) {
        double b0[3] = {INFINITY, INFINITY, INFINITY}, b1[3] = {-INFINITY, -INFINITY, -INFINITY};
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++)
            for (int d = 0; d < dims; d++) {
                b0[d] = fmin(b0[d], g->s[d][p]);
                b1[d] = fmax(b1[d], g->s[d][p]);
            }
        double diag2 = 0;
        for (int d = 0; d < dims; d++) {
            double w = b1[d] - b0[d];
            diag2 += w * w;
        }
        g->cell_within_eps[c] = (uint8_t)(diag2 <= (g->geodesic ? g->chord_sure2 : g->eps2));
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
static void mark_core(grid *g, double threshold, uint8_t *core)
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
        int nr = neighbour_runs(g, c);
        for (uint32_t p = s; p < e; p++) {
            /* A cell within eps holds only neighbours: count it whole. */
            double sum = g->cell_within_eps[c] ? cell_sum : 0;
            for (int r = 0; r < nr && sum < threshold; r++) {
                for (size_t cc = g->runs[r][0]; cc < g->runs[r][1] && sum < threshold; cc++) {
                    if (cc == c && g->cell_within_eps[c])
                        continue;
                    for (uint32_t q = g->cell_start[cc]; q < g->cell_start[cc + 1]; q++) {
                        if (within(g, p, q)) {
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
static int cells_touch(const grid *g, const uint8_t *core, size_t a, size_t b)
{
    for (uint32_t p = g->cell_start[a]; p < g->cell_start[a + 1]; p++) {
        if (!core[p])
            continue;
        for (uint32_t q = g->cell_start[b]; q < g->cell_start[b + 1]; q++)
            if (core[q] && within(g, p, q))
                return 1;
    }
    return 0;
}

/* Joins core points p (of cell a) and q (of cell b) pair by pair: for cells
 * whose core points are not known to form one component. */
static void join_pairwise(const grid *g, const uint8_t *core, uint32_t *parent, size_t a,
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
static void join_cores(grid *g, const uint8_t *core, const uint32_t *first_core,
                       uint32_t *parent)
{
    for (size_t c = 0; c < g->n_cells; c++) {
        if (first_core[c] == NO_POINT)
            continue;
        if (g->cell_within_eps[c]) {
            for (uint32_t p = first_core[c] + 1; p < g->cell_start[c + 1]; p++)
                if (core[p])
                    uf_union(parent, first_core[c], p);
        } else {
            join_pairwise(g, core, parent, c, c);
        }
        int nr = neighbour_runs(g, c);
        for (int r = 0; r < nr; r++) {
            for (size_t cc = g->runs[r][0]; cc < g->runs[r][1]; cc++) {
                if (cc <= c || first_core[cc] == NO_POINT)
                    continue; /* each pair of cells once */
                if (g->cell_within_eps[c] && g->cell_within_eps[cc]) {
                    if (uf_find(parent, first_core[c]) != uf_find(parent, first_core[cc]) &&
                        cells_touch(g, core, c, cc))
                        uf_union(parent, first_core[c], first_core[cc]);
                } else {
                    join_pairwise(g, core, parent, c, cc);
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

/* Checks the parameters and fills the neighbour test of the grid. */
static int setup_metric(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                        const fc_dbscan_params *params)
{
    if (!params || !(params->eps > 0) || !isfinite(params->eps))
        return fc_error(ctx, FC_EINVAL, "eps must be a finite number greater than 0");
    if (!params->weight && params->min_pts < 1)
        return fc_error(ctx, FC_EINVAL, "min-pts must be at least 1");
    if (params->weight && !isfinite(params->min_weight))
        return fc_error(ctx, FC_EINVAL, "min-weight must be a finite number");
    if (n > INT32_MAX)
        return fc_error(ctx, FC_EINVAL, "%zu points are more than the %d supported", n, INT32_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return fc_error(ctx, FC_EINVAL, "point %zu has a coordinate that is not finite", i);
        if (params->distance == FC_DISTANCE_GEODESIC && (fabs(x[i]) > 540 || fabs(y[i]) > 90))
            return fc_error(ctx, FC_EINVAL, "point %zu (%g, %g) is not a longitude and latitude",
                            i, x[i], y[i]);
        if (params->weight && (!(params->weight[i] >= 0) || !isfinite(params->weight[i])))
            return fc_error(ctx, FC_EINVAL,
                            "point %zu has weight %g: weights must be finite and >= 0", i,
                            params->weight[i]);
    }
    g->eps = params->eps;
    g->eps2 = params->eps * params->eps;
    if (params->distance == FC_DISTANCE_PLANAR) {
        g->dims = 2;
        return FC_OK;
    }
    if (params->distance != FC_DISTANCE_GEODESIC)
        return fc_error(ctx, FC_EINVAL, "unknown distance kind %d", params->distance);
    double a = params->semi_major, f = params->flattening;
    if (a == 0 && f == 0) { /* WGS84 */
        a = 6378137.0;
        f = 1 / 298.257223563;
    }
    if (!(a > 0) || !isfinite(a) || !(f < 1) || !isfinite(f))
        return fc_error(ctx, FC_EINVAL, "bad ellipsoid: semi-major axis %g, flattening %g", a, f);
    g->dims = 3;
    g->geodesic = true;
    geod_init(&g->geod, a, f);
    const double b = a * (1 - f);
    const double rho = fmin(b * b / a, a * a / b); /* smallest radius of curvature */
    const double chord_max = params->eps + GEODESIC_MARGIN;
    g->chord_max2 = chord_max * chord_max;
    /* Schur: geodesic <= 2 rho asin(chord / 2 rho), for arcs up to pi rho. */
    double sure = params->eps - GEODESIC_MARGIN;
    double chord_sure = sure > 0 && sure < M_PI * rho / 2 ? 2 * rho * sin(sure / (2 * rho)) : 0;
    g->chord_sure2 = chord_sure * chord_sure;
    return FC_OK;
}

int fc_dbscan(fc_context *ctx, size_t n, const double *x, const double *y,
              const uint32_t *group, const fc_dbscan_params *params,
              int32_t *cluster_out, uint8_t *role_out, size_t *n_clusters_out)
{
    double side = 0;
    if (params && params->distance == FC_DISTANCE_GEODESIC)
        side = (params->eps - GEODESIC_MARGIN) / sqrt(3.0) * (1 - 1e-9); /* diagonal < chord_sure */
    else if (params)
        side = params->eps / sqrt(2.0);
    return fc_dbscan_with_side(ctx, n, x, y, group, params, side, cluster_out, role_out,
                               n_clusters_out);
}

int fc_dbscan_with_side(fc_context *ctx, size_t n, const double *x, const double *y,
                        const uint32_t *group, const fc_dbscan_params *params, double side,
                        int32_t *cluster_out, uint8_t *role_out, size_t *n_clusters_out)
{
    grid g = {0};
    int status = setup_metric(ctx, &g, n, x, y, params);
    if (status != FC_OK)
        return status;
    if (n_clusters_out)
        *n_clusters_out = 0;
    if (n == 0)
        return FC_OK;
    if (!(side > 0) || !isfinite(side))
        return fc_error(ctx, FC_EINVAL, "eps %g gives no usable grid cell", params->eps);
    /* Neighbours lie within reach cells (the margin covers the rounding of
     * the cell computation). */
    const double reach = g.geodesic ? sqrt(g.chord_max2) : params->eps;
    const double cells = ceil(reach / side + 1e-6);
    if (cells > 16)
        return fc_error(ctx, FC_EINTERNAL, "grid cells of side %g are too small for eps %g", side,
                        params->eps);
    g.reach = (int)cells;
    int span = 2 * g.reach + 1;
    g.runs = malloc((size_t)(g.dims == 3 ? span * span : span) * sizeof *g.runs);

    const double threshold = params->weight ? params->min_weight : (double)params->min_pts;
    uint8_t *core = NULL;
    uint32_t *parent = NULL, *first_core = NULL, *min_index = NULL;
    root_key *roots = NULL;
    if (!g.runs)
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    else
        status = grid_build(ctx, &g, n, x, y, group, params, side);
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
    mark_core(&g, threshold, core);

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
    join_cores(&g, core, first_core, parent);

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
                nr = neighbour_runs(&g, c);
            double best_d = INFINITY;
            uint32_t best = NO_POINT;
            for (int r = 0; r < nr; r++)
                for (size_t cc = g.runs[r][0]; cc < g.runs[r][1]; cc++) {
                    if (first_core[cc] == NO_POINT)
                        continue;
                    for (uint32_t q = first_core[cc]; q < g.cell_start[cc + 1]; q++) {
                        if (!core[q] || !within(&g, p, q))
                            continue;
                        double d = distance_key(&g, p, q);
                        if (d < best_d || (d == best_d && g.order[q] < g.order[best])) {
                            best_d = d;
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
