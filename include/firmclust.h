/* SPDX-License-Identifier: MIT */
/*
 * firmclust: spatial clustering of firm points into economic clusters.
 *
 * The public C API of libfirmclust.
 *
 * Conventions (after GEOS's and PROJ's C APIs):
 *  - Every handle is opaque. A context (fc_context) carries the last error
 *    message, a message handler for warnings and a progress callback; every
 *    call that can fail takes it first. Use one context per thread.
 *  - Functions that can fail return an int status: FC_OK (0) on success, a
 *    negative FC_E* code on failure. fc_errmsg(ctx) then holds a message that
 *    names the file, layer, field or feature at fault.
 *  - Ownership: objects made by fc_*_new() or returned through an out
 *    parameter are freed with the matching fc_*_destroy(), which accepts NULL
 *    and returns NULL, so that `p = fc_result_destroy(p);` frees and clears.
 *    Strings returned as `const char *` belong to the object they came from
 *    and live as long as it does.
 *  - The library never prints, never calls exit() and installs no global
 *    handler. It uses GDAL, PROJ and GEOS, and expects the caller to have
 *    called GDALAllRegister() (fc_context_new() does it if no driver is
 *    registered yet).
 */
#ifndef FIRMCLUST_H
#define FIRMCLUST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FIRMCLUST_VERSION_MAJOR, _MINOR, _PATCH and FIRMCLUST_VERSION ("0.1.0") */
#include "firmclust_version.h"

/* Every public function is marked FC_API: the library is built with hidden
 * visibility, so only these are exported (libuv's UV_EXTERN). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define FC_API __attribute__((visibility("default")))
#else
#define FC_API
#endif

/** Status codes: 0 is success, every error is negative. One list gives the
 *  enum, fc_err_name() and fc_strerror(), so they cannot drift apart
 *  (libuv's UV_ERRNO_MAP): XX(name, value, description). */
#define FC_STATUS_MAP(XX)                                                             \
    XX(OK, 0, "success")                                                              \
    XX(ENOMEM, -1, "out of memory")                                                   \
    XX(EINVAL, -2, "invalid option or argument")                                      \
    XX(EIO, -3, "cannot open, read or write a file")                                  \
    XX(EDATA, -4, "unusable input data")                                              \
    XX(ECRS, -5, "missing or bad coordinate reference system")                        \
    XX(EEXIST, -6, "output exists")                                                   \
    XX(ECANCEL, -7, "cancelled")                                                      \
    XX(EGEOM, -8, "geometry operation failed")                                        \
    XX(EINTERNAL, -9, "internal error")

enum fc_status {
#define FC_STATUS_ENUM(name, value, text) FC_##name = value,
    FC_STATUS_MAP(FC_STATUS_ENUM)
#undef FC_STATUS_ENUM
};

/** Short English description of a status code (static string).
 *  Errors: none.
 *  Ownership: a static string.
 *  Threads: any.
 */
FC_API const char *fc_strerror(int status);
/** Name of a status code, e.g. "FC_EIO" (static string); "FC_EUNKNOWN" for
 *  a value that is none.
 *  Errors: none.
 *  Ownership: a static string.
 *  Threads: any.
 */
FC_API const char *fc_err_name(int status);
/** The library's version string, e.g. "0.1.0".
 *  Errors: none.
 *  Ownership: a static string.
 *  Threads: any.
 */
FC_API const char *fc_version(void);

/* ------------------------------------------------------------------------ */
/* Context                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct fc_context fc_context;

/** Progress callback, the same type as GDALProgressFunc: `complete` runs
 *  from 0 to 1; return 0 to cancel the operation (it then fails with
 *  FC_ECANCEL), non-zero to go on. GDALTermProgress fits as it is. */
typedef int (*fc_progress_fn)(double complete, const char *message, void *arg);

enum fc_message_level { FC_MSG_DEBUG = 0, FC_MSG_INFO = 1, FC_MSG_WARNING = 2 };

/** Handler for non-fatal messages (warnings such as skipped features, and
 *  information). Without one, such messages are dropped. Debug messages
 *  also go to GDAL's CPLDebug("FIRMCLUST", ...), shown by `--debug on`. */
typedef void (*fc_message_fn)(int level, const char *message, void *arg);

/** A new context, or NULL when out of memory.
 *  Errors: NULL when out of memory (then fc_errcode(NULL) is FC_ENOMEM).
 *  Ownership: the caller's: free it with fc_context_destroy().
 *  Threads: any; the context is then used by one thread at a time.
 */
FC_API fc_context *fc_context_new(void);
/** Frees the context; accepts NULL; returns NULL.
 *  Errors: none.
 *  Ownership: frees ctx and what it holds.
 *  Threads: not while another thread uses ctx.
 */
FC_API fc_context *fc_context_destroy(fc_context *ctx);
/** The message of the last error on this context ("" if none); for a NULL
 *  context (fc_context_new() failed), "out of memory". A static string or
 *  the context's own: valid until its next call.
 *  Errors: none.
 *  Ownership: ctx's (or static): valid until ctx's next call.
 *  Threads: the thread using ctx.
 */
FC_API const char *fc_errmsg(const fc_context *ctx);
/** The status code of the last error on this context (FC_OK if none); for
 *  a NULL context (fc_context_new() failed), FC_ENOMEM, as SQLite's
 *  sqlite3_errcode(NULL).
 *  Errors: none.
 *  Ownership: none.
 *  Threads: the thread using ctx.
 */
FC_API int fc_errcode(const fc_context *ctx);
/**
 *  Errors: none.
 *  Ownership: fn and arg stay the caller's; the library calls fn on the thread that made the
 *  call that reports progress, never on others.
 *  Threads: not while ctx is in use by a call.
 */
FC_API void fc_context_set_progress(fc_context *ctx, fc_progress_fn fn, void *arg);
/**
 *  Errors: none.
 *  Ownership: fn and arg stay the caller's; messages of the firms written on another thread are
 *  held and handed to fn on the calling thread.
 *  Threads: not while ctx is in use by a call.
 */
FC_API void fc_context_set_message_handler(fc_context *ctx, fc_message_fn fn, void *arg);

/* ------------------------------------------------------------------------ */
/* DBSCAN on arrays                                                         */
/* ------------------------------------------------------------------------ */

/** Role of a point after clustering. */
enum fc_role { FC_ROLE_NOISE = 0, FC_ROLE_BORDER = 1, FC_ROLE_CORE = 2 };

/** How distances are measured. */
enum fc_distance {
    /** x, y in a plane: two points are neighbours when dx*dx + dy*dy <=
     *  eps*eps (computed in double). */
    FC_DISTANCE_PLANAR = 0,
    /** x, y are longitude and latitude in degrees: two points are
     *  neighbours when their geodesic distance on the ellipsoid, as PROJ's
     *  geod_inverse() computes it, is at most eps metres. */
    FC_DISTANCE_GEODESIC = 1
};

typedef struct fc_dbscan_params {
    /** sizeof(fc_dbscan_params) as the caller was compiled with, so that a
     *  later library, whose struct has more fields at its end, reads only
     *  those the caller has and takes 0 for the others; 0 stands for this
     *  version's size (designated initializers may leave it out). A size
     *  larger than the library's fails with FC_EINVAL. */
    size_t struct_size;
    /** Neighbourhood radius: in the unit of x and y (planar), or in metres
     *  (geodesic). Distance <= eps counts. */
    double eps;
    /** A point is core when at least min_pts points, itself included, lie
     *  within eps. Used when weight is NULL. */
    size_t min_pts;
    /** Optional weights (>= 0, finite), one per point. When given, a point
     *  is core when the summed weight of its neighbourhood, itself
     *  included, is at least min_weight; min_pts is then not used. Sums are
     *  exact when weights are integers (or multiples of a power of two)
     *  with totals below 2^53. */
    const double *weight;
    double min_weight;
    /** An fc_distance; 0 (planar) when left zero. */
    int distance;
    /** Geodesic: the ellipsoid's semi-major axis (metres) and flattening;
     *  both 0 means WGS84. */
    double semi_major, flattening;
    /** Threads to use; 0: one per core. The result is the same whatever
     *  the number. */
    int threads;
} fc_dbscan_params;

/**
 * Exact DBSCAN of n points, separately within each group (sector).
 *
 * @param group  group of each point (any uint32 value), or NULL for one group
 * @param cluster_out  receives, for each point, its cluster index 0..K-1, or
 *        -1 for noise. Clusters are numbered by (group, smallest input index
 *        of the cluster's core points), so ids do not depend on anything but
 *        the input.
 * @param role_out  receives an fc_role per point (may be NULL)
 * @param n_clusters_out  receives K (may be NULL)
 *
 * A border point within eps of core points of several clusters joins the
 * cluster of its nearest core point; equal distances go to the core point
 * that comes first in the input. Fails with FC_EINVAL on eps <= 0 or not
 * finite, min_pts < 1, a negative or non-finite weight or coordinate, a
 * latitude outside [-90, 90] in geodesic mode, or n > INT32_MAX.
 *  Errors: FC_EINVAL (bad parameters or coordinates, as above), FC_ENOMEM.
 *  Ownership: x, y, group and params stay the caller's and are only read; the outputs are the
 *  caller's arrays of n.
 *  Threads: any, with one context per thread; it starts params->threads threads of its own.
 */
FC_API int fc_dbscan(fc_context *ctx, size_t n, const double *x, const double *y,
              const uint32_t *group, const fc_dbscan_params *params,
              int32_t *cluster_out, uint8_t *role_out, size_t *n_clusters_out);

/* ------------------------------------------------------------------------ */
/* HDBSCAN* on arrays                                                       */
/* ------------------------------------------------------------------------ */

/** How HDBSCAN* picks its clusters from the condensed tree. */
enum fc_cluster_selection {
    /** Excess of mass: the clusters of greatest total stability, none
     *  inside another (Campello et al. 2013). */
    FC_SELECT_EOM = 0,
    /** The leaves of the condensed tree: the smallest, densest clusters. */
    FC_SELECT_LEAF = 1
};

typedef struct fc_hdbscan_params {
    /** As in fc_dbscan_params: sizeof(fc_hdbscan_params) as compiled, or 0. */
    size_t struct_size;
    /** The fewest points a cluster may have (at least 2). */
    size_t min_cluster_size;
    /** A point's core distance is the distance to its min_samples-th
     *  nearest point of its group, itself counted first (as scikit-learn
     *  and R dbscan count); 0: min_cluster_size. */
    size_t min_samples;
    /** An fc_cluster_selection. */
    int selection;
    /** As in fc_dbscan_params. */
    int distance;
    double semi_major, flattening;
    int threads;
} fc_hdbscan_params;

/** What HDBSCAN* says of one cluster. Distances are in the unit of x and y
 *  (planar) or in metres (geodesic); lambda is 1 / distance. */
typedef struct fc_hdbscan_cluster {
    /** The sum over its points of (lambda at which the point leaves the
     *  cluster - lambda at which the cluster appears); infinite when points
     *  at one spot make it dense at distance 0. */
    double stability;
    /** The distance at which the cluster appears (splits off its parent). */
    double birth;
    /** The distance at which it splits or its last points fall away. */
    double death;
} fc_hdbscan_cluster;

/** What fc_hdbscan() says of each point: n entries each; any but
 *  cluster may be NULL. */
typedef struct fc_hdbscan_labels {
    /** Its cluster 0..K-1, or -1 for noise; clusters are numbered by
     *  (group, smallest index of their points). */
    int32_t *cluster;
    /** Membership strength in [0, 1] (what scikit-learn and R dbscan call
     *  probability): 1 for points that stay in the cluster to its densest
     *  level, less for those that leave it sooner; 0 for noise. */
    double *probability;
    /** GLOSH outlier score in [0, 1] (Campello et al. 2015): 0 for a point
     *  as dense as the densest of its cluster, near 1 for one far out; NaN
     *  in a group too small to cluster. */
    double *outlier;
    /** Core distance; NaN in a group of fewer than min_samples points. */
    double *core_distance;
} fc_hdbscan_labels;

/**
 * Exact HDBSCAN* (Campello, Moulavi and Sander 2013; Campello et al. 2015)
 * of n points, separately within each group, with the distances of
 * fc_dbscan(): the mutual reachability distance of two points is the
 * largest of their core distances and the distance between them; its
 * minimum spanning tree gives the hierarchy, in which edges of equal length
 * are removed together (so that it does not depend on which of several
 * equal spanning trees was found), and the clusters are chosen from the
 * condensed tree. The whole group is never a cluster itself; a group of
 * fewer than min_samples or min_cluster_size points is all noise.
 *
 * @param labels  per point outputs (labels->cluster is required)
 * @param clusters_out  n entries, of which the first K are filled (may be
 *        NULL)
 * @param n_clusters_out  receives K (may be NULL)
 *
 * The same result for any thread count. Fails with FC_EINVAL as
 * fc_dbscan() does, and on min_cluster_size < 2.
 *  Errors: FC_EINVAL, FC_ENOMEM, FC_ECANCEL (the progress callback).
 *  Ownership: the caller's arrays, only read; the outputs are the caller's.
 *  Threads: any, with one context per thread; it starts params->threads threads of its own.
 */
FC_API int fc_hdbscan(fc_context *ctx, size_t n, const double *x, const double *y,
                      const uint32_t *group, const fc_hdbscan_params *params,
                      const fc_hdbscan_labels *labels, fc_hdbscan_cluster *clusters_out,
                      size_t *n_clusters_out);

/* ------------------------------------------------------------------------ */
/* The clustering job: firm points in, cluster polygons and firms out       */
/* ------------------------------------------------------------------------ */

typedef struct fc_options fc_options;

/** Options of fc_cluster() with their defaults. NULL when out of memory.
 *  Errors: NULL when out of memory.
 *  Ownership: the caller's: free it with fc_options_destroy().
 *  Threads: any.
 */
FC_API fc_options *fc_options_new(void);
/**
 *  Errors: none; accepts NULL and returns NULL.
 *  Ownership: frees opts and its strings.
 *  Threads: not while another thread uses opts.
 */
FC_API fc_options *fc_options_destroy(fc_options *opts);

/**
 * Sets one option by its command-line name, without the leading dashes:
 * "eps", "min-pts", "sector-field", "hull", ... (see fc_options_usage()).
 * Every option, its kind, range and help is one row of one table in the
 * library, the same that fc_options_usage() prints.
 * The value is checked here: a bad one fails with FC_EINVAL and a message
 * naming the option. Flags ("overwrite") take NULL or "yes"/"no".
 *  Errors: FC_EINVAL (no such option, a bad value: the message names the option), FC_ENOMEM.
 *  Ownership: value is copied.
 *  Threads: not while another thread reads or sets opts.
 */
FC_API int fc_options_set(fc_context *ctx, fc_options *opts, const char *name,
                   const char *value);
/**
 * Checks that the options go together, as fc_cluster() does before it
 * touches a file: --eps given (and under half the earth's circumference),
 * --min-weight only with --weight-field, --region-field and --region-layer
 * only with --regions. FC_EINVAL, with a message naming the options, when
 * they do not: a usage error.
 *  Errors: FC_EINVAL: a usage error, naming the options.
 *  Ownership: none.
 *  Threads: any: opts is read only.
 */
FC_API int fc_options_check(fc_context *ctx, const fc_options *opts);
/** The threads a run with these options uses: the "threads" option, or one
 *  per core when it is not set.
 *  Errors: none.
 *  Ownership: none.
 *  Threads: any: opts is read only.
 */
FC_API int fc_options_threads(const fc_options *opts);
/** 1 when the option exists and takes a value, 0 when it is a flag, -1
 *  when there is no such option.
 *  Errors: none (-1: no such option).
 *  Ownership: none.
 *  Threads: any.
 */
FC_API int fc_option_takes_value(const char *name);
/** A help text listing every option of fc_cluster(), one or more lines
 *  each, as `firmclust cluster --help` prints it (static string).
 *  Errors: none.
 *  Ownership: a static string, built once.
 *  Threads: any (built once under pthread_once).
 */
FC_API const char *fc_options_usage(void);

/**
 * Checks, before anything is written, that writing the `n_writes` paths
 * (outputs; "-" is standard output and NULL is skipped) can lose none of the
 * `n_reads` paths (inputs; NULL skipped): no output is an input (compared
 * after symbolic links, ".." and hard links), no output is a directory that
 * holds an input, and no two outputs are one file or lie one inside the
 * other. fc_cluster() checks its own inputs and outputs this way; a tool
 * that reads more (a configuration file) calls it too. Paths that are not
 * local files ("PG:...", /vsi...) are not compared.
 *
 *  Errors: FC_EINVAL, with a message naming both paths; FC_ENOMEM.
 *  Ownership: the paths stay the caller's, only read.
 *  Threads: any, with one context per thread.
 */
FC_API int fc_check_paths(fc_context *ctx, size_t n_reads, const char *const *reads,
                          size_t n_writes, const char *const *writes);

/**
 * Reads a configuration file's text (`name` is used in messages) into a
 * NULL-terminated list of command-line arguments: each line is
 * "option = value", "option value", "--option value" or a lone flag, with
 * '#' starting a comment; so `eps = 2000` gives "--eps=2000" and a lone
 * `overwrite` gives "--overwrite". Free the
 * list with fc_args_free(). Fails with FC_EINVAL naming the file and line.
 *  Errors: FC_EINVAL naming the file and line, FC_ENOMEM.
 *  Ownership: *args is the caller's: free it with fc_args_free(); text is only read.
 *  Threads: any, with one context per thread.
 */
FC_API int fc_config_parse(fc_context *ctx, const char *name, const char *text, char ***args);
/**
 *  Errors: none; accepts NULL.
 *  Ownership: frees the list and its strings.
 *  Threads: any.
 */
FC_API void fc_args_free(char **args);

typedef struct fc_result fc_result;

/**
 * Reads the firm points of `input`, clusters them sector by sector and
 * writes `output`: a GeoPackage (or other multi-layer format) with layers
 * "clusters" and "firms", or, for single-layer formats such as Shapefile,
 * GeoJSON and FlatGeobuf, a directory holding clusters.* and firms.*.
 *
 * The output appears only when complete (it is written under a temporary
 * name beside it and renamed into place); an existing output is replaced
 * only with the "overwrite" option. The input is opened read-only.
 *
 * @param result_out  receives a summary of the run (may be NULL); free it
 *                    with fc_result_destroy().
 *  Errors: FC_EINVAL (options that do not go together, an output that would replace an input,
 *  NULL arguments), FC_EEXIST (the output exists without "overwrite", or is not what firmclust
 *  wrote), FC_EIO (a file that cannot be read or written, naming it), FC_EDATA (unusable input:
 *  a field, layer or feature named), FC_ECRS, FC_EGEOM, FC_ECANCEL (the progress callback asked
 *  to stop; nothing was written), FC_ENOMEM, FC_EINTERNAL.
 *  Ownership: input, output and opts stay the caller's; *result_out is the caller's: free it
 *  with fc_result_destroy().
 *  Threads: any, with one context per thread: several runs at once may share one fc_options
 *  (only read); GEOS's cancel is process-wide, so a cancel may also stop another run's GEOS
 *  call.
 */
FC_API int fc_cluster(fc_context *ctx, const char *input, const char *output,
               const fc_options *opts, fc_result **result_out);

/**
 * fc_cluster() over several inputs taken together, as one set of firms
 * (say, one register extract per oblast): clusters may span inputs. The
 * firms layer holds every input's firms in order, with the union of their
 * fields and a `source` field naming the input; inputs in another CRS than
 * the first are reprojected to it.
 *  Errors: those of fc_cluster(), and FC_EINVAL for an input given twice.
 *  Ownership: as fc_cluster().
 *  Threads: as fc_cluster().
 */
FC_API int fc_cluster_many(fc_context *ctx, size_t n_inputs, const char *const *inputs,
                    const char *output, const fc_options *opts, fc_result **result_out);

/**
 *  Errors: none; accepts NULL and returns NULL.
 *  Ownership: frees r and every string it handed out.
 *  Threads: not while another thread reads r.
 */
FC_API fc_result *fc_result_destroy(fc_result *result);
/** Firms clustered (points read and kept) and features skipped.
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_firms(const fc_result *r);
/**
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_skipped(const fc_result *r);
/**
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_clusters(const fc_result *r);
/** Firms in a cluster (core and border).
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_clustered(const fc_result *r);
/**
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_sectors(const fc_result *r);
/** Sector i (0 <= i < n_sectors, in code order): its code and counts.
 *  Errors: FC_EINVAL when an index is out of range (the outputs are then untouched); r must not
 *  be NULL.
 *  Ownership: the strings handed out belong to r and live as long as it; any output pointer may
 *  be NULL.
 *  Threads: any: r is read only.
 */
FC_API int fc_result_sector(const fc_result *r, size_t i, const char **code,
                     size_t *n_firms, size_t *n_clusters, size_t *n_clustered);
/** What sector i's code means (--sector-names, or the built-in NACE Rev. 2
 *  divisions), or NULL when it is not known. Owned by r.
 *  Errors: none: r must not be NULL.
 *  Ownership: the string belongs to r and lives as long as it.
 *  Threads: any: r is read only.
 */
FC_API const char *fc_result_sector_name(const fc_result *r, size_t i);
/** One line saying where the sector names came from ("": none). Owned by r.
 *  Errors: none: r must not be NULL.
 *  Ownership: the string belongs to r and lives as long as it.
 *  Threads: any: r is read only.
 */
FC_API const char *fc_result_sector_names(const fc_result *r);
/** The metric CRS the hulls were drawn in (and planar distances measured
 *  in), as a PROJ string or the input CRS's name.
 *  Errors: none: r must not be NULL.
 *  Ownership: the string belongs to r and lives as long as it.
 *  Threads: any: r is read only.
 */
FC_API const char *fc_result_working_crs(const fc_result *r);
/** How distances were measured, e.g. "geodesic on the WGS 84 ellipsoid
 *  (...)" or "planar in ...".
 *  Errors: none: r must not be NULL.
 *  Ownership: the string belongs to r and lives as long as it.
 *  Threads: any: r is read only.
 */
FC_API const char *fc_result_distance(const fc_result *r);
/** How the clusters were found, in words: "DBSCAN, eps 1 km, min-pts 5" or
 *  "HDBSCAN* (...)". Owned by r.
 *  Errors: none: r must not be NULL.
 *  Ownership: the string belongs to r and lives as long as it.
 *  Threads: any: r is read only.
 */
FC_API const char *fc_result_method(const fc_result *r);
/** With regions: how many were read, how many firms lay outside all of
 *  them, and the field that names them (*guessed set to 1 when it was
 *  not given). 0, 0 and NULL without regions.
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_regions(const fc_result *r);
/**
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_outside(const fc_result *r);
/**
 *  Errors: none: r must not be NULL.
 *  Ownership: the string belongs to r and lives as long as it.
 *  Threads: any: r is read only.
 */
FC_API const char *fc_result_region_field(const fc_result *r, int *guessed);
/** The region with the rank-th highest (0 = highest, up to 2) location
 *  quotient in sector i, among regions with firms of the sector; FC_EINVAL
 *  when there is none.
 *  Errors: FC_EINVAL when an index is out of range (the outputs are then untouched); r must not
 *  be NULL.
 *  Ownership: the strings handed out belong to r and live as long as it; any output pointer may
 *  be NULL.
 *  Threads: any: r is read only.
 */
FC_API int fc_result_top_region(const fc_result *r, size_t sector, int rank, const char **region,
                         double *lq, size_t *n_firms);
/** The sectors the co-location quotients pair up: the firms' own sectors
 *  (at --sector-digits), the same as fc_result_sector()'s but with
 *  --groups, where the run's "sectors" are the groups. 0 when the run
 *  measured no co-location (one sector, or --colocation off). Sector i's
 *  code and firms; FC_EINVAL when i is out of range.
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_colocation_sectors(const fc_result *r);
/**
 *  Errors: FC_EINVAL when an index is out of range (the outputs are then untouched); r must not
 *  be NULL.
 *  Ownership: the strings handed out belong to r and live as long as it; any output pointer may
 *  be NULL.
 *  Threads: any: r is read only.
 */
FC_API int fc_result_colocation_sector(const fc_result *r, size_t i, const char **code,
                                       size_t *n_firms);
/** The co-location quotient CLQ(a -> b) of sectors a and b (indices as in
 *  fc_result_colocation_sector(); NaN where undefined), the firms of a with
 *  at least one firm within eps, and the pair's q-value (NaN without a
 *  significance test); FC_EINVAL when the run measured no co-location or an
 *  index is out of range. Any pointer may be NULL.
 *  Errors: FC_EINVAL when an index is out of range (the outputs are then untouched); r must not
 *  be NULL.
 *  Ownership: the strings handed out belong to r and live as long as it; any output pointer may
 *  be NULL.
 *  Threads: any: r is read only.
 */
FC_API int fc_result_colocation(const fc_result *r, size_t a, size_t b, double *clq,
                                size_t *n_a_near, double *q_value);
/** Monte Carlo runs behind the clusters' p-values, at most, per sector (0: none).
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API int fc_result_permutations(const fc_result *r);
/** One line saying how the p-values were found, or why there are none ("":
 *  not asked for, or no cluster to test). Owned by r.
 *  Errors: none: r must not be NULL.
 *  Ownership: the string belongs to r and lives as long as it.
 *  Threads: any: r is read only.
 */
FC_API const char *fc_result_significance(const fc_result *r);
/** Input fields whose names the output could not keep (a Shapefile holds 10
 *  characters; firmclust's own fields keep theirs): how many, and the i-th
 *  rename, original name and name written (owned by r). FC_EINVAL when i is
 *  out of range.
 *  Errors: none: r must not be NULL.
 *  Ownership: none (returns a number).
 *  Threads: any: r is read only.
 */
FC_API size_t fc_result_n_renamed(const fc_result *r);
/**
 *  Errors: FC_EINVAL when an index is out of range (the outputs are then untouched); r must not
 *  be NULL.
 *  Ownership: the strings handed out belong to r and live as long as it; any output pointer may
 *  be NULL.
 *  Threads: any: r is read only.
 */
FC_API int fc_result_renamed(const fc_result *r, size_t i, const char **from, const char **to);

/**
 * Helps choose eps: reads the firms of `input` as fc_cluster() would (the
 * same options: sector field and digits, filters, CRS, distance) and, for
 * each sector, measures the distance from each firm to its min-pts-th
 * nearest firm of the sector, itself counted first (the eps at which it
 * would be core), exactly and as clustering measures distances. *text gets,
 * per sector, the quantiles of those distances and the knee of their sorted
 * curve (Kneedle) as the suggested eps: a table, or JSON (with the curve)
 * when json is non-zero. Free it with fc_free(). The "eps" option is not
 * needed.
 *  Errors: those of reading in fc_cluster() (FC_EIO, FC_EDATA, FC_ECRS, FC_EINVAL), FC_ENOMEM,
 *  FC_ECANCEL.
 *  Ownership: *text is the caller's: free it with fc_free().
 *  Threads: any, with one context per thread.
 */
FC_API int fc_suggest(fc_context *ctx, const char *input, const fc_options *opts, int json,
                      char **text);

/**
 * Describes a vector file as firmclust sees it: its layers with geometry
 * type, feature count and CRS, their fields with types and a few sample
 * values, and which fields look like sector codes, weights or region names.
 * *text receives plain text, or JSON when json is non-zero; free it with
 * fc_free().
 *  Errors: FC_EIO (not a vector dataset GDAL reads), FC_ENOMEM.
 *  Ownership: *text is the caller's: free it with fc_free().
 *  Threads: any, with one context per thread.
 */
FC_API int fc_info(fc_context *ctx, const char *path, int json, char **text);
/** Frees memory the library handed over (fc_info's text).
 *  Errors: none; accepts NULL.
 *  Ownership: frees what the library handed over.
 *  Threads: any.
 */
FC_API void fc_free(void *p);

/* ------------------------------------------------------------------------ */
/* Synthetic data                                                           */
/* ------------------------------------------------------------------------ */

/**
 * Writes n_firms synthetic firms of Kazakhstan (EPSG:4326 points with
 * fields firm_id, name, oked, employees, city) to `output`, in `format` (a
 * GDAL driver name, or NULL to choose by the file's extension). Firms
 * gather around the real cities in proportion to their population, with
 * the sectors that concentrate there; the same seed gives the same firms.
 *  Errors: FC_EINVAL (a driver that cannot write), FC_EEXIST, FC_EIO, FC_ENOMEM.
 *  Ownership: output and format stay the caller's.
 *  Threads: any, with one context per thread.
 */
FC_API int fc_synth(fc_context *ctx, const char *output, const char *format,
             size_t n_firms, uint64_t seed, int overwrite);

/**
 * Writes a synthetic layer of institutions (universities, research
 * institutes, technoparks, development agencies; EPSG:4326 points with
 * fields name, type, serves (the OKED code of the sector it serves, if any)
 * and city) to `output`: in the cities that have them, those serving a
 * sector inside that sector's districts of the firms fc_synth() makes with
 * the same seed. For --institutions.
 *  Errors: as fc_synth().
 *  Ownership: as fc_synth().
 *  Threads: any, with one context per thread.
 */
FC_API int fc_synth_institutions(fc_context *ctx, const char *output, const char *format,
                                 uint64_t seed, int overwrite);

#ifdef __cplusplus
}
#endif

#endif /* FIRMCLUST_H */
