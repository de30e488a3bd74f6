/* SPDX-License-Identifier: MIT */
/* Internal declarations shared by the modules of libfirmclust.
 * Pipeline: read -> reproject -> dbscan (grid index inside) -> hull ->
 * regions and stats -> write (output.c, write.c, write_firms.c), driven by
 * cluster.c. Data flows between the stages as flat arrays. */
#ifndef FC_INTERNAL_H
#define FC_INTERNAL_H

#include "firmclust.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#define GEOS_USE_ONLY_R_API
#include <geos_c.h>

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
/* Appends GDAL's last error message, if any, to an error. */
int fc_error_gdal(fc_context *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
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
/* Seconds on the monotonic clock since t0 (for --debug timings). */
double fc_seconds_since(const struct timespec *t0);

/* ---- options.c ----------------------------------------------------------- */

enum fc_hull_kind { FC_HULL_CONCAVE, FC_HULL_CONVEX, FC_HULL_BUFFER };
/* --lang: which column of a names table (name, name_ru, name_kk). */
enum fc_lang { FC_LANG_EN, FC_LANG_RU, FC_LANG_KK };
/* --method */
enum fc_method { FC_METHOD_DBSCAN, FC_METHOD_HDBSCAN };
/* --distance: auto is geodesic for geographic input, planar otherwise. */
enum fc_distance_option { FC_DIST_AUTO, FC_DIST_GEODESIC, FC_DIST_PLANAR };

/* The smallest eps in metres: with it, a grid of cells over the whole earth
 * (or a plane 30,000 km across) still fits in 4 billion cells a side. */
#define FC_MIN_EPS_M 0.01

struct fc_options {
    char *layer;
    char *where;
    char *sector_field;
    int sector_digits; /* 0: the whole code */
    int sector_width;  /* 0: as read; else whole-number codes padded with zeros to it */
    int method;        /* an fc_method */
    double eps;        /* metres; 0 until set (HDBSCAN*: then chosen from the data) */
    bool eps_auto;     /* --eps auto: each sector its own, suggested */
    size_t min_pts;
    size_t min_cluster_size; /* HDBSCAN*; 0: min_pts */
    size_t min_samples;      /* HDBSCAN*; 0: min_cluster_size */
    int cluster_selection;   /* HDBSCAN*: an fc_cluster_selection; -1: not given (eom) */
    char *weight_field;
    double min_weight; /* < 0: not set */
    int distance;
    int hull;
    double concavity;
    char *s_srs;
    char *t_srs;
    char *format;
    bool overwrite;
    bool centroids;
    char *encoding;
    char *regions;
    char *region_field;
    char *region_layer;
    int permutations;
    int colocation; /* co-location quotients (with two sectors or more): 1 asked for, -1 by
                       default, 0 off */
    char *groups;       /* --groups FILE (or "auto"): related sectors clustered together */
    double link_clq;    /* --groups auto: the CLQ above which sectors are linked (0: 2) */
    size_t min_sectors; /* with groups: clusters need core firms of this many sectors (0: 2) */
    char *institutions;      /* --institutions FILE */
    char *institution_field; /* their type */
    uint64_t seed;
    int threads; /* 0: all cores */
    char *json;
    char *sector_names; /* a table of code -> name; NULL: NACE divisions where they fit */
    int lang;           /* an fc_lang */
};

/* ---- read.c ------------------------------------------------------------- */

/* Firm points as columns. Point i came from input feature feature_of[i]
 * (0-based position in the order the layer was read), which is ascending;
 * a multipoint gives several points. */
typedef struct fc_firms {
    size_t n;
    double *x, *y;
    uint32_t *sector;  /* index into sector_codes, which is sorted */
    double *weight;    /* NULL without a weight field */
    size_t *feature_of;
    char **sector_codes;
    uint32_t n_sectors;
    size_t n_features; /* features read, skipped ones included */
    size_t n_skipped;
    size_t n_reshaped; /* features exploded (multipoints) or replaced by a centroid */
    OGRSpatialReferenceH srs; /* input CRS (owned), or NULL */
    bool srs_given;           /* srs came from --s-srs */
    char **sector_names;      /* per sector, what its code means (NULL: not known); or NULL */
    char names_source[256];   /* where the names came from, for the summary ("": none) */
} fc_firms;

/* An opened input: dataset and the chosen layer, with the filter applied. */
typedef struct fc_input {
    GDALDatasetH ds;
    OGRLayerH layer;
    const char *path;
    const char *layer_name;
    /* The field the sector codes are read from: the sector field itself or,
     * in a CSV, the text GDAL keeps beside a column whose type it guessed
     * (NAME_original), so that 01110 stays 01110. -1: no sector field. */
    int sector_source;
    bool csv_source_columns; /* a CSV opened with KEEP_SOURCE_COLUMNS */
} fc_input;

/* Opens a vector dataset read-only, checking what GDAL would not say
 * clearly (a Shapefile's missing .shx or .dbf); CSV columns named lon/lat,
 * longitude/latitude or x/y become points. NULL, with the error set, on
 * failure. */
GDALDatasetH fc_dataset_open(fc_context *ctx, const char *path, const char *encoding);
/* A table of codes (sector names, groups): as fc_dataset_open(), but a
 * CSV's columns are all read as text, so that code 01 stays 01. */
GDALDatasetH fc_table_open(fc_context *ctx, const char *path);
/* The index of a table's field of codes `name`: -1 when there is none,
 * -2 (with the error set, naming file, layer and field) when it is not
 * text: codes as numbers have lost their leading zeros. */
int fc_table_text_field(fc_context *ctx, const char *path, OGRLayerH l, const char *name);
int fc_input_open(fc_context *ctx, const char *path, const fc_options *opts,
                  fc_input *in);
void fc_input_close(fc_input *in);
/* Reads the firms of every input into one set of columns (in input order;
 * later inputs' points transformed into the first's CRS). */
int fc_read_firms(fc_context *ctx, fc_input *inputs, size_t n_inputs, const fc_options *opts,
                  fc_firms *firms);
void fc_firms_free(fc_firms *firms);
/* A sector code as the clustering groups it, in place: blanks around it
 * trimmed; with digits > 0, its first `digits` digits, other characters not
 * counted and dropped (62.01 -> 6201 with 4, C10.11 -> 10 with 2); a code
 * without any digit keeps its first `digits` characters (UTF-8 code points). */
void fc_truncate_code(char *code, int digits);

/* ---- names.c ------------------------------------------------------------ */

/* Names the firms' sectors (f->sector_names, f->names_source): from
 * --sector-names, or the built-in NACE Rev. 2 divisions when --sector-digits
 * is 2 and every code is one. Nothing is named otherwise. */
int fc_sector_names(fc_context *ctx, const fc_options *o, fc_firms *f);
void fc_sector_names_free(char **names, uint32_t n);
/* A code as tables and registers write it, compared without dots and blanks
 * and with letters in capitals ("62.01" and "6201", "a" and "A"). */
void fc_normal_code(const char *code, char *out, size_t size);

/* ---- groups.c ----------------------------------------------------------- */

#define FC_NO_GROUP UINT32_MAX
/* A firm in no group of --groups: not clustered (an internal fc_role). */
#define FC_ROLE_UNGROUPED 3

typedef struct fc_groups {
    size_t n;            /* groups, by id in text order */
    char **codes;        /* the ids */
    char **names;        /* per group, NULL where the table gives none */
    uint32_t *of_sector; /* per sector: its group, or FC_NO_GROUP */
    /* the firms' own sectors, while the run's labels are the groups */
    bool relabelled;
    uint32_t *sector;
    char **sector_codes, **sector_names;
    uint32_t n_sectors;
} fc_groups;

/* The fields of the groups table, as --groups reads them and as --groups
 * auto writes them. */
int fc_write_groups(fc_context *ctx, GDALDatasetH ds, const fc_groups *g);
/* Reads a groups table (fields group, code, optional name) and puts each of
 * f's sectors in the group of its longest code prefix there. */
int fc_groups_read(fc_context *ctx, const char *path, const fc_firms *f, fc_groups *g);
/* From here on f's sectors are the groups (and "-" for firms in none); the
 * firms' own sectors wait in g until fc_groups_restore(). */
int fc_groups_relabel(fc_context *ctx, fc_groups *g, fc_firms *f);
void fc_groups_restore(fc_groups *g, fc_firms *f);
/* After DBSCAN on the groups: firms in no group are FC_ROLE_UNGROUPED and in
 * no cluster; clusters whose core firms span fewer than min_sectors sectors
 * are dropped (their firms become noise); the rest are renumbered in order. */
int fc_groups_filter(fc_context *ctx, const fc_groups *g, const fc_firms *f, size_t min_sectors,
                     int32_t *cid, uint8_t *role, size_t *n_clusters);
/* Each cluster's mix of sectors: t->n_sectors, top_sectors, diversity. */
struct fc_cluster_table;
int fc_groups_describe(fc_context *ctx, const fc_groups *g, const fc_firms *f,
                       const int32_t *cid, struct fc_cluster_table *t);
/* --groups auto: groups by average linkage of the sectors that locate
 * together (CLQ above `link` both ways, q <= 0.05) in c; sectors linked to
 * none are in no group. FC_EDATA when no two sectors are linked. */
struct fc_colocation;
int fc_groups_auto(fc_context *ctx, const struct fc_colocation *c, const fc_firms *f, double link,
                   fc_groups *g);
void fc_groups_free(fc_groups *g);

/* ---- institutions.c ----------------------------------------------------- */

/* An institution's nearest cluster is searched up to this many eps away. */
#define FC_INSTITUTION_RADIUS 10

typedef struct fc_institutions {
    size_t n;
    double *x, *y;      /* in the firms' CRS */
    double *cx, *cy;    /* as the clustering measures (the caller fills them) */
    bool has_names;     /* the layer has a 'name' field */
    char **names;       /* its value per institution */
    bool has_types;     /* --institution-field given */
    size_t n_types;
    char **types;       /* the distinct types, sorted */
    int32_t *type;      /* per institution, its index in types, -1: none */
    int32_t *nearest;   /* cluster index, -1: none within the radius */
    double *distance_m; /* to the nearest clustered firm; NaN: none within the radius */
} fc_institutions;

/* Reads the points of the first layer of path (any CRS; s_srs, the firms'
 * --s-srs, when it has none), transformed to the firms' CRS, with the type
 * field (may be NULL) and a 'name' field if there is one. */
int fc_institutions_read(fc_context *ctx, const char *path, const char *type_field,
                         const char *s_srs, OGRSpatialReferenceH firms_srs, fc_institutions *in);
struct fc_cluster_table;
/* Fills t->n_inst and t->inst_types, in->nearest and in->distance_m, from
 * the firms' coordinates as the clustering measures them (params' metric)
 * and their clusters. */
int fc_institutions_measure(fc_context *ctx, fc_institutions *in, size_t n, const double *x,
                            const double *y, const int32_t *cid, size_t n_clusters,
                            const fc_dbscan_params *params, double to_metres,
                            struct fc_cluster_table *t);
void fc_institutions_free(fc_institutions *in);

/* ---- reproject.c -------------------------------------------------------- */

/* The metric CRS in which distances are measured. */
typedef struct fc_working_crs {
    OGRSpatialReferenceH srs;   /* owned */
    double to_metres;           /* working units to metres */
    bool reprojected;           /* false: the input CRS is used as it is */
    /* projected input: the largest relative error of distances in its plane
     * over the data (< 0: not measurable), and whether that is beyond
     * FC_PLANE_TOLERANCE, so that a local conic replaces it and distances
     * and areas are measured on the ellipsoid */
    double distortion;
    bool distorted;
    char description[512];
} fc_working_crs;

/* The largest relative error of distances a projected input's plane may
 * have over the data for distances to be measured in it by default. */
#define FC_PLANE_TOLERANCE 1e-3

/* Chooses the working CRS for points in `src` covering the given extent
 * (in src units, x = easting or longitude; xmax may pass 180 for data
 * straddling the antimeridian, see fc_longitude_window()): for geographic
 * input a local equidistant conic; for projected input its own plane,
 * unless distances there are off by more than FC_PLANE_TOLERANCE over the
 * extent and `distance` (an fc_distance_option) is not FC_DIST_PLANAR: then
 * a local conic too, and w->distorted. */
int fc_working_crs_choose(fc_context *ctx, OGRSpatialReferenceH src,
                          double xmin, double ymin, double xmax, double ymax, int distance,
                          fc_working_crs *out);
void fc_working_crs_free(fc_working_crs *w);
/* The narrowest band of longitudes [west, east] holding all of lon[]: east
 * may pass 180 when the points straddle the antimeridian. */
void fc_longitude_window(const double *lon, size_t n, double *west, double *east);
/* Area in m^2 on the ellipsoid (a, f) of a polygon or multipolygon in
 * longitude/latitude (x = longitude), with geodesic edges. */
double fc_ellipsoidal_area(OGRGeometryH lonlat, double a, double f);
/* Transforms n points in place from src to dst. */
int fc_transform_points(fc_context *ctx, OGRSpatialReferenceH src,
                        OGRSpatialReferenceH dst, size_t n, double *x, double *y);
/* A CRS from what a user wrote (EPSG:4326, WKT, PROJ, a file), in GIS axis
 * order; NULL with the error set (naming `option`) when it is no CRS. */
OGRSpatialReferenceH fc_srs_from_user(fc_context *ctx, const char *def, const char *option);
/* A new SRS with traditional GIS axis order (x = longitude). */
OGRSpatialReferenceH fc_srs_clone_gis_order(OGRSpatialReferenceH srs);

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

/* ---- cluster.c: the firms as a run measures them ---------------------------- */

/* The first stages of a run (read, reproject, choose the metric) without an
 * output: for `firmclust suggest`. */
typedef struct fc_measured {
    struct fc_job *job;           /* owns everything below */
    const char *input;
    const fc_firms *firms;
    const double *x, *y;          /* as the clustering measures distances */
    const fc_dbscan_params *params;
    double to_metres;             /* planar: working units to metres; geodesic: 1 */
    const char *distance;         /* how distances are measured, in words */
} fc_measured;
int fc_measure_firms(fc_context *ctx, const char *input, const fc_options *o, fc_measured *m);
void fc_measured_free(fc_measured *m);

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

/* Each sector's suggested eps in metres, as `firmclust suggest` gives it:
 * the knee of its sorted k-distances (x, y and params as the clustering
 * measures; to_metres: planar units to metres, 1 geodesic); NaN for a
 * sector of fewer than k firms. Where the knee is 0 (k firms at one place),
 * the smallest positive k-distance, or 1 m; a warning names the sector
 * (sector_code[s]; may be NULL). */
int fc_suggest_eps(fc_context *ctx, size_t n, const double *x, const double *y,
                   const uint32_t *sector, uint32_t n_sectors, const char *const *sector_code,
                   const fc_dbscan_params *params, double to_metres, size_t k, double *eps_m);

/* ---- hull.c ------------------------------------------------------------- */

typedef struct fc_hull_params {
    int kind;             /* fc_hull_kind */
    double concavity;     /* concave hull edge-length ratio */
    double buffer_radius; /* buffer hulls, and the footprint of degenerate sets */
    double densify;       /* > 0: no edge longer than this (GEOSDensify) */
} fc_hull_params;

/* A polygonal footprint of n points, as WKB (caller frees with free()).
 * Always a valid Polygon or MultiPolygon; degenerate sets (one point, two
 * points, collinear points, and hulls narrower than FC_HULL_SLIVER times
 * buffer_radius) get their points, line or sliver buffered by
 * buffer_radius. area receives the planar area in working units^2. */
#define FC_HULL_SLIVER 1e-2
/* Concave hulls of points less wide than FC_HULL_FLAT times their length are
 * their convex hulls (see concave_hull() in hull.c: a GEOS 3.11 crash). */
#define FC_HULL_FLAT 0.05
int fc_hull(fc_context *ctx, void *geos_handle, size_t n, const double *x,
            const double *y, const fc_hull_params *params, unsigned char **wkb,
            size_t *wkb_size, double *area);

/* Convex hulls: moves the points that may lie on the hull of the n points
 * to the front of x and y, in order, and returns their number; the others
 * lie strictly inside it. */
size_t fc_hull_drop_interior(size_t n, double *x, double *y);

/* How polygon areas are measured: on the ellipsoid (to_lonlat given: the
 * working CRS to longitude/latitude, a and f the ellipsoid's), else in the
 * plane of the working CRS, whose unit is to_metres metres. */
typedef struct fc_area_measure {
    OGRCoordinateTransformationH to_lonlat;
    double a, f;
    double to_metres;
} fc_area_measure;

/* The polygons of many point sets, on up to `threads` threads, each with
 * its own GEOS context: set c is the points members[start[c] ..
 * start[c + 1]) of x, y. Fills wkb, wkb_size and area (in m2) for each set;
 * the result does not depend on the thread count. Reports progress on ctx
 * within the current stage (fc_progress_stage); on failure, the error names
 * the set (1-based). */
int fc_hulls(fc_context *ctx, int threads, size_t n_sets, const size_t *start,
             const size_t *members, const double *x, const double *y,
             const fc_hull_params *params, const fc_area_measure *measure,
             unsigned char **wkb, size_t *wkb_size, double *area);

/* ---- regions.c ---------------------------------------------------------- */

/* Region polygons, valid, in the firms' CRS, indexed for point lookups. */
typedef struct fc_regions {
    size_t n, cap;
    char **names;          /* the region field's value, per region */
    char *path;
    char *field;           /* the region field */
    int field_index;
    bool field_guessed;
    size_t n_repaired;
    GEOSContextHandle_t h;
    char *geos_msg;        /* GEOS's last error on h: lives as long as h */
    GEOSGeometry **geoms;
    const GEOSPreparedGeometry **prepared;
    GEOSSTRtree *tree;
} fc_regions;

/* Reads the polygons of `layer` (NULL: the first polygon layer), named by
 * `field` (NULL: guessed), transformed to `target`. */
int fc_regions_read(fc_context *ctx, const char *path, const char *layer, const char *field,
                    OGRSpatialReferenceH target, fc_regions *r);
/* The field that best names the polygons of l, or -1. */
int fc_guess_region_field(OGRLayerH l);
/* The region of each point (-1: none). A point on a shared border goes to
 * the region read first. */
int fc_regions_assign(fc_context *ctx, const fc_regions *r, size_t n, const double *x,
                      const double *y, int32_t *region_of);
/* Region i's polygon as WKB, in the firms' CRS (caller frees). */
int fc_regions_wkb(fc_context *ctx, const fc_regions *r, size_t i, unsigned char **wkb,
                   size_t *size);
void fc_regions_free(fc_regions *r);

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

/* ---- write.c ------------------------------------------------------------ */

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

/* Input field names changed in the output (to fit a Shapefile's 10
 * characters, or not to take one of ours): from[i] was written as to[i]. */
typedef struct fc_field_names {
    size_t n;
    char **from, **to;
} fc_field_names;
void fc_field_names_free(fc_field_names *names);
/* Appends a copy of (from, to); false when out of memory. */
bool fc_field_names_add(fc_field_names *names, const char *from, const char *to);

/* What a run found, as the writers and the summary see it. */
typedef struct fc_findings {
    const fc_firms *firms;
    const fc_working_crs *work;
    OGRSpatialReferenceH out_srs;
    const int32_t *cluster_id;      /* per firm, -1: noise */
    const uint8_t *role;
    const fc_cluster_table *clusters;
    const fc_regions *regions;      /* NULL without --regions */
    const int32_t *region_of;       /* per firm, -1: outside every region */
    const fc_region_stats *stats;   /* NULL without --regions */
    const double *sector_scale;     /* per sector: see fc_sector_scales() */
    const fc_colocation *colocation; /* NULL: not measured */
    const fc_institutions *institutions; /* NULL without --institutions */
    /* HDBSCAN* (else NULL): per cluster (in metres, and 1 / metres), and
     * per firm its membership strength and outlier score */
    const fc_hdbscan_cluster *hdbscan;
    const double *strength, *outlier;
    const double *sector_eps_m;     /* --eps auto: each sector's eps (else NULL) */
    fc_field_names *renamed;        /* input fields renamed in the firms layer (the writer adds) */
    size_t *firm_rows;              /* the writer puts the firms layer's row count here */
} fc_findings;

/* Per cluster: shares of the sector's firms and weight, and with regions
 * (region_of and st not NULL) the region holding most of its firms. */
int fc_cluster_economics(fc_context *ctx, const fc_firms *f, const int32_t *cid,
                         const int32_t *region_of, const fc_region_stats *st,
                         fc_cluster_table *t);

/* ---- output.c ----------------------------------------------------------- */

/* An output being written under a temporary name. */
typedef struct fc_output {
    char *final_path;
    char *tmp_path;
    GDALDriverH driver;
    bool is_directory;        /* single-layer format: a directory of files */
    bool one_dataset;         /* one dataset or file named final_path */
    char ext[16];             /* file extension for directory outputs */
} fc_output;

/* A directory output's attribute table, as name.csv beside its layers
 * (single-layer formats have no room for a table). */
GDALDatasetH fc_output_create_csv(fc_context *ctx, fc_output *out, const char *name);
/* After a failure: names the output asked for instead of its hidden
 * temporary in the context's message, and adds the cause where the system
 * tells it (a full file system, the file size limit). */
void fc_output_explain(fc_context *ctx, const fc_output *out);
/* Before the commit: reads back each of n_layers layers (NULL: not written)
 * of a non-SQLite output and checks it holds expected[k] features. */
int fc_output_verify(fc_context *ctx, const fc_output *out, const char *const *layers,
                     const GIntBig *expected, int n_layers);

/* What an output is. */
enum fc_output_kind {
    FC_OUT_LAYERS,  /* the clusters-and-firms output: a multi-layer dataset, or a directory */
    FC_OUT_DATASET, /* one dataset, of one or more files (a Shapefile) */
    FC_OUT_FILE     /* a plain file, not a GDAL dataset; written in tmp_path/<name> */
};

/* guard.c: whether a and b are one file (or, not there yet, one path);
 * whether `path` may become the output: refused when it is a link,
 * a device or a pipe, when it exists without `overwrite`, and with it when
 * it is not what firmclust writes there (see guard.c). */
bool fc_same_place(const char *a, const char *b);
int fc_output_check_target(fc_context *ctx, const char *path, const fc_output *out, int kind,
                           bool overwrite);
/* Chooses the driver and checks that `path` may be written. */
int fc_output_prepare(fc_context *ctx, const char *path, const char *format,
                      bool overwrite, int kind, fc_output *out);
/* Creates the dataset `name` in a directory output, or else the output
 * dataset itself. */
GDALDatasetH fc_output_create(fc_context *ctx, fc_output *out,
                              const char *layer_base);
/* Moves the completed output into place. */
int fc_output_commit(fc_context *ctx, fc_output *out, bool overwrite);
/* Removes whatever was written; safe to call after commit. */
void fc_output_abort(fc_output *out);

/* ---- write.c and write_firms.c: the layers ------------------------------- */

int fc_write_clusters(fc_context *ctx, GDALDatasetH ds, const fc_findings *r);
/* The co-location quotients: one row per ordered pair of sectors, no
 * geometry. */
int fc_write_colocation(fc_context *ctx, GDALDatasetH ds, const fc_findings *r);
/* One point per institution, with its nearest cluster. */
int fc_write_institutions(fc_context *ctx, GDALDatasetH ds, const fc_findings *r);
/* One row per region and sector, with the region's polygon. */
int fc_write_regions(fc_context *ctx, GDALDatasetH ds, const fc_findings *r);
/* The firms of every input, in order, with their labels; with several
 * inputs, the union of their fields and a `source` field. */
int fc_write_firms(fc_context *ctx, GDALDatasetH ds, fc_input *inputs, size_t n_inputs,
                   const fc_findings *r);

/* What the layer writers share. A new layer, UTF-8 in a Shapefile, WKT in a
 * CSV; index_later: the caller makes the GeoPackage spatial index
 * (fc_rtree). NULL, with the error set, on failure. */
OGRLayerH fc_layer_create(fc_context *ctx, GDALDatasetH ds, const char *name,
                          OGRSpatialReferenceH srs, OGRwkbGeometryType type, bool index_later);
int fc_field_add(fc_context *ctx, OGRLayerH l, const char *name, OGRFieldType type, int width);
/* Text that fits the output: in a Shapefile, each text value longer than a
 * DBF field's 254 bytes cut after its last whole UTF-8 character, and one
 * warning a field, at the end, says how many were. Elsewhere nothing. */
typedef struct fc_text_fit {
    OGRLayerH layer;
    int n_fields;
    size_t *cut; /* per field; NULL: nothing to fit */
} fc_text_fit;
void fc_text_fit_init(fc_text_fit *t, GDALDatasetH ds, OGRLayerH l);
void fc_text_fit_feature(fc_text_fit *t, OGRFeatureH f);
void fc_text_fit_end(fc_context *ctx, fc_text_fit *t);
/* Refuses, for a Shapefile output (driver's short name), a sector code
 * that would not fit whole: cut codes could merge two sectors. */
int fc_codes_fit(fc_context *ctx, const char *driver, char *const *codes, size_t n);
/* Commits and starts a transaction every so many rows (`written` so far);
 * fc_batch_end() commits the last. Drivers without transactions ignore it. */
int fc_batch_step(fc_context *ctx, GDALDatasetH ds, size_t written, bool *in_tx);
int fc_batch_end(fc_context *ctx, GDALDatasetH ds, bool in_tx);
/* The transformation from `from` to `to`, or NULL when none is needed (or
 * *failed when it cannot be made). */
OGRCoordinateTransformationH fc_transform_or_null(OGRSpatialReferenceH from,
                                                  OGRSpatialReferenceH to, bool *failed);

/* ---- gpkg_rtree.c ------------------------------------------------------- */

/* A GeoPackage spatial index built in bulk: begin() once the layer (made
 * with fc_rtree_layer_options()) has its fields, add() each feature
 * written, end() (outside any transaction: it makes its own) to write the
 * index; free() to give up. For other drivers begin() gives NULL, on which
 * the others do nothing. */
typedef struct fc_rtree fc_rtree;
/* Adds to a layer's creation options what fc_rtree needs (GeoPackage:
 * SPATIAL_INDEX=NO); returns the list, as CSLSetNameValue() does. */
char **fc_rtree_layer_options(GDALDatasetH ds, char **options);
int fc_rtree_begin(fc_context *ctx, GDALDatasetH ds, OGRLayerH layer, fc_rtree **out);
int fc_rtree_add(fc_context *ctx, fc_rtree *t, int64_t fid, OGRGeometryH g);
int fc_rtree_end(fc_context *ctx, fc_rtree *t); /* frees t */
void fc_rtree_free(fc_rtree *t);

/* ---- style.c ------------------------------------------------------------ */

/* QGIS styles (QML text, caller frees; NULL when out of memory): clusters
 * categorised by sector and labelled "sector (firms)", firms coloured by
 * cluster with noise grey and faint, regions graduated by LQ. */
char *fc_style_clusters(const fc_firms *f, const fc_cluster_table *t);
char *fc_style_firms(void);
char *fc_style_regions(void);
/* label_field: NULL for no labels */
char *fc_style_institutions(const char *label_field);
/* Stores the styles with the output: a layer_styles table in a GeoPackage,
 * a NAME.qml beside each file of a directory output. */
int fc_write_styles(fc_context *ctx, const fc_output *out, GDALDatasetH ds, const fc_findings *r);

/* ---- result.c ----------------------------------------------------------- */

/* significance: one line saying how p-values were found, or why there are
 * none ("" when not asked for). */
int fc_result_make(fc_context *ctx, const fc_findings *fd, const char *distance,
                   const char *method, int permutations, const char *significance,
                   fc_result **out);
/* The JSON summary at `path`, written under a temporary name in *out for the
 * caller to commit with fc_output_commit() (and free with fc_output_abort());
 * "-" writes it to standard output at once. */
int fc_result_write_json(fc_context *ctx, const fc_result *r, const char *path,
                         const char *input, const char *output, bool overwrite, fc_output *out);

/* ---- util --------------------------------------------------------------- */

char *fc_strdup(const char *s);
/* A GEOS message handler keeping the last message in a char buffer of
 * FC_GEOS_MESSAGE_SIZE bytes. */
#define FC_GEOS_MESSAGE_SIZE 512
void fc_geos_message(const char *message, void *buffer);
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
