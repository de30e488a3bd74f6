/* SPDX-License-Identifier: MIT */
/* HDBSCAN*'s minimum spanning tree of mutual reachability distances: a
 * kd-tree per group, then Boruvka's rounds, each point's lightest edge out
 * of its component searched on threads (see hdbscan.c for the whole). */
#define _GNU_SOURCE /* qsort_r */
#include "core/hdbscan_mst.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* ---- the kd-tree ---------------------------------------------------------- */

/* Nodes of the tree of `size` points, remembered: the sizes of a level
 * differ by one at most, so few are asked. */
typedef struct node_counts {
    uint32_t size[128], count[128];
    int n;
} node_counts;

static uint32_t count_nodes(node_counts *memo, uint32_t size)
{
    if (size <= LEAF)
        return 1;
    for (int k = 0; k < memo->n; k++)
        if (memo->size[k] == size)
            return memo->count[k];
    const uint32_t c = 1 + count_nodes(memo, size / 2) + count_nodes(memo, size - size / 2);
    if (memo->n < 128) {
        memo->size[memo->n] = size;
        memo->count[memo->n++] = c;
    }
    return c;
}

/* Node id over order[lo, hi): its box, smallest index and core distance;
 * split at the median of its widest side unless a leaf. Ids are in
 * preorder, the right child's after the whole left subtree, so that
 * subtrees can be built side by side. Above stop_depth the children are not
 * built but handed out as tasks. */
typedef struct node_task {
    uint32_t lo, hi, id;
} node_task;

static void build_node(mst_job *j, uint32_t lo, uint32_t hi, uint32_t id, int depth,
                       int stop_depth, node_task *tasks, size_t *n_tasks, node_counts *memo)
{
    kd_node *nd = &j->nodes[id];
    *nd = (kd_node){.lo = lo, .hi = hi, .min_index = NONE, .comp = NONE, .min_core = INFINITY};
    for (int d = 0; d < j->dims; d++) {
        nd->box_lo[d] = INFINITY;
        nd->box_hi[d] = -INFINITY;
    }
    for (uint32_t p = lo; p < hi; p++) {
        const uint32_t i = j->order[p];
        for (int d = 0; d < j->dims; d++) {
            const double v = j->c[d][i];
            nd->box_lo[d] = v < nd->box_lo[d] ? v : nd->box_lo[d];
            nd->box_hi[d] = v > nd->box_hi[d] ? v : nd->box_hi[d];
        }
        nd->min_index = i < nd->min_index ? i : nd->min_index;
        nd->min_core = j->core[i] < nd->min_core ? j->core[i] : nd->min_core;
    }
    if (hi - lo <= LEAF)
        return;
    int widest = 0; /* split the widest side at its median */
    for (int d = 1; d < j->dims; d++)
        if (nd->box_hi[d] - nd->box_lo[d] > nd->box_hi[widest] - nd->box_lo[widest])
            widest = d;
    const uint32_t mid = lo + (hi - lo) / 2;
    fc_select_median(j->c[widest], j->order, lo, hi, mid);
    nd->child[0] = id + 1;
    nd->child[1] = id + 1 + count_nodes(memo, mid - lo);
    if (tasks && depth + 1 == stop_depth) {
        tasks[(*n_tasks)++] = (node_task){lo, mid, nd->child[0]};
        tasks[(*n_tasks)++] = (node_task){mid, hi, nd->child[1]};
        return;
    }
    build_node(j, lo, mid, nd->child[0], depth + 1, stop_depth, tasks, n_tasks, memo);
    build_node(j, mid, hi, nd->child[1], depth + 1, stop_depth, tasks, n_tasks, memo);
}

typedef struct build_job {
    mst_job *j;
    const node_task *tasks;
} build_job;

static void build_tasks(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    build_job *b = arg;
    for (size_t k = begin; k < end; k++) {
        node_counts memo = {.n = 0};
        const node_task *t = &b->tasks[k];
        build_node(b->j, t->lo, t->hi, t->id, 0, -1, NULL, NULL, &memo);
    }
}

#define SPLIT_DEPTH 4 /* the top levels built in turn, the subtrees below side by side */

/* The tree of order[lo, hi) from node id on; returns the nodes it has. */
uint32_t fc_hdb_build_tree(mst_job *j, uint32_t lo, uint32_t hi, uint32_t id, int threads)
{
    node_task tasks[2 << SPLIT_DEPTH];
    size_t n_tasks = 0;
    node_counts memo = {.n = 0};
    build_node(j, lo, hi, id, 0, SPLIT_DEPTH, tasks, &n_tasks, &memo);
    build_job b = {j, tasks};
    fc_parallel_for(threads, n_tasks, 1, build_tasks, &b);
    return count_nodes(&memo, hi - lo);
}

/* A lower bound of the distance from point q to any point of the node's box
 * (geodesic: the chord, less the margin for rounding). */
static double box_distance(const mst_job *j, uint32_t q, const kd_node *nd)
{
    double sum = 0;
    for (int d = 0; d < j->dims; d++) {
        const double v = j->c[d][q];
        const double gap = v < nd->box_lo[d] ? nd->box_lo[d] - v
                           : v > nd->box_hi[d] ? v - nd->box_hi[d]
                                               : 0;
        sum += gap * gap;
    }
    return j->geodesic ? sqrt(sum) - GEODESIC_MARGIN : sqrt(sum);
}

/* The distance of a and b as knn.c measures core distances. */
static double point_distance(const mst_job *j, uint32_t a, uint32_t b)
{
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    if (j->geodesic) {
        double s12 = 0;
        if (a != b)
            s12 = fc_earth_distance(&j->earth, j->lat[a], j->lon[a], j->lat[b], j->lon[b]);
        return s12;
    }
    double sum = 0;
    for (int d = 0; d < j->dims; d++) {
        const double v = j->c[d][a] - j->c[d][b];
        sum += v * v;
    }
    return sqrt(sum);
}

/* The mutual reachability distance of q and p; or, geodesic, a lower bound
 * of it when that is already beyond `above` (saving geod_inverse). */
static double reach(const mst_job *j, uint32_t q, uint32_t p, double above)
{
    const double cores = j->core[q] > j->core[p] ? j->core[q] : j->core[p];
    if (!j->geodesic) {
        const double d = point_distance(j, q, p);
        return d > cores ? d : cores;
    }
    double sum = 0;
    for (int d = 0; d < 3; d++) {
        const double v = j->c[d][q] - j->c[d][p];
        sum += v * v;
    }
    const double chord = sqrt(sum);
    if (cores >= fc_longest_geodesic(j->rho, chord))
        return cores; /* the geodesic is surely shorter */
    if (chord - GEODESIC_MARGIN > above)
        return chord - GEODESIC_MARGIN;
    const double d = point_distance(j, q, p);
    return d > cores ? d : cores;
}

/* The lightest edge from q to another component within the node. */
static void search(const mst_job *j, uint32_t q, uint32_t comp_q, uint32_t node, edge *best)
{
    const kd_node *nd = &j->nodes[node];
    if (nd->comp == comp_q)
        return;
    double bound = box_distance(j, q, nd);
    bound = bound > j->core[q] ? bound : j->core[q];
    bound = bound > nd->min_core ? bound : nd->min_core;
    /* every edge from q into the node is at least (bound, min, max) */
    const uint32_t lo = q < nd->min_index ? q : nd->min_index;
    const uint32_t hi = q < nd->min_index ? nd->min_index : q;
    if (!edge_less(bound, lo, hi, best))
        return;
    if (!nd->child[0]) {
        for (uint32_t k = nd->lo; k < nd->hi; k++) {
            const uint32_t p = j->order[k];
            if (j->comp[p] == comp_q)
                continue;
            const double w = reach(j, q, p, best->w);
            const uint32_t a = q < p ? q : p, b = q < p ? p : q;
            if (edge_less(w, a, b, best))
                *best = (edge){w, a, b};
        }
        return;
    }
    const uint32_t l = nd->child[0], r = nd->child[1];
    if (box_distance(j, q, &j->nodes[l]) <= box_distance(j, q, &j->nodes[r])) {
        search(j, q, comp_q, l, best);
        search(j, q, comp_q, r, best);
    } else {
        search(j, q, comp_q, r, best);
        search(j, q, comp_q, l, best);
    }
}

/* Work item i: the lightest edge out of one component from some of its
 * points, taken by core distance: none nearer than its own core distance,
 * nor than what earlier rounds found. */
static void query_items(void *arg, size_t begin, size_t end, int worker)
{
    (void)worker;
    mst_job *j = arg;
    for (size_t it = begin; it < end; it++) {
        edge best = j->item_best[it]; /* the seed: an edge out, or none */
        for (size_t k = j->item_start[it]; k < j->item_start[it + 1]; k++) {
            const uint32_t q = j->queue[k];
            if (j->core[q] > best.w)
                break;
            if (j->floor_w[q] > best.w)
                continue;
            const uint32_t was = j->partner[q];
            if (was != NONE && j->comp[was] != j->comp[q]) { /* still the lightest */
                const uint32_t a = q < was ? q : was, b = q < was ? was : q;
                if (edge_less(j->floor_w[q], a, b, &best))
                    best = (edge){j->floor_w[q], a, b};
                continue;
            }
            edge mine = best;
            search(j, q, j->comp[q], j->root_of_group[group_of(j, q)], &mine);
            if (mine.a != best.a || mine.b != best.b || mine.w != best.w) {
                j->floor_w[q] = mine.w; /* q's own lightest */
                j->partner[q] = mine.a == q ? mine.b : mine.a;
                best = mine;
            } else { /* none lighter than best: q's is at least as heavy */
                j->floor_w[q] = best.w > j->floor_w[q] ? best.w : j->floor_w[q];
                j->partner[q] = NONE;
            }
        }
        j->item_best[it] = best;
    }
}

static inline double core_of(uint32_t i, const void *core) { return ((const double *)core)[i]; }
RADIX_SORT(sort_by_core, uint32_t, core_of)

/* ---- the minimum spanning tree (Boruvka) ------------------------------------ */

/* Each node's component, when all its points are in one; children come
 * after their parents, so one backward pass does it. */
static void mark_components(mst_job *j)
{
    for (size_t id = j->n_nodes; id-- > 0;) {
        kd_node *nd = &j->nodes[id];
        if (nd->child[0]) {
            const uint32_t a = j->nodes[nd->child[0]].comp, b = j->nodes[nd->child[1]].comp;
            nd->comp = a == b ? a : NONE;
            continue;
        }
        nd->comp = j->comp[j->order[nd->lo]];
        for (uint32_t k = nd->lo + 1; k < nd->hi && nd->comp != NONE; k++)
            if (j->comp[j->order[k]] != nd->comp)
                nd->comp = NONE;
    }
}

typedef struct mst_scratch {
    uint32_t *parent, *queue;
    const uint32_t *by_core; /* the points by (core distance, index) */
    uint32_t *place; /* per point, its place in the tree order */
    uint32_t *count, *item_start;
    edge *item_best;
} mst_scratch;

/* The component of work item it: that of its first point. */
static uint32_t item_comp(const mst_job *j, const mst_scratch *s, size_t it)
{
    return j->comp[s->queue[s->item_start[it]]];
}

/* One Boruvka round: every component's lightest edge out, added. Returns
 * the edges added (0: every group is one tree), appended to edges. */
static size_t boruvka_round(mst_job *j, mst_scratch *s, size_t m, size_t n, int threads,
                            edge *edges, size_t n_edges)
{
    for (size_t k = 0; k < m; k++)
        j->comp[s->by_core[k]] = fc_uf_find(s->parent, s->by_core[k]);
    mark_components(j);
    /* the queue: by component, each in by_core's order (a counting sort) */
    /* components in the order of their roots in the tree, near ones in
     * turn (fewer cache misses) */
    memset(s->count, 0, (n + 1) * sizeof *s->count);
    for (size_t k = 0; k < m; k++)
        s->count[s->place[j->comp[s->by_core[k]]] + 1]++;
    for (size_t i = 0; i < n; i++)
        s->count[i + 1] += s->count[i];
    size_t n_items = 0;
    for (size_t i = 0; i < n; i++) /* work items: chunks of one component */
        for (size_t k = s->count[i]; k < s->count[i + 1]; k += QUERY_CHUNK)
            s->item_start[n_items++] = (uint32_t)k;
    s->item_start[n_items] = (uint32_t)m;
    for (size_t k = 0; k < m; k++) {
        const uint32_t q = s->by_core[k];
        s->queue[s->count[s->place[j->comp[q]]]++] = q;
    }
    /* Each item's best edge lives in the edge array's free tail: the forest
     * so far has n_edges edges and m - n_edges components, each of at most
     * 1 + size / QUERY_CHUNK items, and the array has m + m / QUERY_CHUNK + 2
     * places. Below, a component's edge is written at or before its first
     * item's place, after its items are read. */
    s->item_best = edges + n_edges;
    /* each item's seed: the lightest edge out of its component that earlier
     * rounds found and that still leads out (so the searches start bounded) */
    for (size_t it = 0, next; it < n_items; it = next) {
        edge seed = {INFINITY, NONE, NONE};
        for (next = it; next < n_items && item_comp(j, s, next) == item_comp(j, s, it); next++)
            ;
        for (size_t k = s->item_start[it]; k < s->item_start[next]; k++) {
            const uint32_t q = s->queue[k], was = j->partner[q];
            if (was == NONE || j->comp[was] == j->comp[q])
                continue;
            const uint32_t a = q < was ? q : was, b = q < was ? was : q;
            if (edge_less(j->floor_w[q], a, b, &seed))
                seed = (edge){j->floor_w[q], a, b};
        }
        for (size_t k = it; k < next; k++)
            s->item_best[k] = seed;
    }
    j->queue = s->queue;
    j->item_start = s->item_start;
    j->item_best = s->item_best;
    fc_parallel_for(threads, n_items, 16, query_items, j);
    size_t added = 0;
    for (size_t it = 0; it < n_items;) { /* each component's lightest, in order */
        edge best = s->item_best[it];
        size_t next = it + 1;
        for (; next < n_items && item_comp(j, s, next) == item_comp(j, s, it); next++)
            if (edge_less(s->item_best[next].w, s->item_best[next].a, s->item_best[next].b,
                          &best))
                best = s->item_best[next];
        it = next;
        if (best.a != NONE && fc_uf_join(s->parent, best.a, best.b))
            edges[n_edges + added++] = best;
    }
    return added;
}

/* The spanning trees of every clustered group: m points (members, sorted
 * here by core distance), m less the groups' count edges. */
int fc_hdb_spanning_trees(fc_context *ctx, mst_job *j, uint32_t *members, size_t m, size_t n,
                          int threads, edge *edges, size_t *n_edges)
{
    uint32_t *tmp = malloc((m + 1) * sizeof *tmp); /* members by (core, group, index) */
    const int sorted = tmp ? sort_by_core(members, m, tmp, j->core) : FC_ENOMEM;
    free(tmp);
    if (sorted != FC_OK)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the spanning tree of %zu points", m);
    mst_scratch s = {0};
    s.parent = malloc((n + 1) * sizeof *s.parent);
    s.place = malloc((n + 1) * sizeof *s.place);
    j->floor_w = calloc(n + 1, sizeof *j->floor_w);
    j->partner = malloc((n + 1) * sizeof *j->partner);
    s.queue = malloc((m + 1) * sizeof *s.queue);
    s.count = malloc((n + 2) * sizeof *s.count);
    s.item_start = malloc((m + 2) * sizeof *s.item_start);
    int status = FC_OK;
    if (!s.place || !j->floor_w || !j->partner || !s.parent || !s.queue || !s.count || !s.item_start) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory for the spanning tree of %zu points", m);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        s.parent[i] = (uint32_t)i;
        j->partner[i] = NONE;
    }
    for (size_t k = 0; k < n; k++)
        s.place[j->order[k]] = (uint32_t)k;
    s.by_core = members;
    *n_edges = 0;
    for (;;) {
        if ((status = fc_progress(ctx, 0.3 + 0.6 * (double)*n_edges / (double)(m ? m : 1),
                                  "spanning tree")) != FC_OK)
            break;
        size_t added = boruvka_round(j, &s, m, n, threads, edges, *n_edges);
        if (!added)
            break;
        *n_edges += added;
    }
done:
    free(j->floor_w), free(j->partner);
    j->floor_w = NULL, j->partner = NULL;
    free(s.place), free(s.parent), free(s.queue), free(s.count);
    free(s.item_start);
    return status;
}
