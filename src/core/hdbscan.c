/* SPDX-License-Identifier: MIT */
/* Exact HDBSCAN* (Campello, Moulavi and Sander 2013; Campello et al. 2015),
 * planar or geodesic, separately within each group:
 *  1. core distances: each point's distance to its min_samples-th nearest
 *     point of its group, itself counted first (knn.c, exact);
 *  2. the minimum spanning tree of the mutual reachability distance
 *     max(core a, core b, d(a, b)), by Boruvka on a kd-tree per group;
 *  3. the hierarchy: the tree's edges removed from the longest down, all
 *     edges of one length at once (Campello et al. 2015, Algorithm 1), so
 *     that a level splits into as many parts as it has, and the result does
 *     not depend on which of several equal spanning trees was found;
 *  4. the condensed tree with min_cluster_size, and the clusters chosen
 *     from it by excess of mass or as its leaves;
 *  5. each point's membership strength and GLOSH outlier score.
 *
 * Exactness: distances are computed as knn.c computes the core distances
 * (planar: sqrt(dx*dx + dy*dy); geodesic: geod_inverse, smaller index
 * first), and the tree's bounds only prune what cannot be smaller. Boruvka
 * needs one order of all edges: (distance, smaller index, larger index).
 * Each component's lightest edge in that order is unique, so threads may
 * search in any order and find the same tree.
 *
 * Memory beyond the caller's arrays, per point, while the spanning tree
 * grows: core distance (8 bytes), tree order, component and member list
 * (12), a kd-tree node of 88 bytes per 6 points or so (15), the tree's
 * edges with Boruvka's work items in their tail (16), and Boruvka's
 * scratch: union-find parent, queue, counts, place in the tree, work item
 * starts, each point's floor and partner (28); geodesic adds the
 * earth-centred coordinates (24). The kd-trees, components and coordinates
 * are freed before the hierarchy is built, the edges after. Measured: 79
 * bytes a firm planar, 108 geodesic at 1M (tests/bench, table 1c). */
#define _GNU_SOURCE /* qsort_r */
#include "core/hdbscan_mst.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the hierarchy and the condensed tree ------------------------------------ */

/* A level of the hierarchy: the parts (points, or n + level index) that
 * join at distance dist, kids[first .. first + count). */
typedef struct level {
    double dist;
    uint32_t size, first, count;
} level;

typedef struct hierarchy {
    size_t n;
    level *levels;
    size_t n_levels;
    uint32_t *kids;
} hierarchy;

static uint32_t part_size(const hierarchy *h, uint32_t part)
{
    return part < h->n ? 1 : h->levels[part - h->n].size;
}

/* Edges by length (the order within one length does not matter: they are
 * taken together). */
RADIX_SORT(sort_by_length, edge, weight_of)

static int compare_pair(const void *pa, const void *pb)
{
    const uint32_t *a = pa, *b = pb;
    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

/* The hierarchy of the spanning trees: edges from the shortest up, those of
 * one length together; each part they join becomes one level whose kids
 * are the parts it joined. part_of[i] is the part point i's component
 * currently is (by the component's root). */
static int build_hierarchy(fc_context *ctx, edge *edges, size_t n_edges, size_t n, hierarchy *h)
{
    edge *tmp = malloc((n_edges + 1) * sizeof *tmp);
    const int sorted = tmp ? sort_by_length(edges, n_edges, tmp, NULL) : FC_ENOMEM;
    free(tmp);
    if (sorted != FC_OK)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the cluster hierarchy");
    uint32_t *parent = malloc((n + 1) * sizeof *parent);
    uint32_t *part_of = malloc((n + 1) * sizeof *part_of);
    uint32_t *pairs = malloc((2 * n_edges + 1) * 2 * sizeof *pairs);
    h->n = n;
    h->levels = malloc((n_edges + 1) * sizeof *h->levels);
    h->kids = malloc((2 * n_edges + 1) * sizeof *h->kids);
    if (!parent || !part_of || !pairs || !h->levels || !h->kids) {
        free(parent), free(part_of), free(pairs);
        return fc_error(ctx, FC_ENOMEM, "out of memory for the cluster hierarchy");
    }
    for (size_t i = 0; i < n; i++)
        parent[i] = part_of[i] = (uint32_t)i;
    size_t n_kids = 0;
    for (size_t s = 0, e; s < n_edges; s = e) {
        for (e = s; e < n_edges && edges[e].w == edges[s].w; e++)
            ;
        size_t n_pairs = 0; /* the parts before this length, then joined */
        for (size_t k = s; k < e; k++) {
            pairs[2 * n_pairs++ + 1] = part_of[fc_uf_find(parent, edges[k].a)];
            pairs[2 * n_pairs++ + 1] = part_of[fc_uf_find(parent, edges[k].b)];
        }
        for (size_t k = s; k < e; k++)
            fc_uf_join(parent, edges[k].a, edges[k].b);
        for (size_t k = s; k < e; k++)
            pairs[4 * (k - s)] = pairs[4 * (k - s) + 2] = fc_uf_find(parent, edges[k].a);
        qsort(pairs, n_pairs, 2 * sizeof *pairs, compare_pair);
        for (size_t p = 0, q; p < n_pairs; p = q) {
            level *lv = &h->levels[h->n_levels];
            *lv = (level){edges[s].w, 0, (uint32_t)n_kids, 0};
            for (q = p; q < n_pairs && pairs[2 * q] == pairs[2 * p]; q++)
                if (q == p || pairs[2 * q + 1] != pairs[2 * q - 1]) {
                    h->kids[n_kids++] = pairs[2 * q + 1];
                    lv->count++;
                    lv->size += part_size(h, pairs[2 * q + 1]);
                }
            part_of[pairs[2 * p]] = (uint32_t)(n + h->n_levels++);
        }
    }
    free(parent), free(part_of), free(pairs);
    return FC_OK;
}

typedef struct hcluster {
    uint32_t parent;     /* NONE: a group's root */
    uint32_t group;
    double birth;        /* lambda at which it appears */
    double death;        /* the largest lambda at which points leave it or it splits */
    double birth_d, death_d; /* the same as distances (1 / lambda would round) */
    double stability;
    double subtree_max;  /* the largest lambda in it or any cluster inside it */
    double value;        /* excess of mass: the best it or the clusters inside it give */
    bool has_children, chosen;
    uint32_t label;      /* the chosen cluster it is in, or NONE */
    uint32_t first;      /* its smallest member, once chosen */
} hcluster;

typedef struct condensed {
    hcluster *c;
    size_t n_c;
    double *fall;        /* per point: the lambda at which it leaves its last cluster */
    uint32_t *fall_from; /* that cluster, or NONE */
} condensed;

static double lambda_of(double dist) { return dist > 0 ? 1 / dist : INFINITY; }

/* Every point of a part leaves cluster c at distance dist. */
static void fall_out(const hierarchy *h, condensed *t, uint32_t part, uint32_t c, double dist,
                     uint32_t *stack)
{
    const double lambda = lambda_of(dist);
    hcluster *cl = &t->c[c];
    size_t top = 0;
    stack[top++] = part;
    while (top) {
        const uint32_t p = stack[--top];
        if (p < h->n) {
            t->fall[p] = lambda;
            t->fall_from[p] = c;
            cl->stability += lambda - cl->birth;
            continue;
        }
        const level *lv = &h->levels[p - h->n];
        for (uint32_t k = 0; k < lv->count; k++)
            stack[top++] = h->kids[lv->first + k];
    }
    cl->death = lambda > cl->death ? lambda : cl->death;
    cl->death_d = dist < cl->death_d ? dist : cl->death_d;
}

static uint32_t new_cluster(condensed *t, uint32_t parent, uint32_t group, double birth_d)
{
    t->c[t->n_c] = (hcluster){.parent = parent, .group = group, .birth = lambda_of(birth_d),
                              .birth_d = birth_d, .death_d = INFINITY, .label = NONE,
                              .first = NONE};
    if (parent != NONE)
        t->c[parent].has_children = true;
    return (uint32_t)t->n_c++;
}

/* The condensed tree under one group's root part, top down. */
static void condense(const hierarchy *h, condensed *t, uint32_t root, uint32_t group,
                     size_t min_size, uint32_t *stack, uint32_t *falling)
{
    size_t top = 0;
    stack[2 * top] = root;
    stack[2 * top++ + 1] = new_cluster(t, NONE, group, INFINITY);
    while (top) {
        --top;
        const uint32_t part = stack[2 * top], c = stack[2 * top + 1];
        const level *lv = &h->levels[part - h->n];
        const double lambda = lambda_of(lv->dist);
        size_t big = 0;
        for (uint32_t k = 0; k < lv->count; k++)
            big += part_size(h, h->kids[lv->first + k]) >= min_size;
        for (uint32_t k = 0; k < lv->count; k++) {
            const uint32_t kid = h->kids[lv->first + k];
            const uint32_t size = part_size(h, kid);
            if (size < min_size) {
                fall_out(h, t, kid, c, lv->dist, falling);
            } else if (big == 1) { /* the cluster goes on, smaller */
                stack[2 * top] = kid;
                stack[2 * top++ + 1] = c;
            } else { /* a split: its points leave c as a new cluster */
                hcluster *cl = &t->c[c];
                cl->stability += size * (lambda - cl->birth);
                cl->death = lambda > cl->death ? lambda : cl->death;
                cl->death_d = lv->dist < cl->death_d ? lv->dist : cl->death_d;
                stack[2 * top] = kid;
                stack[2 * top++ + 1] = new_cluster(t, c, group, lv->dist);
            }
        }
    }
}

/* Chooses clusters (never a group's root), and labels each cluster with the
 * chosen one it is in. Children come after their parents. */
static void choose(condensed *t, int selection)
{
    for (size_t c = t->n_c; c-- > 0;)
        t->c[c].subtree_max = t->c[c].death;
    double *below = calloc(t->n_c + 1, sizeof *below); /* the children's values, summed */
    for (size_t c = t->n_c; c-- > 0;) {
        hcluster *cl = &t->c[c];
        if (selection == FC_SELECT_LEAF)
            cl->chosen = !cl->has_children;
        else if (cl->has_children && below && below[c] > cl->stability)
            cl->value = below[c];
        else
            cl->chosen = true, cl->value = cl->stability;
        if (cl->parent == NONE) {
            cl->chosen = false;
            continue;
        }
        hcluster *up = &t->c[cl->parent];
        if (below)
            below[cl->parent] += cl->value;
        up->subtree_max = cl->subtree_max > up->subtree_max ? cl->subtree_max : up->subtree_max;
    }
    free(below);
    for (size_t c = 0; c < t->n_c; c++) { /* top down: the outermost chosen one */
        hcluster *cl = &t->c[c];
        const uint32_t above = cl->parent == NONE ? NONE : t->c[cl->parent].label;
        cl->chosen = cl->chosen && above == NONE;
        cl->label = above != NONE ? above : cl->chosen ? (uint32_t)c : NONE;
    }
}

/* ---- the whole ---------------------------------------------------------------- */

typedef struct run {
    size_t n;
    double *core;
    double *ecef[3];
    uint32_t *members; /* the points of groups big enough (sorted by core distance) */
    size_t m;
    mst_job mst;
    edge *edges;
    size_t n_edges;
    hierarchy h;
    condensed t;
    uint32_t *stack, *falling;
} run;

/* Once the spanning trees are built, what only they needed: the kd-trees,
 * the components, the members, the earth-centred coordinates. Each group's
 * root_of_group becomes a point of the group, for condense_all(). */
static void free_search(run *r)
{
    for (uint32_t g = 0; g < r->mst.n_groups; g++)
        if (r->mst.root_of_group[g] != NONE)
            r->mst.root_of_group[g] = r->mst.order[r->mst.nodes[r->mst.root_of_group[g]].lo];
    for (int d = 0; d < 3; d++) {
        free(r->ecef[d]);
        r->ecef[d] = NULL;
    }
    free(r->members), free(r->mst.order), free(r->mst.nodes), free(r->mst.comp);
    r->members = r->mst.order = r->mst.comp = NULL;
    r->mst.nodes = NULL;
}

static void run_free(run *r)
{
    free(r->core);
    for (int d = 0; d < 3; d++)
        free(r->ecef[d]);
    free(r->members), free(r->mst.order), free(r->mst.nodes), free(r->mst.root_of_group);
    free(r->mst.comp), free(r->edges), free(r->h.levels), free(r->h.kids);
    free(r->t.c), free(r->t.fall), free(r->t.fall_from), free(r->stack), free(r->falling);
}

/* The points of the groups that can hold a cluster, by group, and each
 * group's kd-tree. */
static int build_trees(fc_context *ctx, run *r, const uint32_t *group, size_t need, int threads)
{
    const size_t n = r->n;
    mst_job *j = &r->mst;
    r->members = malloc((n + 1) * sizeof *r->members);
    j->order = malloc((n + 1) * sizeof *j->order);
    j->comp = malloc((n + 1) * sizeof *j->comp);
    uint32_t max_group = 0;
    for (size_t i = 0; group && i < n; i++)
        max_group = group[i] > max_group ? group[i] : max_group;
    j->root_of_group = malloc(((size_t)max_group + 1) * sizeof *j->root_of_group);
    j->nodes = malloc((n / 4 + 2 * (size_t)max_group + 4) * sizeof *j->nodes);
    if (!r->members || !j->order || !j->comp || !j->root_of_group || !j->nodes)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the kd-trees of %zu points", n);
    j->n_groups = max_group + 1;
    for (size_t g = 0; g <= max_group; g++)
        j->root_of_group[g] = NONE;
    /* the points by group, each in input order (a counting sort) */
    size_t *start = calloc((size_t)max_group + 2, sizeof *start);
    if (!start)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the kd-trees of %zu points", n);
    for (size_t i = 0; i < n; i++)
        start[group_of(j, (uint32_t)i) + 1]++;
    for (size_t g = 0; g <= max_group; g++)
        start[g + 1] += start[g];
    for (size_t i = 0; i < n; i++)
        j->order[start[group_of(j, (uint32_t)i)]++] = (uint32_t)i;
    free(start);
    for (size_t s = 0, e; s < n; s = e) {
        const uint32_t g = group_of(j, j->order[s]);
        for (e = s; e < n && group_of(j, j->order[e]) == g; e++)
            ;
        if (e - s < need)
            continue;
        memcpy(r->members + r->m, j->order + s, (e - s) * sizeof *r->members);
        r->m += e - s;
        j->root_of_group[g] = (uint32_t)j->n_nodes;
        j->n_nodes += fc_hdb_build_tree(j, (uint32_t)s, (uint32_t)e, (uint32_t)j->n_nodes, threads);
    }
    return FC_OK;
}

static int metric(fc_context *ctx, run *r, const double *x, const double *y,
                  const fc_dbscan_params *dp, int threads)
{
    mst_job *j = &r->mst;
    j->dims = 2;
    j->c[0] = x, j->c[1] = y;
    if (dp->distance != FC_DISTANCE_GEODESIC)
        return FC_OK;
    double a, f;
    fc_ellipsoid(dp, &a, &f, &j->rho);
    fc_earth_init(&j->earth, a, f);
    j->dims = 3;
    j->geodesic = true;
    j->lon = x, j->lat = y;
    for (int d = 0; d < 3; d++)
        if (!(r->ecef[d] = malloc((r->n + 1) * sizeof *r->ecef[d])))
            return fc_error(ctx, FC_ENOMEM, "out of memory");
    for (int d = 0; d < 3; d++)
        j->c[d] = r->ecef[d];
    return fc_earth_centred(ctx, threads, r->n, x, y, a, f, r->ecef[0], r->ecef[1], r->ecef[2]);
}

/* The condensed trees of every group, and the chosen clusters. */
static int condense_all(fc_context *ctx, run *r, size_t min_size, int selection)
{
    const size_t n = r->n;
    r->t.c = malloc((n + 1) * sizeof *r->t.c);
    r->t.fall = malloc((n + 1) * sizeof *r->t.fall);
    r->t.fall_from = malloc((n + 1) * sizeof *r->t.fall_from);
    r->stack = malloc((2 * n + 2) * sizeof *r->stack);
    r->falling = malloc((n + 1) * sizeof *r->falling);
    if (!r->t.c || !r->t.fall || !r->t.fall_from || !r->stack || !r->falling)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the condensed tree");
    for (size_t i = 0; i < n; i++) {
        r->t.fall[i] = NAN;
        r->t.fall_from[i] = NONE;
    }
    /* each group's root: the last level its first member reached */
    const size_t n_parts = n + r->h.n_levels;
    uint32_t *up = malloc((n_parts + 1) * sizeof *up);
    if (!up)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the condensed tree");
    for (size_t p = 0; p < n_parts; p++)
        up[p] = (uint32_t)p;
    for (size_t l = 0; l < r->h.n_levels; l++) {
        const level *lv = &r->h.levels[l];
        for (uint32_t k = 0; k < lv->count; k++)
            up[r->h.kids[lv->first + k]] = (uint32_t)(n + l);
    }
    for (uint32_t g = 0; g < r->mst.n_groups; g++) { /* each clustered group from its tree */
        if (r->mst.root_of_group[g] == NONE)
            continue;
        uint32_t root = r->mst.root_of_group[g]; /* now the group's first point */
        while (up[root] != root)
            root = up[root];
        if (root >= n && r->h.levels[root - n].size >= min_size)
            condense(&r->h, &r->t, root, g, min_size, r->stack, r->falling);
    }
    free(up);
    choose(&r->t, selection);
    return FC_OK;
}

static int compare_chosen(const void *pa, const void *pb, void *arg)
{
    const condensed *t = arg;
    const hcluster *a = &t->c[*(const uint32_t *)pa], *b = &t->c[*(const uint32_t *)pb];
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* Labels, strengths, scores and the chosen clusters, numbered by (group,
 * smallest member). */
static size_t write_out(run *r, int32_t *cluster_out, double *probability_out,
                        double *outlier_out, fc_hdbscan_cluster *clusters_out)
{
    condensed *t = &r->t;
    for (size_t i = 0; i < r->n; i++) {
        const uint32_t from = t->fall_from[i];
        const uint32_t label = from == NONE ? NONE : t->c[from].label;
        if (label != NONE && t->c[label].first == NONE)
            t->c[label].first = (uint32_t)i; /* points in input order: the smallest */
    }
    size_t k = 0; /* the chosen, ordered by (group, first): first is unique */
    uint32_t *chosen = r->falling, *number = r->stack;
    for (size_t c = 0; c < t->n_c; c++)
        if (t->c[c].chosen)
            chosen[k++] = (uint32_t)c;
    qsort_r(chosen, k, sizeof *chosen, compare_chosen, t);
    for (size_t a = 0; a < k; a++) {
        const hcluster *cl = &t->c[chosen[a]];
        number[chosen[a]] = (uint32_t)a;
        if (clusters_out)
            clusters_out[a] = (fc_hdbscan_cluster){cl->stability, cl->birth_d, cl->death_d};
    }
    for (size_t i = 0; i < r->n; i++) {
        const uint32_t from = t->fall_from[i];
        const uint32_t label = from == NONE ? NONE : t->c[from].label;
        const double lambda = t->fall[i];
        cluster_out[i] = label == NONE ? -1 : (int32_t)number[label];
        if (probability_out) {
            double p = 0;
            if (label != NONE) {
                const double top = t->c[label].death;
                p = top == 0 || !isfinite(lambda) ? 1 : (lambda < top ? lambda : top) / top;
            }
            probability_out[i] = p;
        }
        if (outlier_out) {
            double s = NAN; /* 1 - lambda / the densest lambda of its last cluster */
            if (from != NONE) {
                const double top = t->c[from].subtree_max;
                s = isinf(top) ? (isinf(lambda) ? 0 : 1) : top > 0 ? 1 - lambda / top : 0;
            }
            outlier_out[i] = s;
        }
    }
    return k;
}

int fc_hdbscan(fc_context *ctx, size_t n, const double *x, const double *y,
               const uint32_t *group, const fc_hdbscan_params *params,
               const fc_hdbscan_labels *labels, fc_hdbscan_cluster *clusters_out,
               size_t *n_clusters_out)
{
    if (n_clusters_out)
        *n_clusters_out = 0;
    if (!labels || !labels->cluster)
        return fc_error(ctx, FC_EINVAL, "no array for the points' clusters");
    fc_hdbscan_params own; /* as this library lays it out (struct_size) */
    if (params && fc_struct_in(ctx, params, params->struct_size, &own, sizeof own,
                               "fc_hdbscan_params") != FC_OK)
        return fc_errcode(ctx);
    params = params ? &own : NULL;
    if (!params || params->min_cluster_size < 2)
        return fc_error(ctx, FC_EINVAL, "min-cluster-size must be at least 2");
    if (params->selection != FC_SELECT_EOM && params->selection != FC_SELECT_LEAF)
        return fc_error(ctx, FC_EINVAL, "unknown cluster selection %d", params->selection);
    const size_t min_samples = params->min_samples ? params->min_samples
                                                   : params->min_cluster_size;
    fc_dbscan_params dp = {.eps = 1, .min_pts = min_samples, .distance = params->distance,
                           .semi_major = params->semi_major, .flattening = params->flattening,
                           .threads = params->threads};
    grid check = {0}; /* the checks of fc_dbscan(): coordinates, ellipsoid, size */
    int status = fc_grid_metric(ctx, &check, n, x, y, &dp);
    fc_grid_free(&check);
    if (status != FC_OK || n == 0)
        return status;
    const int threads = fc_threads_or_cores(params->threads);
    run r = {.n = n};
    uint32_t max_group = 0;
    for (size_t i = 0; group && i < n; i++)
        max_group = group[i] > max_group ? group[i] : max_group;
    r.core = malloc(n * sizeof *r.core);
    if (!r.core) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory for %zu core distances", n);
        goto done;
    }
    if (status == FC_OK)
        status = fc_progress(ctx, 0, "core distances");
    if (status == FC_OK) {
        uint32_t *zero = group ? NULL : calloc(n, sizeof *zero);
        status = group || zero ? fc_kth_distances(ctx, n, x, y, group ? group : zero,
                                                  (size_t)max_group + 1, &dp, min_samples, r.core)
                               : fc_error(ctx, FC_ENOMEM, "out of memory");
        free(zero);
    }
    r.mst.core = r.core;
    r.mst.group = group;
    if (status == FC_OK)
        status = metric(ctx, &r, x, y, &dp, threads);
    const size_t need = min_samples > params->min_cluster_size ? min_samples
                                                               : params->min_cluster_size;
    if (status == FC_OK)
        status = build_trees(ctx, &r, group, need, threads);
    /* the spanning tree's edges, and room for Boruvka's work items (see
     * boruvka_round()) */
    if (status == FC_OK &&
        !(r.edges = malloc((r.m + r.m / QUERY_CHUNK + 2) * sizeof *r.edges)))
        status = fc_error(ctx, FC_ENOMEM, "out of memory for the spanning tree");
    if (status == FC_OK)
        status = fc_hdb_spanning_trees(ctx, &r.mst, r.members, r.m, n, threads, r.edges, &r.n_edges);
    if (status == FC_OK) { /* the trees and then the edges are done with: freed */
        free_search(&r);
        status = build_hierarchy(ctx, r.edges, r.n_edges, n, &r.h);
        free(r.edges);
        r.edges = NULL;
    }
    if (status == FC_OK)
        status = condense_all(ctx, &r, params->min_cluster_size, params->selection);
    if (status == FC_OK) {
        size_t k = write_out(&r, labels->cluster, labels->probability, labels->outlier,
                             clusters_out);
        if (labels->core_distance)
            memcpy(labels->core_distance, r.core, n * sizeof *r.core);
        if (n_clusters_out)
            *n_clusters_out = k;
    }
done:
    run_free(&r);
    return status;
}
