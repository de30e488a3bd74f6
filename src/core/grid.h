/* SPDX-License-Identifier: MIT */
/* The grid index shared by DBSCAN (dbscan.c) and the co-location counts
 * (colocation.c): points binned into cells so that any two points of one
 * cell are within eps of each other, sorted by (group, cell); the neighbour
 * test, planar or geodesic, exact. How it works is said in grid.c. */
#ifndef FC_GRID_H
#define FC_GRID_H

#include "core/core.h"
#include "geo/earth.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#define NO_POINT UINT32_MAX
#define GEODESIC_MARGIN 1e-6 /* metres */
#define POINT_CHUNK 65536    /* points per work item of a parallel step */
#define CELL_CHUNK 256       /* cells per work item */

typedef size_t cell_run[2]; /* cells [lo, hi) */

typedef struct grid {
    int dims;           /* 2: planar, 3: geodesic (earth-centred x, y, z) */
    bool geodesic;
    int threads;
    size_t n;           /* points */
    size_t n_cells;
    uint32_t *order;    /* sorted position -> input index */
    double *s[3];       /* coordinates in sorted order */
    const double *lon, *lat; /* geodesic: the input's, by input index */
    double *sw;         /* weights in sorted order; NULL: every weight is 1 */
    double lo[3], side; /* cell of a coordinate: floor((v - lo) / side) */
    uint64_t groups;     /* 1 + the largest group */
    int top_last;        /* the last sort stage packed components 0 .. top_last, so columns
                            d >= top_last are not in its keys */
    uint64_t columns[3]; /* cells per axis */
    uint32_t *cell_start; /* n_cells + 1 offsets into sorted positions */
    size_t n_lines;
    uint32_t *line_start; /* n_lines + 1 offsets into cells */
    size_t n_planes;      /* 3D: runs of lines of one group and first column */
    uint32_t *plane_start; /* n_planes + 1 offsets into lines */
    uint32_t *cg;       /* cell keys: group (NULL: no groups), then one */
    uint32_t *ck[3];    /* column per dimension */
    uint8_t *cell_within_eps; /* 1: every pair in the cell is within eps */
    int reach;          /* neighbours lie within this many cells */
    int max_runs;       /* neighbour_runs() gives at most this many */
    cell_run *runs;     /* scratch for neighbour_runs(), max_runs per thread */
    /* the neighbour test */
    double eps, eps2;
    double chord_max2, chord_sure2; /* geodesic: squared chord bounds */
    double rho;         /* geodesic: the ellipsoid's smallest radius of curvature */
    fc_earth earth;     /* geodesic: the ellipsoid */
} grid;

static inline uint32_t cell_group(const grid *g, size_t c)
{
    return g->cg ? g->cg[c] : 0;
}

static inline double weight_at(const grid *g, uint32_t p)
{
    return g->sw ? g->sw[p] : 1.0;
}

static inline uint32_t cell_column(const grid *g, int d, double v)
{
    return (uint32_t)floor((v - g->lo[d]) / g->side);
}

/* The ellipsoid of params: its semi-major axis a and flattening f (WGS84
 * when both are 0), and its smallest radius of curvature rho (for Schur's
 * bounds on geodesics from chords). Not checked: fc_grid_metric() does. */
void fc_ellipsoid(const fc_dbscan_params *params, double *a, double *f, double *rho);
/* Earth-centred 3D coordinates (x, y, z, n each) of n points of longitude
 * and latitude on the ellipsoid (a, f), by PROJ, on up to `threads`
 * threads. */
int fc_earth_centred(fc_context *ctx, int threads, size_t n, const double *lon,
                     const double *lat, double a, double f, double *x, double *y, double *z);
/* Geodesic distance between input points i and j (longitudes and
 * latitudes by input index), by PROJ's geod_inverse, called with the smaller
 * index first so that the answer does not depend on the order. */
double fc_geodesic_between(const fc_earth *earth, const double *lon, const double *lat,
                           uint32_t i, uint32_t j);
/* The same between sorted positions p and q. */
double fc_grid_geodesic(const grid *g, uint32_t p, uint32_t q);

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
    return fc_grid_geodesic(g, p, q) <= g->eps;
}

/* Distance for ranking core points by nearness: squared for planar. */
static inline double distance_key(const grid *g, uint32_t p, uint32_t q)
{
    if (g->geodesic)
        return fc_grid_geodesic(g, p, q);
    double dx = g->s[0][p] - g->s[0][q], dy = g->s[1][p] - g->s[1][q];
    return dx * dx + dy * dy;
}


/* Cell c's bounding box: lo and hi get dims values each (the rest of 3 are
 * left as they are). */
static inline void fc_grid_cell_box(const grid *g, size_t c, double *lo, double *hi)
{
    for (int d = 0; d < g->dims; d++) {
        lo[d] = INFINITY;
        hi[d] = -INFINITY;
    }
    for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++)
        for (int d = 0; d < g->dims; d++) {
            const double v = g->s[d][p]; /* finite */
            lo[d] = v < lo[d] ? v : lo[d];
            hi[d] = v > hi[d] ? v : hi[d];
        }
}

/* The most cells near one cell: (2 reach + 1)^dims. */
static inline size_t fc_grid_max_near_cells(const grid *g)
{
    const size_t span = (size_t)(2 * g->reach + 1);
    return g->dims == 3 ? span * span * span : span * span;
}

/* How two boxes (lo, hi: dims values each) lie to each other: every point
 * of one within eps of every point of the other (FULL), none (NONE), or
 * some (PARTIAL). The farthest corners and the gap are squared in the
 * floating-point steps of within(), whose rounding is monotone: FULL and
 * NONE never decide otherwise than testing every pair would. */
typedef enum { BOX_NONE, BOX_PARTIAL, BOX_FULL } box_coverage;

static inline box_coverage fc_grid_box_coverage(const grid *g, const double *lo_a,
                                                const double *hi_a, const double *lo_b,
                                                const double *hi_b)
{
    double far = 0, gap = 0;
    for (int d = 0; d < g->dims; d++) {
        double f1 = hi_b[d] - lo_a[d], f2 = hi_a[d] - lo_b[d];
        double f = f1 > f2 ? f1 : f2;
        far += f * f;
        double t = lo_b[d] > hi_a[d]   ? lo_b[d] - hi_a[d]
                   : lo_a[d] > hi_b[d] ? lo_a[d] - hi_b[d]
                                       : 0;
        gap += t * t;
    }
    if (gap > (g->geodesic ? g->chord_max2 : g->eps2))
        return BOX_NONE;
    if (far <= (g->geodesic ? g->chord_sure2 : g->eps2))
        return BOX_FULL;
    return BOX_PARTIAL;
}

/* Checks the parameters (eps, min-pts, weights, coordinates) and sets the
 * neighbour test of g. */
int fc_grid_metric(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                   const fc_dbscan_params *params);
/* The largest cell side at which every cell is within eps (diagonal below
 * eps, or below the sure chord in 3D). */
double fc_grid_default_side(const fc_dbscan_params *params);
/* Builds the grid of n points with cells of the given side, after
 * fc_grid_metric(): threads, reach, per-thread scratch, the sort by (group,
 * cell), cells, lines and planes. group may be NULL (one group). */
int fc_grid_build(fc_context *ctx, grid *g, size_t n, const double *x, const double *y,
                  const uint32_t *group, const fc_dbscan_params *params, double side);
/* The cells within `reach` of cell c in every dimension, as runs of cell
 * indices, one per neighbouring line, in cell order. Returns the number of
 * runs (at most g->max_runs). */
int fc_grid_neighbour_runs(const grid *g, size_t c, cell_run *runs);
void fc_grid_free(grid *g);

/* Orders idx[lo, hi) so that idx[mid] is the median by c[] (ties by
 * index), smaller before it, larger after (Hoare's quickselect): the
 * kd-trees' split (knn.c, hdbscan.c). */
void fc_select_median(const double *c, uint32_t *idx, size_t lo, size_t hi, size_t mid);

/* The longest a geodesic of chord c can be on an ellipsoid whose smallest
 * radius of curvature is rho (Schur: a geodesic's curvature is at most
 * 1/rho), with the margin for rounding; never shorter than c. */
static inline double fc_longest_geodesic(double rho, double c)
{
    const double half = c / (2 * rho);
    return (half < 1 ? 2 * rho * asin(half) : M_PI * rho) + GEODESIC_MARGIN;
}

#endif /* FC_GRID_H */
