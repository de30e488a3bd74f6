/* SPDX-License-Identifier: MIT */
/* A cheap upper bound on the largest DBSCAN cluster of a sample of the
 * firms, the part of the sample that can reach a given size, and the
 * largest cluster of that part: what the significance test (stats.c) asks
 * of its null runs.
 *
 * A null run only matters through whether its largest cluster reaches the
 * smallest cluster of the sector still being tested. Where that cluster is
 * well above chance, a bound below it settles the run without clustering;
 * elsewhere only the parts of the sample that can reach it are clustered.
 *
 * The firms are binned once into DBSCAN's grid (grid.c: cells of side below
 * eps), and each cell lists the cells whose bounding boxes come within eps
 * of its own, itself included: its "near" cells. Then, for a sample:
 *  - a point is core only if its cell's near cells hold at least min_pts
 *    sampled points (min_weight of weight): the other cells hold no core
 *    point. The rest are "candidate" cells;
 *  - two core points within eps lie in near cells, so the core points of a
 *    cluster lie in one component of candidate cells joined when near;
 *  - a border point lies in a cell near one of its core point's cells.
 * Components of candidate cells are joined with the other cells near them,
 * and so with each other where they share such a cell. No cluster then
 * spans two components, nor holds more points than its component: the bound
 * is the largest component. DBSCAN of one component's points alone finds
 * its clusters as DBSCAN of the whole sample does: every point near a
 * component's candidate cells, which is all that decides a point's core
 * flag, its cluster's links and a border point's nearest core, is in it.
 * The boxes are tested as dbscan.c tests them (fc_grid_box_coverage), so
 * rounding never makes the bound smaller than the clusters.
 *
 * That part is then clustered on the same grid (fc_null_bound_cluster):
 * DBSCAN's steps as dbscan.c takes them, with its neighbour test, but on
 * cells and coordinates set up once for all runs rather than sorted and
 * placed on the ellipsoid again for each.
 *
 * Memory: per firm its cell (4 bytes), and with DBSCAN's cells its
 * earth-centred coordinates (24, geodesic); per cell its near cells (4
 * bytes each); per thread 25 to 33 bytes a cell and 49 a sampled firm of
 * scratch.
 */
#include "core/null_bound.h"

#include "core/grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fc_null_bound {
    size_t n_cells;
    uint32_t *cell_of;    /* by firm */
    size_t *near_start;   /* n_cells + 1 offsets into near */
    uint32_t *near;       /* each cell's near cells, itself included */
    double threshold;     /* min_pts, or min_weight */
    bool weighted;
    /* With DBSCAN's own cells, for fc_null_bound_cluster(): */
    grid metric;          /* the neighbour test (no arrays) */
    uint8_t *within_eps;  /* by cell: every pair of its firms within eps */
    const double *coord[3]; /* by firm: x, y (borrowed), or earth-centred (owned) */
};

/* ---- building: the near cells of every cell ------------------------------ */

typedef struct near_job {
    const grid *g;
    const double *lo, *hi; /* cell boxes, 3 values a cell */
    size_t *count;         /* pass 1: near cells of each cell */
    const size_t *start;   /* pass 2: where each cell's list goes */
    uint32_t *near;
} near_job;

/* Whether cells a and b touch (or are one): at most one apart on every axis. */
static bool next_to(const grid *g, size_t a, size_t b)
{
    for (int d = 0; d < g->dims; d++)
        if (llabs((int64_t)g->ck[d][a] - (int64_t)g->ck[d][b]) > 1)
            return false;
    return true;
}

static void list_near(void *arg, size_t begin, size_t end, int worker)
{
    near_job *j = arg;
    const grid *g = j->g;
    cell_run *runs = g->runs + (size_t)worker * (size_t)g->max_runs;
    for (size_t c = begin; c < end; c++) {
        int nr = fc_grid_neighbour_runs(g, c, runs);
        size_t k = 0;
        /* The cells next to c first, then the others, each in cell order:
         * a core point then finds min_pts sooner. */
        for (int pass = 0; pass < 2; pass++)
            for (int r = 0; r < nr; r++)
                for (size_t cc = runs[r][0]; cc < runs[r][1]; cc++) {
                    if (next_to(g, c, cc) != (pass == 0) ||
                        fc_grid_box_coverage(g, j->lo + 3 * c, j->hi + 3 * c, j->lo + 3 * cc,
                                             j->hi + 3 * cc) == BOX_NONE)
                        continue;
                    if (j->near)
                        j->near[j->start[c] + k] = (uint32_t)cc;
                    k++;
                }
        if (j->count)
            j->count[c] = k;
    }
}

static void cell_boxes(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    near_job *j = arg;
    for (size_t c = begin; c < end; c++)
        fc_grid_cell_box(j->g, c, (double *)j->lo + 3 * c, (double *)j->hi + 3 * c);
}

static int list_all_near(fc_context *ctx, const grid *g, fc_null_bound *nb)
{
    double *lo = malloc(3 * g->n_cells * sizeof *lo), *hi = malloc(3 * g->n_cells * sizeof *hi);
    nb->near_start = calloc(g->n_cells + 1, sizeof *nb->near_start);
    int status = FC_OK;
    if (!lo || !hi || !nb->near_start) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory for the significance test's grid");
        goto done;
    }
    near_job job = {.g = g, .lo = lo, .hi = hi, .count = nb->near_start + 1};
    fc_parallel_for(g->threads, g->n_cells, CELL_CHUNK, cell_boxes, &job);
    fc_parallel_for(g->threads, g->n_cells, CELL_CHUNK, list_near, &job);
    for (size_t c = 0; c < g->n_cells; c++)
        nb->near_start[c + 1] += nb->near_start[c];
    nb->near = malloc((nb->near_start[g->n_cells] ? nb->near_start[g->n_cells] : 1) *
                      sizeof *nb->near);
    if (!nb->near) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory for the significance test's grid");
        goto done;
    }
    job.count = NULL;
    job.start = nb->near_start;
    job.near = nb->near;
    fc_parallel_for(g->threads, g->n_cells, CELL_CHUNK, list_near, &job);
done:
    free(lo);
    free(hi);
    return status;
}

/* What fc_null_bound_cluster() needs: the cells' "within eps" flags, and
 * the firms' coordinates as the neighbour test reads them. */
static int keep_coordinates(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                            fc_null_bound *nb)
{
    nb->within_eps = g->cell_within_eps;
    g->cell_within_eps = NULL; /* kept from fc_grid_free() */
    if (!nb->metric.geodesic) {
        nb->coord[0] = x;
        nb->coord[1] = y;
        return FC_OK;
    }
    double *xyz[3];
    for (int d = 0; d < 3; d++)
        if (!(nb->coord[d] = xyz[d] = malloc((n ? n : 1) * sizeof(double))))
            return fc_error(ctx, FC_ENOMEM, "out of memory for the significance test's grid");
    return fc_earth_centred(ctx, g->threads, n, x, y, nb->metric.earth.a, nb->metric.earth.f,
                            xyz[0], xyz[1], xyz[2]);
}

int fc_null_bound_build(fc_context *ctx, size_t n, const double *x, const double *y,
                        const fc_dbscan_params *params, double side, fc_null_bound **out)
{
    *out = NULL;
    fc_null_bound *nb = calloc(1, sizeof *nb);
    grid g = {0};
    if (!nb)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the significance test's grid");
    int status = fc_grid_metric(ctx, &nb->metric, n, x, y, params);
    g = nb->metric;
    if (status == FC_OK)
        status = fc_grid_build(ctx, &g, n, x, y, NULL, params,
                               side > 0 ? side : fc_grid_default_side(params));
    if (status == FC_OK && side <= 0) /* DBSCAN's cells: it can cluster samples too */
        status = keep_coordinates(ctx, &g, n, x, y, nb);
    if (status == FC_OK && !(nb->cell_of = malloc((n ? n : 1) * sizeof *nb->cell_of)))
        status = fc_error(ctx, FC_ENOMEM, "out of memory for the significance test's grid");
    if (status == FC_OK) {
        nb->n_cells = g.n_cells;
        for (size_t c = 0; c < g.n_cells; c++)
            for (uint32_t p = g.cell_start[c]; p < g.cell_start[c + 1]; p++)
                nb->cell_of[g.order[p]] = (uint32_t)c;
        status = list_all_near(ctx, &g, nb);
    }
    fc_grid_free(&g);
    if (status != FC_OK) {
        fc_null_bound_free(nb);
        return status;
    }
    nb->weighted = params->weight != NULL;
    nb->threshold = nb->weighted ? params->min_weight : (double)params->min_pts;
    *out = nb;
    return FC_OK;
}

void fc_null_bound_free(fc_null_bound *nb)
{
    if (!nb)
        return;
    free(nb->cell_of);
    free(nb->near_start);
    free(nb->near);
    free(nb->within_eps);
    if (nb->metric.geodesic)
        for (int d = 0; d < 3; d++)
            free((double *)nb->coord[d]);
    free(nb);
}

/* ---- a sample's bound ------------------------------------------------------ */

int fc_null_scratch_init(const fc_null_bound *nb, fc_null_scratch *s)
{
    memset(s, 0, sizeof *s);
    size_t cells = nb->n_cells ? nb->n_cells : 1;
    s->count = calloc(cells, sizeof *s->count);
    s->weight = nb->weighted ? calloc(cells, sizeof *s->weight) : NULL;
    s->parent = malloc(cells * sizeof *s->parent);
    s->touched = malloc(cells * sizeof *s->touched);
    s->candidate = calloc(cells, 1);
    s->total = malloc(cells * sizeof *s->total);
    s->first = calloc(cells, sizeof *s->first);
    if (!s->count || (nb->weighted && !s->weight) || !s->parent || !s->touched ||
        !s->candidate || !s->total || !s->first) {
        fc_null_scratch_free(s);
        return FC_ENOMEM;
    }
    return FC_OK;
}

void fc_null_scratch_free(fc_null_scratch *s)
{
    free(s->count), free(s->weight), free(s->parent), free(s->touched), free(s->candidate);
    free(s->total), free(s->first);
    for (int d = 0; d < 3; d++)
        free(s->at[d]);
    free(s->order), free(s->core), free(s->root), free(s->size), free(s->near_core), free(s->chord);
    memset(s, 0, sizeof *s);
}

/* Whether cell c's near cells hold threshold sampled points (or weight). */
static bool may_hold_core(const fc_null_bound *nb, const fc_null_scratch *s, uint32_t c)
{
    const size_t end = nb->near_start[c + 1];
    if (!nb->weighted) {
        const uint32_t need = nb->threshold > UINT32_MAX ? UINT32_MAX : (uint32_t)nb->threshold;
        uint32_t sum = 0;
        for (size_t k = nb->near_start[c]; k < end && sum < need; k++)
            sum += s->count[nb->near[k]];
        return sum >= need;
    }
    double sum = 0;
    for (size_t k = nb->near_start[c]; k < end; k++)
        sum += s->weight[nb->near[k]];
    return sum * (1 + 1e-9) >= nb->threshold; /* another order of sums may round lower */
}

/* The sample's occupied cells, in s->touched; in cell order when they are
 * many, so that near cells are near in memory. */
static size_t count_sample(const fc_null_bound *nb, fc_null_scratch *s, size_t m,
                           const size_t *firms, const double *firm_weight)
{
    size_t n_touched = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t c = nb->cell_of[firms[i]];
        if (s->count[c]++ == 0)
            s->touched[n_touched++] = c;
        if (nb->weighted)
            s->weight[c] += firm_weight[firms[i]];
    }
    if (n_touched > nb->n_cells / 16) {
        n_touched = 0;
        for (size_t c = 0; c < nb->n_cells; c++)
            if (s->count[c])
                s->touched[n_touched++] = (uint32_t)c;
    }
    return n_touched;
}

/* Joins each candidate cell with its near cells (candidate or not): the
 * components of candidate cells, with the other cells near them, merged
 * where they share such a cell. */
static void join_near(const fc_null_bound *nb, fc_null_scratch *s, size_t n_touched)
{
    for (size_t t = 0; t < n_touched; t++) {
        uint32_t c = s->touched[t];
        s->candidate[c] = may_hold_core(nb, s, c);
        s->parent[c] = c;
        s->total[c] = 0;
    }
    for (size_t t = 0; t < n_touched; t++) {
        uint32_t c = s->touched[t];
        for (size_t k = nb->near_start[c]; k < nb->near_start[c + 1]; k++) {
            uint32_t d = nb->near[k]; /* near is symmetric: each pair once */
            if (d > c && s->count[d] && (s->candidate[c] || s->candidate[d]))
                fc_uf_join(s->parent, c, d);
        }
    }
    for (size_t t = 0; t < n_touched; t++) { /* at the root: points, and bit 1 set when the */
        uint32_t c = s->touched[t], r = fc_uf_find(s->parent, c); /* component may hold a core */
        s->total[r] += s->count[c];
        s->candidate[r] |= (uint8_t)((s->candidate[c] & 1) << 1);
    }
}

size_t fc_null_bound_keep(const fc_null_bound *nb, fc_null_scratch *s, size_t m, size_t *firms,
                          const double *firm_weight, size_t open, size_t *largest)
{
    const size_t n_touched = count_sample(nb, s, m, firms, firm_weight);
    join_near(nb, s, n_touched);
    *largest = 0;
    bool any = false;
    for (size_t t = 0; t < n_touched; t++) {
        uint32_t c = s->touched[t];
        if (s->parent[c] == c && (s->candidate[c] & 2)) {
            *largest = s->total[c] > *largest ? s->total[c] : *largest;
            any |= s->total[c] >= open;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; any && i < m; i++) { /* in sample order: DBSCAN's ties stay */
        uint32_t r = fc_uf_find(s->parent, nb->cell_of[firms[i]]);
        if ((s->candidate[r] & 2) && s->total[r] >= open)
            firms[kept++] = firms[i];
    }
    for (size_t t = 0; t < n_touched; t++) { /* ready for the next sample */
        uint32_t c = s->touched[t];
        s->count[c] = 0;
        s->candidate[c] = 0;
        if (nb->weighted)
            s->weight[c] = 0;
    }
    return kept;
}

/* ---- DBSCAN of a sample, on the grid of all firms ------------------------- */

/* Room for m points in s; false when out of memory. */
static bool point_room(fc_null_scratch *s, size_t m)
{
    if (m <= s->room)
        return true;
    for (int d = 0; d < 3; d++) {
        free(s->at[d]);
        s->at[d] = malloc(m * sizeof *s->at[d]);
    }
    free(s->order), free(s->core), free(s->root), free(s->size), free(s->near_core), free(s->chord);
    s->order = malloc(m * sizeof *s->order);
    s->near_core = malloc(m * sizeof *s->near_core);
    s->chord = malloc(m * sizeof *s->chord);
    s->core = malloc(m);
    s->root = malloc(m * sizeof *s->root);
    s->size = malloc(m * sizeof *s->size);
    s->room = s->at[0] && s->at[1] && s->at[2] && s->order && s->core && s->root && s->size &&
                      s->near_core && s->chord
                  ? m
                  : 0;
    return s->room != 0;
}

/* The sample in cell order (in sample order within a cell): s->first[c] is
 * where cell c's points start, s->count[c] how many. */
static void place_sample(const fc_null_bound *nb, fc_null_scratch *s, size_t n_touched,
                         size_t m, const size_t *firms, int dims)
{
    uint32_t at = 0;
    for (size_t t = 0; t < n_touched; t++) {
        s->first[s->touched[t]] = at;
        at += s->count[s->touched[t]];
    }
    for (size_t i = 0; i < m; i++) {
        const uint32_t c = nb->cell_of[firms[i]];
        const uint32_t p = s->first[c]++;
        s->order[p] = (uint32_t)i;
        for (int d = 0; d < dims; d++)
            s->at[d][p] = nb->coord[d][firms[i]];
    }
    for (size_t t = 0; t < n_touched; t++) /* back to where each cell starts */
        s->first[s->touched[t]] -= s->count[s->touched[t]];
}

/* Core flags: a point is core with min_pts points within eps, itself
 * counted. */
static void mark_cores(const fc_null_bound *nb, fc_null_scratch *s, const grid *g,
                       size_t n_touched)
{
    const uint32_t need = (uint32_t)nb->threshold;
    for (size_t t = 0; t < n_touched; t++) {
        const uint32_t c = s->touched[t], a = s->first[c], e = a + s->count[c];
        const bool whole = nb->within_eps[c];
        if (whole && s->count[c] >= need) {
            memset(s->core + a, 1, e - a);
            s->candidate[c] = 1;
            continue;
        }
        if (!may_hold_core(nb, s, c)) { /* too few points near the cell: none is core */
            memset(s->core + a, 0, e - a);
            continue;
        }
        for (uint32_t p = a; p < e; p++) {
            uint32_t found = whole ? s->count[c] : 0;
            for (size_t k = nb->near_start[c]; k < nb->near_start[c + 1] && found < need; k++) {
                const uint32_t d = nb->near[k];
                if ((whole && d == c) || !s->count[d])
                    continue; /* counted whole; or no sampled firm there */
                for (uint32_t q = s->first[d]; q < s->first[d] + s->count[d] && found < need; q++)
                    found += (uint32_t)within(g, p, q);
            }
            s->core[p] = found >= need;
            s->candidate[c] |= s->core[p]; /* the cell holds a core point */
        }
    }
}

/* The first core point of a cell that holds one. */
static uint32_t first_core(const fc_null_scratch *s, uint32_t c)
{
    uint32_t p = s->first[c];
    while (!s->core[p])
        p++;
    return p;
}

/* Joins the core points of cells c <= d that are within eps. Where every
 * pair of each cell is within eps, each cell's core points are one
 * component already, and one link joins the two. */
static void join_cells(const fc_null_bound *nb, fc_null_scratch *s, const grid *g, uint32_t c,
                       uint32_t d)
{
    const uint32_t c0 = s->first[c], c1 = c0 + s->count[c];
    const uint32_t d0 = s->first[d], d1 = d0 + s->count[d];
    const bool whole = nb->within_eps[c] && nb->within_eps[d];
    if (c == d && nb->within_eps[c])
        return; /* joined by join_cores_near() */
    if (whole && fc_uf_find(s->root, first_core(s, c)) == fc_uf_find(s->root, first_core(s, d)))
        return;
    for (uint32_t p = c0; p < c1; p++) {
        if (!s->core[p])
            continue;
        for (uint32_t q = c == d ? p + 1 : d0; q < d1; q++) {
            if (!s->core[q] || fc_uf_find(s->root, p) == fc_uf_find(s->root, q) || !within(g, p, q))
                continue;
            fc_uf_join(s->root, p, q);
            if (whole)
                return;
        }
    }
}

/* Clusters: core points joined when within eps. */
static void join_cores_near(const fc_null_bound *nb, fc_null_scratch *s, const grid *g,
                            size_t n_touched)
{
    for (size_t t = 0; t < n_touched; t++) {
        const uint32_t c = s->touched[t], a = s->first[c], e = a + s->count[c];
        for (uint32_t p = a; p < e; p++)
            s->root[p] = p;
        if (s->candidate[c] && nb->within_eps[c]) /* all its core points, one component */
            for (uint32_t p = a, rep = first_core(s, c); p < e; p++)
                if (s->core[p])
                    s->root[p] = rep;
    }
    for (size_t t = 0; t < n_touched; t++) {
        const uint32_t c = s->touched[t];
        for (size_t k = nb->near_start[c]; s->candidate[c] && k < nb->near_start[c + 1]; k++) {
            const uint32_t d = nb->near[k];
            if (d >= c && s->candidate[d]) /* each pair of cells once, with core points */
                join_cells(nb, s, g, c, d);
        }
    }
}

/* A core point of a border point's cluster: that of its nearest core point
 * within eps, ties to the one first in the sample, as dbscan.c's label();
 * NO_POINT for noise. Only the cluster counts here, so where every core
 * point within eps is in one cluster (mostly so) none is measured.
 * Geodesic: a core point's chord c and 2 rho asin(c / 2 rho) bound its
 * geodesic distance below and above, so only the core points whose chord
 * is below every upper bound can be nearest; geod_inverse measures those
 * alone (often one). */
static uint32_t nearest_core(const fc_null_bound *nb, fc_null_scratch *s, const grid *g,
                             uint32_t c, uint32_t p)
{
    size_t n_near = 0;
    bool one_cluster = true;
    uint32_t cluster = NO_POINT; /* the first near core point's root */
    for (size_t k = nb->near_start[c]; k < nb->near_start[c + 1]; k++) {
        const uint32_t d = nb->near[k];
        if (!s->candidate[d])
            continue; /* no core point there */
        for (uint32_t q = s->first[d]; q < s->first[d] + s->count[d]; q++) {
            if (!s->core[q] || !within(g, p, q))
                continue;
            if (one_cluster) {
                const uint32_t root = fc_uf_find(s->root, q);
                cluster = n_near == 0 ? root : cluster;
                one_cluster = root == cluster;
            }
            s->near_core[n_near++] = q;
        }
    }
    if (n_near == 0 || one_cluster)
        return n_near ? s->near_core[0] : NO_POINT;
    double upper = INFINITY;
    for (size_t k = 0; k < n_near; k++) {
        const uint32_t q = s->near_core[k];
        double c2 = 0;
        for (int dim = 0; dim < g->dims; dim++)
            c2 += (g->s[dim][p] - g->s[dim][q]) * (g->s[dim][p] - g->s[dim][q]);
        s->chord[k] = sqrt(c2);
        if (g->geodesic)
            upper = fmin(upper, fc_longest_geodesic(g->rho, s->chord[k]));
    }
    double best_d = INFINITY;
    uint32_t best = NO_POINT;
    for (size_t k = 0; k < n_near; k++) {
        const uint32_t q = s->near_core[k];
        if (g->geodesic && s->chord[k] - GEODESIC_MARGIN > upper)
            continue; /* farther than another core point surely is */
        const double key = distance_key(g, p, q);
        if (key < best_d || (key == best_d && s->order[q] < s->order[best])) {
            best_d = key;
            best = q;
        }
    }
    return best;
}

int fc_null_bound_cluster(const fc_null_bound *nb, fc_null_scratch *s, size_t m,
                          const size_t *firms, const double *lon, const double *lat,
                          size_t *largest)
{
    *largest = 0;
    if (m == 0)
        return FC_OK;
    if (!point_room(s, m))
        return FC_ENOMEM;
    const size_t n_touched = count_sample(nb, s, m, firms, NULL);
    grid g = nb->metric; /* the neighbour test, reading the sample in cell order */
    place_sample(nb, s, n_touched, m, firms, g.dims);
    for (int d = 0; d < g.dims; d++)
        g.s[d] = s->at[d];
    g.order = s->order;
    g.lon = lon;
    g.lat = lat;
    g.n = m;
    mark_cores(nb, s, &g, n_touched);
    join_cores_near(nb, s, &g, n_touched);
    memset(s->size, 0, m * sizeof *s->size);
    for (size_t t = 0; t < n_touched; t++) {
        const uint32_t c = s->touched[t], a = s->first[c], e = a + s->count[c];
        for (uint32_t p = a; p < e; p++) {
            const uint32_t q = s->core[p] ? p : nearest_core(nb, s, &g, c, p);
            if (q == NO_POINT)
                continue; /* noise */
            const uint32_t size = ++s->size[fc_uf_find(s->root, q)];
            *largest = size > *largest ? size : *largest;
        }
    }
    for (size_t t = 0; t < n_touched; t++) { /* ready for the next sample */
        s->count[s->touched[t]] = 0;
        s->candidate[s->touched[t]] = 0;
    }
    return FC_OK;
}
