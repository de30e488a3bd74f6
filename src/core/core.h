/* SPDX-License-Identifier: MIT */
/* The numerical core: arrays in, arrays out. No GDAL, GEOS or PROJ header
 * here or in any file of src/core/ (tests/check_layers.py checks it): the
 * earth's geodesics come from the floor below (src/geo/earth.h), and files,
 * CRSs and geometries from the floors above (src/io/, src/pipeline/).
 *
 * Floors, bottom up: geo (PROJ's geodesics) -> core -> io (GDAL, GEOS) ->
 * pipeline (the run's stages) -> cli; each includes only the headers of its
 * own floor and those below. */
#ifndef FC_CORE_H
#define FC_CORE_H

#include "firmclust.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* ---- context.c ---------------------------------------------------------- */

struct fc_context {
    int errcode;
    char errmsg[1024];
    fc_progress_fn progress;
    void *progress_arg;
    fc_message_fn message;
    void *message_arg;
    double stage_lo, stage_hi; /* fc_progress() maps 0..1 into this range */
    double last_overall;       /* what fc_progress() last said, for fc_progress_again() */
    const char *last_message;  /* (a static string) */
    bool held_debug;           /* debug messages only to the handler, which holds them to be
                                  said later (through a context without it) */
};

/* Records an error on the context and returns `code`, so that callers can
 * write `return fc_error(ctx, FC_EIO, "...", ...);`. */
int fc_error(fc_context *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Puts "prefix: " (a file and layer, say) before the current error's
 * message; returns its code. */
int fc_error_prefix(fc_context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Where debug messages also go (GDAL's CPLDebug, set by the I/O floor's
 * fc_io_init()); process-wide, set once. */
void fc_set_debug_sink(void (*sink)(const char *message));
void fc_message(fc_context *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports progress of the current stage; returns FC_ECANCEL (with the
 * message set) when the callback asks to stop, FC_OK otherwise. */
int fc_progress(fc_context *ctx, double complete, const char *message);
/* Asks the callback again with what fc_progress() last said: for work that
 * can be cancelled but reports no progress of its own. */
int fc_progress_again(fc_context *ctx);
/* Starts a stage that covers [lo, hi] of the whole run's progress. */
int fc_progress_stage(fc_context *ctx, double lo, double hi, const char *message);
/* A parameter struct of the public API as this library lays it out (out,
 * `size` bytes): the caller's first given_size bytes (0: size), the rest
 * 0; FC_EINVAL, naming `what`, when the caller's is larger (a newer
 * firmclust's). */
int fc_struct_in(fc_context *ctx, const void *given, size_t given_size, void *out, size_t size,
                 const char *what);
/* Seconds on the monotonic clock since t0 (for --debug timings). */
double fc_seconds_since(const struct timespec *t0);


/* ---- parallel.c -------------------------------------------------------- */

#define FC_MAX_THREADS 1024

/* Does items [begin, end) of a range; `worker` (0 .. threads - 1) tells
 * which thread runs it, for per-thread scratch space. */
typedef void (*fc_range_fn)(void *arg, size_t begin, size_t end, int worker);
/* Runs fn over [0, n) in chunks of `chunk` items on up to `threads` threads
 * (this one included); returns when all are done. If threads cannot be
 * started, fewer do the work. */
void fc_parallel_for(int threads, size_t n, size_t chunk, fc_range_fn fn, void *arg);
/* The same; the calling thread, once no chunk is left for it, runs
 * wait(arg) before joining the others (to go on reporting progress, and
 * cancelling, while they finish). */
void fc_parallel_for_waiting(int threads, size_t n, size_t chunk, fc_range_fn fn, void *arg,
                             void (*wait)(void *arg));
/* fc_parallel_for() that can be cancelled: the calling thread asks ctx's
 * progress callback (fc_progress_again()) every 50 ms, between its chunks
 * and while the others finish; a cancel stops each thread before its next
 * chunk, and FC_ECANCEL is returned (the work is then partly done). */
int fc_parallel_for_cancel(fc_context *ctx, int threads, size_t n, size_t chunk, fc_range_fn fn,
                           void *arg);
/* Inside an item of fc_parallel_for_cancel() that takes long: whether the
 * run was cancelled (the item may then stop, its work being dropped); on
 * the calling thread it also asks the callback. False elsewhere. */
bool fc_parallel_cancelled(void);
/* `threads`, or the number of cores when it is 0 or less. */
int fc_threads_or_cores(int threads);

/* ---- dbscan.c ---------------------------------------------------------- */

/* fc_dbscan() with grid cells of a given side (in metres of earth-centred
 * coordinates for geodesic distances). fc_dbscan() uses the largest cells
 * whose points are all within eps of each other; the tests use larger and
 * smaller ones too, to run the paths for cells that are not. */
int fc_dbscan_with_side(fc_context *ctx, size_t n, const double *x, const double *y,
                        const uint32_t *group, const fc_dbscan_params *params, double side,
                        int32_t *cluster_out, uint8_t *role_out, size_t *n_clusters_out);

/* ---- colocation.c ------------------------------------------------------- */

/* Which sectors locate together: the neighbourhood co-location quotient
 * (Leslie and Kronenfeld 2011) of every ordered pair, entry [a * n_sectors
 * + b] of the matrices. */
typedef struct fc_colocation {
    size_t n_sectors;
    size_t *n_firms;  /* n(A) */
    size_t *n_with;   /* n'(A): firms of A with at least one neighbour */
    double *share;    /* sum over A's firms with neighbours of the share of B among them */
    double *clq;      /* share / (n'(A) (n(B) - [A = B]) / (n - 1)); NaN where undefined */
    double *p_value, *q_value; /* NULL without a significance test */
    char **codes, **names; /* the sectors' codes and names (borrowed; names may be NULL) */
} fc_colocation;

/* More sectors than this are not paired up (the table would have over a
 * million rows): --sector-digits makes fewer. */
#define FC_COLOCATION_MAX_SECTORS 1024
/* The co-location grid's cells are DBSCAN's side divided by this. */
#define FC_COLOCATION_SUBDIVIDE 4

/* What the co-location pass can also give of each point i, in input order,
 * for the null model's moments (colocation_test.c); a NULL array is not
 * asked for. */
typedef struct fc_neighbourhoods {
    uint32_t *count; /* |N(i)| */
    double *u_sum;   /* the sum over j in N(i) of 1 / |N(j)| (needs count) */
} fc_neighbourhoods;

/* The co-location quotients of n points of n_sectors sectors (sector[i] <
 * n_sectors), with params' eps, distance and threads; the same numbers for
 * any thread count. nb (may be NULL) gets what it asks of each point. On
 * failure *out holds nothing to free. */
int fc_colocation_compute(fc_context *ctx, size_t n, const double *x, const double *y,
                          const uint32_t *sector, size_t n_sectors,
                          const fc_dbscan_params *params, fc_colocation *out,
                          fc_neighbourhoods *nb);
/* The same with grid cells of a given side (the tests try several). */
int fc_colocation_with_side(fc_context *ctx, size_t n, const double *x, const double *y,
                            const uint32_t *sector, size_t n_sectors,
                            const fc_dbscan_params *params, double side, fc_colocation *out,
                            fc_neighbourhoods *nb);
void fc_colocation_free(fc_colocation *c);

/* colocation_test.c: the exact mean and variance of each pair's summed
 * share T(A, B) under the null model (sector codes shuffled among the firms
 * of each stratum), and p-values from them. */
#define FC_CLQ_MIN_EXPECTED 5 /* below this expected T, Cantelli's bound */
#define FC_CLQ_MAX_STRATA 32  /* more strata (regions + 1): no p-values */
/* mean and var: n_sectors^2 each; stratum NULL (one stratum) or < n_strata;
 * nb: each point's |N(i)| from fc_colocation_compute(), and, with one
 * stratum, its u_sum if asked for there: then no second pass over the
 * neighbourhoods is needed. */
int fc_colocation_moments(fc_context *ctx, size_t n, const double *x, const double *y,
                          const uint32_t *sector, size_t n_sectors, const uint32_t *stratum,
                          size_t n_strata, const fc_neighbourhoods *nb,
                          const fc_dbscan_params *params, double *mean, double *var);
/* Whether the pass over the neighbourhoods that the moments need with
 * several strata is taken on a grid of cells instead of by the sweep (where
 * the sweep declines, it always is): off by default; the tests turn it on to
 * compare. Set it before testing: it is read, unlocked, by every test. */
void fc_colocation_moments_by_cells(bool by_cells);
/* c->p_value (one-sided, for attraction: by the normal approximation, or
 * Cantelli's bound where the expected T is small) and c->q_value
 * (Benjamini-Hochberg over the pairs with a p-value). */
int fc_colocation_pvalues(fc_context *ctx, size_t n, const double *x, const double *y,
                          const uint32_t *sector, const uint32_t *stratum, size_t n_strata,
                          const fc_neighbourhoods *nb, const fc_dbscan_params *params,
                          fc_colocation *c);


/* ---- knn.c -------------------------------------------------------------- */

/* For each of n points, the distance to its k-th nearest point of the same
 * group (group[i] < n_groups), itself counted first: planar in the unit of
 * x and y, or geodesic in metres (params' distance and ellipsoid), exact;
 * NaN for points of groups of fewer than k. */
int fc_kth_distances(fc_context *ctx, size_t n, const double *x, const double *y,
                     const uint32_t *group, size_t n_groups, const fc_dbscan_params *params,
                     size_t k, double *out);
/* The knee of n ascending values (Kneedle, Satopaa et al. 2011): the index
 * where the curve, both axes scaled to [0, 1], lies farthest below the
 * diagonal; of their logarithms when asked (k-distances span orders of
 * magnitude: metres in a city, hundreds of kilometres in the steppe). */
size_t fc_knee(const double *sorted, size_t n, bool logarithmic);

/* ---- suggest.c ---------------------------------------------------------- */

/* One sector's sorted k-distances, in metres: fc_sector_curves() fills one
 * per sector; free d. */
typedef struct fc_sector_curve {
    double *d;
    size_t n;     /* k-distances: the firms, when there are at least k */
    size_t firms; /* the sector's firms */
    double knee;  /* the suggested eps (see fc_suggest_eps()) */
} fc_sector_curve;
/* c: n_sectors curves, zeroed; sector_code (may be NULL) names sectors in
 * warnings. */
int fc_sector_curves(fc_context *ctx, size_t n, const double *x, const double *y,
                     const uint32_t *sector, uint32_t n_sectors, const char *const *sector_code,
                     const fc_dbscan_params *params, double to_metres, size_t k,
                     fc_sector_curve *c);
/* The q-quantile of a curve (n > 0), interpolated. */
double fc_curve_quantile(const fc_sector_curve *c, double q);
/* Each sector's suggested eps in metres, as `firmclust suggest` gives it:
 * the knee of its sorted k-distances (x, y and params as the clustering
 * measures; to_metres: planar units to metres, 1 geodesic); NaN for a
 * sector of fewer than k firms. Where the knee is 0 (k firms at one place),
 * the smallest positive k-distance, or 1 m; a warning names the sector
 * (sector_code[s]; may be NULL). */
int fc_suggest_eps(fc_context *ctx, size_t n, const double *x, const double *y,
                   const uint32_t *sector, uint32_t n_sectors, const char *const *sector_code,
                   const fc_dbscan_params *params, double to_metres, size_t k, double *eps_m);


/* ---- stats.c ------------------------------------------------------------ */

/* Firm counts and weights per region and sector, over the firms inside a
 * region. Cell [r * n_sectors + s]. */
typedef struct fc_region_stats {
    size_t n_regions, n_sectors;
    size_t *n;            /* firms of sector s in region r */
    double *w;            /* their weight (NULL without weights) */
    size_t *n_region, *n_sector, n_total;
    double *w_region, *w_sector, w_total;
    size_t n_outside;     /* firms in no region */
} fc_region_stats;

int fc_region_stats_compute(fc_context *ctx, size_t n, const int32_t *region_of,
                            const uint32_t *sector, const double *weight, size_t n_regions,
                            size_t n_sectors, fc_region_stats *st);
void fc_region_stats_free(fc_region_stats *st);
/* Location quotient (e_rs / e_r) / (e_s / e) by firm count, or by weight;
 * NaN where undefined (a region or sector without firms). */
double fc_lq(const fc_region_stats *st, size_t r, size_t s);
double fc_lq_weight(const fc_region_stats *st, size_t r, size_t s);

/* Monte Carlo significance of clusters. For each sector with clusters, up
 * to `permutations` (R) null runs: the sector's codes shuffled among the
 * firms of each stratum (region, or the whole input with strata NULL), which
 * for that sector is a uniform sample of each stratum's firms, clustered
 * alone. The p-value of a cluster of m firms is (r + 1) / (R + 1), r the runs
 * whose largest cluster of its sector has at least m firms; runs stop early
 * (Besag and Clifford) once a cluster has FC_MC_EXCEEDANCES such runs, and
 * its p-value is then FC_MC_EXCEEDANCES / l after l runs. runs_out (may be
 * NULL) gets the runs each p-value rests on. Runs are seeded from (seed,
 * sector, run), so the result does not depend on `threads`. With hdbscan
 * (else NULL) the null runs cluster by HDBSCAN* with it, as the clusters
 * tested were found; params then only gives the metric. sector_eps (else
 * NULL): each sector's eps (--eps auto), in place of params->eps. tally
 * (may be NULL): see fc_mc_tally. */
#define FC_MC_EXCEEDANCES 10
/* What the null runs took, and a switch for the tests. Most runs need not
 * cluster: a run matters only where its largest cluster reaches the
 * smallest cluster still tested, and a cheap upper bound (null_bound.c)
 * often says it cannot. */
typedef struct fc_mc_tally {
    bool cluster_every_run; /* in: no bound (the tests compare both ways) */
    long runs;              /* out: null runs read */
    long bounded;           /* out: of those, runs the bound settled */
} fc_mc_tally;
int fc_cluster_pvalues(fc_context *ctx, size_t n, const double *x, const double *y,
                       const uint32_t *sector, const int32_t *strata,
                       const fc_dbscan_params *params, const fc_hdbscan_params *hdbscan,
                       const double *sector_eps, size_t n_sectors, size_t n_clusters,
                       const int32_t *cluster_sector, const size_t *cluster_size,
                       int permutations, uint64_t seed, int threads, double *p_out,
                       int *runs_out, fc_mc_tally *tally);
/* A uniformly random subset of `take` (at most len) of the positions 0 ..
 * len - 1, by Floyd's algorithm from the stream `state`, written to out in
 * increasing order: the null runs' sample of a stratum. bits: len bits,
 * zero, and left zero. Returns how many. */
size_t fc_sample_positions(uint64_t *state, size_t len, size_t take, uint64_t *bits,
                           size_t *out);
/* The data's distance scale, for sectors without a cluster (a wrong eps,
 * degrees for metres, shows at once): for each sector s with
 * sector_clusters[s] == 0 and at least k firms, the median over up to
 * FC_SCALE_QUERIES of its firms of the distance to its k-th nearest firm of
 * the sector, itself counted (the eps that would make it core with min-pts
 * k), in metres; NaN for the others. Planar, in the working CRS: a hint, not
 * a measurement. */
#define FC_SCALE_QUERIES 200
int fc_sector_scales(fc_context *ctx, size_t n, const double *x, const double *y,
                     double to_metres, const uint32_t *sector, size_t n_sectors,
                     const size_t *sector_clusters, size_t k, double *scale_out);
/* qsort's comparison of doubles, ascending (no NaN). */
int fc_compare_double(const void *a, const void *b);
/* qsort's comparison of uint64_t, ascending. */
int fc_compare_u64(const void *a, const void *b);
/* Sorts n keys by their bits from_bit .. 63, stably (LSD radix, 11 bits a
 * pass, skipping the passes where every key has the same digit); tmp:
 * room for n. */
void fc_radix_sort_u64(uint64_t *key, uint64_t *tmp, size_t n, int from_bit);
/* Benjamini-Hochberg q-values of n p-values: q_(k) = min over j >= k of
 * p_(j) n / j, p sorted ascending (ties in input order). */
int fc_qvalues(fc_context *ctx, size_t n, const double *p, double *q);


/* ---- the clusters, as columns ---------------------------------------------- */

/* Everything the writer needs about the clusters, as columns. */
typedef struct fc_cluster_table {
    size_t n;
    int32_t *sector;          /* sector index */
    size_t *n_firms, *n_core;
    double *weight;           /* NULL without weights */
    double *area_km2;
    unsigned char **wkb;      /* polygon in the working CRS */
    size_t *wkb_size;
    /* with regions: the region holding most of the cluster's firms (-1:
     * none), the share of its firms there, the regions it spans, and that
     * region's location quotient in the cluster's sector */
    int32_t *region;
    double *region_share;
    size_t *n_regions;
    double *region_lq;
    double *sector_share;     /* of the sector's firms (in every region) */
    double *weight_share;     /* of the sector's weight; NULL without weights */
    double *p_value;          /* NULL without a significance test */
    double *q_value;          /* Benjamini-Hochberg over all clusters of the run */
    int *runs;                /* null runs each p-value rests on */
    /* with --groups (else NULL): the firms' own sectors in each cluster,
     * "06:41%,09:30%" for the largest three, and exp(Shannon entropy) */
    size_t *n_sectors;
    char **top_sectors;
    double *diversity;
    /* with --institutions (else NULL): those within eps of any firm, and
     * their types, "university:2,research:1" */
    size_t *n_inst;
    char **inst_types;
} fc_cluster_table;

/* ---- util --------------------------------------------------------------- */

char *fc_strdup(const char *s);
/* Writes s as a JSON string, quoted and escaped. */
void fc_json_string(FILE *out, const char *s);
/* Union-find for one thread (dbscan.c's is lock-free, for many): the root
 * of a, halving the path on the way; and the join of the components of a
 * and b under the smaller root, false when they are one already. */
static inline uint32_t fc_uf_find(uint32_t *parent, uint32_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

static inline bool fc_uf_join(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = fc_uf_find(parent, a);
    b = fc_uf_find(parent, b);
    if (a == b)
        return false;
    parent[a > b ? a : b] = a < b ? a : b;
    return true;
}

/* splitmix64: a fast, well-mixed sequence; the same on every machine. */
static inline uint64_t fc_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#endif
