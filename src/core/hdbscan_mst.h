/* SPDX-License-Identifier: MIT */
/* Inside HDBSCAN*: what its spanning tree (hdbscan_mst.c: the kd-trees and
 * Boruvka's rounds) and its hierarchy (hdbscan.c) share. Only those two
 * files include it. */
#ifndef FC_HDBSCAN_MST_H
#define FC_HDBSCAN_MST_H

#include "core/grid.h"

#include <stdlib.h>
#include <string.h>

#define LEAF 16
#define NONE UINT32_MAX
#define QUERY_CHUNK 256 /* points of one component per work item */

typedef struct kd_node {
    uint32_t lo, hi;     /* its points: order[lo, hi) */
    uint32_t child[2];   /* 0: a leaf (a root is never a child) */
    uint32_t min_index;  /* the smallest point index in it */
    uint32_t comp;       /* the component all its points are in, or NONE */
    double min_core;
    double box_lo[3], box_hi[3];
} kd_node;

/* The lightest edge so far, a < b. */
typedef struct edge {
    double w;
    uint32_t a, b;
} edge;

static inline bool edge_less(double w, uint32_t a, uint32_t b, const edge *e)
{
    return w < e->w || (w == e->w && (a < e->a || (a == e->a && b < e->b)));
}

typedef struct mst_job {
    int dims;
    bool geodesic;
    const double *c[3];      /* coordinates by point: planar x, y; geodesic earth-centred */
    const double *lon, *lat; /* geodesic */
    fc_earth earth;
    double rho;
    const double *core;
    const uint32_t *group;   /* may be NULL */
    uint32_t *order;         /* points in tree order, group by group */
    kd_node *nodes;
    size_t n_nodes;
    uint32_t *root_of_group; /* node, or NONE: the group is not clustered */
    uint32_t n_groups;
    uint32_t *comp;          /* per point: its component's smallest point */
    /* what earlier rounds learnt of each point's lightest edge out, which
     * only gets heavier as components grow: at least floor_w; and, when
     * partner is not NONE, exactly (floor_w, partner) while the partner is
     * in another component */
    double *floor_w;
    uint32_t *partner;
    /* a round's queries */
    const uint32_t *queue;      /* points by (component, core distance, index) */
    const uint32_t *item_start; /* work item i is queue[item_start[i], item_start[i + 1]) */
    edge *item_best;
} mst_job;

static inline uint32_t group_of(const mst_job *j, uint32_t i)
{
    return j->group ? j->group[i] : 0;
}

/* ---- radix sorts -------------------------------------------------------------- */

/* Non-negative doubles order as their bit patterns: a stable LSD radix
 * sort by them, 16 bits a pass, a pass skipped where every key has the
 * same digit. RADIX_SORT(name, T, key) makes name(a, m, tmp), sorting m
 * items of type T by the double key(item), tmp holding m more; FC_ENOMEM
 * without memory for the counts. */
#define RADIX_BITS 16
#define RADIX_SORT(name, T, key)                                                            \
    static int name(T *a, size_t m, T *tmp, const void *arg)                                \
    {                                                                                        \
        size_t *count = malloc(((1u << RADIX_BITS) + 1) * sizeof *count);                    \
        if (!count)                                                                          \
            return FC_ENOMEM;                                                                \
        T *from = a, *to = tmp;                                                              \
        for (int shift = 0; shift < 64; shift += RADIX_BITS) {                               \
            memset(count, 0, ((1u << RADIX_BITS) + 1) * sizeof *count);                      \
            for (size_t k = 0; k < m; k++)                                                   \
                count[((bits_of(key(from[k], arg)) >> shift) & ((1u << RADIX_BITS) - 1)) + 1]++; \
            bool one_digit = false;                                                          \
            for (size_t d = 1; d <= (1u << RADIX_BITS) && !one_digit; d++)                   \
                one_digit = count[d] == m;                                                   \
            if (one_digit)                                                                   \
                continue;                                                                    \
            for (size_t d = 0; d < (1u << RADIX_BITS); d++)                                  \
                count[d + 1] += count[d];                                                    \
            for (size_t k = 0; k < m; k++)                                                   \
                to[count[(bits_of(key(from[k], arg)) >> shift) & ((1u << RADIX_BITS) - 1)]++] = \
                    from[k];                                                                 \
            T *swap = from;                                                                  \
            from = to;                                                                       \
            to = swap;                                                                       \
        }                                                                                    \
        if (from != a)                                                                       \
            memcpy(a, from, m * sizeof *a);                                                  \
        free(count);                                                                         \
        return FC_OK;                                                                        \
    }

static inline uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static inline double weight_of(edge e, const void *unused) { return (void)unused, e.w; }

/* The kd-tree of points order[lo, hi) as node id and those below it; returns
 * the nodes made. */
uint32_t fc_hdb_build_tree(mst_job *j, uint32_t lo, uint32_t hi, uint32_t id, int threads);
/* The minimum spanning forest of the mutual reachability distances of the
 * m points `members` (Boruvka's rounds over the kd-trees), into edges. */
int fc_hdb_spanning_trees(fc_context *ctx, mst_job *j, uint32_t *members, size_t m, size_t n,
                          int threads, edge *edges, size_t *n_edges);

#endif
