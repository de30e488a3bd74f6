/* SPDX-License-Identifier: MIT */
/* The clusters' economics: each cluster's share of its sector's firms and
 * weight, and with regions the region holding most of its firms, its
 * share there and that region's location quotient in the sector. */
#include "pipeline/pipeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fc_cluster_economics(fc_context *ctx, const fc_firms *f, const int32_t *cid,
                         const int32_t *region_of, const fc_region_stats *st,
                         fc_cluster_table *t)
{
    size_t m = t->n ? t->n : 1, ns = f->n_sectors ? f->n_sectors : 1;
    size_t *sector_n = calloc(ns, sizeof *sector_n);
    double *sector_w = calloc(ns, sizeof *sector_w);
    t->sector_share = calloc(m, sizeof *t->sector_share);
    if (f->weight)
        t->weight_share = calloc(m, sizeof *t->weight_share);
    if (region_of) {
        t->region = malloc(m * sizeof *t->region);
        t->region_share = calloc(m, sizeof *t->region_share);
        t->n_regions = calloc(m, sizeof *t->n_regions);
        t->region_lq = malloc(m * sizeof *t->region_lq);
    }
    uint64_t *pairs = region_of ? malloc((f->n ? f->n : 1) * sizeof *pairs) : NULL;
    if (!sector_n || !sector_w || !t->sector_share || (f->weight && !t->weight_share) ||
        (region_of && (!t->region || !t->region_share || !t->n_regions || !t->region_lq || !pairs))) {
        free(sector_n), free(sector_w), free(pairs);
        return fc_error(ctx, FC_ENOMEM, "out of memory for cluster statistics");
    }
    /* Shares of the sector's firms and weight, over every firm read. */
    for (size_t i = 0; i < f->n; i++) {
        sector_n[f->sector[i]]++;
        if (f->weight)
            sector_w[f->sector[i]] += f->weight[i];
    }
    for (size_t c = 0; c < t->n; c++) {
        size_t s = (size_t)t->sector[c];
        t->sector_share[c] = (double)t->n_firms[c] / (double)sector_n[s];
        if (t->weight_share)
            t->weight_share[c] = sector_w[s] > 0 ? t->weight[c] / sector_w[s] : NAN;
    }
    if (region_of) {
        /* (cluster, region) pairs of clustered firms, sorted: each
         * cluster's regions come in runs. */
        size_t k = 0;
        for (size_t i = 0; i < f->n; i++)
            if (cid[i] >= 0)
                pairs[k++] = (uint64_t)cid[i] << 32 | (uint32_t)(region_of[i] + 1);
        qsort(pairs, k, sizeof *pairs, fc_compare_u64);
        for (size_t c = 0; c < t->n; c++) {
            t->region[c] = -1;
            t->region_lq[c] = NAN;
        }
        size_t best_count = 0;
        for (size_t a = 0; a < k;) {
            size_t b = a;
            while (b < k && pairs[b] == pairs[a])
                b++;
            size_t c = (size_t)(pairs[a] >> 32);
            int32_t g = (int32_t)(uint32_t)pairs[a] - 1;
            if (a == 0 || (size_t)(pairs[a - 1] >> 32) != c)
                best_count = 0; /* a new cluster */
            if (g >= 0) {
                t->n_regions[c]++;
                /* most firms wins; on a tie, the region read first (runs
                 * come in region order, so a later run must beat it) */
                if (b - a > best_count) {
                    best_count = b - a;
                    t->region[c] = g;
                    t->region_share[c] = (double)(b - a) / (double)t->n_firms[c];
                    t->region_lq[c] = fc_lq(st, (size_t)g, (size_t)t->sector[c]);
                }
            }
            a = b;
        }
    }
    free(sector_n);
    free(sector_w);
    free(pairs);
    return FC_OK;
}
