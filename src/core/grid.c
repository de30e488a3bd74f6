/* SPDX-License-Identifier: MIT */
/* The grid index of exact DBSCAN and the co-location counts, planar or
 * geodesic.
 *
 * Points are binned into cells, so that any two points of one cell are
 * within eps of each other, and sorted by (group, cell) with a stable radix
 * sort. A point's neighbours all lie within `reach` cells of its own, found
 * through an index of the grid's lines (and planes, in 3D).
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
 *
 * Memory, beyond the caller's arrays: per point a sort index (4 bytes) and
 * the sorted coordinates (16 bytes planar, 24 geodesic), plus the weights (8)
 * when there are any; per occupied cell 17 to 29 bytes. While sorting, 16
 * bytes of keys and indices more; the geodesic 3D coordinates are put in
 * sorted order one axis at a time.
 */
#include "core/grid.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void fc_grid_free(grid *g)
{
    free(g->order);
    for (int d = 0; d < 3; d++) {
        free(g->s[d]);
        free(g->ck[d]);
    }
    free(g->sw);
    free(g->cell_start);
    free(g->line_start);
    free(g->plane_start);
    free(g->cg);
    free(g->cell_within_eps);
    free(g->runs);
}

double fc_geodesic_between(const fc_earth *earth, const double *lon, const double *lat,
                           uint32_t i, uint32_t j)
{
    if (i > j) { /* the same call whatever the order */
        uint32_t t = i;
        i = j;
        j = t;
    }
    return fc_earth_distance(earth, lat[i], lon[i], lat[j], lon[j]);
}

double fc_grid_geodesic(const grid *g, uint32_t p, uint32_t q)
{
    return fc_geodesic_between(&g->earth, g->lon, g->lat, g->order[p], g->order[q]);
}

/* Lines: the runs of cells that share the group and all columns but the
 * last (a column of the 2D grid, a row of cubes in 3D). Within a line the
 * cells are in order of their last column. */

/* The run holding item i, for runs given by their n_runs + 1 starts. */
static size_t run_holding(const uint32_t *start, size_t n_runs, size_t i)
{
    size_t lo = 0, hi = n_runs; /* start[lo] <= i < start[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (start[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Adds to runs the cells of line l whose last column is in [lo, hi]. */
static int add_run(const grid *g, size_t l, uint32_t lo, uint32_t hi, cell_run *runs, int k)
{
    const uint32_t *last = g->ck[g->dims - 1];
    size_t a = g->line_start[l], b = g->line_start[l + 1];
    while (a < b) { /* the first cell with last column >= lo */
        size_t mid = a + (b - a) / 2;
        if (last[mid] < lo)
            a = mid + 1;
        else
            b = mid;
    }
    size_t e = a;
    while (e < g->line_start[l + 1] && last[e] <= hi)
        e++;
    if (e > a) {
        runs[k][0] = a;
        runs[k][1] = e;
        k++;
    }
    return k;
}

/* The cells within `reach` of cell c in every dimension, as runs of cell
 * indices, one per neighbouring line, in cell order. Returns the number of
 * runs. */
int fc_grid_neighbour_runs(const grid *g, size_t c, cell_run *runs)
{
    const int r = g->reach;
    const uint32_t group = cell_group(g, c);
    const int64_t c0 = g->ck[0][c], cl = g->ck[g->dims - 1][c];
    const uint32_t lo = (uint32_t)(cl >= r ? cl - r : 0);
    const uint32_t hi = (uint32_t)(cl + r); /* cells per axis < 2^32 - 2 reach */
    const size_t line = run_holding(g->line_start, g->n_lines, c);
    int k = 0;
    if (g->dims == 2) {
        /* Lines of one group have increasing columns: the neighbours of
         * line l are among lines l - r .. l + r. */
        size_t first = line >= (size_t)r ? line - (size_t)r : 0;
        for (size_t l = first; l <= line + (size_t)r && l < g->n_lines; l++) {
            const size_t lc = g->line_start[l];
            if (cell_group(g, lc) == group && llabs((int64_t)g->ck[0][lc] - c0) <= r)
                k = add_run(g, l, lo, hi, runs, k);
        }
        return k;
    }
    /* 3D: planes (lines of one group and first column) have increasing
     * first columns, so the neighbouring planes are among plane - r ..
     * plane + r; in each, the lines of rows c1 - r .. c1 + r. */
    const int64_t c1 = g->ck[1][c];
    const uint32_t row_lo = (uint32_t)(c1 >= r ? c1 - r : 0);
    const size_t plane = run_holding(g->plane_start, g->n_planes, line);
    size_t first = plane >= (size_t)r ? plane - (size_t)r : 0;
    for (size_t pl = first; pl <= plane + (size_t)r && pl < g->n_planes; pl++) {
        const size_t pc = g->line_start[g->plane_start[pl]];
        if (cell_group(g, pc) != group || llabs((int64_t)g->ck[0][pc] - c0) > r)
            continue;
        size_t a = g->plane_start[pl], b = g->plane_start[pl + 1];
        while (a < b) { /* the first line of row >= row_lo */
            size_t mid = a + (b - a) / 2;
            if (g->ck[1][g->line_start[mid]] < row_lo)
                a = mid + 1;
            else
                b = mid;
        }
        for (size_t l = a; l < g->plane_start[pl + 1]; l++) {
            if ((int64_t)g->ck[1][g->line_start[l]] > c1 + r)
                break;
            k = add_run(g, l, lo, hi, runs, k);
        }
    }
    return k;
}

/* Geodesic mode: earth-centred 3D coordinates of the points, by PROJ
 * (src/geo/earth.c); each thread converts a block in a PROJ context of its
 * own. */
typedef struct cart_job {
    double a, f;
    const double *lon, *lat;
    double *x, *y, *z;
    atomic_int failed;
} cart_job;

static void to_cartesian(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    cart_job *j = arg;
    if (!fc_earth_centred_block(j->a, j->f, j->lon, j->lat, begin, end, j->x, j->y, j->z))
        atomic_store(&j->failed, 1);
}

int fc_earth_centred(fc_context *ctx, int threads, size_t n, const double *lon,
                     const double *lat, double a, double f, double *x, double *y, double *z)
{
    cart_job job = {.a = a, .f = f, .lon = lon, .lat = lat, .x = x, .y = y, .z = z};
    atomic_init(&job.failed, 0);
    fc_parallel_for(threads, n, (n + (size_t)threads - 1) / (size_t)threads, to_cartesian, &job);
    if (atomic_load(&job.failed))
        return fc_error(ctx, FC_ECRS, "PROJ cannot place the points on the ellipsoid (a = %.17g, "
                                      "f = %.17g)",
                        a, f);
    return FC_OK;
}

/* ---- sorting by cell, in parallel --------------------------------------- */

/* Points are sorted by (group, column 0, column 1 ...) with LSD radix sorts
 * of (key, index) pairs: one stage per run of these components whose
 * numbers fit 32 bits together, least significant first (usually one stage
 * in 2D; the cells number more than 2^32 in 3D). In each pass every thread
 * counts, then places, the digits of its own block of points, so the sort
 * is stable and the same for any thread count. */
#define RADIX_MAX_BITS 11

typedef struct radix_job {
    const uint32_t *key_in, *idx_in; /* idx_in NULL: the identity */
    uint32_t *key_out, *idx_out;
    size_t block;         /* points per block; block b is the b-th chunk */
    int shift;
    uint32_t mask;
    size_t *offset;       /* per block, per digit: counts, then next place */
} radix_job;

static void radix_count(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    radix_job *j = arg;
    size_t *count = j->offset + (begin / j->block) * (j->mask + 1);
    for (size_t i = begin; i < end; i++)
        count[(j->key_in[i] >> j->shift) & j->mask]++;
}

static void radix_place(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    radix_job *j = arg;
    size_t *next = j->offset + (begin / j->block) * (j->mask + 1);
    for (size_t i = begin; i < end; i++) {
        size_t at = next[(j->key_in[i] >> j->shift) & j->mask]++;
        j->key_out[at] = j->key_in[i];
        j->idx_out[at] = j->idx_in ? j->idx_in[i] : (uint32_t)i;
    }
}

/* Sorts the pairs (key[i], idx[i]) stably by key (values below 2^bits);
 * idx NULL stands for 0, 1, 2 ... Returns the sorted keys and indices in
 * new arrays, or FC_ENOMEM; frees key and idx either way (idx as soon as
 * it is read, to keep the peak of memory low). */
static int radix_sort_pairs(int threads, size_t n, int bits, uint32_t *key, uint32_t *idx,
                            uint32_t **key_sorted, uint32_t **idx_sorted)
{
    const int passes = bits > 0 ? (bits + RADIX_MAX_BITS - 1) / RADIX_MAX_BITS : 1;
    const int digit_bits = bits > 0 ? (bits + passes - 1) / passes : 1;
    const size_t buckets = (size_t)1 << digit_bits;
    const size_t blocks = (size_t)threads, block = (n + blocks - 1) / blocks;
    uint32_t *keys[2] = {key, malloc(n * sizeof *key)};
    uint32_t *idxs[2] = {malloc(n * sizeof *idx), NULL}; /* idxs[1]: after pass 0 */
    size_t *offset = malloc(blocks * buckets * sizeof *offset);
    if (!keys[1] || !idxs[0] || !offset) {
        free(keys[0]), free(keys[1]), free(idxs[0]), free(idxs[1]), free(offset), free(idx);
        return FC_ENOMEM;
    }
    for (int pass = 0; pass < passes; pass++) {
        radix_job j = {keys[pass % 2], pass ? idxs[(pass - 1) % 2] : idx, keys[1 - pass % 2],
                       idxs[pass % 2], block, pass * digit_bits, (uint32_t)(buckets - 1), offset};
        memset(offset, 0, blocks * buckets * sizeof *offset);
        fc_parallel_for(threads, n, block, radix_count, &j);
        size_t at = 0; /* digit by digit, block by block */
        for (size_t d = 0; d < buckets; d++)
            for (size_t b = 0; b < blocks; b++) {
                size_t count = offset[b * buckets + d];
                offset[b * buckets + d] = at;
                at += count;
            }
        fc_parallel_for(threads, n, block, radix_place, &j);
        if (pass == 0) {
            free(idx);
            idx = NULL;
            if (passes > 1 && !(idxs[1] = malloc(n * sizeof *idx))) {
                free(keys[0]), free(keys[1]), free(idxs[0]), free(offset);
                return FC_ENOMEM;
            }
        }
    }
    *key_sorted = keys[passes % 2]; /* where the last pass wrote */
    free(keys[1 - passes % 2]);
    *idx_sorted = idxs[(passes - 1) % 2];
    free(idxs[1 - (passes - 1) % 2]);
    free(offset);
    return FC_OK;
}

/* The sort keys' components: 0 the group, 1 + d column d. */
static uint64_t component_count(const grid *g, int k)
{
    return k == 0 ? g->groups : g->columns[k - 1];
}

typedef struct key_job {
    const grid *g;
    const double *const *coord;
    const uint32_t *group;
    int first, last;      /* components packed into the key, most significant first */
    const uint32_t *order; /* NULL: the identity */
    uint32_t *key;
} key_job;

static void make_keys(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    const key_job *j = arg;
    const grid *g = j->g;
    for (size_t p = begin; p < end; p++) {
        const size_t i = j->order ? j->order[p] : p;
        uint64_t k = 0;
        for (int c = j->first; c <= j->last; c++)
            k = k * component_count(g, c) +
                (c == 0 ? (j->group ? j->group[i] : 0)
                        : cell_column(g, c - 1, j->coord[c - 1][i]));
        j->key[p] = (uint32_t)k;
    }
}

/* Fills g->order. *top_key gets the sorted keys of the last stage, which
 * packed the components up to g->top_last (the more significant ones it
 * left out are the same for every point); NULL when every point is in one
 * cell. */
static int sort_by_cell(grid *g, const double *const *coord, const uint32_t *group,
                        uint32_t **top_key)
{
    *top_key = NULL;
    g->top_last = 0; /* no stage: every column is compared */
    for (int last = g->dims; last >= 0;) {
        uint64_t numbers = component_count(g, last);
        int first = last;
        while (first > 0 && numbers * component_count(g, first - 1) <= (uint64_t)UINT32_MAX + 1)
            numbers *= component_count(g, --first);
        if (numbers > 1) {
            free(*top_key); /* only the last stage's keys are kept */
            *top_key = NULL;
            uint32_t *key = malloc(g->n * sizeof *key), *sorted_key, *order;
            if (!key)
                return FC_ENOMEM;
            key_job job = {g, coord, group, first, last, g->order, key};
            fc_parallel_for(g->threads, g->n, POINT_CHUNK, make_keys, &job);
            int bits = 0;
            while (bits < 32 && (numbers - 1) >> bits)
                bits++;
            uint32_t *previous = g->order;
            g->order = NULL;
            if (radix_sort_pairs(g->threads, g->n, bits, key, previous, &sorted_key, &order))
                return FC_ENOMEM;
            g->order = order;
            *top_key = sorted_key;
            g->top_last = last;
        }
        last = first - 1;
    }
    if (!g->order) { /* every point in one cell */
        if (!(g->order = malloc(g->n * sizeof *g->order)))
            return FC_ENOMEM;
        for (size_t i = 0; i < g->n; i++)
            g->order[i] = (uint32_t)i;
    }
    return FC_OK;
}

/* ---- parallel steps of the grid build ----------------------------------- */

typedef struct gather_job {
    const uint32_t *order;
    const double *from;
    double *to;
} gather_job;

static void gather_points(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    const gather_job *j = arg;
    for (size_t p = begin; p < end; p++)
        j->to[p] = j->from[j->order[p]];
}

/* to[p] = from[order[p]], for p in [0, n). */
static int gather(fc_context *ctx, const grid *g, const double *from, double **to)
{
    if (!(*to = malloc(g->n * sizeof **to)))
        return fc_error(ctx, FC_ENOMEM, "out of memory sorting %zu points", g->n);
    gather_job job = {g->order, from, *to};
    fc_parallel_for(g->threads, g->n, POINT_CHUNK, gather_points, &job);
    return FC_OK;
}

typedef struct box_job {
    grid *g;
} box_job;

/* Whether each cell's bounding box passes the neighbour test. */
static void test_cell_boxes(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    grid *g = ((box_job *)arg)->g;
    for (size_t c = begin; c < end; c++) {
        double b0[3], b1[3];
        fc_grid_cell_box(g, c, b0, b1);
        double diag2 = 0;
        for (int d = 0; d < g->dims; d++) {
            double w = b1[d] - b0[d];
            diag2 += w * w;
        }
        g->cell_within_eps[c] = (uint8_t)(diag2 <= (g->geodesic ? g->chord_sure2 : g->eps2));
    }
}

/* Whether sorted position p starts a new cell: its top key (group and
 * columns up to top_last) or another column differs from the point
 * before. Reading the top key, in sorted order, rather than the groups by
 * input index spares a cache miss per point. */
static inline bool starts_cell(const grid *g, const uint32_t *top_key, size_t p)
{
    if (p == 0)
        return true;
    if (top_key && top_key[p] != top_key[p - 1])
        return true;
    for (int d = g->top_last; d < g->dims; d++) /* component 1 + d: not in the top key */
        if (cell_column(g, d, g->s[d][p]) != cell_column(g, d, g->s[d][p - 1]))
            return true;
    return false;
}

/* The runs of items (cells; or lines, given by their first cells) whose
 * cells share the group and the first `columns` columns: *start gets the
 * *n_runs + 1 offsets into the items. False when out of memory. */
static bool runs_sharing(const grid *g, const uint32_t *first_cell, size_t n_items, int columns,
                         uint32_t **start, size_t *n_runs)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) { /* count, then fill */
        n = 0;
        for (size_t i = 0; i < n_items; i++) {
            const size_t c = first_cell ? first_cell[i] : i;
            const size_t p = i == 0 ? c : first_cell ? first_cell[i - 1] : i - 1;
            bool new_run = i == 0 || cell_group(g, c) != cell_group(g, p);
            for (int d = 0; d < columns && !new_run; d++)
                new_run = g->ck[d][c] != g->ck[d][p];
            if (new_run && pass == 1)
                (*start)[n] = (uint32_t)i;
            n += new_run;
        }
        if (pass == 0 && !(*start = malloc((n + 1) * sizeof **start)))
            return false;
    }
    (*start)[n] = (uint32_t)n_items;
    *n_runs = n;
    return true;
}

static int build(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                 const uint32_t *group, const fc_dbscan_params *params, double side)
{
    const int dims = g->dims;
    g->n = n;
    g->side = side;
    double *coord[3] = {(double *)x, (double *)y, NULL}; /* input order */
    int status = FC_OK;
    if (g->geodesic) {
        g->lon = x;
        g->lat = y;
        for (int d = 0; d < 3; d++)
            if (!(coord[d] = g->s[d] = malloc(n * sizeof(double))))
                return fc_error(ctx, FC_ENOMEM, "out of memory placing %zu points in 3D", n);
        if ((status = fc_earth_centred(ctx, g->threads, n, x, y, g->earth.a, g->earth.f, coord[0],
                                      coord[1], coord[2])) != FC_OK)
            return status;
    }

    double hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int d = 0; d < dims; d++)
        g->lo[d] = INFINITY;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dims; d++) {
            const double v = coord[d][i]; /* finite */
            g->lo[d] = v < g->lo[d] ? v : g->lo[d];
            hi[d] = v > hi[d] ? v : hi[d];
        }
    const double max_cells = 4294967290.0 - 2.0 * g->reach; /* column + reach fits uint32 */
    for (int d = 0; d < dims; d++)
        if ((hi[d] - g->lo[d]) / side >= max_cells)
            return fc_error(ctx, FC_EINVAL,
                            "eps %g is too small for the extent of the points (%g across): "
                            "more than 4 billion grid cells",
                            params->eps, hi[d] - g->lo[d]);

    /* Sort by (group, columns...), ties in input order. */
    g->groups = 1;
    for (size_t i = 0; group && i < n; i++)
        g->groups = group[i] >= g->groups ? (uint64_t)group[i] + 1 : g->groups;
    for (int d = 0; d < dims; d++)
        g->columns[d] = (uint64_t)cell_column(g, d, hi[d]) + 1;
    uint32_t *sorted_key; /* the last sort stage's keys, or NULL */
    if (sort_by_cell(g, (const double *const *)coord, group, &sorted_key) != FC_OK)
        return fc_error(ctx, FC_ENOMEM, "out of memory sorting %zu points", n);

    /* Coordinates and weights in sorted order. */
    for (int d = 0; d < dims && status == FC_OK; d++) {
        g->s[d] = NULL; /* geodesic: the unsorted axes stay in g->s until replaced */
        status = gather(ctx, g, coord[d], &g->s[d]);
        if (g->geodesic) /* one axis at a time: the peak of memory stays low */
            free(coord[d]);
    }
    if (status == FC_OK && params->weight)
        status = gather(ctx, g, params->weight, &g->sw);
    if (status != FC_OK) {
        free(sorted_key);
        return status;
    }

    /* The cells: runs of equal (group, columns). */
    size_t n_cells = 0;
    for (size_t p = 0; p < n; p++)
        n_cells += starts_cell(g, sorted_key, p);
    g->n_cells = n_cells;
    g->cell_start = malloc((n_cells + 1) * sizeof *g->cell_start);
    g->cg = group ? malloc(n_cells * sizeof *g->cg) : NULL;
    g->cell_within_eps = malloc(n_cells);
    bool ok = g->cell_start && (!group || g->cg) && g->cell_within_eps;
    for (int d = 0; d < dims && ok; d++)
        ok = (g->ck[d] = malloc(n_cells * sizeof(uint32_t))) != NULL;
    if (!ok) {
        free(sorted_key);
        return fc_error(ctx, FC_ENOMEM, "out of memory building the grid of %zu points", n);
    }
    size_t c = 0;
    for (size_t p = 0; p < n; p++) {
        if (!starts_cell(g, sorted_key, p))
            continue;
        g->cell_start[c] = (uint32_t)p;
        if (group)
            g->cg[c] = group[g->order[p]];
        for (int d = 0; d < dims; d++)
            g->ck[d][c] = cell_column(g, d, g->s[d][p]);
        c++;
    }
    free(sorted_key);
    g->cell_start[n_cells] = (uint32_t)n;

    /* Lines: cells sharing all columns but the last; 3D planes: lines
     * sharing the first column. */
    if (!runs_sharing(g, NULL, n_cells, dims - 1, &g->line_start, &g->n_lines) ||
        (dims == 3 && !runs_sharing(g, g->line_start, g->n_lines, 1, &g->plane_start,
                                    &g->n_planes)))
        return fc_error(ctx, FC_ENOMEM, "out of memory building the grid of %zu points", n);
    box_job job = {g};
    fc_parallel_for(g->threads, n_cells, CELL_CHUNK, test_cell_boxes, &job);
    return FC_OK;
}
/* Checks the parameters and fills the neighbour test of the grid. */
void fc_ellipsoid(const fc_dbscan_params *params, double *a, double *f, double *rho)
{
    *a = params->semi_major;
    *f = params->flattening;
    if (*a == 0 && *f == 0) { /* WGS84 */
        *a = 6378137.0;
        *f = 1 / 298.257223563;
    }
    const double b = *a * (1 - *f);
    *rho = fmin(b * b / *a, *a * *a / b); /* smallest radius of curvature */
}

int fc_grid_metric(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
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
    double a, f, rho;
    fc_ellipsoid(params, &a, &f, &rho);
    if (!(a > 0) || !isfinite(a) || !(f < 1) || !isfinite(f))
        return fc_error(ctx, FC_EINVAL, "bad ellipsoid: semi-major axis %g, flattening %g", a, f);
    g->dims = 3;
    g->geodesic = true;
    g->rho = rho;
    fc_earth_init(&g->earth, a, f);
    const double chord_max = params->eps + GEODESIC_MARGIN;
    g->chord_max2 = chord_max * chord_max;
    /* Schur: geodesic <= 2 rho asin(chord / 2 rho), for arcs up to pi rho. */
    double sure = params->eps - GEODESIC_MARGIN;
    double chord_sure = sure > 0 && sure < M_PI * rho / 2 ? 2 * rho * sin(sure / (2 * rho)) : 0;
    g->chord_sure2 = chord_sure * chord_sure;
    return FC_OK;
}

double fc_grid_default_side(const fc_dbscan_params *params)
{
    if (params->distance == FC_DISTANCE_GEODESIC)
        return (params->eps - GEODESIC_MARGIN) / sqrt(3.0) * (1 - 1e-9); /* diagonal < chord_sure */
    return params->eps / sqrt(2.0);
}

int fc_grid_build(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                  const uint32_t *group, const fc_dbscan_params *params, double side)
{
    if (!(side > 0) || !isfinite(side))
        return fc_error(ctx, FC_EINVAL, "eps %g gives no usable grid cell", params->eps);
    if (params->threads < 0)
        return fc_error(ctx, FC_EINVAL, "threads must be 0 (one per core) or more");
    g->threads = fc_threads_or_cores(params->threads);
    /* Neighbours lie within reach cells (the margin covers the rounding of
     * the cell computation). */
    const double reach = g->geodesic ? sqrt(g->chord_max2) : params->eps;
    const double cells = ceil(reach / side + 1e-6);
    if (cells > 16)
        return fc_error(ctx, FC_EINTERNAL, "grid cells of side %g are too small for eps %g", side,
                        params->eps);
    g->reach = (int)cells;
    const int span = 2 * g->reach + 1;
    g->max_runs = g->dims == 3 ? span * span : span;
    g->runs = malloc((size_t)g->max_runs * (size_t)g->threads * sizeof *g->runs);
    if (!g->runs)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    return build(ctx, g, n, x, y, group, params, side);
}
