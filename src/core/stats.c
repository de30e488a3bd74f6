/* SPDX-License-Identifier: MIT */
/* Cluster economics: location quotients per region and sector, and the
 * Monte Carlo significance of clusters. */
#define _GNU_SOURCE /* qsort_r */
#include "core/core.h"
#include "core/null_bound.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int fc_region_stats_compute(fc_context *ctx, size_t n, const int32_t *region_of,
                            const uint32_t *sector, const double *weight, size_t n_regions,
                            size_t n_sectors, fc_region_stats *st)
{
    memset(st, 0, sizeof *st);
    st->n_regions = n_regions;
    st->n_sectors = n_sectors;
    size_t cells = n_regions * n_sectors;
    st->n = calloc(cells ? cells : 1, sizeof *st->n);
    st->n_region = calloc(n_regions ? n_regions : 1, sizeof *st->n_region);
    st->n_sector = calloc(n_sectors ? n_sectors : 1, sizeof *st->n_sector);
    if (weight) {
        st->w = calloc(cells ? cells : 1, sizeof *st->w);
        st->w_region = calloc(n_regions ? n_regions : 1, sizeof *st->w_region);
        st->w_sector = calloc(n_sectors ? n_sectors : 1, sizeof *st->w_sector);
    }
    if (!st->n || !st->n_region || !st->n_sector ||
        (weight && (!st->w || !st->w_region || !st->w_sector))) {
        fc_region_stats_free(st);
        return fc_error(ctx, FC_ENOMEM, "out of memory for region statistics");
    }
    for (size_t i = 0; i < n; i++) {
        if (region_of[i] < 0) {
            st->n_outside++;
            continue;
        }
        size_t r = (size_t)region_of[i], s = sector[i];
        st->n[r * n_sectors + s]++;
        st->n_region[r]++;
        st->n_sector[s]++;
        st->n_total++;
        if (weight) {
            st->w[r * n_sectors + s] += weight[i];
            st->w_region[r] += weight[i];
            st->w_sector[s] += weight[i];
            st->w_total += weight[i];
        }
    }
    return FC_OK;
}

void fc_region_stats_free(fc_region_stats *st)
{
    free(st->n);
    free(st->w);
    free(st->n_region);
    free(st->n_sector);
    free(st->w_region);
    free(st->w_sector);
    memset(st, 0, sizeof *st);
}

static double quotient(double e_rs, double e_r, double e_s, double e)
{
    if (!(e_r > 0) || !(e_s > 0) || !(e > 0))
        return NAN;
    return (e_rs / e_r) / (e_s / e);
}

double fc_lq(const fc_region_stats *st, size_t r, size_t s)
{
    return quotient((double)st->n[r * st->n_sectors + s], (double)st->n_region[r],
                    (double)st->n_sector[s], (double)st->n_total);
}

double fc_lq_weight(const fc_region_stats *st, size_t r, size_t s)
{
    if (!st->w)
        return NAN;
    return quotient(st->w[r * st->n_sectors + s], st->w_region[r], st->w_sector[s], st->w_total);
}

/* ---- Monte Carlo -------------------------------------------------------- */


/* Uniform in [0, bound), without modulo bias (Lemire's method). */
static uint64_t below(uint64_t *state, uint64_t bound)
{
    __uint128_t m = (__uint128_t)fc_splitmix64(state) * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = -bound % bound;
        while (low < threshold) {
            m = (__uint128_t)fc_splitmix64(state) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

size_t fc_sample_positions(uint64_t *state, size_t len, size_t take, uint64_t *bits,
                           size_t *out)
{
    if (take > len)
        take = len;
    for (size_t j = len - take; j < len; j++) { /* Floyd: t uniform in 0 .. j, or j if taken */
        size_t t = (size_t)below(state, j + 1);
        if (bits[t >> 6] >> (t & 63) & 1)
            t = j;
        bits[t >> 6] |= (uint64_t)1 << (t & 63);
    }
    size_t k = 0;
    for (size_t w = 0; k < take; w++) { /* in order, and the bits zeroed again */
        for (uint64_t word = bits[w]; word; word &= word - 1)
            out[k++] = w * 64 + (size_t)__builtin_ctzll(word);
        bits[w] = 0;
    }
    return take;
}

/* The null model of sector s keeps every firm where it is and shuffles the
 * sector codes among the firms of each stratum (region). Where the firms of
 * s land is then a uniform sample, from each stratum, of as many firms as s
 * has there; DBSCAN of s sees only those. So a null run of s clusters that
 * sample alone: the same distribution as shuffling every code and clustering
 * every firm, at a fraction of the cost.
 *
 * Runs of s stop early (Besag and Clifford 1991) once its largest cluster,
 * and so each of its clusters, has been reached or beaten FC_MC_EXCEEDANCES
 * times: a cluster that is clearly chance then gets p = h / l, l the runs it
 * took; one that never gets there gets (r + 1) / (R + 1) after all R runs,
 * exactly the full test's p-value. Runs are seeded from (seed, sector, run)
 * and read in run order, so threads change nothing. */

typedef struct mc_sector {
    size_t n_firms;      /* firms of the sector (in any stratum) */
    size_t *per_stratum; /* its firms in each stratum */
    size_t *sizes;       /* its clusters' sizes, ascending, each once */
    size_t n_sizes;
    size_t open;         /* sizes[open]: the smallest reached fewer than h times */
    int reached;         /* runs read whose largest cluster reached sizes[open] */
    int dispatched;      /* runs handed out */
    int decided;         /* runs read in order */
    bool done;
} mc_sector;

typedef struct mc_job {
    const double *x, *y, *weight;
    size_t n_strata;
    const size_t *stratum_start, *members; /* firms of each stratum */
    const fc_dbscan_params *params;
    const fc_hdbscan_params *hdbscan; /* NULL: DBSCAN */
    const double *sector_eps;         /* NULL: params->eps for every sector */
    /* NULL: every run clusters. Else the coarse grid's bound, then the
     * fine one's on what the coarse one kept: quick where it is enough,
     * and the fewest firms to cluster where it is not. */
    const fc_null_bound *bound[2];
    size_t n_sectors, largest_sector;
    mc_sector *sectors;
    int permutations;
    uint64_t seed;
    size_t *max_size;       /* [s * permutations + run]: largest null cluster, or a
                               smaller number where both are below every size still
                               open (see record()) */
    uint8_t *have;          /* [s * permutations + run]: max_size is there */
    pthread_mutex_t lock;
    int runs_done, runs_total, runs_bounded;
    int status;
    char errmsg[1024];
} mc_job;

/* A thread's buffers for one null run. */
typedef struct mc_scratch {
    uint64_t *bits;  /* one bit a firm of a stratum, for fc_sample_positions() */
    size_t *firms;   /* the sample */
    fc_null_scratch bound[2];
    double *x, *y, *w;
    uint32_t *labels;
    int32_t *cid;
    size_t *sizes;
} mc_scratch;

/* The largest cluster of sector s in null run `run`, or a number below
 * `open` (the smallest size the run can still matter to) when it is surely
 * below it: then *bounded, if no clustering was needed to tell. */
static int null_run(fc_context *ctx, mc_job *job, mc_scratch *b, size_t s, int run,
                    size_t open, size_t *largest, bool *bounded)
{
    uint64_t state = job->seed ^ (0xA24BAED4963EE407ULL * (uint64_t)(run + 1)) ^
                     (0x9FB21C651E98DF25ULL * (uint64_t)(s + 1));
    const mc_sector *sec = &job->sectors[s];
    size_t m = 0;
    for (size_t k = 0; k < job->n_strata; k++) {
        const size_t *pool = job->members + job->stratum_start[k];
        size_t *drawn = b->firms + m;
        size_t take = fc_sample_positions(&state, job->stratum_start[k + 1] - job->stratum_start[k],
                                          sec->per_stratum[k], b->bits, drawn);
        for (size_t i = 0; i < take; i++)
            drawn[i] = pool[drawn[i]];
        m += take;
    }
    *largest = 0;
    *bounded = false;
    for (int level = 0; job->bound[0] && level < 2; level++) {
        size_t bound; /* only the firms that may be in a cluster of `open` */
        m = fc_null_bound_keep(job->bound[level], &b->bound[level], m, b->firms, job->weight,
                               open, &bound);
        if ((*bounded = m == 0))
            return FC_OK;
    }
    for (size_t i = 0; i < m; i++) {
        b->x[i] = job->x[b->firms[i]];
        b->y[i] = job->y[b->firms[i]];
        if (job->weight)
            b->w[i] = job->weight[b->firms[i]];
    }
    if (job->bound[1] && !job->weight) /* DBSCAN on the grid of all firms */
        return fc_null_bound_cluster(job->bound[1], &b->bound[1], m, b->firms, b->x, b->y,
                                     largest) == FC_OK
                   ? FC_OK
                   : fc_error(ctx, FC_ENOMEM, "out of memory for a null run of %zu firms", m);
    fc_dbscan_params params = *job->params;
    params.weight = job->weight ? b->w : NULL;
    if (job->sector_eps)
        params.eps = job->sector_eps[s];
    size_t k_clusters;
    int status = job->hdbscan ? fc_hdbscan(ctx, m, b->x, b->y, b->labels, job->hdbscan,
                                           &(fc_hdbscan_labels){.cluster = b->cid}, NULL,
                                           &k_clusters)
                              : fc_dbscan(ctx, m, b->x, b->y, b->labels, &params, b->cid, NULL,
                                          &k_clusters);
    if (status != FC_OK)
        return status;
    memset(b->sizes, 0, (k_clusters ? k_clusters : 1) * sizeof *b->sizes);
    for (size_t i = 0; i < m; i++)
        if (b->cid[i] >= 0 && ++b->sizes[b->cid[i]] > *largest)
            *largest = b->sizes[b->cid[i]];
    return FC_OK;
}

/* The next (sector, run) to do: the sector with the fewest runs handed
 * out, so that all sectors advance together and stop as early as they can.
 * Called with the lock held; false when nothing is left. */
static bool next_item(mc_job *job, size_t *s_out, int *run_out, size_t *open_out)
{
    size_t best = SIZE_MAX;
    for (size_t s = 0; s < job->n_sectors; s++) {
        const mc_sector *sec = &job->sectors[s];
        if (!sec->done && sec->dispatched < job->permutations &&
            (best == SIZE_MAX || sec->dispatched < job->sectors[best].dispatched))
            best = s;
    }
    if (best == SIZE_MAX)
        return false;
    *s_out = best;
    *run_out = job->sectors[best].dispatched++;
    *open_out = job->sectors[best].sizes[job->sectors[best].open];
    return true;
}

/* Records a run's result and reads the sector's results in run order as far
 * as they go. A size reached FC_MC_EXCEEDANCES times is settled: its
 * clusters' p-values never read a later run (mc_pvalues()), so later runs
 * only matter to the sizes still open, and a run handed out when the
 * smallest open size was t may record any number below t for a largest
 * cluster below t.
 * The sector stops once its largest cluster is settled. Called with the
 * lock held. */
static void record(mc_job *job, size_t s, int run, size_t largest)
{
    mc_sector *sec = &job->sectors[s];
    size_t *max_size = job->max_size + s * (size_t)job->permutations;
    uint8_t *have = job->have + s * (size_t)job->permutations;
    max_size[run] = largest;
    have[run] = 1;
    while (!sec->done && have[sec->decided]) {
        sec->reached += max_size[sec->decided++] >= sec->sizes[sec->open];
        while (sec->reached >= FC_MC_EXCEEDANCES && ++sec->open < sec->n_sizes) {
            sec->reached = 0; /* the next size's count over the runs read */
            for (int r = 0; r < sec->decided; r++)
                sec->reached += max_size[r] >= sec->sizes[sec->open];
        }
        if (sec->open == sec->n_sizes || sec->decided == job->permutations)
            sec->done = true;
    }
}

static void scratch_free(mc_scratch *b)
{
    fc_null_scratch_free(&b->bound[0]);
    fc_null_scratch_free(&b->bound[1]);
    free(b->bits), free(b->firms), free(b->x), free(b->y), free(b->w);
    free(b->labels), free(b->cid), free(b->sizes);
}

/* Does null runs until none is left. The calling thread passes its own
 * context as `caller` and reports progress through it, so that the
 * progress callback runs on the thread that called the library and can
 * cancel the whole test. */
static void mc_work(mc_job *job, fc_context *caller)
{
    fc_context ctx = {0};
    size_t n = job->stratum_start[job->n_strata], most = job->largest_sector ? job->largest_sector : 1;
    mc_scratch b = {0};
    b.bits = calloc(n / 64 + 1, sizeof *b.bits);
    b.firms = malloc(most * sizeof *b.firms);
    b.x = malloc(most * sizeof *b.x);
    b.y = malloc(most * sizeof *b.y);
    b.w = job->weight ? malloc(most * sizeof *b.w) : NULL;
    b.labels = calloc(most, sizeof *b.labels); /* one sector: all 0 */
    b.cid = malloc(most * sizeof *b.cid);
    b.sizes = malloc(most * sizeof *b.sizes);
    bool ok = b.bits && b.firms && b.x && b.y && (!job->weight || b.w) &&
              b.labels && b.cid && b.sizes;
    for (int level = 0; ok && job->bound[0] && level < 2; level++)
        ok = fc_null_scratch_init(job->bound[level], &b.bound[level]) == FC_OK;
    int status = ok ? FC_OK : fc_error(&ctx, FC_ENOMEM, "out of memory");
    size_t s = 0, largest = 0, open = 0;
    bool bounded = false;
    int run = -1;
    for (;;) {
        pthread_mutex_lock(&job->lock);
        if (status != FC_OK && job->status == FC_OK) {
            job->status = status;
            memcpy(job->errmsg, ctx.errmsg, sizeof job->errmsg);
        }
        if (run >= 0 && status == FC_OK) {
            record(job, s, run, largest);
            job->runs_done++;
            job->runs_bounded += bounded;
        }
        double done = (double)job->runs_done / (double)job->runs_total;
        bool more = job->status == FC_OK && next_item(job, &s, &run, &open);
        pthread_mutex_unlock(&job->lock);
        if (!more)
            break;
        if (caller && fc_progress(caller, done, "significance") != FC_OK) {
            status = FC_ECANCEL;
            snprintf(ctx.errmsg, sizeof ctx.errmsg, "%s", caller->errmsg);
            run = -1;
            continue;
        }
        status = null_run(&ctx, job, &b, s, run, open, &largest, &bounded);
    }
    scratch_free(&b);
}

static void *mc_worker(void *arg)
{
    mc_work(arg, NULL);
    return NULL;
}

/* Counting sort of the items 0 .. n - 1 by key_of(arg, i), a key in
 * [0, n_keys): the items of key k are members[start[k] .. start[k + 1]), in
 * input order. start has n_keys + 1 entries, zeroed. */
static void group_by_key(size_t n, size_t n_keys, size_t (*key_of)(const void *, size_t),
                         const void *arg, size_t *start, size_t *members)
{
    for (size_t i = 0; i < n; i++)
        start[key_of(arg, i) + 1]++;
    for (size_t k = 0; k < n_keys; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++)
        members[start[key_of(arg, i)]++] = i;
    for (size_t k = n_keys; k > 0; k--)
        start[k] = start[k - 1];
    start[0] = 0;
}

/* A firm's stratum slot: its region + 1, 0 for none (or without regions). */
static size_t stratum_slot(const void *strata, size_t i)
{
    return strata ? (size_t)(((const int32_t *)strata)[i] + 1) : 0;
}

static size_t sector_of(const void *sector, size_t i) { return ((const uint32_t *)sector)[i]; }

/* Groups the firms by stratum (regions, then "no region" in slot 0, or
 * everything in slot 0), in input order, and counts each sector's firms in
 * each stratum. */
static int mc_strata(fc_context *ctx, mc_job *job, size_t n, const uint32_t *sector,
                     const int32_t *strata, size_t **start_out, size_t **members_out,
                     size_t **counts_out)
{
    int32_t max_stratum = -1;
    for (size_t i = 0; strata && i < n; i++)
        if (strata[i] > max_stratum)
            max_stratum = strata[i];
    job->n_strata = (size_t)(max_stratum + 2);
    size_t *start = calloc(job->n_strata + 1, sizeof *start);
    size_t *members = malloc((n ? n : 1) * sizeof *members);
    size_t *counts = calloc(job->n_sectors * job->n_strata, sizeof *counts);
    if (!start || !members || !counts) {
        free(start), free(members), free(counts);
        return fc_error(ctx, FC_ENOMEM, "out of memory for the significance test");
    }
    group_by_key(n, job->n_strata, stratum_slot, strata, start, members);
    for (size_t i = 0; i < n; i++)
        counts[sector[i] * job->n_strata + stratum_slot(strata, i)]++;
    *start_out = start;
    *members_out = members;
    *counts_out = counts;
    return FC_OK;
}

/* Runs the null runs on `threads` threads, this one reporting progress. */
static void mc_run_threads(mc_job *job, fc_context *ctx, int threads)
{
    pthread_mutex_init(&job->lock, NULL);
    if (threads < 1)
        threads = 1;
    pthread_t *tid = malloc((size_t)threads * sizeof *tid);
    int started = 0;
    for (int t = 1; tid && t < threads; t++)
        if (pthread_create(&tid[t], NULL, mc_worker, job) == 0)
            started = t;
        else
            break;
    mc_work(job, ctx);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    pthread_mutex_destroy(&job->lock);
}

/* Each cluster's p-value from its sector's runs, read in run order. */
static void mc_pvalues(const mc_job *job, size_t n_clusters, const int32_t *cluster_sector,
                       const size_t *cluster_size, double *p_out, int *runs_out)
{
    const int R = job->permutations;
    for (size_t c = 0; c < n_clusters; c++) {
        size_t s = (size_t)cluster_sector[c];
        const size_t *max_size = job->max_size + s * (size_t)R;
        int reached = 0, runs = 0;
        while (runs < job->sectors[s].decided && reached < FC_MC_EXCEEDANCES)
            reached += max_size[runs++] >= cluster_size[c];
        if (reached >= FC_MC_EXCEEDANCES && runs < R) { /* stopped early */
            p_out[c] = (double)reached / (double)runs;
        } else {
            p_out[c] = (double)(reached + 1) / (double)(R + 1);
            runs = R;
        }
        if (runs_out)
            runs_out[c] = runs;
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Each sector's firms, and the sizes of its clusters, ascending and each
 * once, in sizes (room for n_clusters). Only sectors with clusters are
 * tested. */
static void mc_sectors(mc_job *job, size_t *counts, size_t n_clusters,
                       const int32_t *cluster_sector, const size_t *cluster_size, size_t *sizes)
{
    size_t at = 0;
    for (size_t s = 0; s < job->n_sectors; s++) {
        mc_sector *sec = &job->sectors[s];
        sec->per_stratum = counts + s * job->n_strata;
        for (size_t k = 0; k < job->n_strata; k++)
            sec->n_firms += sec->per_stratum[k];
        sec->sizes = sizes + at;
        for (size_t c = 0; c < n_clusters; c++)
            if ((size_t)cluster_sector[c] == s)
                sec->sizes[sec->n_sizes++] = cluster_size[c];
        qsort(sec->sizes, sec->n_sizes, sizeof *sec->sizes, cmp_size);
        size_t distinct = 0;
        for (size_t i = 0; i < sec->n_sizes; i++)
            if (i == 0 || sec->sizes[i] != sec->sizes[distinct - 1])
                sec->sizes[distinct++] = sec->sizes[i];
        at += sec->n_sizes;
        sec->n_sizes = distinct;
        sec->done = distinct == 0;
        if (!sec->done) {
            job->runs_total += job->permutations;
            if (sec->n_firms > job->largest_sector)
                job->largest_sector = sec->n_firms;
        }
    }
}

/* The firms in Morton order on a 2^16 by 2^16 lattice over their extent,
 * ties in input order: near firms get near numbers. */
static int spatial_order(size_t n, const double *x, const double *y, uint32_t *order)
{
    uint64_t *key = malloc((n ? n : 1) * sizeof *key);
    if (!key)
        return FC_ENOMEM;
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (size_t i = 0; i < n; i++) {
        lo[0] = fmin(lo[0], x[i]), hi[0] = fmax(hi[0], x[i]);
        lo[1] = fmin(lo[1], y[i]), hi[1] = fmax(hi[1], y[i]);
    }
    const double to_x = hi[0] > lo[0] ? 65535 / (hi[0] - lo[0]) : 0,
                 to_y = hi[1] > lo[1] ? 65535 / (hi[1] - lo[1]) : 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t a = (uint32_t)((x[i] - lo[0]) * to_x), b = (uint32_t)((y[i] - lo[1]) * to_y);
        uint64_t morton = 0;
        for (int bit = 15; bit >= 0; bit--)
            morton = morton << 2 | (uint64_t)(a >> bit & 1) << 1 | (b >> bit & 1);
        key[i] = morton << 32 | i;
    }
    uint64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) {
        free(key);
        return FC_ENOMEM;
    }
    fc_radix_sort_u64(key, tmp, n, 32); /* the keys are in input order already */
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)key[i];
    free(key);
    free(tmp);
    return FC_OK;
}

/* The firms numbered in space (spatial_order()): their coordinates,
 * weights (or NULL), sectors and strata (or NULL). */
typedef struct in_space {
    double *x, *y, *w;
    uint32_t *sector;
    int32_t *strata;
} in_space;

static void in_space_free(in_space *sp)
{
    free(sp->x), free(sp->y), free(sp->w), free(sp->sector), free(sp->strata);
}

static int number_in_space(size_t n, const double *x, const double *y, const double *w,
                           const uint32_t *sector, const int32_t *strata, in_space *sp)
{
    const size_t room = n ? n : 1;
    uint32_t *order = malloc(room * sizeof *order);
    sp->x = malloc(room * sizeof *sp->x);
    sp->y = malloc(room * sizeof *sp->y);
    sp->w = w ? malloc(room * sizeof *sp->w) : NULL;
    sp->sector = malloc(room * sizeof *sp->sector);
    sp->strata = strata ? malloc(room * sizeof *sp->strata) : NULL;
    int status = order && sp->x && sp->y && (sp->w || !w) && sp->sector &&
                         (sp->strata || !strata)
                     ? spatial_order(n, x, y, order)
                     : FC_ENOMEM;
    for (size_t k = 0; status == FC_OK && k < n; k++) {
        const uint32_t i = order[k];
        sp->x[k] = x[i], sp->y[k] = y[i], sp->sector[k] = sector[i];
        if (w)
            sp->w[k] = w[i];
        if (strata)
            sp->strata[k] = strata[i];
    }
    free(order);
    return status;
}

int fc_cluster_pvalues(fc_context *ctx, size_t n, const double *x, const double *y,
                       const uint32_t *sector, const int32_t *strata,
                       const fc_dbscan_params *params, const fc_hdbscan_params *hdbscan,
                       const double *sector_eps, size_t n_sectors, size_t n_clusters,
                       const int32_t *cluster_sector, const size_t *cluster_size,
                       int permutations, uint64_t seed, int threads, double *p_out,
                       int *runs_out, fc_mc_tally *tally)
{
    if (permutations < 1)
        return fc_error(ctx, FC_EINVAL, "permutations must be at least 1");
    /* The null runs draw firms in the order of their numbers and look up
     * each one's cell and coordinates: numbered in space, a sample's firms
     * are near in memory. With Floyd's sample in place of a shuffle, the
     * null runs of the benchmark's 1M firms (24 sectors, one thread) took
     * 27 s instead of 33. (Past 2^32 firms the grid refuses them anyway.) */
    in_space sp = {0};
    fc_dbscan_params numbered = *params;
    if (n <= UINT32_MAX) {
        if (number_in_space(n, x, y, params->weight, sector, strata, &sp) != FC_OK) {
            in_space_free(&sp);
            return fc_error(ctx, FC_ENOMEM, "out of memory for the significance test of %zu firms",
                            n);
        }
        x = sp.x, y = sp.y, sector = sp.sector, strata = sp.strata;
        numbered.weight = sp.w;
        params = &numbered;
    }
    /* The runs go side by side, each clustering on one thread. */
    fc_dbscan_params one_thread = *params;
    one_thread.threads = 1;
    fc_hdbscan_params hdbscan_one = hdbscan ? *hdbscan : (fc_hdbscan_params){0};
    hdbscan_one.threads = 1;
    mc_job job = {.x = x, .y = y, .weight = params->weight, .params = &one_thread,
                  .hdbscan = hdbscan ? &hdbscan_one : NULL, .sector_eps = sector_eps,
                  .n_sectors = n_sectors ? n_sectors : 1, .permutations = permutations,
                  .seed = seed};
    size_t *start = NULL, *members = NULL, *counts = NULL;
    int status = mc_strata(ctx, &job, n, sector, strata, &start, &members, &counts);
    if (status != FC_OK) {
        in_space_free(&sp);
        return status;
    }
    job.stratum_start = start;
    job.members = members;
    job.sectors = calloc(job.n_sectors, sizeof *job.sectors);
    job.max_size = calloc((size_t)permutations * job.n_sectors, sizeof *job.max_size);
    job.have = calloc((size_t)permutations * job.n_sectors, 1);
    size_t *sizes = malloc((n_clusters ? n_clusters : 1) * sizeof *sizes);
    fc_null_bound *bound[2] = {NULL, NULL};
    if (!job.sectors || !job.max_size || !job.have || !sizes) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory for %d permutations", permutations);
        goto done;
    }
    mc_sectors(&job, counts, n_clusters, cluster_sector, cluster_size, sizes);
    /* The bounds need one eps and DBSCAN's core rule. The coarse cells' side
     * was measured on 1M firms in 20 sectors, default options but no
     * co-location: 27.8 s with 1.5 eps, 27.1 s with 3, 25.8 s with 5. */
    if (!hdbscan && !sector_eps && n_clusters && !(tally && tally->cluster_every_run) &&
        ((status = fc_null_bound_build(ctx, n, x, y, params, 5 * params->eps, &bound[0])) !=
             FC_OK ||
         (status = fc_null_bound_build(ctx, n, x, y, params, 0, &bound[1])) != FC_OK))
        goto done;
    job.bound[0] = bound[0];
    job.bound[1] = bound[1];
    mc_run_threads(&job, ctx, threads);
    if (tally) {
        tally->runs = job.runs_done;
        tally->bounded = job.runs_bounded;
    }
    status = job.status;
    if (status == FC_ECANCEL)
        fc_error(ctx, status, "%s", job.errmsg);
    else if (status != FC_OK)
        fc_error(ctx, status, "significance test: %s", job.errmsg);
    else
        mc_pvalues(&job, n_clusters, cluster_sector, cluster_size, p_out, runs_out);
done:
    free(start);
    free(members);
    free(counts);
    free(job.sectors);
    free(job.max_size);
    free(job.have);
    free(sizes);
    fc_null_bound_free(bound[0]);
    fc_null_bound_free(bound[1]);
    in_space_free(&sp);
    return status;
}

static int cmp_by_p(const void *a, const void *b, void *arg)
{
    const double *p = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (p[i] != p[j])
        return p[i] < p[j] ? -1 : 1;
    return (i > j) - (i < j);
}

int fc_qvalues(fc_context *ctx, size_t n, const double *p, double *q)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_by_p, (void *)p);
    double running = 1;
    for (size_t k = n; k > 0; k--) { /* from the largest p down: q_(k) = min over j >= k */
        size_t i = order[k - 1];
        double v = p[i] * (double)n / (double)k;
        if (v < running)
            running = v;
        q[i] = running;
    }
    free(order);
    return FC_OK;
}

/* ---- the data's distance scale, where nothing clustered ------------------ */

/* The k-th smallest of v[0..n) (k from 0), v reordered: Wirth's selection. */
static double kth_smallest(double *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        double pivot = v[kk];
        ptrdiff_t i = lo, j = hi;
        do {
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk)
            lo = i;
        if (kk < i)
            hi = j;
    }
    return v[k];
}

int fc_sector_scales(fc_context *ctx, size_t n, const double *x, const double *y,
                     double to_metres, const uint32_t *sector, size_t n_sectors,
                     const size_t *sector_clusters, size_t k, double *scale_out)
{
    size_t *start = calloc(n_sectors + 1, sizeof *start);
    size_t *members = malloc((n ? n : 1) * sizeof *members);
    double *d2 = malloc((n ? n : 1) * sizeof *d2);
    double *medians = malloc(FC_SCALE_QUERIES * sizeof *medians);
    if (!start || !members || !d2 || !medians) {
        free(start), free(members), free(d2), free(medians);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    group_by_key(n, n_sectors, sector_of, sector, start, members);
    for (size_t s = 0; s < n_sectors; s++) {
        const size_t *m = members + start[s];
        size_t n_s = start[s + 1] - start[s];
        scale_out[s] = NAN;
        if (sector_clusters[s] > 0 || n_s < k || k < 1)
            continue; /* clustered, or too few firms to ever be core */
        /* Evenly spread query firms, fewer for big sectors: a few tens of
         * millions of distances at most. */
        size_t q = n_s < FC_SCALE_QUERIES ? n_s : FC_SCALE_QUERIES;
        if ((double)q * (double)n_s > 5e7)
            q = (size_t)(5e7 / (double)n_s) > 20 ? (size_t)(5e7 / (double)n_s) : 20;
        for (size_t a = 0; a < q; a++) {
            size_t i = m[a * n_s / q];
            for (size_t b = 0; b < n_s; b++) {
                double dx = x[m[b]] - x[i], dy = y[m[b]] - y[i];
                d2[b] = dx * dx + dy * dy;
            }
            /* the firm itself is the nearest (0): its k-th, itself counted */
            medians[a] = sqrt(kth_smallest(d2, n_s, k - 1)) * to_metres;
        }
        qsort(medians, q, sizeof *medians, fc_compare_double);
        scale_out[s] = q % 2 ? medians[q / 2] : (medians[q / 2 - 1] + medians[q / 2]) / 2;
    }
    free(start);
    free(members);
    free(d2);
    free(medians);
    return FC_OK;
}
