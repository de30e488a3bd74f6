/* SPDX-License-Identifier: MIT */
/* The co-location sweep's tiles (see colocation_sweep.c): where tiles lie
 * (squares in the plane; bands of latitude cut in longitude on the
 * ellipsoid), which points each tile holds, counted in place or sorted,
 * and a tile's points in its own plane, by column. */
#include "core/colocation_sweep_internal.h"

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

bool fc_tile_room(tile *t, size_t n, bool geodesic, bool weighted)
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

void fc_tile_free(tile *t)
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
void fc_tile_build(const sweep *s, tile *t, size_t k)
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
bool fc_tiles_plan(const sweep *s, double x_lo, double x_hi, double y_lo, double y_hi,
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
 * within each, which fc_tile_build() keeps among equal y); only tiles with an
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
int fc_tiles_cut(sweep *s, const tile_grid *tg)
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
