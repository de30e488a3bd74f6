/* SPDX-License-Identifier: MIT */
/* Inside the co-location sweep: what the sweep (colocation_sweep.c) and its
 * tiles (colocation_tiles.c: where tiles lie, which points each holds, and
 * a tile's points in its own plane by column) share. Only those two files
 * include it. */
#ifndef FC_COLOCATION_SWEEP_INTERNAL_H
#define FC_COLOCATION_SWEEP_INTERNAL_H

#include "core/colocation_sweep.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_BAND 1
#endif

#define TILE_EPS 20        /* a tile's side, in eps */
#define MAX_LATITUDE 80.0  /* beyond, tangent planes of tiles are left to the cells */
#define MAX_EPS 100000.0   /* metres: beyond, the same */
/* A tile's arrays hold this many more, read and not used: by slide(), and
 * by the band tests four at a time (band_planar_avx2()). */
#define TILE_PAD 3
/* Dense hits are counted by sector in this many arrays, in turn: hits of
 * one sector often come in runs, and one counter would make each increment
 * wait for the last. */
#define COUNT_WAYS 4

typedef struct column {
    size_t start, end; /* positions in the tile */
    double x_lo, x_hi, z_lo, z_hi; /* the x and z extents of its points */
    int64_t index;     /* floor((x - x_min) / h) */
} column;

/* The sectors in the sure windows, with their counts; active lists those
 * above 0, and slot says where. The strata pass sums the points' weights
 * too. */
typedef struct histogram {
    uint32_t *count, *active, *slot, n_active, total;
    uint64_t *weight; /* strata pass */
} histogram;

/* One tile's points: its own (own = 1) and its halo, sorted by column,
 * then y, then input index. */
typedef struct tile {
    size_t n, room, n_columns;
    double *x, *y;          /* in the tile's plane */
    double *z;              /* geodesic: height along the plane's normal */
    double *cx, *cy, *cz;   /* geodesic: earth-centred */
    uint32_t *sector, *idx; /* input index */
    uint64_t *w;            /* strata pass: the points' weights */
    uint8_t *own;
    uint32_t *order, *order2; /* scratch for sorting */
    uint64_t *key, *key2;
    column *columns;
    double ws_radius, wo_radius; /* chords: within eps below the one, beyond above the other */
} tile;

/* A near column's windows for the current point: positions [sure_lo,
 * sure_hi) are within eps, and of [out_lo, out_hi) the others may be. */
typedef struct window {
    const column *col;
    double ws, wo; /* ws < 0: no sure window */
    size_t sure_lo, sure_hi, out_lo, out_hi;
} window;

/* A thread's sums and scratch. */
typedef struct thread_sums {
    colocation_fixed *t;
    size_t *n_with;
    uint32_t *point_count;           /* the band's neighbours of one point, by sector: */
                                     /* COUNT_WAYS arrays of n_sectors (count_hits()) */
    uint32_t *touched;               /* the sectors counted, when few */
    uint32_t *hits, *maybe;          /* their positions; those the chord leaves open */
    uint32_t *hit_sector;            /* the hits' sectors, where band_hits() wrote them */
    size_t hits_room;
    uint64_t *u_diff;                /* the u handed out in the tile, as differences */
    uint64_t *u_hit;                 /* and to its tested points, one by one */
    uint32_t *visit_count;           /* strata pass: a point's neighbours by stratum, */
    uint64_t *visit_weight;          /* and their weights */
    histogram h;
    window *windows;
    tile tile;
    bool failed;                     /* out of memory */
} thread_sums;

/* The tiles: tile k holds member[start[k] .. start[k + 1]) (input
 * indices), own[] saying which are its own rather than its halo's. */
typedef struct tiling {
    size_t n_tiles;
    size_t *start;
    uint32_t *member;
    uint8_t *own;
    double *frame; /* geodesic, per tile: its east, north and up unit vectors (9) */
    uint32_t *by_size; /* the tiles, largest first: the threads end together */
} tiling;

typedef struct sweep {
    const grid *g;
    size_t n, n_sectors;
    const double *x, *y;     /* input: planar coordinates, or longitude and latitude */
    double *cx, *cy, *cz;    /* geodesic: earth-centred, by input index */
    const uint32_t *sector;
    double h, slack;
    bool avx2;               /* band tests four at a time, writing the hits' sectors */
    int reach;               /* near columns are within this many column indices */
    tiling tiles;
    colocation_totals *out;
    thread_sums *sums;       /* per thread */
    uint64_t *u_got;         /* by input index: the u handed out, by every thread */
    const uint64_t *weight;  /* strata pass (sector: the stratum): by input index */
    colocation_visit visit;  /* strata pass: what each point's neighbours are */
    void *visit_arg;
} sweep;

/* Where tiles lie: planar, squares of side `side` from (x0, y0); geodesic,
 * bands of `side` degrees of latitude, each cut into n_lon[b] tiles of
 * longitude (numbered from first[b]). */
typedef struct tile_grid {
    bool geodesic;
    double side, x0, y0, reach; /* reach: eps, as a distance (planar) or radians */
    int64_t n_x, n_y;           /* planar */
    int64_t n_bands, band_lo, band_hi; /* geodesic: bands [band_lo, band_hi) of n_bands */
    int64_t *n_lon, *first;            /* by band - band_lo; first: one more */
    double *lon_reach;                 /* by band - band_lo: the halo in longitude, degrees */
} tile_grid;

/* A tile's arrays, grown to hold n points (false: out of memory). */
bool fc_tile_room(tile *t, size_t n, bool geodesic, bool weighted);
void fc_tile_free(tile *t);
/* Tile k's points in its plane, sorted by column. */
void fc_tile_build(const sweep *s, tile *t, size_t k);
/* Where the tiles lie, for points in this extent (false: the sweep declines). */
bool fc_tiles_plan(const sweep *s, double x_lo, double x_hi, double y_lo, double y_hi,
                       tile_grid *tg);
/* Each tile's points, the ones it owns marked. */
int fc_tiles_cut(sweep *s, const tile_grid *tg);

#endif
