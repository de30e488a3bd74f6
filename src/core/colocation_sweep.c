/* SPDX-License-Identifier: MIT */
/* The co-location sums of colocation.c by a sweep: the same T(A, B),
 * n'(A), |N(i)| and u sums as the grid of cells gives, without testing
 * most pairs one by one.
 *
 * The points are cut into tiles, each with a "halo" of the points of the
 * tiles around it that may be within eps of one of its own. A tile is swept
 * in a plane: planar distances in their own coordinates; geodesic ones in
 * the tile's tangent plane (east and north of its centre, applied to the
 * earth-centred coordinates). A tile's points are cut into columns of width
 * h and sorted by the second coordinate within each. For a point p of
 * column R and a column L near it, a point of L is within eps of p when
 * |dy| <= w(dx), and dx ranges only over the two columns' extents. So, from
 * those extents alone:
 *  - |dy| <= ws: within eps of p, wherever in L (the "sure" window);
 *  - |dy| > wo: beyond eps;
 *  - in between: tested one by one by the neighbour test (grid.h, within()),
 *    four at a time where the processor has AVX2 (the same arithmetic).
 * As p moves up its column, every window of every near column slides up:
 * each point of L enters and leaves the sure windows of column R once, and
 * a running histogram of their sectors gives each p its counts. p hands its
 * u = 1/|N(p)| to the points of its sure windows as ranges (a difference
 * array, summed once the tile is done), and to the others one by one. Each
 * point is p in its own tile only, where all its neighbours are.
 *
 * Exact: the windows keep a slack (1e-9 eps, and 64 units in the last
 * place of the largest coordinate) far above the rounding of coordinates
 * and bounds, so they never decide a pair otherwise than within() would. In
 * a tangent plane the frame is orthonormal, so a pair's chord is its
 * in-plane length d with the height difference dz (along the plane's
 * normal) added: chord^2 = d^2 + dz^2, dz bounded by the columns' height
 * extents (metres in a tile of 20 km). The windows bound the chord against
 * the chord limits of grid.c: below chord_sure the pair is within eps,
 * above chord_max beyond. A halo holds every point within eps of the tile:
 * a geodesic of length s changes latitude by at most s / rho and longitude
 * by at most s / (rho cos phi), rho the ellipsoid's smallest radius of
 * curvature and phi the largest latitude on the way.
 *
 * T is summed in 64.64 fixed point and the u sums in 64-bit fixed point, as
 * in colocation.c: whole numbers, exact in any order, so the same for any
 * thread count. Tiles go to the threads whole.
 *
 * The same sweep makes the pass by stratum of colocation_test.c: the
 * "sectors" are then strata, each point has a weight (its u, known from
 * the first pass), the histogram sums the weights too, and each point's
 * counts and weights by stratum go to a callback instead of into T.
 */
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

static bool simd_allowed = true; /* see fc_colocation_sweep_simd() */

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

/* Tile position q into the histogram, and out. */
static void hist_add(histogram *h, const tile *t, size_t q)
{
    const uint32_t s = t->sector[q];
    if (h->count[s]++ == 0) {
        h->slot[s] = h->n_active;
        h->active[h->n_active++] = s;
    }
    h->total++;
    if (t->w)
        h->weight[s] += t->w[q];
}

static void hist_remove(histogram *h, const tile *t, size_t q)
{
    const uint32_t s = t->sector[q];
    if (--h->count[s] == 0) {
        const uint32_t last = h->active[--h->n_active];
        h->active[h->slot[s]] = last;
        h->slot[last] = h->slot[s];
    }
    h->total--;
    if (t->w)
        h->weight[s] -= t->w[q];
}

/* within() on tile positions p and q. */
static inline bool near_in_tile(const sweep *s, const tile *t, size_t p, size_t q)
{
    const grid *g = s->g;
    if (!g->geodesic) {
        const double dx = t->x[p] - t->x[q], dy = t->y[p] - t->y[q];
        return dx * dx + dy * dy <= g->eps2;
    }
    const double dx = t->cx[p] - t->cx[q], dy = t->cy[p] - t->cy[q], dz = t->cz[p] - t->cz[q];
    const double c2 = dx * dx + dy * dy + dz * dz;
    if (c2 > g->chord_max2)
        return false;
    if (c2 <= g->chord_sure2)
        return true;
    return fc_geodesic_between(&g->earth, s->x, s->y, t->idx[p], t->idx[q]) <= g->eps;
}

/* ---- one column of a tile ----------------------------------------------- */

/* The windows of the columns near column r, empty below its first point.
 * Every bound is widened by twice the slack. */
static size_t open_windows(const sweep *s, const tile *t, size_t r, window *w)
{
    const column *R = &t->columns[r];
    const double slack2 = 2 * s->slack, rs = t->ws_radius, ro = t->wo_radius;
    size_t k = 0, first = r;
    while (first > 0 && t->columns[first - 1].index >= R->index - s->reach)
        first--;
    for (size_t l = first; l < t->n_columns && t->columns[l].index <= R->index + s->reach; l++) {
        const column *L = &t->columns[l];
        const double far = fmax(L->x_hi - R->x_lo, R->x_hi - L->x_lo) + slack2;
        const double gap = fmax(0, fmax(L->x_lo - R->x_hi, R->x_lo - L->x_hi) - slack2);
        const double dz = t->z ? fmax(L->z_hi - R->z_lo, R->z_hi - L->z_lo) + slack2 : 0;
        if (gap > ro)
            continue; /* no point of L is within eps of any of R */
        const double sure2 = (rs - far) * (rs + far) - dz * dz;
        const double ws = sure2 > 0 ? sqrt(sure2) - slack2 : -1;
        w[k++] = (window){.col = L,
                          .ws = ws > 0 ? ws : -1,
                          .wo = sqrt((ro - gap) * (ro + gap)) + slack2,
                          .sure_lo = L->start,
                          .sure_hi = L->start,
                          .out_lo = L->start,
                          .out_hi = L->start};
    }
    return k;
}

/* Slides window w up to y: the points entering or leaving the sure window
 * go in or out of h. */
static void slide(const tile *t, window *w, double y, histogram *h)
{
    const double *ys = t->y; /* ys[end] may be read: see TILE_PAD */
    const size_t end = w->col->end;
    const double top = y + w->wo, bottom = y - w->wo;
    size_t hi = w->out_hi, lo = w->out_lo;
    /* The outer window mostly moves by a point or none: two steps without
     * a branch (one that a processor would guess wrong half the time). */
    for (int step = 0; step < 2; step++) {
        hi += (hi < end) & (ys[hi] <= top);
        lo += (lo < end) & (ys[lo] < bottom);
    }
    while (hi < end && ys[hi] <= top)
        hi++;
    while (lo < end && ys[lo] < bottom)
        lo++;
    w->out_hi = hi, w->out_lo = lo;
    if (w->ws < 0)
        return;
    while (w->sure_hi < end && t->y[w->sure_hi] <= y + w->ws)
        hist_add(h, t, w->sure_hi++);
    while (w->sure_lo < w->sure_hi && t->y[w->sure_lo] < y - w->ws)
        hist_remove(h, t, w->sure_lo++);
}

/* Room for n more hits; false when out of memory. */
static bool hits_room(thread_sums *ts, size_t need)
{
    if (need <= ts->hits_room)
        return true;
    uint32_t *more = realloc(ts->hits, 2 * need * sizeof *more);
    if (!more)
        return false;
    ts->hits = more;
    if (!(more = realloc(ts->hit_sector, 2 * need * sizeof *more)))
        return false;
    ts->hit_sector = more;
    if (!(more = realloc(ts->maybe, 2 * need * sizeof *more)))
        return false;
    ts->maybe = more;
    ts->hits_room = 2 * need;
    return true;
}

#ifdef HAVE_AVX2_BAND
/* The positions of the set bits of each 4-bit mask, lowest first. */
static const int32_t set_bits[16][4] = {
    {0, 0, 0, 0}, {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {2, 0, 0, 0}, {0, 2, 0, 0},
    {1, 2, 0, 0}, {0, 1, 2, 0}, {3, 0, 0, 0}, {0, 3, 0, 0}, {1, 3, 0, 0}, {0, 1, 3, 0},
    {2, 3, 0, 0}, {0, 2, 3, 0}, {1, 2, 3, 0}, {0, 1, 2, 3}};

/* Of the four points from q, those to test: not p, nor beyond b. */
static inline unsigned lanes(size_t p, size_t q, size_t b)
{
    unsigned mask = b - q < 4 ? (1u << (b - q)) - 1 : 15;
    return p - q < 4 ? mask & ~(1u << (p - q)) : mask;
}

/* Appends the points of mask among the four from q to pos (from k), and,
 * if sector is not NULL, their sectors to hit_sector; returns the new k.
 * Four are written always: pos needs room for three more. */
__attribute__((target("avx2,popcnt"))) static inline size_t
append_four(uint32_t *pos, uint32_t *hit_sector, const uint32_t *sector, size_t q, unsigned mask,
            size_t k)
{
    const __m128i at = _mm_loadu_si128((const __m128i *)set_bits[mask]);
    _mm_storeu_si128((__m128i *)(pos + k), _mm_add_epi32(at, _mm_set1_epi32((int32_t)q)));
    if (sector) {
        const __m128 four = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(sector + q)));
        _mm_storeu_si128((__m128i *)(hit_sector + k), _mm_castps_si128(_mm_permutevar_ps(four, at)));
    }
    return k + (size_t)__builtin_popcount(mask);
}

/* The band tests of band_hits(), four points at a time: the same products,
 * sums and comparisons (no fused multiply-add), so the same answers. The
 * last four may reach past b (see TILE_PAD). Planar: returns the new count
 * of hits, their sectors written too. */
__attribute__((target("avx2,popcnt"))) static size_t
band_planar_avx2(const tile *t, double eps2, size_t p, size_t a, size_t b, uint32_t *hits,
                 uint32_t *hit_sector, size_t k)
{
    const __m256d px = _mm256_set1_pd(t->x[p]), py = _mm256_set1_pd(t->y[p]);
    const __m256d limit = _mm256_set1_pd(eps2);
    for (size_t q = a; q < b; q += 4) {
        const __m256d dx = _mm256_sub_pd(px, _mm256_loadu_pd(t->x + q));
        const __m256d dy = _mm256_sub_pd(py, _mm256_loadu_pd(t->y + q));
        const __m256d d2 = _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy));
        const unsigned near = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(d2, limit, _CMP_LE_OQ));
        k = append_four(hits, hit_sector, t->sector, q, near & lanes(p, q, b), k);
    }
    return k;
}

/* Geodesic: the chords below chord_sure to hits (from *k, with their
 * sectors), those up to chord_max to maybe (from *m). */
__attribute__((target("avx2,popcnt"))) static void
band_chord_avx2(const tile *t, double sure2, double max2, size_t p, size_t a, size_t b,
                uint32_t *hits, uint32_t *hit_sector, uint32_t *maybe, size_t *k, size_t *m)
{
    const __m256d px = _mm256_set1_pd(t->cx[p]), py = _mm256_set1_pd(t->cy[p]),
                  pz = _mm256_set1_pd(t->cz[p]);
    const __m256d sure = _mm256_set1_pd(sure2), most = _mm256_set1_pd(max2);
    size_t n_hits = *k, n_maybe = *m;
    for (size_t q = a; q < b; q += 4) {
        const __m256d dx = _mm256_sub_pd(px, _mm256_loadu_pd(t->cx + q));
        const __m256d dy = _mm256_sub_pd(py, _mm256_loadu_pd(t->cy + q));
        const __m256d dz = _mm256_sub_pd(pz, _mm256_loadu_pd(t->cz + q));
        const __m256d c2 = _mm256_add_pd(
            _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy)), _mm256_mul_pd(dz, dz));
        const unsigned use = lanes(p, q, b);
        const unsigned in = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(c2, sure, _CMP_LE_OQ));
        const unsigned below = (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(c2, most, _CMP_LE_OQ));
        n_hits = append_four(hits, hit_sector, t->sector, q, in & use, n_hits);
        n_maybe = append_four(maybe, NULL, NULL, q, below & ~in & use, n_maybe);
    }
    *k = n_hits, *m = n_maybe;
}
#endif

/* The points of [a, b) within eps of p, appended to hits (from *n_hits).
 * The chord decides most pairs; the few whose chord lies between the two
 * limits are listed in ts->maybe for geod_inverse. No branch on the
 * answer: written always, kept when near. */
static void band_hits(const sweep *s, thread_sums *ts, size_t p, size_t a, size_t b,
                      size_t *n_hits, size_t *n_maybe)
{
    const tile *t = &ts->tile;
    uint32_t *hits = ts->hits, *maybe = ts->maybe;
    size_t k = *n_hits, m = *n_maybe;
    if (!s->g->geodesic) { /* within(), planar */
        const double px = t->x[p], py = t->y[p], eps2 = s->g->eps2;
#ifdef HAVE_AVX2_BAND
        if (s->avx2) {
            k = band_planar_avx2(t, eps2, p, a, b, hits, ts->hit_sector, k);
            a = b;
        }
#endif
        for (size_t q = a; q < b; q++) {
            const double dx = px - t->x[q], dy = py - t->y[q];
            hits[k] = (uint32_t)q;
            k += (dx * dx + dy * dy <= eps2) & (q != p);
        }
    } else { /* within(), geodesic, but for the geodesic itself */
        const double px = t->cx[p], py = t->cy[p], pz = t->cz[p];
        const double sure2 = s->g->chord_sure2, max2 = s->g->chord_max2;
#ifdef HAVE_AVX2_BAND
        if (s->avx2) {
            band_chord_avx2(t, sure2, max2, p, a, b, hits, ts->hit_sector, maybe, &k, &m);
            a = b;
        }
#endif
        for (size_t q = a; q < b; q++) {
            const double dx = px - t->cx[q], dy = py - t->cy[q], dz = pz - t->cz[q];
            const double c2 = dx * dx + dy * dy + dz * dz;
            hits[k] = maybe[m] = (uint32_t)q;
            k += (c2 <= sure2) & (q != p);
            m += (c2 > sure2) & (c2 <= max2) & (q != p);
        }
    }
    *n_hits = k;
    *n_maybe = m;
}

/* Point p's neighbours in window w outside its sure window, tested one by
 * one, appended to ts->hits (from *n_hits); ts->maybe lists those for
 * geod_inverse. */
static void test_band(const sweep *s, thread_sums *ts, const window *w, size_t p,
                      size_t *n_hits, size_t *n_maybe)
{
    const size_t lo = w->ws < 0 ? w->out_hi : w->sure_lo, hi = w->ws < 0 ? w->out_hi : w->sure_hi;
    if (!hits_room(ts, *n_hits + *n_maybe + (w->out_hi - w->out_lo) + 4)) {
        ts->failed = true;
        return;
    }
    band_hits(s, ts, p, w->out_lo, lo, n_hits, n_maybe);
    band_hits(s, ts, p, hi, w->out_hi, n_hits, n_maybe);
}

/* The maybes of p that are within eps, appended to its hits. */
static void decide_maybes(const sweep *s, thread_sums *ts, size_t p, size_t *n_hits,
                          size_t n_maybe)
{
    for (size_t k = 0; k < n_maybe; k++)
        if (near_in_tile(s, &ts->tile, p, ts->maybe[k]))
            ts->hits[(*n_hits)++] = ts->maybe[k];
}

/* The band's hits of p, by sector (the maybes decided first; the band
 * tests four at a time wrote the sectors of the hits before them). With as
 * many hits as sectors or more, every sector's count is read after
 * (dense: *n_touched is not set); with fewer, the sectors counted are
 * listed in ts->touched. */
static bool count_hits(const sweep *s, thread_sums *ts, size_t p, size_t *n_hits, size_t n_maybe,
                       uint32_t *n_touched)
{
    const tile *t = &ts->tile;
    const size_t sectored = s->avx2 ? *n_hits : 0;
    decide_maybes(s, ts, p, n_hits, n_maybe);
    for (size_t k = sectored; k < *n_hits; k++)
        ts->hit_sector[k] = t->sector[ts->hits[k]];
    uint32_t *count = ts->point_count;
    if (*n_hits >= s->n_sectors) { /* one store a hit, in COUNT_WAYS counters in turn */
        const size_t S = s->n_sectors, n = *n_hits;
        const uint32_t *sector = ts->hit_sector;
        size_t k = 0;
        for (; k + COUNT_WAYS <= n; k += COUNT_WAYS)
            for (size_t way = 0; way < COUNT_WAYS; way++)
                count[way * S + sector[k + way]]++;
        for (; k < n; k++)
            count[sector[k]]++;
        return true;
    }
    uint32_t touched = 0;
    for (size_t k = 0; k < *n_hits; k++) { /* no branch: written always, kept when new */
        const uint32_t sector = ts->hit_sector[k];
        ts->touched[touched] = sector;
        touched += count[sector]++ == 0;
    }
    *n_touched = touched;
    return false;
}

/* p hands out v: to its sure windows (itself taken out) and its hits. */
static void hand_out(thread_sums *ts, size_t p, size_t n_windows, bool self, size_t n_hits,
                     uint64_t v)
{
    for (size_t k = 0; k < n_windows; k++) {
        const window *w = &ts->windows[k];
        if (w->ws >= 0 && w->sure_lo < w->sure_hi) {
            ts->u_diff[w->sure_lo] += v;
            ts->u_diff[w->sure_hi] -= v;
        }
    }
    if (self) {
        ts->u_diff[p] -= v;
        ts->u_diff[p + 1] += v;
    }
    for (size_t k = 0; k < n_hits; k++)
        ts->u_hit[ts->hits[k]] += v;
}

/* p's sums, from the histogram of its sure windows and its band's hits
 * (by sector: all of them when dense, else those touched), leaving the
 * hits' counts zero. */
static void add_point(const sweep *s, thread_sums *ts, size_t p, size_t n_windows, bool self,
                      bool dense, uint32_t n_touched, size_t n_hits)
{
    const tile *t = &ts->tile;
    const histogram *h = &ts->h;
    uint32_t *count = ts->point_count;
    const uint32_t a = t->sector[p], total = h->total - self + (uint32_t)n_hits;
    if (s->out->count)
        s->out->count[t->idx[p]] = total;
    if (total == 0)
        return;
    const colocation_fixed u = (colocation_fixed)(COLOCATION_FIXED_ONE / total);
    colocation_fixed *row = ts->t + (size_t)a * s->n_sectors;
    ts->n_with[a]++;
    if (dense) {
        const size_t S = s->n_sectors;
        for (size_t b = 0; b < S; b++) {
            uint32_t c = h->count[b];
            for (size_t way = 0; way < COUNT_WAYS; way++) {
                c += count[way * S + b];
                count[way * S + b] = 0;
            }
            row[b] += u * c;
        }
    } else {
        for (uint32_t k = 0; k < h->n_active; k++)
            row[h->active[k]] += u * h->count[h->active[k]];
        for (uint32_t k = 0; k < n_touched; k++) {
            row[ts->touched[k]] += u * count[ts->touched[k]];
            count[ts->touched[k]] = 0;
        }
    }
    if (self)
        row[a] -= u;
    if (s->out->u_sum)
        hand_out(ts, p, n_windows, self, n_hits, ((uint64_t)1 << s->out->u_bits) / total);
}

/* Strata pass: p's neighbours by stratum, from its sure windows and its
 * band's hits (the maybes decided), with their weights, to s->visit. */
static void visit_point(const sweep *s, thread_sums *ts, size_t p, bool self, size_t n_hits,
                        size_t n_maybe)
{
    const tile *t = &ts->tile;
    const histogram *h = &ts->h;
    decide_maybes(s, ts, p, &n_hits, n_maybe);
    if (h->total - self + n_hits == 0)
        return; /* no neighbour: no part in the null's sums */
    uint32_t *count = ts->visit_count;
    uint64_t *weight = ts->visit_weight;
    memcpy(count, h->count, s->n_sectors * sizeof *count);
    memcpy(weight, h->weight, s->n_sectors * sizeof *weight);
    if (self) {
        count[t->sector[p]]--;
        weight[t->sector[p]] -= t->w[p];
    }
    for (size_t k = 0; k < n_hits; k++) {
        const uint32_t q = ts->hits[k];
        count[t->sector[q]]++;
        weight[t->sector[q]] += t->w[q];
    }
    s->visit(s->visit_arg, (int)(ts - s->sums), t->idx[p], count, weight);
}

static void sweep_column(const sweep *s, thread_sums *ts, size_t r)
{
    const tile *t = &ts->tile;
    const column *R = &t->columns[r];
    window *w = ts->windows;
    const size_t n_windows = open_windows(s, t, r, w);
    for (size_t p = R->start; p < R->end && !ts->failed; p++) {
        if (!t->own[p])
            continue;
        uint32_t n_touched = 0;
        size_t n_hits = 0, n_maybe = 0;
        bool self = false; /* p is in its own sure window */
        for (size_t k = 0; k < n_windows; k++) {
            slide(t, &w[k], t->y[p], &ts->h);
            test_band(s, ts, &w[k], p, &n_hits, &n_maybe);
            self |= w[k].col == R && w[k].ws >= 0 && w[k].sure_lo <= p && p < w[k].sure_hi;
        }
        if (ts->failed)
            return;
        if (s->weight) {
            visit_point(s, ts, p, self, n_hits, n_maybe);
            continue;
        }
        const bool dense = count_hits(s, ts, p, &n_hits, n_maybe, &n_touched);
        add_point(s, ts, p, n_windows, self, dense, n_touched, n_hits);
    }
    for (size_t k = 0; k < n_windows; k++) /* the histogram empty for the next column */
        for (size_t q = w[k].sure_lo; q < w[k].sure_hi; q++)
            hist_remove(&ts->h, t, q);
}

/* ---- a tile's points, in its plane, by column ------------------------------ */

/* Sorts n (key, value) pairs by the low `bytes` bytes of the key, stably
 * (LSD radix, a byte a pass, skipping the bytes every key shares); the
 * result may end in the scratch arrays: *key and *value say where. */
static void radix_pairs(uint64_t **key, uint32_t **value, uint64_t **key_tmp,
                        uint32_t **value_tmp, size_t n, int bytes)
{
    size_t count[256];
    for (int shift = 0; shift < 8 * bytes; shift += 8) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(*key)[i] >> shift & 0xff]++;
        if (n == 0 || count[(*key)[0] >> shift & 0xff] == n)
            continue;
        for (size_t d = 0, at = 0; d < 256; d++) {
            const size_t c = count[d];
            count[d] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++) {
            const size_t to = count[(*key)[i] >> shift & 0xff]++;
            (*key_tmp)[to] = (*key)[i];
            (*value_tmp)[to] = (*value)[i];
        }
        uint64_t *k = *key;
        uint32_t *v = *value;
        *key = *key_tmp, *value = *value_tmp;
        *key_tmp = k, *value_tmp = v;
    }
}

/* y's bits, in an order that sorts as the numbers do. */
static uint64_t sortable(double y)
{
    uint64_t bits;
    memcpy(&bits, &y, sizeof bits);
    return bits >> 63 ? ~bits : bits | (uint64_t)1 << 63;
}

static bool tile_room(tile *t, size_t n, bool geodesic, bool weighted)
{
    if (n <= t->room)
        return true;
    void **arrays[] = {(void **)&t->x,   (void **)&t->y,      (void **)&t->z,
                       (void **)&t->cx,  (void **)&t->cy,     (void **)&t->cz,
                       (void **)&t->sector, (void **)&t->idx, (void **)&t->own,
                       (void **)&t->order, (void **)&t->key,  (void **)&t->columns,
                       (void **)&t->order2, (void **)&t->key2, (void **)&t->w};
    const size_t sizes[] = {8, 8, 8, 8, 8, 8, 4, 4, 1, 4, 8, sizeof(column), 4, 8, 8};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        free(*arrays[k]);
        *arrays[k] = NULL;
        if ((k >= 2 && k <= 5 && !geodesic) || (k == 14 && !weighted))
            continue;
        if (!(*arrays[k] = malloc((n + TILE_PAD) * sizes[k])))
            return false;
    }
    t->room = n;
    return true;
}

static void tile_free(tile *t)
{
    free(t->x), free(t->y), free(t->z), free(t->cx), free(t->cy), free(t->cz), free(t->sector);
    free(t->idx);
    free(t->own), free(t->order), free(t->key), free(t->columns), free(t->order2), free(t->key2);
    free(t->w);
}

/* Applies a permutation of the tile's points (order[new] = old). */
static void permute(tile *t, bool geodesic)
{
    double *dbl[] = {t->x, t->y, t->z, t->cx, t->cy, t->cz};
    double *scratch = (double *)t->key; /* room for n values of 8 bytes */
    for (int k = 0; k < (geodesic ? 6 : 2); k++) {
        for (size_t i = 0; i < t->n; i++)
            scratch[i] = dbl[k][t->order[i]];
        memcpy(dbl[k], scratch, t->n * sizeof *scratch);
    }
    uint32_t *u32[] = {t->sector, t->idx};
    uint32_t *s32 = (uint32_t *)t->key;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < t->n; i++)
            s32[i] = u32[k][t->order[i]];
        memcpy(u32[k], s32, t->n * sizeof *s32);
    }
    uint8_t *s8 = (uint8_t *)t->key;
    for (size_t i = 0; i < t->n; i++)
        s8[i] = t->own[t->order[i]];
    memcpy(t->own, s8, t->n);
    if (t->w) {
        for (size_t i = 0; i < t->n; i++)
            t->key[i] = t->w[t->order[i]];
        memcpy(t->w, t->key, t->n * sizeof *t->w);
    }
}

/* Tile k's points in its plane, sorted by column, then y, then input index;
 * its columns and their extents. */
static void build_tile(const sweep *s, tile *t, size_t k)
{
    const size_t first = s->tiles.start[k];
    t->n = s->tiles.start[k + 1] - first;
    const double *frame = s->tiles.frame ? s->tiles.frame + 9 * k : NULL;
    double x_lo = INFINITY;
    for (size_t i = 0; i < t->n; i++) {
        const uint32_t j = s->tiles.member[first + i];
        t->idx[i] = j;
        t->own[i] = s->tiles.own[first + i];
        t->sector[i] = s->sector[j];
        if (t->w)
            t->w[i] = s->weight[j];
        if (frame) {
            t->cx[i] = s->cx[j], t->cy[i] = s->cy[j], t->cz[i] = s->cz[j];
            t->x[i] = frame[0] * s->cx[j] + frame[1] * s->cy[j] + frame[2] * s->cz[j];
            t->y[i] = frame[3] * s->cx[j] + frame[4] * s->cy[j] + frame[5] * s->cz[j];
            t->z[i] = frame[6] * s->cx[j] + frame[7] * s->cy[j] + frame[8] * s->cz[j];
        } else {
            t->x[i] = s->x[j], t->y[i] = s->y[j];
        }
        x_lo = fmin(x_lo, t->x[i]);
    }
    /* by column, then y, then input index (the members' order): stable
     * sorts by y, then by column */
    uint64_t *key = t->key, *key_tmp = t->key2;
    uint32_t *order = t->order, *order_tmp = t->order2;
    for (size_t i = 0; i < t->n; i++) {
        key[i] = sortable(t->y[i]);
        order[i] = (uint32_t)i;
    }
    radix_pairs(&key, &order, &key_tmp, &order_tmp, t->n, 8);
    for (size_t i = 0; i < t->n; i++)
        key[i] = (uint64_t)floor((t->x[order[i]] - x_lo) / s->h);
    radix_pairs(&key, &order, &key_tmp, &order_tmp, t->n, 4);
    t->n_columns = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (i > 0 && key[i] == key[i - 1])
            continue;
        if (t->n_columns > 0)
            t->columns[t->n_columns - 1].end = i;
        t->columns[t->n_columns++] = (column){.start = i, .index = (int64_t)key[i]};
    }
    if (t->n_columns > 0)
        t->columns[t->n_columns - 1].end = t->n;
    for (size_t i = t->n; i < t->n + TILE_PAD; i++) { /* see TILE_PAD */
        t->x[i] = t->y[i] = 0, t->sector[i] = 0;
        if (frame)
            t->cx[i] = t->cy[i] = t->cz[i] = 0;
    }
    if (order != t->order)
        memcpy(t->order, order, t->n * sizeof *order);
    permute(t, frame != NULL);
    for (size_t c = 0; c < t->n_columns; c++) {
        column *col = &t->columns[c];
        col->x_lo = col->z_lo = INFINITY;
        col->x_hi = col->z_hi = -INFINITY;
        for (size_t p = col->start; p < col->end; p++) {
            col->x_lo = fmin(col->x_lo, t->x[p]);
            col->x_hi = fmax(col->x_hi, t->x[p]);
            if (frame) {
                col->z_lo = fmin(col->z_lo, t->z[p]);
                col->z_hi = fmax(col->z_hi, t->z[p]);
            }
        }
    }
    if (!frame) { /* planar: no heights */
        t->ws_radius = t->wo_radius = s->g->eps;
    } else { /* the chord limits */
        t->ws_radius = sqrt(s->g->chord_sure2) - s->slack;
        t->wo_radius = sqrt(s->g->chord_max2) + s->slack;
    }
}

/* ---- the tiles ------------------------------------------------------------ */

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

/* The largest |latitude| in band b, widened by twice the halo, in radians. */
static double band_far(const tile_grid *tg, int64_t b)
{
    const double lo = -90 + (double)b * tg->side, hi = lo + tg->side;
    const double far = fmax(fabs(lo), fabs(hi)) * M_PI / 180 + 2 * tg->reach;
    return fmin(far, MAX_LATITUDE * M_PI / 180 + 4 * tg->reach);
}

/* The halo's width in longitude in band b, in degrees. */
static double lon_reach(const tile_grid *tg, int64_t b)
{
    return tg->lon_reach[b - tg->band_lo];
}

static double lon_width(const tile_grid *tg, int64_t b)
{
    return 360.0 / (double)tg->n_lon[b - tg->band_lo];
}

/* Longitude in [0, 360). */
static double wrap(double lon)
{
    double w = fmod(lon + 180, 360);
    return w < 0 ? w + 360 : w;
}

/* Whether point (x, y) is within the halo of tile (i, j) (planar: column
 * and row; geodesic: band and longitude tile), its own tile included. */
static bool in_reach(const tile_grid *tg, double x, double y, int64_t i, int64_t j)
{
    if (!tg->geodesic) {
        const double fx = x - tg->x0 - (double)i * tg->side, fy = y - tg->y0 - (double)j * tg->side;
        return fx >= -tg->reach && fx <= tg->side + tg->reach && fy >= -tg->reach &&
               fy <= tg->side + tg->reach;
    }
    const double lat_reach = tg->reach * 180 / M_PI, lo = -90 + (double)i * tg->side;
    if (y < lo - lat_reach || y > lo + tg->side + lat_reach)
        return false;
    const double width = lon_width(tg, i), d = fmod(wrap(x) - (double)j * width + 720, 360);
    const double outside = d < width ? 0 : fmin(d - width, 360 - d);
    return outside <= lon_reach(tg, i);
}

static int64_t tile_of_band(const tile_grid *tg, int64_t b, double lon)
{
    const int64_t n = tg->n_lon[b - tg->band_lo], j = (int64_t)floor(wrap(lon) / lon_width(tg, b));
    return j < 0 ? 0 : j >= n ? n - 1 : j;
}

/* Point i's own tile (planar: column, row; geodesic: band, tile). */
static void own_tile(const tile_grid *tg, double x, double y, int64_t *i, int64_t *j)
{
    if (!tg->geodesic) {
        *i = (int64_t)floor((x - tg->x0) / tg->side);
        *j = (int64_t)floor((y - tg->y0) / tg->side);
        *i = *i < 0 ? 0 : *i >= tg->n_x ? tg->n_x - 1 : *i;
        *j = *j < 0 ? 0 : *j >= tg->n_y ? tg->n_y - 1 : *j;
        return;
    }
    *i = (int64_t)floor((y + 90) / tg->side);
    *i = *i < tg->band_lo ? tg->band_lo : *i >= tg->band_hi ? tg->band_hi - 1 : *i;
    *j = tile_of_band(tg, *i, x);
}

static uint64_t tile_number(const tile_grid *tg, int64_t i, int64_t j)
{
    return tg->geodesic ? (uint64_t)(tg->first[i - tg->band_lo] + j) : (uint64_t)(i * tg->n_y + j);
}

/* The tiles whose halo holds the point (x, y), its own first: their
 * numbers in out, own[] 1 for its own; returns how many (at most 9). */
static int tiles_holding(const tile_grid *tg, double x, double y, uint64_t *out, uint8_t *own)
{
    int64_t i, j, k = 0;
    own_tile(tg, x, y, &i, &j);
    out[k] = tile_number(tg, i, j);
    own[k++] = 1;
    for (int64_t di = -1; di <= 1; di++) {
        const int64_t ii = i + di;
        if (tg->geodesic ? ii < tg->band_lo || ii >= tg->band_hi : ii < 0 || ii >= tg->n_x)
            continue;
        const int64_t n_j = tg->geodesic ? tg->n_lon[ii - tg->band_lo] : tg->n_y;
        const int64_t jc = tg->geodesic ? tile_of_band(tg, ii, x) : j;
        for (int64_t dj = -1; dj <= 1; dj++) {
            int64_t jj = jc + dj;
            if (tg->geodesic)
                jj = (jj + n_j) % n_j; /* around the world */
            else if (jj < 0 || jj >= n_j)
                continue;
            const uint64_t t = tile_number(tg, ii, jj);
            bool seen = false;
            for (int64_t m = 0; m < k; m++)
                seen |= out[m] == t;
            if (!seen && in_reach(tg, x, y, ii, jj)) {
                out[k] = t;
                own[k++] = 0;
            }
        }
    }
    return (int)k;
}

/* The tile grid for the points, whose coordinates span [x_lo, x_hi] and
 * [y_lo, y_hi]; false when they are better left to the cells (too many
 * tiles to number, near a pole, or eps too large). */
static bool plan_tiles(const sweep *s, double x_lo, double x_hi, double y_lo, double y_hi,
                       tile_grid *tg)
{
    const grid *g = s->g;
    *tg = (tile_grid){.geodesic = g->geodesic};
    if (!g->geodesic) {
        tg->side = TILE_EPS * g->eps, tg->x0 = x_lo, tg->y0 = y_lo;
        tg->reach = g->eps * 1.001 + 4 * s->slack;
        const double n_x = floor((x_hi - x_lo) / tg->side) + 1,
                     n_y = floor((y_hi - y_lo) / tg->side) + 1;
        if (!(n_x * n_y < 1e9))
            return false;
        tg->n_x = (int64_t)n_x, tg->n_y = (int64_t)n_y;
        return true;
    }
    if (g->eps > MAX_EPS || fmax(fabs(y_lo), fabs(y_hi)) > MAX_LATITUDE)
        return false;
    tg->reach = (g->eps * 1.001 + 1e-3) / g->rho; /* radians */
    tg->side = TILE_EPS * tg->reach * 180 / M_PI;  /* degrees */
    tg->n_bands = (int64_t)ceil(180 / tg->side);
    if (tg->n_bands > 100000000)
        return false;
    /* the bands of the points, and one more each way for the halos */
    tg->band_lo = (int64_t)floor((y_lo + 90) / tg->side) - 1;
    tg->band_hi = (int64_t)floor((y_hi + 90) / tg->side) + 2;
    tg->band_lo = tg->band_lo < 0 ? 0 : tg->band_lo;
    tg->band_hi = tg->band_hi > tg->n_bands ? tg->n_bands : tg->band_hi;
    const size_t bands = (size_t)(tg->band_hi - tg->band_lo);
    tg->n_lon = malloc(bands * sizeof *tg->n_lon);
    tg->first = malloc((bands + 1) * sizeof *tg->first);
    tg->lon_reach = malloc(bands * sizeof *tg->lon_reach);
    if (!tg->n_lon || !tg->first || !tg->lon_reach)
        return false;
    tg->first[0] = 0;
    for (size_t k = 0; k < bands; k++) {
        const double c = cos(band_far(tg, tg->band_lo + (int64_t)k));
        const double width = tg->side / c; /* about square */
        tg->lon_reach[k] = tg->reach / c * 180 / M_PI;
        if (!(360 / width < 1e9))
            return false;
        tg->n_lon[k] = (int64_t)fmax(3, floor(360 / width));
        tg->first[k + 1] = tg->first[k] + tg->n_lon[k];
        if (tg->first[k + 1] > 1000000000)
            return false;
    }
    return true;
}

/* Tile `number`'s east, north and up unit vectors, at its centre. */
static void tile_frame(const tile_grid *tg, uint64_t number, double *f)
{
    int64_t lo = tg->band_lo, hi = tg->band_hi; /* the band: first[b] <= number < first[b + 1] */
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (tg->first[mid - tg->band_lo] <= (int64_t)number)
            lo = mid;
        else
            hi = mid;
    }
    const int64_t b = lo, j = (int64_t)number - tg->first[b - tg->band_lo];
    const double phi = (-90 + ((double)b + 0.5) * tg->side) * M_PI / 180;
    const double lam = (-180 + ((double)j + 0.5) * lon_width(tg, b)) * M_PI / 180;
    const double e[9] = {-sin(lam), cos(lam), 0,
                         -sin(phi) * cos(lam), -sin(phi) * sin(lam), cos(phi),
                         cos(phi) * cos(lam), cos(phi) * sin(lam), sin(phi)};
    memcpy(f, e, sizeof e);
}

/* The members of the tiles, counted in place: pass 1 counts each block of
 * points' members of each tile, pass 2 puts them where the counts say. A
 * tile's members come block by block, each in input order: in input order,
 * whatever the number of blocks. */
typedef struct tile_count {
    const sweep *s;
    const tile_grid *tg;
    size_t n_numbers, block; /* tile numbers; points a block */
    size_t *count;           /* [block][tile]: members; after pass 1, where the next goes */
    uint8_t *has_own;        /* [block][tile] */
    tiling *tl;              /* pass 2 */
    bool placing;            /* pass 2 */
} tile_count;

/* Pass 1 or 2 over blocks [begin, end). */
static void tile_members(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    const tile_count *c = arg;
    for (size_t b = begin; b < end; b++) {
        size_t *count = c->count + b * c->n_numbers;
        const size_t last = b * c->block + c->block < c->s->n ? b * c->block + c->block : c->s->n;
        for (size_t i = b * c->block; i < last; i++) {
            uint64_t t[9];
            uint8_t own[9];
            const int k = tiles_holding(c->tg, c->s->x[i], c->s->y[i], t, own);
            if (!c->placing) {
                for (int m = 0; m < k; m++)
                    count[t[m]]++;
                c->has_own[b * c->n_numbers + t[0]] = 1; /* its own tile comes first */
                continue;
            }
            for (int m = 0; m < k; m++) {
                if (count[t[m]] == SIZE_MAX)
                    continue; /* no own point: not kept */
                c->tl->member[count[t[m]]] = (uint32_t)i;
                c->tl->own[count[t[m]]++] = own[m];
            }
        }
    }
}

/* The members of every tile, own and halo, grouped by tile (in input order
 * within each, which build_tile() keeps among equal y); only tiles with an
 * own point are kept, their numbers in *number. Counted in place. */
static int list_members_counting(sweep *s, const tile_grid *tg, size_t n_numbers,
                                 uint64_t **number)
{
    tiling *tl = &s->tiles;
    const size_t n_blocks = (size_t)s->g->threads;
    tile_count c = {.s = s, .tg = tg, .n_numbers = n_numbers,
                    .block = (s->n + n_blocks - 1) / n_blocks, .tl = tl};
    c.count = calloc(n_blocks * n_numbers, sizeof *c.count);
    c.has_own = calloc(n_blocks * n_numbers, 1);
    if (!c.count || !c.has_own) {
        free(c.count), free(c.has_own);
        return FC_ENOMEM;
    }
    fc_parallel_for(s->g->threads, n_blocks, 1, tile_members, &c);
    size_t used = 0, kept = 0;
    for (size_t t = 0; t < n_numbers; t++) {
        bool any_own = false;
        for (size_t b = 0; b < n_blocks; b++)
            any_own |= c.has_own[b * n_numbers + t] != 0;
        kept += any_own;
        for (size_t b = 0; b < n_blocks; b++) { /* counts become where each goes */
            const size_t members = c.count[b * n_numbers + t];
            c.count[b * n_numbers + t] = any_own ? used : SIZE_MAX;
            used += any_own ? members : 0;
        }
    }
    free(c.has_own);
    tl->member = malloc((used ? used : 1) * sizeof *tl->member);
    tl->own = malloc(used ? used : 1);
    tl->start = malloc((kept + 1) * sizeof *tl->start);
    *number = malloc((kept + 1) * sizeof **number);
    if (!tl->member || !tl->own || !tl->start || !*number) {
        free(c.count);
        return FC_ENOMEM;
    }
    for (size_t t = 0; t < n_numbers; t++) {
        if (c.count[t] == SIZE_MAX)
            continue;
        tl->start[tl->n_tiles] = c.count[t]; /* block 0's first */
        (*number)[tl->n_tiles++] = t;
    }
    tl->start[tl->n_tiles] = used;
    c.placing = true;
    fc_parallel_for(s->g->threads, n_blocks, 1, tile_members, &c);
    free(c.count);
    return FC_OK;
}

/* The same, by sorting (tile << 33 | point << 1 | own) keys: for tile
 * numbers too many to count. */
static int list_members_sorting(sweep *s, const tile_grid *tg, uint64_t **number)
{
    const size_t n = s->n;
    size_t cap = n + n / 4 + 16, used = 0;
    uint64_t *key = malloc(cap * sizeof *key);
    if (!key)
        return FC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t t[9];
        uint8_t own[9];
        const int k = tiles_holding(tg, s->x[i], s->y[i], t, own);
        if (used + 9 > cap) {
            cap *= 2;
            uint64_t *more = realloc(key, cap * sizeof *key);
            if (!more) {
                free(key);
                return FC_ENOMEM;
            }
            key = more;
        }
        for (int m = 0; m < k; m++)
            key[used++] = t[m] << 33 | (uint64_t)i << 1 | own[m];
    }
    uint64_t *tmp = malloc((used ? used : 1) * sizeof *tmp);
    if (!tmp) {
        free(key);
        return FC_ENOMEM;
    }
    fc_radix_sort_u64(key, tmp, used, 33); /* by tile: made in input order already */
    free(tmp);
    tiling *tl = &s->tiles;
    tl->member = malloc((used ? used : 1) * sizeof *tl->member);
    tl->own = malloc(used ? used : 1);
    tl->start = malloc((used + 1) * sizeof *tl->start);
    *number = malloc((used + 1) * sizeof **number);
    if (!tl->member || !tl->own || !tl->start || !*number) {
        free(key);
        return FC_ENOMEM;
    }
    size_t kept = 0; /* tiles with an own point, in order */
    for (size_t a = 0, b; a < used; a = b) {
        bool any_own = false;
        for (b = a; b < used && key[b] >> 33 == key[a] >> 33; b++)
            any_own |= (key[b] & 1) != 0;
        if (!any_own)
            continue;
        tl->start[tl->n_tiles] = kept;
        (*number)[tl->n_tiles++] = key[a] >> 33;
        for (size_t m = a; m < b; m++) {
            tl->member[kept] = (uint32_t)(key[m] >> 1);
            tl->own[kept++] = (uint8_t)(key[m] & 1);
        }
    }
    tl->start[tl->n_tiles] = kept;
    free(key);
    return FC_OK;
}

/* The tiles' members (see list_members_counting()), the tiles in the order
 * the threads take them, and their frames. */
static int cut_tiles(sweep *s, const tile_grid *tg)
{
    const uint64_t n_numbers = tg->geodesic ? (uint64_t)tg->first[tg->band_hi - tg->band_lo]
                                            : (uint64_t)(tg->n_x * tg->n_y);
    uint64_t *number = NULL;
    /* counted where the counters (a tile number a thread) are no more than
     * the points, some 8 bytes a point at most; else sorted */
    const bool count = n_numbers * (uint64_t)s->g->threads <= (uint64_t)s->n + 65536;
    int status = count ? list_members_counting(s, tg, (size_t)n_numbers, &number)
                       : list_members_sorting(s, tg, &number);
    tiling *tl = &s->tiles;
    uint64_t *key = status == FC_OK ? malloc((tl->n_tiles ? tl->n_tiles : 1) * sizeof *key) : NULL;
    if (!key) {
        free(number);
        return FC_ENOMEM;
    }
    for (size_t k = 0; k < tl->n_tiles; k++) /* largest first, then in order */
        key[k] = (uint64_t)(UINT32_MAX - (tl->start[k + 1] - tl->start[k])) << 32 | k;
    qsort(key, tl->n_tiles, sizeof *key, fc_compare_u64);
    tl->by_size = malloc((tl->n_tiles ? tl->n_tiles : 1) * sizeof *tl->by_size);
    for (size_t k = 0; tl->by_size && k < tl->n_tiles; k++)
        tl->by_size[k] = (uint32_t)key[k];
    free(key);
    if (!tl->by_size) {
        free(number);
        return FC_ENOMEM;
    }
    if (tg->geodesic) { /* the frames of the kept tiles */
        tl->frame = malloc((tl->n_tiles ? tl->n_tiles : 1) * 9 * sizeof *tl->frame);
        for (size_t k = 0; tl->frame && k < tl->n_tiles; k++)
            tile_frame(tg, number[k], tl->frame + 9 * k);
    }
    free(number);
    return tg->geodesic && !tl->frame ? FC_ENOMEM : FC_OK;
}

/* ---- the sweep -------------------------------------------------------------- */

static bool thread_sums_alloc(thread_sums *ts, size_t S, int reach, bool weighted)
{
    ts->t = calloc(S * S, sizeof *ts->t);
    ts->n_with = calloc(S, sizeof *ts->n_with);
    ts->point_count = calloc(COUNT_WAYS * S, sizeof *ts->point_count);
    ts->touched = malloc((S + 1) * sizeof *ts->touched); /* one more: see count_hits() */
    ts->h.count = calloc(S, sizeof *ts->h.count);
    ts->h.active = malloc(S * sizeof *ts->h.active);
    ts->h.slot = malloc(S * sizeof *ts->h.slot);
    ts->windows = malloc((size_t)(2 * reach + 1) * sizeof *ts->windows);
    if (weighted) {
        ts->h.weight = calloc(S, sizeof *ts->h.weight);
        ts->visit_count = malloc(S * sizeof *ts->visit_count);
        ts->visit_weight = malloc(S * sizeof *ts->visit_weight);
    }
    return ts->t && ts->n_with && ts->point_count && ts->touched && ts->h.count &&
           ts->h.active && ts->h.slot && ts->windows &&
           (!weighted || (ts->h.weight && ts->visit_count && ts->visit_weight));
}

static void thread_sums_free(thread_sums *ts)
{
    free(ts->t), free(ts->n_with), free(ts->point_count), free(ts->touched), free(ts->hits);
    free(ts->hit_sector);
    free(ts->maybe);
    free(ts->u_diff), free(ts->u_hit);
    free(ts->h.count), free(ts->h.active), free(ts->h.slot), free(ts->h.weight);
    free(ts->visit_count), free(ts->visit_weight);
    free(ts->windows);
    tile_free(&ts->tile);
}

/* Tiles [begin, end): each built, swept, and its u handed to its points. */
static void sweep_tiles(void *arg, size_t begin, size_t end, int worker)
{
    const sweep *s = arg;
    thread_sums *ts = &s->sums[worker];
    for (size_t next = begin; next < end && !ts->failed; next++) {
        const size_t k = s->tiles.by_size[next];
        const size_t n = s->tiles.start[k + 1] - s->tiles.start[k];
        if (!tile_room(&ts->tile, n, s->g->geodesic, s->weight != NULL)) {
            ts->failed = true;
            return;
        }
        if (s->out->u_sum) {
            uint64_t *more = realloc(ts->u_diff, (n + 1) * sizeof *more);
            if (more)
                ts->u_diff = more;
            if (!more || !(more = realloc(ts->u_hit, (n + 1) * sizeof *more))) {
                ts->failed = true;
                return;
            }
            ts->u_hit = more;
            memset(ts->u_diff, 0, (n + 1) * sizeof *ts->u_diff);
            memset(ts->u_hit, 0, (n + 1) * sizeof *ts->u_hit);
        }
        build_tile(s, &ts->tile, k);
        for (size_t r = 0; r < ts->tile.n_columns; r++)
            if (!fc_parallel_cancelled()) /* a tile may take seconds */
                sweep_column(s, ts, r);
        uint64_t running = 0;
        for (size_t p = 0; s->out->u_sum && p < n; p++) {
            running += ts->u_diff[p];
            __atomic_fetch_add(&s->u_got[ts->tile.idx[p]], running + ts->u_hit[p],
                               __ATOMIC_RELAXED); /* whole numbers: any order */
        }
    }
}

void fc_colocation_sweep_simd(bool allowed)
{
    simd_allowed = allowed;
}

void fc_colocation_add_sums(colocation_totals *out, const colocation_fixed *t,
                            const size_t *n_with, size_t n_sectors)
{
    for (size_t k = 0; k < n_sectors * n_sectors; k++)
        out->t[k] += t[k];
    for (size_t a = 0; a < n_sectors; a++)
        out->n_with[a] += n_with[a];
}

/* The threads' sums into out. */
static void gather(const sweep *s)
{
    colocation_totals *out = s->out;
    for (int t = 0; t < s->g->threads; t++)
        fc_colocation_add_sums(out, s->sums[t].t, s->sums[t].n_with, s->n_sectors);
    for (size_t i = 0; out->u_sum && i < s->n; i++)
        out->u_sum[i] = ldexp((double)s->u_got[i], -out->u_bits);
}

/* Cuts s's points into tiles and sweeps them (s holds the input; its tiles
 * and sums are made here, and freed by sweep_free()). */
static int sweep_all(fc_context *ctx, sweep *s)
{
    const grid *g = s->g;
    const size_t n = s->n;
    const double *x = s->x, *y = s->y, h = s->h;
    if (!(h > 0) || !(h <= g->eps) || n > UINT32_MAX - 1 ||
        !(4 * TILE_EPS * g->eps / h < (double)INT32_MAX)) /* a tile's columns, numbered */
        return FC_EINVAL;
#ifdef HAVE_AVX2_BAND
    s->avx2 = simd_allowed && __builtin_cpu_supports("avx2");
#endif
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        x_lo = fmin(x_lo, x[i]), x_hi = fmax(x_hi, x[i]);
        y_lo = fmin(y_lo, y[i]), y_hi = fmax(y_hi, y[i]);
    }
    /* the largest coordinate the windows see: earth-centred, or the input's */
    const double largest = g->geodesic ? g->earth.a * 1.01
                                       : fmax(fmax(fabs(x_lo), fabs(x_hi)),
                                              fmax(fabs(y_lo), fabs(y_hi)));
    s->slack = 1e-9 * g->eps + 64 * DBL_EPSILON * largest;
    const double reach = g->geodesic ? sqrt(g->chord_max2) + s->slack : g->eps;
    s->reach = (int)ceil(reach / h) + 1;
    tile_grid tg;
    int status = plan_tiles(s, x_lo, x_hi, y_lo, y_hi, &tg) ? FC_OK : FC_EINVAL;
    if (status == FC_OK && g->geodesic) {
        s->cx = malloc((n ? n : 1) * sizeof *s->cx);
        s->cy = malloc((n ? n : 1) * sizeof *s->cy);
        s->cz = malloc((n ? n : 1) * sizeof *s->cz);
        status = s->cx && s->cy && s->cz
                     ? fc_earth_centred(ctx, g->threads, n, x, y, g->earth.a, g->earth.f, s->cx,
                                        s->cy, s->cz)
                     : FC_ENOMEM;
    }
    if (status == FC_OK)
        status = cut_tiles(s, &tg);
    free(tg.n_lon), free(tg.first), free(tg.lon_reach);
    if (status == FC_OK && !(s->sums = calloc((size_t)g->threads, sizeof *s->sums)))
        status = FC_ENOMEM;
    if (status == FC_OK && s->out->u_sum && !(s->u_got = calloc(n, sizeof *s->u_got)))
        status = FC_ENOMEM;
    for (int t = 0; status == FC_OK && t < g->threads; t++)
        if (!thread_sums_alloc(&s->sums[t], s->n_sectors, s->reach, s->weight != NULL))
            status = FC_ENOMEM;
    if (status == FC_OK) {
        status = fc_parallel_for_cancel(ctx, g->threads, s->tiles.n_tiles, 1, sweep_tiles, s);
        for (int t = 0; status == FC_OK && t < g->threads; t++)
            status = s->sums[t].failed ? FC_ENOMEM : status;
    }
    return status;
}

static void sweep_free(sweep *s)
{
    for (int t = 0; s->sums && t < s->g->threads; t++)
        thread_sums_free(&s->sums[t]);
    free(s->sums), free(s->u_got), free(s->cx), free(s->cy), free(s->cz);
    free(s->tiles.start), free(s->tiles.member), free(s->tiles.own), free(s->tiles.frame);
    free(s->tiles.by_size);
}

int fc_colocation_sweep(fc_context *ctx, const grid *g, size_t n, const double *x,
                        const double *y, const uint32_t *sector, size_t n_sectors, double h,
                        colocation_totals *out)
{
    sweep s = {.g = g, .n = n, .n_sectors = n_sectors, .x = x, .y = y, .sector = sector,
               .h = h, .out = out};
    const int status = sweep_all(ctx, &s);
    if (status == FC_OK)
        gather(&s);
    sweep_free(&s);
    return status;
}

int fc_colocation_sweep_strata(fc_context *ctx, const grid *g, size_t n, const double *x,
                               const double *y, const uint32_t *stratum, size_t n_strata,
                               const uint64_t *weight, double h, colocation_visit visit,
                               void *arg)
{
    colocation_totals none = {0};
    sweep s = {.g = g, .n = n, .n_sectors = n_strata, .x = x, .y = y, .sector = stratum,
               .h = h, .out = &none, .weight = weight, .visit = visit, .visit_arg = arg};
    const int status = sweep_all(ctx, &s);
    sweep_free(&s);
    return status;
}
