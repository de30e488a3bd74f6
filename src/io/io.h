/* SPDX-License-Identifier: MIT */
/* The I/O floor: files, CRSs and geometries through GDAL, PROJ and GEOS;
 * reading the firms, regions, institutions and tables of codes, the
 * working CRS, cluster polygons, writing every layer atomically, the packed
 * R-tree and the QGIS styles. Includes the core; the pipeline includes it. */
#ifndef FC_IO_H
#define FC_IO_H

#include "core/core.h"

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#define GEOS_USE_ONLY_R_API
#include <geos_c.h>

/* ---- errors.c: GDAL's and GEOS's words in ours ---------------------------- */

/* Appends GDAL's last error message, if any, to an error. */
/* Appends GDAL's last error message, if any, to an error. */
int fc_error_gdal(fc_context *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A GEOS message handler keeping the last message in a char buffer of
 * FC_GEOS_MESSAGE_SIZE bytes. */
#define FC_GEOS_MESSAGE_SIZE 512
void fc_geos_message(const char *message, void *buffer);
/* Registers GDAL's drivers once, if none is, and sends the library's debug
 * messages to CPLDebug: fc_context_new() calls it, and every call of the
 * library takes a context made there. */
void fc_io_init(void);

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
/* (in read.c) */
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


/* ---- write.c ------------------------------------------------------------ */


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

/* ---- schema.c: a layer's fields, one row each ------------------------------ */

/* A field of an output layer: its name and type, a short title (the name
 * GeoPackage readers show) and a description, whether the run has it
 * (present NULL: always) and how row i fills it (k: its index in the
 * layer). A schema ends with a row whose name is NULL. */
typedef struct fc_field {
    const char *name;
    OGRFieldType type;
    const char *title;
    const char *description;
    bool (*present)(const fc_findings *r);
    void (*fill)(OGRFeatureH f, int k, const fc_findings *r, size_t i);
} fc_field;
/* The schemas of the clusters, regions and institutions layers and of
 * the colocation table. */
const fc_field *fc_cluster_schema(void);
const fc_field *fc_region_schema(void);
const fc_field *fc_colocation_schema(void);
const fc_field *fc_institution_schema(void);
/* The fields of the schema that the run has, in its order. */
int fc_schema_add_fields(fc_context *ctx, OGRLayerH l, const fc_field *schema,
                         const fc_findings *r);
/* Fills row i's fields, in the order fc_schema_add_fields() made them. */
void fc_schema_fill(OGRFeatureH f, const fc_field *schema, const fc_findings *r, size_t i);
/* In a GeoPackage: each field's title and description in gpkg_data_columns
 * (the Schema extension, registered in gpkg_extensions). Elsewhere nothing. */
int fc_schema_describe(fc_context *ctx, GDALDatasetH ds, const char *layer, const fc_field *schema,
                       const fc_findings *r);

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
/* Runs one SQL statement on ds (a SELECT's first value copied to *value,
 * which may be NULL); FC_EIO "DS: cannot DOING: GDAL's message" on failure. */
int fc_sql_run(fc_context *ctx, GDALDatasetH ds, const char *sql, char **value, const char *doing);
/* s as an SQL text literal, quotes doubled, into buf (size bytes, cut to fit). */
const char *fc_sql_text(const char *s, char *buf, size_t size);
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


#endif
