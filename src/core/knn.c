/* SPDX-License-Identifier: MIT */
/* Exact k-distances: for each point, the distance to its k-th nearest point
 * of the same group, itself counted first (so k = min-pts gives the eps at
 * which the point would be core). For choosing eps (`firmclust suggest`).
 *
 * Each group gets a kd-tree (median splits, leaves of up to LEAF points).
 * Planar: the k nearest by dx*dx + dy*dy. Geodesic: the points go to
 * earth-centred 3D coordinates, whose chord never exceeds the geodesic and
 * bounds it from above too (Schur's comparison theorem, as in grid.c); the
 * k nearest by chord bound the k-th geodesic distance, and only the few
 * points whose bounds straddle it are measured by geod_inverse (see
 * kth_geodesic()): the answer is geod_inverse's own. */
#include "core/grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEAF 8

typedef struct kdtree {
    int dims;
    const double *c[3]; /* coordinates by point index */
    uint32_t *idx;      /* the group's points, in tree order */
    size_t n;
} kdtree;

static inline double coord(const kdtree *t, int d, uint32_t i) { return t->c[d][i]; }

void fc_select_median(const double *c, uint32_t *idx, size_t lo, size_t hi, size_t mid)
{
    while (hi - lo > 1) {
        /* the lower middle: Hoare's partition then always leaves j below
         * hi - 1, so that the range shrinks */
        const uint32_t pivot = idx[lo + (hi - lo - 1) / 2];
        const double pv = c[pivot];
        size_t i = lo, j = hi - 1;
        for (;;) {
            while (c[idx[i]] < pv || (c[idx[i]] == pv && idx[i] < pivot))
                i++;
            while (c[idx[j]] > pv || (c[idx[j]] == pv && idx[j] > pivot))
                j--;
            if (i >= j)
                break;
            uint32_t swap = idx[i];
            idx[i++] = idx[j];
            idx[j--] = swap;
        }
        if (mid <= j)
            hi = j + 1;
        else
            lo = j + 1;
    }
}

/* A node is idx[lo, hi): its median idx[mid] splits it, the smaller
 * before (the left child), the larger after (the right child); the median
 * itself stays at mid, where the queries read it. */
static void build(const kdtree *t, size_t lo, size_t hi, int depth)
{
    if (hi - lo <= LEAF)
        return;
    const size_t mid = lo + (hi - lo) / 2;
    fc_select_median(t->c[depth % t->dims], t->idx, lo, hi, mid);
    build(t, lo, mid, depth + 1);
    build(t, mid + 1, hi, depth + 1);
}

/* Subtrees to build side by side: the top levels are split here, the
 * subtrees below SPLIT_DEPTH are the tasks (the tree does not depend on
 * which thread builds which). */
#define SPLIT_DEPTH 4
typedef struct subtree {
    const kdtree *t;
    size_t lo, hi;
    int depth;
} subtree;

static void split_top(const kdtree *t, size_t lo, size_t hi, int depth, subtree *tasks,
                      size_t *n_tasks)
{
    if (depth == SPLIT_DEPTH || hi - lo <= LEAF) {
        tasks[(*n_tasks)++] = (subtree){t, lo, hi, depth};
        return;
    }
    const size_t mid = lo + (hi - lo) / 2;
    fc_select_median(t->c[depth % t->dims], t->idx, lo, hi, mid);
    split_top(t, lo, mid, depth + 1, tasks, n_tasks);
    split_top(t, mid + 1, hi, depth + 1, tasks, n_tasks);
}

static void build_subtrees(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    const subtree *tasks = arg;
    for (size_t k = begin; k < end; k++)
        build(tasks[k].t, tasks[k].lo, tasks[k].hi, tasks[k].depth);
}

/* The tree of t, on up to `threads` threads. */
static void build_tree(const kdtree *t, int threads)
{
    subtree tasks[1 << SPLIT_DEPTH];
    size_t n_tasks = 0;
    split_top(t, 0, t->n, 0, tasks, &n_tasks);
    fc_parallel_for(threads, n_tasks, 1, build_subtrees, tasks);
}

static double dist2(const kdtree *t, const double *q, uint32_t i)
{
    double sum = 0;
    for (int d = 0; d < t->dims; d++) {
        const double v = q[d] - coord(t, d, i);
        sum += v * v;
    }
    return sum;
}

/* The k smallest squared distances so far and their points, a max-heap:
 * top first. */
typedef struct near_point {
    double d;
    uint32_t i;
} near_point;

typedef struct heap {
    near_point *e;
    size_t n, k;
} heap;

static void heap_push(heap *h, double v, uint32_t point)
{
    const near_point add = {v, point};
    if (h->n == h->k) {
        if (v >= h->e[0].d)
            return;
        size_t i = 0; /* replace the top, sift down */
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= h->n)
                break;
            if (c + 1 < h->n && h->e[c + 1].d > h->e[c].d)
                c++;
            if (h->e[c].d <= v)
                break;
            h->e[i] = h->e[c];
            i = c;
        }
        h->e[i] = add;
        return;
    }
    size_t i = h->n++;
    while (i > 0 && h->e[(i - 1) / 2].d < v) {
        h->e[i] = h->e[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->e[i] = add;
}

/* The far side of a split is searched only when it could hold a point
 * nearer than the k-th so far: its points are at least the gap away, and
 * one at the k-th distance would not change it. (Not <=: in a pile of
 * points at one spot, where the gap and the k-th distance are both 0, <=
 * would visit the whole pile from each of its points.) */
static void nearest(const kdtree *t, const double *q, size_t lo, size_t hi, int depth, heap *h)
{
    if (hi - lo <= LEAF) {
        for (size_t p = lo; p < hi; p++)
            heap_push(h, dist2(t, q, t->idx[p]), t->idx[p]);
        return;
    }
    const size_t mid = lo + (hi - lo) / 2;
    const int d = depth % t->dims;
    const double gap = q[d] - coord(t, d, t->idx[mid]);
    const bool left_first = gap < 0;
    heap_push(h, dist2(t, q, t->idx[mid]), t->idx[mid]);
    nearest(t, q, left_first ? lo : mid + 1, left_first ? mid : hi, depth + 1, h);
    if (h->n < h->k || gap * gap < h->e[0].d)
        nearest(t, q, left_first ? mid + 1 : lo, left_first ? hi : mid, depth + 1, h);
}

/* Calls fn for every point within squared chord r2 of q. */
typedef void (*visit_fn)(void *arg, uint32_t i);
static void within_r2(const kdtree *t, const double *q, double r2, size_t lo, size_t hi,
                      int depth, visit_fn fn, void *arg)
{
    if (hi - lo <= LEAF) {
        for (size_t p = lo; p < hi; p++)
            if (dist2(t, q, t->idx[p]) <= r2)
                fn(arg, t->idx[p]);
        return;
    }
    const size_t mid = lo + (hi - lo) / 2;
    const int d = depth % t->dims;
    const double gap = q[d] - coord(t, d, t->idx[mid]);
    if (dist2(t, q, t->idx[mid]) <= r2)
        fn(arg, t->idx[mid]);
    if (gap <= 0 || gap * gap <= r2)
        within_r2(t, q, r2, lo, mid, depth + 1, fn, arg);
    if (gap >= 0 || gap * gap <= r2)
        within_r2(t, q, r2, mid + 1, hi, depth + 1, fn, arg);
}

typedef struct candidate {
    double chord;
    uint32_t i;
} candidate;

typedef struct knn_job {
    const size_t *start;           /* group g's points: tree_order[start[g] .. start[g + 1]) */
    const uint32_t *tree_order;    /* the points, group by group, each group in its tree's order */
    kdtree *trees;                 /* per group */
    const size_t *group_of_item;   /* the work items are points in group order */
    size_t k;
    bool geodesic;
    const double *lon, *lat;
    fc_earth earth;
    double rho;       /* the ellipsoid's smallest radius of curvature */
    size_t n_max;     /* the largest group */
    near_point *heaps; /* per thread: k */
    candidate *cands; /* per thread: n_max */
    double *exact;    /* per thread: n_max */
    double *out;
} knn_job;

typedef struct collect {
    const kdtree *t;
    const double *q;
    candidate *c;
    size_t n;
} collect;

static void add_candidate(void *arg, uint32_t i)
{
    collect *c = arg;
    c->c[c->n++] = (candidate){sqrt(dist2(c->t, c->q, i)), i};
}

/* The k-th smallest geodesic distance from point i, its k-th chord c_k
 * known. A point's geodesic lies between its chord c and longest(c); the
 * k-th geodesic D between c_k and longest(c_k). So only the points with
 * chord up to longest(c_k) can count; of those, a point whose longest(c)
 * is below c_k is surely nearer than D, and only the others, whose bounds
 * straddle, need geod_inverse: usually one or two. */
static double kth_geodesic(const knn_job *j, const kdtree *t, const double *q, uint32_t i,
                           double c_k, candidate *cands, double *exact)
{
    const double low_k = c_k - GEODESIC_MARGIN, reach = fc_longest_geodesic(j->rho, c_k);
    collect c = {t, q, cands, 0};
    within_r2(t, q, reach * reach, 0, t->n, 0, add_candidate, &c);
    size_t below = 0, m = 0;
    for (size_t e = 0; e < c.n; e++) {
        if (fc_longest_geodesic(j->rho, cands[e].chord) < low_k) {
            below++;
            continue;
        }
        const uint32_t other = cands[e].i;
        const uint32_t a = i < other ? i : other, b = i < other ? other : i; /* one order */
        double s12 = 0;
        if (a != b)
            s12 = fc_earth_distance(&j->earth, j->lat[a], j->lon[a], j->lat[b], j->lon[b]);
        exact[m++] = s12;
    }
    qsort(exact, m, sizeof *exact, fc_compare_double);
    return exact[j->k - 1 - below];
}

/* Whether the k nearest by chord are all at point i's very longitude and
 * latitude: then each geodesic, and so the k-th, is exactly 0 (a pile of
 * firms at one address, which kth_geodesic() would measure pair by pair). */
static bool all_at_one_spot(const knn_job *j, const heap *h, uint32_t i)
{
    for (size_t e = 0; e < h->n; e++)
        if (j->lon[h->e[e].i] != j->lon[i] || j->lat[h->e[e].i] != j->lat[i])
            return false;
    return true;
}

static void kth_of_points(void *arg, size_t begin, size_t end, int worker)
{
    knn_job *j = arg;
    near_point *hd = j->heaps + (size_t)worker * j->k;
    candidate *cands = j->cands ? j->cands + (size_t)worker * j->n_max : NULL;
    double *exact = j->exact ? j->exact + (size_t)worker * j->n_max : NULL;
    for (size_t w = begin; w < end; w++) {
        const size_t g = j->group_of_item[w];
        const kdtree *t = &j->trees[g];
        const uint32_t i = j->tree_order[w]; /* neighbours in turn: fewer cache misses */
        if (t->n < j->k) {
            j->out[i] = NAN;
            continue;
        }
        double q[3];
        for (int d = 0; d < t->dims; d++)
            q[d] = coord(t, d, i);
        heap h = {hd, 0, j->k};
        nearest(t, q, 0, t->n, 0, &h);
        j->out[i] = j->geodesic ? (all_at_one_spot(j, &h, i)
                                       ? 0
                                       : kth_geodesic(j, t, q, i, sqrt(h.e[0].d), cands, exact))
                                : sqrt(h.e[0].d);
    }
}

int fc_kth_distances(fc_context *ctx, size_t n, const double *x, const double *y,
                     const uint32_t *group, size_t n_groups, const fc_dbscan_params *params,
                     size_t k, double *out)
{
    if (k < 1)
        return fc_error(ctx, FC_EINVAL, "k must be at least 1");
    const bool geodesic = params->distance == FC_DISTANCE_GEODESIC;
    const int threads = fc_threads_or_cores(params->threads);
    knn_job j = {.k = k, .geodesic = geodesic, .lon = x, .lat = y, .out = out};
    double *ecef[3] = {NULL, NULL, NULL};
    size_t *start = calloc(n_groups + 1, sizeof *start);
    size_t *members = malloc((n + 1) * sizeof *members);
    size_t *group_of_item = malloc((n + 1) * sizeof *group_of_item);
    uint32_t *idx = malloc((n + 1) * sizeof *idx);
    kdtree *trees = calloc(n_groups + 1, sizeof *trees);
    int status = start && members && group_of_item && idx && trees
                     ? FC_OK
                     : fc_error(ctx, FC_ENOMEM, "out of memory for the k-distances of %zu firms", n);
    if (status == FC_OK && geodesic) {
        double a, f;
        fc_ellipsoid(params, &a, &f, &j.rho);
        fc_earth_init(&j.earth, a, f);
        for (int d = 0; d < 3 && status == FC_OK; d++)
            if (!(ecef[d] = malloc((n + 1) * sizeof *ecef[d])))
                status = fc_error(ctx, FC_ENOMEM, "out of memory");
        if (status == FC_OK)
            status = fc_earth_centred(ctx, threads, n, x, y, a, f, ecef[0], ecef[1], ecef[2]);
    }
    if (status == FC_OK) {
        for (size_t i = 0; i < n; i++) /* the groups' points, in input order */
            start[group[i] + 1]++;
        for (size_t g = 0; g < n_groups; g++)
            start[g + 1] += start[g];
        size_t *next = malloc((n_groups + 1) * sizeof *next); /* each group's next place */
        if (!next) {
            free(start), free(members), free(group_of_item), free(idx), free(trees);
            for (int d = 0; d < 3; d++)
                free(ecef[d]);
            return fc_error(ctx, FC_ENOMEM, "out of memory");
        }
        memcpy(next, start, n_groups * sizeof *next);
        for (size_t i = 0; i < n; i++)
            members[next[group[i]]++] = i;
        free(next);
        size_t n_max = 0;
        for (size_t g = 0; g < n_groups; g++) {
            kdtree *t = &trees[g];
            *t = (kdtree){geodesic ? 3 : 2, {geodesic ? ecef[0] : x, geodesic ? ecef[1] : y,
                                             ecef[2]},
                          idx + start[g], start[g + 1] - start[g]};
            for (size_t p = start[g]; p < start[g + 1]; p++) {
                idx[p] = (uint32_t)members[p];
                group_of_item[p] = g;
            }
            build_tree(t, threads);
            n_max = t->n > n_max ? t->n : n_max;
        }
        j.start = start, j.tree_order = idx, j.trees = trees, j.group_of_item = group_of_item;
        j.n_max = n_max;
        j.heaps = malloc((size_t)threads * k * sizeof *j.heaps);
        if (geodesic) {
            j.cands = malloc((size_t)threads * (n_max + 1) * sizeof *j.cands);
            j.exact = malloc((size_t)threads * (n_max + 1) * sizeof *j.exact);
        }
        if (!j.heaps || (geodesic && (!j.cands || !j.exact)))
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    if (status == FC_OK)
        fc_parallel_for(threads, n, 4096, kth_of_points, &j);
    free(j.heaps), free(j.cands), free(j.exact);
    free(start), free(members), free(group_of_item), free(idx), free(trees);
    for (int d = 0; d < 3; d++)
        free(ecef[d]);
    return status;
}

size_t fc_knee(const double *sorted, size_t n, bool logarithmic)
{
    /* the values' logarithms, from the smallest positive one */
    double floor_value = INFINITY;
    for (size_t i = 0; logarithmic && i < n; i++)
        if (sorted[i] > 0 && sorted[i] < floor_value)
            floor_value = sorted[i];
    if (logarithmic && !isfinite(floor_value))
        logarithmic = false; /* no positive value */
#define Y(i) (logarithmic ? log(sorted[i] > floor_value ? sorted[i] : floor_value) : sorted[i])
    if (n < 3 || !(Y(n - 1) > Y(0)))
        return n ? n / 2 : 0;
    /* Kneedle: both axes to [0, 1]; the k-distances rise slowly, then
     * steeply (a convex curve), and the knee is where the curve lies
     * farthest below the diagonal: the largest x - y */
    size_t best = 0;
    double best_gap = -INFINITY;
    const double y0 = Y(0), span = Y(n - 1) - Y(0);
    for (size_t i = 0; i < n; i++) {
        const double xn = (double)i / (double)(n - 1);
        const double yn = (Y(i) - y0) / span;
        if (xn - yn > best_gap) {
            best_gap = xn - yn;
            best = i;
        }
    }
#undef Y
    return best;
}
