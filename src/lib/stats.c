/* Cluster economics: location quotients per region and sector, and the
 * Monte Carlo significance of clusters. */
#include "fc_internal.h"

#include <math.h>
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

typedef struct mc_job {
    size_t n;
    const double *x, *y;
    const uint32_t *sector;
    const size_t *stratum_start, *members; /* firms of each stratum */
    size_t n_strata;
    const fc_dbscan_params *params;
    size_t n_sectors;
    int permutations;
    uint64_t seed;
    size_t *max_size;       /* [run * n_sectors + s]: largest null cluster */
    pthread_mutex_t lock;
    int next_run;
    int status;
    char errmsg[1024];
} mc_job;

/* One null run: shuffle labels within strata, cluster, record the largest
 * cluster of every sector. */
static int null_run(fc_context *ctx, mc_job *job, int run, uint32_t *labels, int32_t *cid,
                    size_t *sizes)
{
    uint64_t state = job->seed ^ (0xA24BAED4963EE407ULL * (uint64_t)(run + 1));
    memcpy(labels, job->sector, job->n * sizeof *labels);
    for (size_t k = 0; k < job->n_strata; k++) { /* Fisher-Yates within each stratum */
        const size_t *m = job->members + job->stratum_start[k];
        size_t len = job->stratum_start[k + 1] - job->stratum_start[k];
        for (size_t i = len; i > 1; i--) {
            size_t j = (size_t)below(&state, i);
            uint32_t t = labels[m[i - 1]];
            labels[m[i - 1]] = labels[m[j]];
            labels[m[j]] = t;
        }
    }
    size_t k_clusters;
    int status = fc_dbscan(ctx, job->n, job->x, job->y, labels, job->params, cid, NULL, &k_clusters);
    if (status != FC_OK)
        return status;
    memset(sizes, 0, (k_clusters ? k_clusters : 1) * sizeof *sizes);
    for (size_t i = 0; i < job->n; i++)
        if (cid[i] >= 0)
            sizes[cid[i]]++;
    size_t *max_size = job->max_size + (size_t)run * job->n_sectors;
    for (size_t i = 0; i < job->n; i++)
        if (cid[i] >= 0 && sizes[cid[i]] > max_size[labels[i]])
            max_size[labels[i]] = sizes[cid[i]];
    return FC_OK;
}

/* Runs null runs until none is left. The calling thread passes its own
 * context as `caller` and reports progress through it, so that the
 * progress callback runs on the thread that called the library and can
 * cancel the whole test. */
static void mc_work(mc_job *job, fc_context *caller)
{
    fc_context ctx = {0};
    uint32_t *labels = malloc(job->n * sizeof *labels);
    int32_t *cid = malloc(job->n * sizeof *cid);
    size_t *sizes = malloc((job->n ? job->n : 1) * sizeof *sizes);
    int status = labels && cid && sizes ? FC_OK : fc_error(&ctx, FC_ENOMEM, "out of memory");
    for (;;) {
        pthread_mutex_lock(&job->lock);
        if (status != FC_OK && job->status == FC_OK) {
            job->status = status;
            memcpy(job->errmsg, ctx.errmsg, sizeof job->errmsg);
        }
        int run = job->status == FC_OK && job->next_run < job->permutations ? job->next_run++ : -1;
        pthread_mutex_unlock(&job->lock);
        if (run < 0)
            break;
        status = null_run(&ctx, job, run, labels, cid, sizes);
        if (status == FC_OK && caller &&
            fc_progress(caller, (double)(run + 1) / job->permutations, "significance") != FC_OK) {
            status = FC_ECANCEL;
            snprintf(ctx.errmsg, sizeof ctx.errmsg, "%s", caller->errmsg);
        }
    }
    free(labels);
    free(cid);
    free(sizes);
}

static void *mc_worker(void *arg)
{
    mc_work(arg, NULL);
    return NULL;
}

int fc_cluster_pvalues(fc_context *ctx, size_t n, const double *x, const double *y,
                       const uint32_t *sector, const int32_t *strata,
                       const fc_dbscan_params *params, size_t n_sectors, size_t n_clusters,
                       const int32_t *cluster_sector, const size_t *cluster_size,
                       int permutations, uint64_t seed, int threads, double *p_out)
{
    if (permutations < 1)
        return fc_error(ctx, FC_EINVAL, "permutations must be at least 1");
    /* The permutations run side by side, each clustering on one thread. */
    fc_dbscan_params one_thread = *params;
    one_thread.threads = 1;
    mc_job job = {.n = n, .x = x, .y = y, .sector = sector, .params = &one_thread,
                  .n_sectors = n_sectors, .permutations = permutations, .seed = seed};
    /* Group firms by stratum (regions, then "no region"), in input order. */
    int32_t max_stratum = -1;
    for (size_t i = 0; strata && i < n; i++)
        if (strata[i] > max_stratum)
            max_stratum = strata[i];
    job.n_strata = (size_t)(max_stratum + 2); /* slot 0: no region / everything */
    size_t *start = calloc(job.n_strata + 1, sizeof *start);
    size_t *members = malloc((n ? n : 1) * sizeof *members);
    job.max_size = calloc((size_t)permutations * (n_sectors ? n_sectors : 1), sizeof *job.max_size);
    if (!start || !members || !job.max_size) {
        free(start), free(members), free(job.max_size);
        return fc_error(ctx, FC_ENOMEM, "out of memory for %d permutations", permutations);
    }
    for (size_t i = 0; i < n; i++)
        start[(strata ? strata[i] + 1 : 0) + 1]++;
    for (size_t k = 0; k < job.n_strata; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++)
        members[start[strata ? strata[i] + 1 : 0]++] = i;
    for (size_t k = job.n_strata; k > 0; k--)
        start[k] = start[k - 1];
    start[0] = 0;
    job.stratum_start = start;
    job.members = members;
    pthread_mutex_init(&job.lock, NULL);

    if (threads < 1)
        threads = 1;
    if (threads > permutations)
        threads = permutations;
    pthread_t *tid = malloc((size_t)threads * sizeof *tid);
    int started = 0;
    for (int t = 1; tid && t < threads; t++)
        if (pthread_create(&tid[t], NULL, mc_worker, &job) == 0)
            started = t;
        else
            break;
    mc_work(&job, ctx); /* this thread works too, and reports progress */
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    pthread_mutex_destroy(&job.lock);

    int status = job.status;
    if (status == FC_ECANCEL) {
        fc_error(ctx, status, "%s", job.errmsg);
    } else if (status != FC_OK) {
        fc_error(ctx, status, "significance test: %s", job.errmsg);
    } else {
        for (size_t c = 0; c < n_clusters; c++) {
            size_t at_least = 0, s = (size_t)cluster_sector[c];
            for (int run = 0; run < permutations; run++)
                at_least += job.max_size[(size_t)run * n_sectors + s] >= cluster_size[c];
            p_out[c] = (double)(at_least + 1) / (double)(permutations + 1);
        }
    }
    free(start);
    free(members);
    free(job.max_size);
    return status;
}

/* ---- clusters ------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

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
        qsort(pairs, k, sizeof *pairs, cmp_u64);
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
