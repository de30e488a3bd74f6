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
#include "core/colocation_sweep_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool simd_allowed = true; /* see fc_colocation_sweep_simd() */

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
    fc_tile_free(&ts->tile);
}

/* Tiles [begin, end): each built, swept, and its u handed to its points. */
static void sweep_tiles(void *arg, size_t begin, size_t end, int worker)
{
    const sweep *s = arg;
    thread_sums *ts = &s->sums[worker];
    for (size_t next = begin; next < end && !ts->failed; next++) {
        const size_t k = s->tiles.by_size[next];
        const size_t n = s->tiles.start[k + 1] - s->tiles.start[k];
        if (!fc_tile_room(&ts->tile, n, s->g->geodesic, s->weight != NULL)) {
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
        fc_tile_build(s, &ts->tile, k);
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
    int status = fc_tiles_plan(s, x_lo, x_hi, y_lo, y_hi, &tg) ? FC_OK : FC_EINVAL;
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
        status = fc_tiles_cut(s, &tg);
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
