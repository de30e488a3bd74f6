/* SPDX-License-Identifier: MIT */
/* Cluster polygons with the GEOS C API. */
#define _GNU_SOURCE /* qsort_r */
#include "io/io.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool is_polygonal(GEOSContextHandle_t h, const GEOSGeometry *g)
{
    int t = GEOSGeomTypeId_r(h, g);
    return (t == GEOS_POLYGON || t == GEOS_MULTIPOLYGON) && !GEOSisEmpty_r(h, g);
}

/* Whether g's minimum width (the narrowest strip holding it) is below w. */
static bool thinner_than(GEOSContextHandle_t h, const GEOSGeometry *g, double w)
{
    GEOSGeometry *width = GEOSMinimumWidth_r(h, g);
    double len = INFINITY;
    if (width) {
        GEOSLength_r(h, width, &len);
        GEOSGeom_destroy_r(h, width);
    }
    return len < w;
}

/* GEOS's concave hull, except for nearly collinear points: GEOS 3.11.1
 * (Debian 12) crashes on some of those (libgeos/geos#719, #946: a flat
 * triangle on the border; fixed in GEOS 3.12.1), and their concave hull is their convex hull or a sliver
 * anyway. So points whose convex hull is less than FC_HULL_FLAT times as
 * wide as it is long get the convex hull. */
static GEOSGeometry *concave_hull(GEOSContextHandle_t h, const GEOSGeometry *mp, double ratio)
{
    GEOSGeometry *convex = GEOSConvexHull_r(h, mp);
    if (!convex || !is_polygonal(h, convex))
        return convex;
    double perimeter = 0;
    GEOSLength_r(h, convex, &perimeter);
    if (thinner_than(h, convex, FC_HULL_FLAT * perimeter / 2))
        return convex;
    GEOSGeom_destroy_r(h, convex);
    return GEOSConcaveHull_r(h, mp, ratio, 0);
}

/* ---- the union of eps/2 discs ------------------------------------------- */

/* GEOS buffers a multipoint by noding every circle against every other: a
 * dense cluster of n firms costs n^2 (a thousand identical firms took 35 s
 * and 5 GB). Instead, the firms whose disc adds nothing are left out, and
 * the discs of the others are merged by GEOS's cascaded union, which costs
 * about n log n. The union stays the same set:
 *
 * - a firm at the same place as an earlier one adds nothing;
 * - space is cut into square cells of side r / 3 (the fastest of r / 3,
 *   r / 4 and r / 6 on the benchmark). Each occupied cell has one coverer,
 *   its first firm (by place, then input order). A cell T is covered by an
 *   occupied cell C that lies so near that every point of T is within
 *   r cos(pi/32) of every point of C: then T lies inside the polygon of C's
 *   coverer (GEOS draws a disc as a 32-gon, whose inscribed circle has that
 *   radius), wherever in C the coverer is;
 * - coverers go first, in cell order: one whose disc meets only cells
 *   covered by other coverers still kept is left out, and the coverers it
 *   relies on are pinned, so that they are never left out after it. In a
 *   dense cluster most coverers go this way (three in four on the
 *   benchmark's largest clusters, whose union then takes a third of the
 *   time);
 * - then any other firm whose disc meets only cells covered by kept
 *   coverers is left out.
 * Every firm left out has its polygon inside the kept ones', which stay. */

#define DISC_SEGMENTS 8 /* per quarter circle, as GEOSBuffer's default */
#define CELLS_PER_RADIUS 3

/* An occupied cell, and what became of its coverer. */
enum { COVERER_FREE, COVERER_PINNED, COVERER_DROPPED };
typedef struct disc_cell {
    int64_t cx, cy;
    int state; /* COVERER_*: pinned, another disc relies on it; dropped, it is left out */
    int around; /* every cell within r of this one covered: 0 not known yet, 1 yes, 2 no */
} disc_cell;

typedef struct disc_sort {
    const int64_t *cell; /* [2 * i]: cx, cy */
    const double *x, *y;
} disc_sort;

/* By cell, then place, then input order: a cell's firms come together, and
 * firms at one place one after the other. */
static int by_cell_then_place(const void *a, const void *b, void *arg)
{
    const disc_sort *k = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const int64_t *p = k->cell + 2 * i, *q = k->cell + 2 * j;
    if (p[0] != q[0])
        return p[0] < q[0] ? -1 : 1;
    if (p[1] != q[1])
        return p[1] < q[1] ? -1 : 1;
    if (k->x[i] != k->x[j])
        return k->x[i] < k->x[j] ? -1 : 1;
    if (k->y[i] != k->y[j])
        return k->y[i] < k->y[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static uint64_t cell_hash(int64_t cx, int64_t cy)
{
    uint64_t z = (uint64_t)cx * 0x9E3779B97F4A7C15ULL ^ (uint64_t)cy * 0xC2B2AE3D27D4EB4FULL;
    return z ^ (z >> 29);
}

/* Open addressing over the occupied cells: index + 1, 0 empty. The index
 * of cell (cx, cy), or SIZE_MAX when it is not occupied. */
static size_t cell_find(const size_t *slots, size_t mask, const disc_cell *cells, int64_t cx,
                        int64_t cy)
{
    for (size_t s = cell_hash(cx, cy) & mask;; s = (s + 1) & mask) {
        if (!slots[s])
            return SIZE_MAX;
        const disc_cell *c = &cells[slots[s] - 1];
        if (c->cx == cx && c->cy == cy)
            return slots[s] - 1;
    }
}

/* The occupied cells, for the covering tests. */
typedef struct cell_grid {
    const size_t *slots;
    size_t mask;
    disc_cell *cells;
    double side;
    /* the offsets (dx, dy) of the cells near enough to cover a cell: every
     * point of one within reach (in cells, see above) of every point of the
     * other; reach < CELLS_PER_RADIUS, so none lies further */
    int n_near;
    int near[(2 * CELLS_PER_RADIUS + 1) * (2 * CELLS_PER_RADIUS + 1)][2];
    /* the offsets of the cells within r of a cell: the disc of any firm in
     * it meets no other */
    int n_around;
    int around[(2 * CELLS_PER_RADIUS + 3) * (2 * CELLS_PER_RADIUS + 3)][2];
} cell_grid;

static void find_offsets(cell_grid *g, double reach)
{
    g->n_around = 0;
    for (int dx = -CELLS_PER_RADIUS - 1; dx <= CELLS_PER_RADIUS + 1; dx++)
        for (int dy = -CELLS_PER_RADIUS - 1; dy <= CELLS_PER_RADIUS + 1; dy++) {
            int gx = abs(dx) > 1 ? abs(dx) - 1 : 0, gy = abs(dy) > 1 ? abs(dy) - 1 : 0;
            if (gx * gx + gy * gy <= CELLS_PER_RADIUS * CELLS_PER_RADIUS) {
                g->around[g->n_around][0] = dx;
                g->around[g->n_around][1] = dy;
                g->n_around++;
            }
        }
    g->n_near = 0;
    for (int dx = -CELLS_PER_RADIUS; dx <= CELLS_PER_RADIUS; dx++)
        for (int dy = -CELLS_PER_RADIUS; dy <= CELLS_PER_RADIUS; dy++) {
            double ex = abs(dx) + 1, ey = abs(dy) + 1;
            if (ex * ex + ey * ey <= reach * reach) {
                g->near[g->n_near][0] = dx;
                g->near[g->n_near][1] = dy;
                g->n_near++;
            }
        }
}

/* A cell near enough to T (tx, ty) to cover it whose coverer is kept
 * (not dropped, and not `self`): a pinned one if there is one, else a free
 * one; SIZE_MAX if none. */
static size_t covering_cell(const cell_grid *g, int64_t tx, int64_t ty, size_t self)
{
    size_t free_one = SIZE_MAX;
    for (int k = 0; k < g->n_near; k++) {
        size_t c = cell_find(g->slots, g->mask, g->cells, tx + g->near[k][0], ty + g->near[k][1]);
        if (c == SIZE_MAX || c == self || g->cells[c].state == COVERER_DROPPED)
            continue;
        if (g->cells[c].state == COVERER_PINNED)
            return c;
        if (free_one == SIZE_MAX)
            free_one = c;
    }
    return free_one;
}

/* Whether every cell that the disc of radius r around (px, py) meets is
 * covered by a kept coverer other than `self` (see above); with `pin`, the
 * coverers it relies on are pinned, so that they are never dropped. */
static bool disc_covered(const cell_grid *g, double px, double py, double r, size_t self, bool pin)
{
    const double side = g->side;
    int64_t x0 = (int64_t)floor((px - r) / side), x1 = (int64_t)floor((px + r) / side);
    int64_t y0 = (int64_t)floor((py - r) / side), y1 = (int64_t)floor((py + r) / side);
    for (int pass = 0; pass < (pin ? 2 : 1); pass++) /* check all, then pin */
        for (int64_t tx = x0; tx <= x1; tx++)
            for (int64_t ty = y0; ty <= y1; ty++) {
                double nx = fmax((double)tx * side, fmin(px, (double)(tx + 1) * side)) - px;
                double ny = fmax((double)ty * side, fmin(py, (double)(ty + 1) * side)) - py;
                if (nx * nx + ny * ny > r * r)
                    continue; /* the disc misses this cell */
                size_t c = covering_cell(g, tx, ty, self);
                if (c == SIZE_MAX)
                    return false;
                if (pass == 1)
                    g->cells[c].state = COVERER_PINNED;
            }
    return true;
}

/* Whether every cell within r of occupied cell c is covered by kept
 * coverers: then so is the disc of every firm in c. Found once per cell. */
static bool surroundings_covered(const cell_grid *g, size_t c)
{
    disc_cell *cell = &g->cells[c];
    for (int k = 0; k < g->n_around && !cell->around; k++)
        if (covering_cell(g, cell->cx + g->around[k][0], cell->cy + g->around[k][1], SIZE_MAX) ==
            SIZE_MAX)
            cell->around = 2;
    if (!cell->around)
        cell->around = 1;
    return cell->around == 1;
}

/* Marks in keep[] the firms whose discs make the union (see above); false
 * when out of memory. */
/* Whether order[k] is the first firm of its cell: its coverer. */
static bool first_in_cell(const int64_t *cell, const size_t *order, size_t k)
{
    size_t i = order[k], prev = k ? order[k - 1] : 0;
    return k == 0 || cell[2 * i] != cell[2 * prev] || cell[2 * i + 1] != cell[2 * prev + 1];
}

static bool discs_that_matter(size_t n, const double *x, const double *y, double r, bool *keep)
{
    const double side = r / CELLS_PER_RADIUS;
    size_t *order = malloc(n * sizeof *order);
    int64_t *cell = malloc(2 * n * sizeof *cell);
    disc_cell *cells = malloc(n * sizeof *cells);
    size_t n_slots = 16;
    while (n_slots < 2 * n)
        n_slots *= 2;
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (!order || !cell || !cells || !slots) {
        free(order), free(cell), free(cells), free(slots);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        cell[2 * i] = (int64_t)floor(x[i] / side);
        cell[2 * i + 1] = (int64_t)floor(y[i] / side);
    }
    disc_sort sort = {cell, x, y};
    qsort_r(order, n, sizeof *order, by_cell_then_place, &sort);
    /* each cell's first firm is its coverer */
    size_t n_cells = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        keep[i] = first_in_cell(cell, order, k);
        if (keep[i]) {
            cells[n_cells] = (disc_cell){cell[2 * i], cell[2 * i + 1], COVERER_FREE, 0};
            size_t s = cell_hash(cell[2 * i], cell[2 * i + 1]) & (n_slots - 1);
            while (slots[s])
                s = (s + 1) & (n_slots - 1);
            slots[s] = ++n_cells;
        }
    }
    /* a hair inside the 32-gon's inscribed circle: rounding never decides */
    cell_grid g = {.slots = slots, .mask = n_slots - 1, .cells = cells, .side = side};
    find_offsets(&g, r * cos(M_PI / (4 * DISC_SEGMENTS)) * (1 - 1e-9) / side);
    /* Coverers whose disc the other kept coverers cover are dropped, in
     * cell order; the ones they rely on are pinned and stay. Then every
     * other firm whose disc the kept coverers cover. */
    size_t c = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        if (!keep[i])
            continue;
        if (disc_covered(&g, x[i], y[i], r, c, true)) {
            cells[c].state = COVERER_DROPPED;
            keep[i] = false;
        }
        c++;
    }
    c = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k], prev = k ? order[k - 1] : 0;
        if (first_in_cell(cell, order, k)) {
            c = k == 0 ? 0 : c + 1;
            continue;
        }
        /* at the same place as the firm before it, kept or covered, its
         * disc adds nothing */
        keep[i] = !(x[i] == x[prev] && y[i] == y[prev]) && !surroundings_covered(&g, c) &&
                  !disc_covered(&g, x[i], y[i], r, SIZE_MAX, false);
    }
    free(order), free(cell), free(cells), free(slots);
    return true;
}

/* The union of the discs of radius r around the points (each a 32-gon, as
 * GEOSBuffer draws them), as one (multi)polygon. */
static GEOSGeometry *union_of_discs(GEOSContextHandle_t h, size_t n, const double *x,
                                   const double *y, double r)
{
    bool *keep = malloc((n ? n : 1) * sizeof *keep);
    GEOSGeometry **discs = malloc((n ? n : 1) * sizeof *discs);
    if (!keep || !discs || !discs_that_matter(n, x, y, r, keep)) {
        free(keep), free(discs);
        return NULL;
    }
    size_t m = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (!keep[i])
            continue;
        GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, x[i], y[i]);
        discs[m] = pt ? GEOSBuffer_r(h, pt, r, DISC_SEGMENTS) : NULL;
        if (pt)
            GEOSGeom_destroy_r(h, pt);
        ok = discs[m] != NULL;
        m += ok;
    }
    GEOSGeometry *all = ok ? GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, discs,
                                                         (unsigned)m)
                           : NULL;
    if (!all)
        for (size_t i = 0; i < m; i++)
            GEOSGeom_destroy_r(h, discs[i]);
    GEOSGeometry *u = all ? GEOSUnaryUnion_r(h, all) : NULL;
    if (all)
        GEOSGeom_destroy_r(h, all);
    free(keep), free(discs);
    return u;
}

static GEOSGeometry *multipoint(GEOSContextHandle_t h, size_t n, const double *x, const double *y)
{
    GEOSGeometry **pts = malloc((n ? n : 1) * sizeof *pts);
    if (!pts)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        GEOSCoordSequence *cs = GEOSCoordSeq_create_r(h, 1, 2);
        GEOSCoordSeq_setXY_r(h, cs, 0, x[i], y[i]);
        pts[i] = GEOSGeom_createPoint_r(h, cs);
    }
    GEOSGeometry *mp = GEOSGeom_createCollection_r(h, GEOS_MULTIPOINT, pts, (unsigned)n);
    free(pts); /* the collection owns the points */
    return mp;
}

int fc_hull(fc_context *ctx, void *geos_handle, size_t n, const double *x, const double *y,
            const fc_hull_params *params, unsigned char **wkb, size_t *wkb_size, double *area)
{
    const double buffer_radius = params->buffer_radius;
    GEOSContextHandle_t h = geos_handle;
    *wkb = NULL;
    *wkb_size = 0;
    if (n == 0)
        return fc_error(ctx, FC_EINTERNAL, "hull of no points");
    GEOSGeometry *mp = multipoint(h, n, x, y);
    if (!mp)
        return fc_error(ctx, FC_EGEOM, "cannot build a multipoint of %zu points", n);
    GEOSGeometry *g = NULL;
    switch (params->kind) {
    case FC_HULL_CONVEX: g = GEOSConvexHull_r(h, mp); break;
    case FC_HULL_CONCAVE: g = concave_hull(h, mp, params->concavity); break;
    default: g = union_of_discs(h, n, x, y, buffer_radius); break;
    }
    /* One point, two points or collinear points have no area: their hull is
     * a point or a line, which gets the buffer footprint instead. So does a
     * sliver: firms on a line in longitude/latitude are a hair off a line in
     * the working plane, and their hull, nanometres wide, would have no area
     * to speak of and turn invalid once rounded into another CRS. */
    if (g && (!is_polygonal(h, g) || thinner_than(h, g, buffer_radius * FC_HULL_SLIVER))) {
        GEOSGeometry *b = GEOSBuffer_r(h, g, buffer_radius, 8);
        GEOSGeom_destroy_r(h, g);
        g = b;
    }
    GEOSGeom_destroy_r(h, mp);
    if (g && !GEOSisValid_r(h, g)) {
        GEOSGeometry *v = GEOSMakeValid_r(h, g);
        GEOSGeom_destroy_r(h, g);
        g = v;
    }
    if (!g || !is_polygonal(h, g)) {
        if (g)
            GEOSGeom_destroy_r(h, g);
        return fc_error(ctx, FC_EGEOM, "GEOS could not build a polygon around %zu points", n);
    }
    /* Edges drawn straight here are curves in another CRS: extra vertices
     * keep the polygon's shape when it is reprojected. */
    if (params->densify > 0) {
        GEOSGeometry *d = GEOSDensify_r(h, g, params->densify);
        if (d) {
            GEOSGeom_destroy_r(h, g);
            g = d;
        }
    }
    GEOSArea_r(h, g, area);
    GEOSWKBWriter *w = GEOSWKBWriter_create_r(h);
    unsigned char *buf = GEOSWKBWriter_write_r(h, w, g, wkb_size);
    GEOSWKBWriter_destroy_r(h, w);
    GEOSGeom_destroy_r(h, g);
    if (!buf)
        return fc_error(ctx, FC_EGEOM, "cannot encode a cluster polygon as WKB");
    *wkb = malloc(*wkb_size);
    if (*wkb)
        memcpy(*wkb, buf, *wkb_size);
    GEOSFree_r(h, buf);
    return *wkb ? FC_OK : fc_error(ctx, FC_ENOMEM, "out of memory");
}

/* ---- many sets, in parallel --------------------------------------------- */

/* For convex hulls: drops the points strictly inside the polygon of the
 * extreme points in eight directions (Akl and Toussaint's filter). They
 * cannot be on the hull, so GEOS, given the others, draws the same hull, from
 * a few hundred points rather than a million (GEOS first copies every point
 * into a set of unique coordinates, which dominated the time). "Strictly"
 * is decided with a margin far above the orientation test's rounding error,
 * so that a doubtful point is kept. Returns the number of points kept, in
 * their order, at the front of x and y. */
size_t fc_hull_drop_interior(size_t n, double *x, double *y)
{
    if (n < 16)
        return n;
    /* Directions in counter-clockwise order: the extremes follow the hull. */
    static const double dir[8][2] = {{0, -1}, {1, -1}, {1, 0}, {1, 1},
                                     {0, 1},  {-1, 1}, {-1, 0}, {-1, -1}};
    size_t best[8] = {0};
    for (size_t i = 1; i < n; i++)
        for (int d = 0; d < 8; d++) {
            const size_t b = best[d];
            if (dir[d][0] * x[i] + dir[d][1] * y[i] > dir[d][0] * x[b] + dir[d][1] * y[b])
                best[d] = i;
        }
    double px[8], py[8];
    int m = 0;
    for (int d = 0; d < 8; d++) {
        const size_t b = best[d];
        if (m > 0 && px[m - 1] == x[b] && py[m - 1] == y[b])
            continue;
        if (d == 7 && m > 0 && px[0] == x[b] && py[0] == y[b])
            continue;
        px[m] = x[b];
        py[m] = y[b];
        m++;
    }
    if (m < 3)
        return n;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool inside = true;
        for (int e = 0; e < m && inside; e++) {
            const int f = (e + 1) % m;
            const double u = (px[f] - px[e]) * (y[i] - py[e]), v = (py[f] - py[e]) * (x[i] - px[e]);
            inside = u - v > 1e-12 * (fabs(u) + fabs(v));
        }
        if (!inside) {
            x[kept] = x[i];
            y[kept] = y[i];
            kept++;
        }
    }
    return kept;
}

typedef struct hull_worker {
    bool ready;
    int ready_status;
    GEOSContextHandle_t geos;
    char geos_msg[FC_GEOS_MESSAGE_SIZE];
    OGRCoordinateTransformationH to_lonlat;
    double *px, *py;
    fc_context ctx; /* this worker's errors */
} hull_worker;

typedef struct set_size {
    size_t size, set;
} set_size;

static int larger_first(const void *a, const void *b)
{
    const set_size *p = a, *q = b;
    if (p->size != q->size)
        return p->size < q->size ? 1 : -1;
    return (p->set > q->set) - (p->set < q->set);
}

typedef struct hulls_job {
    fc_context *ctx;
    const size_t *start, *members;
    const set_size *by_size; /* the sets, largest first */
    const double *x, *y;
    const fc_hull_params *params;
    const fc_area_measure *measure;
    size_t n_sets, largest;
    unsigned char **wkb;
    size_t *wkb_size;
    double *area;
    hull_worker *workers;
    atomic_size_t done;
    atomic_int stop;
    atomic_int cancelled;   /* the progress callback said stop */
    double last_poll;       /* caller's thread only: when it last asked, inside GEOS */
    pthread_mutex_t lock; /* guards the first error, below */
    int status;
    size_t failed_set;
    char errmsg[sizeof ((fc_context *)0)->errmsg];
} hulls_job;

/* ---- cancelling inside GEOS --------------------------------------------- */

/* One GEOS operation (the buffer of a big cluster, say) can take minutes, so
 * a cancel cannot wait for it. GEOS 3.11 calls a process-wide callback from
 * inside its long loops; each hull thread says which job it works for, and
 * the callback interrupts GEOS in that thread once the job stops. On the
 * caller's thread it also asks the progress callback, at most every tenth of
 * a second, so that a cancel reaches even a thread busy in GEOS. */
static _Thread_local hulls_job *geos_job;
static _Thread_local int geos_worker;
static GEOSInterruptCallback *previous_callback;
static pthread_once_t callback_once = PTHREAD_ONCE_INIT;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The caller's thread: a cancel from the progress callback stops the job. */
static int ask_progress(hulls_job *j)
{
    size_t done = atomic_load(&j->done);
    if (fc_progress(j->ctx, (double)done / (double)j->n_sets, "cluster polygons") == FC_OK)
        return FC_OK;
    atomic_store(&j->cancelled, 1);
    atomic_store(&j->stop, 1);
    return FC_ECANCEL;
}

static void geos_poll(void)
{
    hulls_job *j = geos_job;
    if (j) {
        if (geos_worker == 0 && !atomic_load(&j->stop) && now_seconds() - j->last_poll > 0.1) {
            j->last_poll = now_seconds();
            ask_progress(j);
        }
        if (atomic_load(&j->stop))
            GEOS_interruptRequest(); /* this thread checks it right after */
    }
    if (previous_callback)
        previous_callback();
}

static void install_geos_poll(void) { previous_callback = GEOS_interruptRegisterCallback(geos_poll); }

/* The caller's thread, its share done, while other threads finish theirs:
 * it goes on asking the progress callback, so that a cancel reaches a set
 * that another thread is busy with (in GEOS, through geos_poll). */
static void hulls_wait(void *arg)
{
    hulls_job *j = arg;
    const struct timespec tenth = {0, 100000000L};
    while (atomic_load(&j->done) < j->n_sets && !atomic_load(&j->stop)) {
        nanosleep(&tenth, NULL);
        ask_progress(j);
    }
}

static int worker_ready(hulls_job *j, hull_worker *w)
{
    if (w->ready) /* set up once: its outcome stands for every later set */
        return w->ready_status;
    w->ready = true;
    w->geos = GEOS_init_r();
    w->px = malloc((j->largest ? j->largest : 1) * sizeof *w->px);
    w->py = malloc((j->largest ? j->largest : 1) * sizeof *w->py);
    if (j->measure->to_lonlat)
        w->to_lonlat = OCTClone(j->measure->to_lonlat);
    if (!w->geos || !w->px || !w->py || (j->measure->to_lonlat && !w->to_lonlat))
        return w->ready_status =
                   fc_error(&w->ctx, FC_ENOMEM, "out of memory for cluster polygons");
    GEOSContext_setErrorMessageHandler_r(w->geos, fc_geos_message, w->geos_msg);
    return w->ready_status = FC_OK;
}

static int one_set(hulls_job *j, hull_worker *w, size_t c)
{
    int status = worker_ready(j, w);
    if (status != FC_OK)
        return status;
    size_t k = 0;
    for (size_t m = j->start[c]; m < j->start[c + 1]; m++, k++) {
        w->px[k] = j->x[j->members[m]];
        w->py[k] = j->y[j->members[m]];
    }
    if (j->params->kind == FC_HULL_CONVEX)
        k = fc_hull_drop_interior(k, w->px, w->py);
    double area = 0;
    w->geos_msg[0] = '\0';
    status = fc_hull(&w->ctx, w->geos, k, w->px, w->py, j->params, &j->wkb[c], &j->wkb_size[c],
                     &area);
    if (status != FC_OK && w->geos_msg[0]) {
        size_t len = strlen(w->ctx.errmsg);
        snprintf(w->ctx.errmsg + len, sizeof w->ctx.errmsg - len, ": %s", w->geos_msg);
    }
    if (status == FC_OK && w->to_lonlat) {
        OGRGeometryH g = NULL;
        if (OGR_G_CreateFromWkbEx(j->wkb[c], NULL, &g, j->wkb_size[c]) != OGRERR_NONE ||
            OGR_G_Transform(g, w->to_lonlat) != OGRERR_NONE)
            status = fc_error_gdal(&w->ctx, FC_ECRS, "cannot measure the area of cluster %zu",
                                   c + 1);
        else
            area = fc_ellipsoidal_area(g, j->measure->a, j->measure->f);
        if (g)
            OGR_G_DestroyGeometry(g);
    } else {
        area *= j->measure->to_metres * j->measure->to_metres;
    }
    j->area[c] = area;
    if (status != FC_OK && status != FC_ECANCEL)
        fc_error_prefix(&w->ctx, "cluster %zu", c + 1);
    return status;
}

static void hull_sets(void *arg, size_t begin, size_t end, int worker)
{
    hulls_job *j = arg;
    hull_worker *w = &j->workers[worker];
    geos_job = j;
    geos_worker = worker;
    for (size_t i = begin; i < end && !atomic_load(&j->stop); i++) {
        const size_t c = j->by_size[i].set;
        int status = one_set(j, w, c);
        atomic_fetch_add(&j->done, 1);
        if (status == FC_OK && worker == 0) /* the caller's thread: progress */
            status = ask_progress(j);
        if (status == FC_OK || atomic_load(&j->cancelled))
            continue; /* a set GEOS was interrupted in is no failure of its own */
        /* Of several failures, the first set's is reported. */
        pthread_mutex_lock(&j->lock);
        if (j->status == FC_OK || c < j->failed_set) {
            j->status = status;
            j->failed_set = c;
            snprintf(j->errmsg, sizeof j->errmsg, "%s",
                     status == FC_ECANCEL && worker == 0 ? j->ctx->errmsg : w->ctx.errmsg);
        }
        pthread_mutex_unlock(&j->lock);
        atomic_store(&j->stop, 1);
    }
    geos_job = NULL;
    GEOS_interruptCancel(); /* a request no operation of this job took */
}

int fc_hulls(fc_context *ctx, int threads, size_t n_sets, const size_t *start,
             const size_t *members, const double *x, const double *y,
             const fc_hull_params *params, const fc_area_measure *measure,
             unsigned char **wkb, size_t *wkb_size, double *area)
{
    threads = fc_threads_or_cores(threads);
    /* Largest sets first, so that no thread is left with a big one at the
     * end while the others wait. */
    set_size *by_size = malloc((n_sets ? n_sets : 1) * sizeof *by_size);
    hull_worker *workers = calloc((size_t)threads, sizeof *workers);
    if (!by_size || !workers) {
        free(by_size), free(workers);
        return fc_error(ctx, FC_ENOMEM, "out of memory for cluster polygons");
    }
    for (size_t c = 0; c < n_sets; c++)
        by_size[c] = (set_size){start[c + 1] - start[c], c};
    qsort(by_size, n_sets, sizeof *by_size, larger_first);
    const size_t largest = n_sets ? by_size[0].size : 0;

    hulls_job job = {.ctx = ctx, .start = start, .members = members, .by_size = by_size,
                     .x = x, .y = y, .params = params, .measure = measure, .n_sets = n_sets,
                     .largest = largest, .wkb = wkb, .wkb_size = wkb_size, .area = area,
                     .workers = workers, .status = FC_OK};
    atomic_init(&job.done, 0);
    atomic_init(&job.stop, 0);
    atomic_init(&job.cancelled, 0);
    job.last_poll = now_seconds();
    pthread_once(&callback_once, install_geos_poll);
    pthread_mutex_init(&job.lock, NULL);
    fc_parallel_for_waiting(threads, n_sets, 1, hull_sets, &job, hulls_wait);
    pthread_mutex_destroy(&job.lock);
    for (int t = 0; t < threads; t++) {
        if (workers[t].geos)
            GEOS_finish_r(workers[t].geos);
        if (workers[t].to_lonlat)
            OCTDestroyCoordinateTransformation(workers[t].to_lonlat);
        free(workers[t].px);
        free(workers[t].py);
    }
    free(workers);
    free(by_size);
    if (atomic_load(&job.cancelled)) /* ctx holds the progress callback's word */
        return FC_ECANCEL;
    if (job.status != FC_OK)
        return fc_error(ctx, job.status, "%s", job.errmsg);
    return FC_OK;
}
