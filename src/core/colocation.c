/* SPDX-License-Identifier: MIT */
/* Neighbourhood co-location quotients (Leslie and Kronenfeld 2011) of every
 * ordered pair of sectors, with a fixed distance band: which sectors locate
 * together.
 *
 * N(i) is the set of firms within eps of firm i, i excluded, by the same
 * neighbour test as DBSCAN (grid.h). For sectors A and B,
 *   T(A, B)  = sum over firms i of A with N(i) not empty of |N(i) & B| / |N(i)|
 *   CLQ(A->B) = T(A, B) / (n'(A) (n(B) - [A = B]) / (n - 1)),
 * n'(A) the firms of A with a neighbour, n(B) the firms of B, n all firms.
 *
 * Counting every neighbour of every firm would cost the sum of |N(i)|, which
 * in a city centre is thousands a firm. colocation_sweep.c counts by
 * sliding windows; where it does not apply (beyond 80 degrees of latitude,
 * eps over 100 km, too many tiles to number, columns wider than eps) the
 * grid of cells below gives the same sums. Its cells are a quarter of
 * DBSCAN's side, and each cell keeps a histogram of its sectors:
 *  - a cell D whose every point is within eps of every point of cell C
 *    (their boxes' farthest corners pass the neighbour test) adds its
 *    histogram once for all of C's points;
 *  - for the other cells near C, each point p of C adds D's histogram when
 *    all of D is within eps of p, skips D when none of it is, and tests D's
 *    points one by one only when D straddles the circle around p.
 * Box tests use the same floating-point expression as the neighbour test,
 * whose rounding is monotone, so they never decide differently from testing
 * every pair.
 *
 * T is summed in 64.64 fixed point: each firm adds count * floor(2^64 /
 * |N(i)|), whole numbers whose sum is exact in any order, so the result does
 * not depend on the threads (and is within n 2^-64 of the real sum). */
#include "core/colocation_sweep.h"
#include "core/grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef colocation_fixed fixed; /* 64.64 fixed point */
#define FIXED_ONE COLOCATION_FIXED_ONE

/* Per-cell sector histograms: cell c's distinct sectors and their counts are
 * entries [cell_start[c], cell_start[c] + len[c]) of sector and count. */
typedef struct histograms {
    uint32_t *sector, *count, *len;
} histograms;

/* Per-cell bounding boxes, dims values each. */
typedef struct boxes {
    double *lo, *hi;
} boxes;

/* The sum over j in N(i) of u_j = 1/|N(j)|, which the null model's
 * variance needs (colocation_test.c), is gathered in the same pass: each
 * point, once it knows its u, hands it to its neighbours, by the routes it
 * counted them (N is symmetric): a whole cell at a time (in_cell) or point
 * by point (in_point). Each thread keeps its own sums, so they are in 64-bit
 * fixed point, with as many fractional bits as n leaves (63 less the bits
 * of n: a sum of at most n shares of at most 1 cannot overflow; 43 bits for
 * a million firms), exact in any order. */
typedef uint64_t u_fixed;

typedef struct u_handout {
    uint32_t *full;       /* the cells wholly within eps of the cell */
    uint32_t *point_full; /* the partial cells wholly within eps of the point */
    uint32_t *hits;       /* the points tested one by one and within eps of it */
    size_t hits_room;
    u_fixed *in_cell;     /* per cell: the u of points near every point of it */
    u_fixed *in_point;    /* per sorted point: the u of points near it */
    bool failed;          /* out of memory for hits */
} u_handout;

typedef struct thread_sums {
    fixed *t;          /* n_sectors^2 */
    size_t *n_with;    /* firms with a neighbour, per sector */
    uint32_t *cell_count, *point_count; /* dense per-sector counts */
    fixed *cell_u;     /* sum of 1/|N| over the cell's points, per sector */
    uint32_t *touched_cell, *touched_point, *touched_u;
    uint32_t *partial; /* cells to look at point by point */
    u_handout u;       /* when the u sums are asked for */
} thread_sums;

typedef struct colocation_job {
    const grid *g;
    const uint32_t *sector; /* by input index */
    uint32_t *sorted_sector; /* by sorted position: read in the inner loop, so in order */
    uint32_t *neighbours;    /* by input index: |N(i)| (NULL: not asked for) */
    double *u_sum;           /* by input index (NULL: not asked for; needs neighbours) */
    int u_bits;              /* fractional bits of u_fixed */
    size_t n_sectors;
    histograms h;
    boxes b;
    thread_sums *sums; /* per thread */
} colocation_job;

static box_coverage point_coverage(const grid *g, uint32_t p, const boxes *b, size_t c)
{
    double at[3];
    for (int d = 0; d < g->dims; d++)
        at[d] = g->s[d][p];
    return fc_grid_box_coverage(g, at, at, b->lo + c * 3, b->hi + c * 3);
}

static void count_sector(uint32_t *count, uint32_t *touched, uint32_t *n_touched, uint32_t s,
                         uint32_t k)
{
    if (count[s] == 0)
        touched[(*n_touched)++] = s;
    count[s] += k;
}

/* Adds cell d's histogram to count; returns its points. */
static uint32_t add_histogram(const colocation_job *j, size_t d, uint32_t *count,
                              uint32_t *touched, uint32_t *n_touched)
{
    const uint32_t at = j->g->cell_start[d];
    for (uint32_t e = at; e < at + j->h.len[d]; e++)
        count_sector(count, touched, n_touched, j->h.sector[e], j->h.count[e]);
    return j->g->cell_start[d + 1] - at;
}

/* Point p's neighbours in the partial cells: counted by sector in
 * ts->point_count; returns how many. With the u sums asked for, the cells
 * wholly within eps of p and the points tested within eps are listed in
 * ts->u (n_full and n_hits of them). */
static uint32_t count_partial(const colocation_job *j, thread_sums *ts, uint32_t p,
                              size_t n_partial, uint32_t *n_touched, size_t *n_full,
                              size_t *n_hits)
{
    const grid *g = j->g;
    const bool hand_out = j->u_sum != NULL;
    uint32_t total = 0;
    for (size_t k = 0; k < n_partial; k++) {
        const size_t d = ts->partial[k];
        box_coverage cv = point_coverage(g, p, &j->b, d);
        if (cv == BOX_FULL && !(p >= g->cell_start[d] && p < g->cell_start[d + 1])) {
            total += add_histogram(j, d, ts->point_count, ts->touched_point, n_touched);
            if (hand_out)
                ts->u.point_full[(*n_full)++] = (uint32_t)d;
            continue;
        }
        if (cv == BOX_NONE)
            continue;
        const uint32_t q0 = g->cell_start[d], q1 = g->cell_start[d + 1];
        if (!g->geodesic) { /* within(), with what it reads held in registers */
            const double *xs = g->s[0], *ys = g->s[1], px = xs[p], py = ys[p], eps2 = g->eps2;
            for (uint32_t q = q0; q < q1; q++) {
                double dx = px - xs[q], dy = py - ys[q];
                if (dx * dx + dy * dy <= eps2 && q != p) {
                    count_sector(ts->point_count, ts->touched_point, n_touched,
                                 j->sorted_sector[q], 1);
                    total++;
                    if (hand_out)
                        ts->u.hits[(*n_hits)++] = q;
                }
            }
            continue;
        }
        for (uint32_t q = q0; q < q1; q++)
            if (q != p && within(g, p, q)) {
                count_sector(ts->point_count, ts->touched_point, n_touched, j->sorted_sector[q],
                             1);
                total++;
                if (hand_out)
                    ts->u.hits[(*n_hits)++] = q;
            }
    }
    return total;
}

/* Room in ts->u.hits for every point of the partial cells; false when out
 * of memory. */
static bool hits_room(const colocation_job *j, thread_sums *ts, size_t n_partial)
{
    size_t need = 0;
    for (size_t k = 0; k < n_partial; k++)
        need += j->g->cell_start[ts->partial[k] + 1] - j->g->cell_start[ts->partial[k]];
    if (need <= ts->u.hits_room)
        return true;
    uint32_t *more = realloc(ts->u.hits, need * sizeof *more);
    if (!more)
        return false;
    ts->u.hits = more;
    ts->u.hits_room = need;
    return true;
}

/* One cell: the histogram of the cells wholly within eps of it, then each
 * of its points. */
static void colocate_cell(const colocation_job *j, thread_sums *ts, cell_run *runs, size_t c)
{
    const grid *g = j->g;
    const size_t S = j->n_sectors;
    const double *lo_c = j->b.lo + c * 3, *hi_c = j->b.hi + c * 3;
    uint32_t n_cell = 0, n_u = 0, full_total = 0;
    size_t n_partial = 0, n_full_cells = 0;
    const int nr = fc_grid_neighbour_runs(g, c, runs);
    for (int r = 0; r < nr; r++)
        for (size_t d = runs[r][0]; d < runs[r][1]; d++) {
            box_coverage cv =
                fc_grid_box_coverage(g, lo_c, hi_c, j->b.lo + d * 3, j->b.hi + d * 3);
            if (cv == BOX_FULL) {
                full_total += add_histogram(j, d, ts->cell_count, ts->touched_cell, &n_cell);
                if (j->u_sum)
                    ts->u.full[n_full_cells++] = (uint32_t)d;
            } else if (cv == BOX_PARTIAL) {
                ts->partial[n_partial++] = (uint32_t)d;
            }
        }
    if (j->u_sum && !hits_room(j, ts, n_partial)) {
        ts->u.failed = true;
        return;
    }
    /* c covers itself when its box passes: its points count themselves. */
    const bool self_counted = fc_grid_box_coverage(g, lo_c, hi_c, lo_c, hi_c) == BOX_FULL;
    u_fixed u_cell = 0; /* the u of c's points, for the cells wholly within eps of c */
    for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++) {
        const uint32_t a = j->sorted_sector[p];
        uint32_t n_point = 0;
        size_t n_full = 0, n_hits = 0;
        uint32_t total = full_total - self_counted +
                         count_partial(j, ts, p, n_partial, &n_point, &n_full, &n_hits);
        if (j->neighbours)
            j->neighbours[g->order[p]] = total;
        if (total > 0) {
            const fixed u = (fixed)(FIXED_ONE / total);
            ts->n_with[a]++;
            if (ts->cell_u[a] == 0)
                ts->touched_u[n_u++] = a;
            ts->cell_u[a] += u;
            for (uint32_t k = 0; k < n_point; k++) {
                const uint32_t b = ts->touched_point[k];
                ts->t[a * S + b] += u * ts->point_count[b];
            }
            const u_fixed v = ((u_fixed)1 << j->u_bits) / total;
            u_cell += v;
            for (size_t k = 0; k < n_full; k++)
                ts->u.in_cell[ts->u.point_full[k]] += v;
            for (size_t k = 0; k < n_hits; k++)
                ts->u.in_point[ts->u.hits[k]] += v;
        }
        for (uint32_t k = 0; k < n_point; k++)
            ts->point_count[ts->touched_point[k]] = 0;
    }
    for (size_t k = 0; k < n_full_cells; k++) /* c itself among them when self_counted */
        ts->u.in_cell[ts->u.full[k]] += u_cell;
    /* The shared part: every point of c with neighbours saw the same cells,
     * itself among them when self_counted. */
    for (uint32_t k = 0; k < n_u; k++) {
        const uint32_t a = ts->touched_u[k];
        for (uint32_t m = 0; m < n_cell; m++) {
            const uint32_t b = ts->touched_cell[m];
            ts->t[a * S + b] += ts->cell_u[a] * ts->cell_count[b];
        }
        if (self_counted)
            ts->t[a * S + a] -= ts->cell_u[a];
        ts->cell_u[a] = 0;
    }
    for (uint32_t m = 0; m < n_cell; m++)
        ts->cell_count[ts->touched_cell[m]] = 0;
}

static void colocate_cells(void *arg, size_t begin, size_t end, int worker)
{
    const colocation_job *j = arg;
    cell_run *runs = j->g->runs + (size_t)worker * (size_t)j->g->max_runs;
    for (size_t c = begin; c < end && !fc_parallel_cancelled(); c++)
        colocate_cell(j, &j->sums[worker], runs, c);
}

/* Each cell's bounding box and sector histogram. */
static void describe_cells(void *arg, size_t begin, size_t end, int worker)
{
    const colocation_job *j = arg;
    const grid *g = j->g;
    uint32_t *count = j->sums[worker].cell_count, *touched = j->sums[worker].touched_cell;
    for (size_t c = begin; c < end; c++) {
        fc_grid_cell_box(g, c, j->b.lo + c * 3, j->b.hi + c * 3);
        uint32_t n_touched = 0;
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++) {
            j->sorted_sector[p] = j->sector[g->order[p]];
            count_sector(count, touched, &n_touched, j->sorted_sector[p], 1);
        }
        const uint32_t at = g->cell_start[c];
        for (uint32_t k = 0; k < n_touched; k++) {
            j->h.sector[at + k] = touched[k];
            j->h.count[at + k] = count[touched[k]];
            count[touched[k]] = 0;
        }
        j->h.len[c] = n_touched;
    }
}

/* Each point's u sum, from what every thread handed out; a point of a cell
 * that covers itself handed its own u to the whole cell, itself included. */
static void gather_u_sums(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    const colocation_job *j = arg;
    const grid *g = j->g;
    for (size_t c = begin; c < end; c++) {
        const double *lo = j->b.lo + c * 3, *hi = j->b.hi + c * 3;
        const bool self_counted = fc_grid_box_coverage(g, lo, hi, lo, hi) == BOX_FULL;
        u_fixed in_cell = 0;
        for (int t = 0; t < g->threads; t++)
            in_cell += j->sums[t].u.in_cell[c];
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++) {
            const uint32_t i = g->order[p], total = j->neighbours[i];
            u_fixed sum = total ? in_cell : 0;
            for (int t = 0; total && t < g->threads; t++)
                sum += j->sums[t].u.in_point[p];
            if (total && self_counted)
                sum -= ((u_fixed)1 << j->u_bits) / total;
            j->u_sum[i] = ldexp((double)sum, -j->u_bits);
        }
    }
}

static bool u_handout_alloc(u_handout *u, size_t n, size_t n_cells, size_t max_near)
{
    u->full = malloc(max_near * sizeof *u->full);
    u->point_full = malloc(max_near * sizeof *u->point_full);
    u->in_cell = calloc(n_cells, sizeof *u->in_cell);
    u->in_point = calloc(n, sizeof *u->in_point);
    return u->full && u->point_full && u->in_cell && u->in_point;
}

static void u_handout_free(u_handout *u)
{
    free(u->full);
    free(u->point_full);
    free(u->hits);
    free(u->in_cell);
    free(u->in_point);
}

static bool thread_sums_alloc(thread_sums *ts, size_t S, size_t max_partial)
{
    ts->t = calloc(S * S, sizeof *ts->t);
    ts->n_with = calloc(S, sizeof *ts->n_with);
    ts->cell_count = calloc(S, sizeof *ts->cell_count);
    ts->point_count = calloc(S, sizeof *ts->point_count);
    ts->cell_u = calloc(S, sizeof *ts->cell_u);
    ts->touched_cell = malloc(S * sizeof *ts->touched_cell);
    ts->touched_point = malloc(S * sizeof *ts->touched_point);
    ts->touched_u = malloc(S * sizeof *ts->touched_u);
    ts->partial = malloc(max_partial * sizeof *ts->partial);
    return ts->t && ts->n_with && ts->cell_count && ts->point_count && ts->cell_u &&
           ts->touched_cell && ts->touched_point && ts->touched_u && ts->partial;
}

static void thread_sums_free(thread_sums *ts)
{
    free(ts->t);
    free(ts->n_with);
    free(ts->cell_count);
    free(ts->point_count);
    free(ts->cell_u);
    free(ts->touched_cell);
    free(ts->touched_point);
    free(ts->touched_u);
    free(ts->partial);
    u_handout_free(&ts->u);
}

/* The quotients from the sums. */
static void finish(const colocation_totals *totals, size_t n, const uint32_t *sector,
                   fc_colocation *out)
{
    const size_t S = out->n_sectors;
    for (size_t i = 0; i < n; i++)
        out->n_firms[sector[i]]++;
    for (size_t a = 0; a < S; a++) {
        out->n_with[a] = totals->n_with[a];
        for (size_t b = 0; b < S; b++) {
            double share = (double)totals->t[a * S + b] / (double)FIXED_ONE;
            double others = (double)out->n_firms[b] - (a == b);
            out->share[a * S + b] = share;
            out->clq[a * S + b] = out->n_with[a] > 0 && others > 0 && n > 1
                                      ? share / ((double)out->n_with[a] * others / (double)(n - 1))
                                      : NAN;
        }
    }
}

static int alloc_result(fc_context *ctx, size_t S, fc_colocation *out)
{
    *out = (fc_colocation){.n_sectors = S};
    out->n_firms = calloc(S, sizeof *out->n_firms);
    out->n_with = calloc(S, sizeof *out->n_with);
    out->share = calloc(S * S, sizeof *out->share);
    out->clq = malloc(S * S * sizeof *out->clq);
    if (!out->n_firms || !out->n_with || !out->share || !out->clq)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the co-location of %zu sectors", S);
    for (size_t k = 0; k < S * S; k++)
        out->clq[k] = NAN;
    return FC_OK;
}

/* The sums by the grid of cells of the given side, on g (its metric set). */
static int cell_sums(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                     const uint32_t *sector, size_t n_sectors, const fc_dbscan_params *metric,
                     double side, colocation_totals *totals)
{
    int status = fc_grid_build(ctx, g, n, x, y, NULL, metric, side);
    if (status != FC_OK)
        return status;
    colocation_job job = {.g = g, .sector = sector, .n_sectors = n_sectors,
                          .neighbours = totals->count, .u_sum = totals->u_sum,
                          .u_bits = totals->u_bits};
    job.h.sector = malloc(n * sizeof *job.h.sector);
    job.h.count = malloc(n * sizeof *job.h.count);
    job.h.len = malloc(g->n_cells * sizeof *job.h.len);
    job.sorted_sector = malloc(n * sizeof *job.sorted_sector);
    job.b.lo = malloc(g->n_cells * 3 * sizeof *job.b.lo);
    job.b.hi = malloc(g->n_cells * 3 * sizeof *job.b.hi);
    job.sums = calloc((size_t)g->threads, sizeof *job.sums);
    bool ok = job.h.sector && job.h.count && job.h.len && job.sorted_sector && job.b.lo &&
              job.b.hi && job.sums;
    for (int t = 0; ok && t < g->threads; t++)
        ok = thread_sums_alloc(&job.sums[t], n_sectors, fc_grid_max_near_cells(g)) &&
             (!job.u_sum ||
              u_handout_alloc(&job.sums[t].u, n, g->n_cells, fc_grid_max_near_cells(g)));
    if (ok) {
        fc_parallel_for(g->threads, g->n_cells, CELL_CHUNK, describe_cells, &job);
        status = fc_parallel_for_cancel(ctx, g->threads, g->n_cells, CELL_CHUNK / 16,
                                        colocate_cells, &job);
        for (int t = 0; t < g->threads; t++)
            ok = ok && !job.sums[t].u.failed;
    }
    if (status != FC_OK) {
        /* cancelled */
    } else if (!ok) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory for the co-location of %zu firms", n);
    } else {
        if (job.u_sum)
            fc_parallel_for(g->threads, g->n_cells, CELL_CHUNK, gather_u_sums, &job);
        for (int t = 0; t < g->threads; t++)
            fc_colocation_add_sums(totals, job.sums[t].t, job.sums[t].n_with, n_sectors);
    }
    for (int t = 0; job.sums && t < g->threads; t++)
        thread_sums_free(&job.sums[t]);
    free(job.sums);
    free(job.h.sector);
    free(job.h.count);
    free(job.h.len);
    free(job.sorted_sector);
    free(job.b.lo);
    free(job.b.hi);
    return status;
}

int fc_colocation_with_side(fc_context *ctx, size_t n, const double *x, const double *y,
                            const uint32_t *sector, size_t n_sectors,
                            const fc_dbscan_params *params, double side, fc_colocation *out,
                            fc_neighbourhoods *nb)
{
    *out = (fc_colocation){0};
    if (nb && nb->u_sum && !nb->count)
        return fc_error(ctx, FC_EINVAL, "co-location: u sums need the neighbour counts");
    if (n_sectors == 0 || n_sectors > FC_COLOCATION_MAX_SECTORS)
        return fc_error(ctx, FC_EINVAL, "co-location of %zu sectors: at most %d", n_sectors,
                        FC_COLOCATION_MAX_SECTORS);
    for (size_t i = 0; i < n; i++)
        if (sector[i] >= n_sectors)
            return fc_error(ctx, FC_EINVAL, "point %zu has sector %u of %zu", i, sector[i],
                            n_sectors);
    int status = alloc_result(ctx, n_sectors, out);
    fc_dbscan_params metric = *params; /* only eps and the distance matter here */
    metric.weight = NULL;
    metric.min_pts = 1;
    grid g = {0};
    if (status == FC_OK)
        status = fc_grid_metric(ctx, &g, n, x, y, &metric);
    if (status == FC_OK && n == 0)
        return FC_OK;
    if (status == FC_OK && params->threads < 0)
        status = fc_error(ctx, FC_EINVAL, "threads must be 0 (one per core) or more");
    colocation_totals totals = {.count = nb ? nb->count : NULL, .u_sum = nb ? nb->u_sum : NULL,
                                .u_bits = 63};
    for (size_t rest = n; rest > 0; rest >>= 1) /* 63 less the bits of n */
        totals.u_bits--;
    totals.t = calloc(n_sectors * n_sectors, sizeof *totals.t);
    totals.n_with = calloc(n_sectors, sizeof *totals.n_with);
    if (status == FC_OK && (!totals.t || !totals.n_with))
        status = fc_error(ctx, FC_ENOMEM, "out of memory for the co-location of %zu firms", n);
    int swept = FC_EINVAL; /* the sweep, unless the points are left to the cells */
    if (status == FC_OK) {
        g.threads = fc_threads_or_cores(params->threads);
        swept = fc_colocation_sweep(ctx, &g, n, x, y, sector, n_sectors, side, &totals);
        if (swept == FC_ENOMEM)
            status = fc_error(ctx, FC_ENOMEM, "out of memory for the co-location of %zu firms",
                              n);
        else if (swept != FC_OK && swept != FC_EINVAL)
            status = swept;
    }
    if (status == FC_OK && swept != FC_OK)
        status = cell_sums(ctx, &g, n, x, y, sector, n_sectors, &metric, side, &totals);
    if (status == FC_OK)
        finish(&totals, n, sector, out);
    free(totals.t);
    free(totals.n_with);
    fc_grid_free(&g);
    if (status != FC_OK)
        fc_colocation_free(out);
    return status;
}

int fc_colocation_compute(fc_context *ctx, size_t n, const double *x, const double *y,
                          const uint32_t *sector, size_t n_sectors,
                          const fc_dbscan_params *params, fc_colocation *out,
                          fc_neighbourhoods *nb)
{
    const double side = params ? fc_grid_default_side(params) / FC_COLOCATION_SUBDIVIDE : 0;
    return fc_colocation_with_side(ctx, n, x, y, sector, n_sectors, params, side, out, nb);
}

void fc_colocation_free(fc_colocation *c)
{
    free(c->n_firms);
    free(c->n_with);
    free(c->share);
    free(c->clq);
    free(c->p_value);
    free(c->q_value);
    *c = (fc_colocation){0};
}
