/* Writing clusters and labelled firms with GDAL, atomically: everything is
 * written under a temporary name beside the output and renamed into place
 * once complete, so a failed or killed run never leaves half an output and
 * never damages an existing one. */
#define _GNU_SOURCE /* renameat2 */
#include "fc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#define TRANSACTION_SIZE 20000

/* ---- choosing the driver ------------------------------------------------ */

static bool can_create_vector(GDALDriverH d)
{
    return GDALGetMetadataItem(d, GDAL_DCAP_VECTOR, NULL) &&
           GDALGetMetadataItem(d, GDAL_DCAP_CREATE, NULL);
}

/* The first creatable vector driver that lists `ext` among its extensions. */
static GDALDriverH driver_for_extension(const char *ext)
{
    for (int i = 0; i < GDALGetDriverCount(); i++) {
        GDALDriverH d = GDALGetDriver(i);
        if (!can_create_vector(d))
            continue;
        const char *exts = GDALGetMetadataItem(d, GDAL_DMD_EXTENSIONS, NULL);
        if (!exts)
            exts = GDALGetMetadataItem(d, GDAL_DMD_EXTENSION, NULL);
        if (!exts)
            continue;
        char **list = CSLTokenizeString(exts);
        bool match = false;
        for (char **e = list; e && *e && !match; e++)
            match = strcasecmp(*e, ext) == 0;
        CSLDestroy(list);
        if (match)
            return d;
    }
    return NULL;
}

/* The driver's file extension: its main one, else the longest it lists
 * ("geojson" rather than "json"). */
static void driver_extension(GDALDriverH d, char *ext, size_t size)
{
    const char *main_ext = GDALGetMetadataItem(d, GDAL_DMD_EXTENSION, NULL);
    if (main_ext && *main_ext) {
        snprintf(ext, size, "%s", main_ext);
        return;
    }
    const char *exts = GDALGetMetadataItem(d, GDAL_DMD_EXTENSIONS, NULL);
    char **list = exts ? CSLTokenizeString(exts) : NULL;
    snprintf(ext, size, "dat");
    for (char **e = list; e && *e; e++)
        if (strlen(*e) > strlen(ext) || strcmp(ext, "dat") == 0)
            snprintf(ext, size, "%s", *e);
    CSLDestroy(list);
}

static int remove_tree(const char *path)
{
    VSIStatBufL st;
    if (VSIStatL(path, &st) != 0)
        return 0;
    if (VSI_ISDIR(st.st_mode))
        return VSIRmdirRecursive(path);
    return VSIUnlink(path);
}

/* Whether name is a temporary of a run of ours writing to the output whose
 * name (or name without extension) is `base`: ".BASE.PID.tmp" and what
 * follows (an extension, "-journal", ".PID.old"). *pid gets its PID. */
static bool temporary_of(const char *name, const char *base, long *pid)
{
    size_t len = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, len) != 0 || name[1 + len] != '.')
        return false;
    char *end;
    *pid = strtol(name + 2 + len, &end, 10);
    return end != name + 2 + len && *pid > 0 && strncmp(end, ".tmp", 4) == 0;
}

/* Removes the temporaries that killed runs (SIGKILL, a power cut) left
 * beside the output: those of processes that no longer exist. */
static void remove_stale_temporaries(const char *path)
{
    char *dir = fc_strdup(*CPLGetPath(path) ? CPLGetPath(path) : ".");
    char *name = fc_strdup(CPLGetFilename(path)), *base = fc_strdup(CPLGetBasename(path));
    char **names = dir ? VSIReadDir(dir) : NULL;
    for (char **n = names; n && *n && name && base; n++) {
        long pid;
        if ((temporary_of(*n, name, &pid) || temporary_of(*n, base, &pid)) && pid != getpid() &&
            kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char stale[4200];
            snprintf(stale, sizeof stale, "%s/%s", dir, *n);
            remove_tree(stale);
        }
    }
    CSLDestroy(names);
    free(dir), free(name), free(base);
}

int fc_output_prepare(fc_context *ctx, const char *path, const char *format, bool overwrite,
                      int kind, fc_output *out)
{
    memset(out, 0, sizeof *out);
    const bool one_dataset = kind != FC_OUT_LAYERS;
    if (kind == FC_OUT_FILE) {
        /* not a GDAL dataset: no driver */
    } else if (format) {
        out->driver = GDALGetDriverByName(format);
        if (!out->driver || !can_create_vector(out->driver))
            return fc_error(ctx, FC_EINVAL,
                            "'%s' is not a GDAL vector driver that can write (see --formats)",
                            format);
    } else {
        const char *ext = CPLGetExtension(path);
        out->driver = GDALGetDriverByName("GPKG");
        if (*ext && !(out->driver = driver_for_extension(ext)))
            return fc_error(ctx, FC_EINVAL,
                            "%s: no GDAL driver writes '.%s' files; name the format with -f", path,
                            ext);
    }
    if (!out->driver && kind != FC_OUT_FILE)
        return fc_error(ctx, FC_EINVAL, "the GeoPackage driver is missing from this GDAL");
    out->one_dataset = one_dataset;
    out->is_directory =
        !one_dataset && !GDALGetMetadataItem(out->driver, GDAL_DCAP_MULTIPLE_VECTOR_LAYERS, NULL);
    if (out->driver)
        driver_extension(out->driver, out->ext, sizeof out->ext);

    VSIStatBufL st;
    if (VSIStatL(path, &st) == 0 && !overwrite)
        return fc_error(ctx, FC_EEXIST, "%s exists; use --overwrite to replace it", path);

    /* A hidden name in the same directory, so that the final rename stays
     * on one file system. A file keeps its extension, at the end only, for
     * drivers that look at it: /vsizip/ (XLSX, ODS) takes a path to hold a
     * zip at the first ".xlsx" in it. */
    const bool file = !out->is_directory && !one_dataset;
    char *dir = fc_strdup(CPLGetPath(path));
    char *base = fc_strdup(file ? CPLGetBasename(path) : CPLGetFilename(path));
    out->final_path = fc_strdup(path);
    if (!dir || !base || !out->final_path) {
        free(dir), free(base);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    size_t len = strlen(dir) + strlen(base) + 64;
    out->tmp_path = malloc(len);
    if (out->tmp_path) {
        const char *ext = CPLGetExtension(path);
        snprintf(out->tmp_path, len, "%s%s.%s.%ld.tmp%s%s", dir, *dir ? "/" : "", base,
                 (long)getpid(), (*ext && file) ? "." : "", file ? ext : "");
    }
    free(dir);
    free(base);
    if (!out->tmp_path)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    /* Stale temporaries of killed runs are removed (of one with our pid,
     * replaced). */
    remove_stale_temporaries(path);
    remove_tree(out->tmp_path);
    if ((out->is_directory || one_dataset) && VSIMkdir(out->tmp_path, 0755) != 0)
        return fc_error(ctx, FC_EIO, "%s: cannot write in %s: %s", path,
                        *CPLGetPath(path) ? CPLGetPath(path) : ".", strerror(errno));
    return FC_OK;
}

GDALDatasetH fc_output_create(fc_context *ctx, fc_output *out, const char *name)
{
    char path[4096];
    if (out->one_dataset)
        snprintf(path, sizeof path, "%s/%s", out->tmp_path, CPLGetFilename(out->final_path));
    else if (name)
        snprintf(path, sizeof path, "%s/%s.%s", out->tmp_path, name, out->ext);
    else
        snprintf(path, sizeof path, "%s", out->tmp_path);
    CPLErrorReset();
    GDALDatasetH ds = GDALCreate(out->driver, path, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds)
        fc_error_gdal(ctx, FC_EIO, "%s: cannot create", out->final_path);
    return ds;
}

/* One dataset written in a temporary directory (it may be several files,
 * as a Shapefile is): each file is moved beside the final path. */
static int commit_files(fc_context *ctx, fc_output *out, bool overwrite)
{
    char **names = VSIReadDir(out->tmp_path);
    const char *dir = CPLGetPath(out->final_path);
    char from[4200], to[4200];
    int status = FC_OK;
    for (char **n = names; n && *n && status == FC_OK; n++) {
        if (strcmp(*n, ".") == 0 || strcmp(*n, "..") == 0)
            continue;
        snprintf(to, sizeof to, "%s%s%s", dir, *dir ? "/" : "", *n);
        VSIStatBufL st;
        if (!overwrite && VSIStatL(to, &st) == 0)
            status = fc_error(ctx, FC_EEXIST, "%s exists; use --overwrite to replace it", to);
    }
    for (char **n = names; n && *n && status == FC_OK; n++) {
        if (strcmp(*n, ".") == 0 || strcmp(*n, "..") == 0)
            continue;
        snprintf(from, sizeof from, "%s/%s", out->tmp_path, *n);
        snprintf(to, sizeof to, "%s%s%s", dir, *dir ? "/" : "", *n);
        if (rename(from, to) != 0)
            status = fc_error(ctx, FC_EIO, "%s: cannot move into place: %s", to, strerror(errno));
    }
    CSLDestroy(names);
    return status;
}

int fc_output_commit(fc_context *ctx, fc_output *out, bool overwrite)
{
    if (out->one_dataset)
        return commit_files(ctx, out, overwrite);
    if (!overwrite) {
        if (renameat2(AT_FDCWD, out->tmp_path, AT_FDCWD, out->final_path, RENAME_NOREPLACE) != 0)
            return fc_error(ctx, errno == EEXIST ? FC_EEXIST : FC_EIO, "%s: cannot move into place: %s",
                            out->final_path, strerror(errno));
        return FC_OK;
    }
    /* The new output and the old one change places in one step
     * (RENAME_EXCHANGE), so that the path always holds a whole output; the
     * old one, now under the temporary name, is then removed. */
    VSIStatBufL st;
    if (VSIStatL(out->final_path, &st) == 0) {
        if (renameat2(AT_FDCWD, out->tmp_path, AT_FDCWD, out->final_path, RENAME_EXCHANGE) == 0) {
            remove_tree(out->tmp_path);
            return FC_OK;
        }
        if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
            return fc_error(ctx, FC_EIO, "%s: cannot move into place: %s", out->final_path,
                            strerror(errno));
    }
    /* No old output, or a file system without RENAME_EXCHANGE: rename()
     * replaces a file atomically; a directory (or a file where a directory
     * goes) is first moved aside, then removed. A kill between the two
     * renames leaves the old output aside (NAME.PID.old), and the path
     * empty; the next run writing there removes it. */
    bool swap = VSIStatL(out->final_path, &st) == 0 &&
                (VSI_ISDIR(st.st_mode) || out->is_directory);
    char aside[4200];
    snprintf(aside, sizeof aside, "%s.%ld.old", out->tmp_path, (long)getpid());
    if (swap && rename(out->final_path, aside) != 0)
        return fc_error(ctx, FC_EIO, "%s: cannot move the old output aside: %s", out->final_path,
                        strerror(errno));
    if (rename(out->tmp_path, out->final_path) != 0) {
        int e = errno;
        if (swap)
            rename(aside, out->final_path);
        return fc_error(ctx, FC_EIO, "%s: cannot move into place: %s", out->final_path,
                        strerror(e));
    }
    if (swap)
        remove_tree(aside);
    return FC_OK;
}

/* Why writing may have failed, when the system can tell: a full file system,
 * or the file size limit (ulimit -f) reached by one of the files. "" when
 * neither. */
static void why_short(const fc_output *out, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *dir = *CPLGetPath(out->final_path) ? CPLGetPath(out->final_path) : ".";
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0 && (double)fs.f_bavail * (double)fs.f_frsize < 65536) {
        snprintf(buf, size, "no space left on device (%.0f bytes free where %s is)",
                 (double)fs.f_bavail * (double)fs.f_frsize, out->final_path);
        return;
    }
    struct rlimit limit;
    if (getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return;
    char **names = out->is_directory || out->one_dataset ? VSIReadDir(out->tmp_path) : NULL;
    bool reached = false;
    VSIStatBufL st;
    if (!out->is_directory && !out->one_dataset)
        reached = VSIStatL(out->tmp_path, &st) == 0 &&
                  (double)st.st_size + 65536 >= (double)limit.rlim_cur;
    for (char **n = names; n && *n && !reached; n++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", out->tmp_path, *n);
        reached = VSIStatL(path, &st) == 0 && (double)st.st_size + 65536 >= (double)limit.rlim_cur;
    }
    CSLDestroy(names);
    if (reached)
        snprintf(buf, size, "file too large: the file size limit (ulimit -f) of %.0f bytes was "
                            "reached", (double)limit.rlim_cur);
}

void fc_output_explain(fc_context *ctx, const fc_output *out)
{
    if (!out->tmp_path || !out->final_path)
        return;
    /* the output the user asked for, not the hidden temporary (messages
     * hold paths as firmclust gave them to GDAL) */
    char msg[sizeof ctx->errmsg] = "";
    const char *m = ctx->errmsg, *at;
    const size_t tlen = strlen(out->tmp_path);
    while ((at = strstr(m, out->tmp_path)) != NULL) {
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, "%.*s%s", (int)(at - m), m, out->final_path);
        m = at + tlen;
    }
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof msg - len, "%s", m);
    char cause[256];
    why_short(out, cause, sizeof cause);
    if (*cause && !strstr(msg, cause)) {
        len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, " (%s)", cause);
    }
    snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", msg);
}

/* Every layer of a non-SQLite output read back: GDAL's text drivers
 * (GeoJSON, CSV) do not report a failed write, and a full disk would
 * otherwise leave a cut file that looks like an output. */
int fc_output_verify(fc_context *ctx, const fc_output *out, const char *const *layers,
                     const GIntBig *expected, int n_layers)
{
    const char *drv = out->driver ? GDALGetDriverShortName(out->driver) : "";
    if (strcmp(drv, "GPKG") == 0 || strcmp(drv, "SQLite") == 0)
        return FC_OK; /* SQLite reports its own write errors */
    int status = FC_OK;
    for (int k = 0; k < n_layers && status == FC_OK; k++) {
        if (!layers[k])
            continue;
        char path[4200];
        if (out->is_directory)
            snprintf(path, sizeof path, "%s/%s.%s", out->tmp_path, layers[k], out->ext);
        else
            snprintf(path, sizeof path, "%s", out->tmp_path);
        CPLErrorReset();
        CPLPushErrorHandler(CPLQuietErrorHandler);
        const char *const drivers[] = {drv, NULL};
        GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, NULL, NULL);
        OGRLayerH l = !ds ? NULL
                      : out->is_directory ? GDALDatasetGetLayer(ds, 0)
                                          : GDALDatasetGetLayerByName(ds, layers[k]);
        GIntBig got = l ? OGR_L_GetFeatureCount(l, TRUE) : -1;
        bool failed = CPLGetLastErrorType() == CE_Failure;
        if (ds)
            GDALClose(ds);
        CPLPopErrorHandler();
        if (got != expected[k] || failed) {
            char shown[4200];
            if (out->is_directory)
                snprintf(shown, sizeof shown, "%s/%s.%s", out->final_path, layers[k], out->ext);
            else
                snprintf(shown, sizeof shown, "%s", out->final_path);
            status = fc_error(ctx, FC_EIO,
                              "%s: writing layer %s failed: %lld of its %lld features read back",
                              shown, layers[k], got < 0 ? 0LL : (long long)got,
                              (long long)expected[k]);
        }
    }
    return status;
}

void fc_output_abort(fc_output *out)
{
    if (out->tmp_path) {
        remove_tree(out->tmp_path);
        /* SQLite journals of an interrupted GeoPackage */
        char side[4200];
        snprintf(side, sizeof side, "%s-journal", out->tmp_path);
        VSIUnlink(side);
        snprintf(side, sizeof side, "%s-wal", out->tmp_path);
        VSIUnlink(side);
    }
    free(out->tmp_path);
    free(out->final_path);
    memset(out, 0, sizeof *out);
}

/* ---- layers ------------------------------------------------------------- */

/* index_later: the caller makes the GeoPackage spatial index (fc_rtree). */
static OGRLayerH create_layer(fc_context *ctx, GDALDatasetH ds, const char *name,
                              OGRSpatialReferenceH srs, OGRwkbGeometryType type, bool index_later)
{
    char **lco = NULL;
    const char *drv = GDALGetDriverShortName(GDALGetDatasetDriver(ds));
    if (strcmp(drv, "ESRI Shapefile") == 0)
        lco = CSLSetNameValue(lco, "ENCODING", "UTF-8"); /* and a .cpg saying so */
    else if (strcmp(drv, "CSV") == 0)
        lco = CSLSetNameValue(lco, "GEOMETRY", "AS_WKT"); /* for spreadsheets */
    if (index_later)
        lco = fc_rtree_layer_options(ds, lco);
    OGRLayerH l = GDALDatasetCreateLayer(ds, name, srs, type, lco);
    CSLDestroy(lco);
    if (!l)
        fc_error_gdal(ctx, FC_EIO, "%s: cannot create layer %s", GDALGetDescription(ds), name);
    else if (type != wkbNone && OGR_L_GetGeomType(l) == wkbNone)
        /* spreadsheets (XLSX, ODS): the attributes only */
        fc_message(ctx, FC_MSG_WARNING,
                   "%s files hold no geometries: layer %s is written without its %s (CSV keeps "
                   "them as WKT; GeoPackage, Shapefile, GeoJSON and FlatGeobuf as geometries)",
                   drv, name, wkbFlatten(type) == wkbPoint ? "points" : "polygons");
    return l;
}

static int add_field(fc_context *ctx, OGRLayerH l, const char *name, OGRFieldType type, int width)
{
    OGRFieldDefnH f = OGR_Fld_Create(name, type);
    if (width)
        OGR_Fld_SetWidth(f, width);
    OGRErr err = OGR_L_CreateField(l, f, TRUE);
    OGR_Fld_Destroy(f);
    if (err != OGRERR_NONE)
        return fc_error_gdal(ctx, FC_EIO, "cannot create field %s in layer %s", name,
                             OGR_L_GetName(l));
    return FC_OK;
}

/* Starts a new transaction every TRANSACTION_SIZE features; drivers without
 * transactions ignore it. */
static int batch_step(fc_context *ctx, GDALDatasetH ds, size_t written, bool *in_tx)
{
    if (written % TRANSACTION_SIZE != 0)
        return FC_OK;
    if (*in_tx && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        return fc_error_gdal(ctx, FC_EIO, "%s: cannot commit", GDALGetDescription(ds));
    *in_tx = GDALDatasetStartTransaction(ds, FALSE) == OGRERR_NONE;
    return FC_OK;
}

static int batch_end(fc_context *ctx, GDALDatasetH ds, bool in_tx)
{
    if (in_tx && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        return fc_error_gdal(ctx, FC_EIO, "%s: cannot commit", GDALGetDescription(ds));
    return FC_OK;
}

static OGRCoordinateTransformationH transform_or_null(OGRSpatialReferenceH from,
                                                      OGRSpatialReferenceH to, bool *failed)
{
    *failed = false;
    if (!from || !to || OSRIsSame(from, to))
        return NULL;
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(from, to);
    *failed = ct == NULL;
    return ct;
}

/* Sets a double field, or NULL where the value is undefined (NaN). */
static void set_double(OGRFeatureH f, int field, double v)
{
    if (isnan(v))
        OGR_F_SetFieldNull(f, field);
    else
        OGR_F_SetFieldDouble(f, field, v);
}

/* Moves polygons from one CRS to another; in longitude/latitude, a polygon
 * across the antimeridian is cut there rather than wrapped round the world. */
typedef struct polygon_mover {
    OGRCoordinateTransformationH ct;
    OGRGeomTransformerH gt;
} polygon_mover;

static int mover_init(fc_context *ctx, polygon_mover *m, OGRSpatialReferenceH from,
                      OGRSpatialReferenceH to)
{
    bool failed;
    m->gt = NULL;
    m->ct = transform_or_null(from, to, &failed);
    const char *const wrap[] = {"WRAPDATELINE=YES", NULL};
    if (m->ct)
        m->gt = OGR_GeomTransformer_Create(m->ct, OSRIsGeographic(to) ? (CSLConstList)wrap : NULL);
    if (failed || (m->ct && !m->gt))
        return fc_error_gdal(ctx, FC_ECRS, "cannot transform polygons to the output CRS");
    return FC_OK;
}

static void mover_free(polygon_mover *m)
{
    if (m->gt)
        OGR_GeomTransformer_Destroy(m->gt);
    if (m->ct)
        OCTDestroyCoordinateTransformation(m->ct);
}

/* A multipolygon in the output CRS from WKB, or NULL. */
static OGRGeometryH move_polygon(const polygon_mover *m, const unsigned char *wkb, size_t size)
{
    OGRGeometryH g = NULL;
    if (OGR_G_CreateFromWkbEx(wkb, NULL, &g, size) != OGRERR_NONE)
        return NULL;
    if (m->gt) {
        OGRGeometryH moved = OGR_GeomTransformer_Transform(m->gt, g);
        OGR_G_DestroyGeometry(g);
        if (!(g = moved))
            return NULL;
    }
    return OGR_G_ForceToMultiPolygon(g);
}

int fc_write_clusters(fc_context *ctx, GDALDatasetH ds, const fc_findings *r)
{
    const fc_cluster_table *t = r->clusters;
    OGRLayerH l = create_layer(ctx, ds, "clusters", r->out_srs, wkbMultiPolygon, false);
    if (!l)
        return FC_EIO;
    int status;
    if ((status = add_field(ctx, l, "cluster_id", OFTInteger, 0)) ||
        (status = add_field(ctx, l, "sector", OFTString, 0)) ||
        (status = add_field(ctx, l, "n_firms", OFTInteger, 0)) ||
        (status = add_field(ctx, l, "n_core", OFTInteger, 0)) ||
        (t->weight && (status = add_field(ctx, l, "weight", OFTReal, 0))) ||
        (status = add_field(ctx, l, "area_km2", OFTReal, 0)) ||
        (status = add_field(ctx, l, "density", OFTReal, 0)) ||
        (status = add_field(ctx, l, "sect_share", OFTReal, 0)) ||
        (t->weight_share && (status = add_field(ctx, l, "wgt_share", OFTReal, 0))) ||
        (r->regions && ((status = add_field(ctx, l, "region", OFTString, 0)) ||
                        (status = add_field(ctx, l, "reg_share", OFTReal, 0)) ||
                        (status = add_field(ctx, l, "n_regions", OFTInteger, 0)) ||
                        (status = add_field(ctx, l, "region_lq", OFTReal, 0)))) ||
        (t->p_value && ((status = add_field(ctx, l, "p_value", OFTReal, 0)) ||
                        (status = add_field(ctx, l, "q_value", OFTReal, 0)) ||
                        (status = add_field(ctx, l, "runs", OFTInteger, 0)))))
        return status;
    polygon_mover mover;
    if ((status = mover_init(ctx, &mover, r->work->srs, r->out_srs)) != FC_OK)
        return status;

    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    bool in_tx = false;
    for (size_t i = 0; i < t->n && status == FC_OK; i++) {
        if ((status = batch_step(ctx, ds, i, &in_tx)) != FC_OK)
            break;
        OGRGeometryH g = move_polygon(&mover, t->wkb[i], t->wkb_size[i]);
        if (!g) {
            status = fc_error_gdal(ctx, FC_ECRS, "cannot transform cluster %zu to the output CRS",
                                   i + 1);
            break;
        }
        OGRFeatureH f = OGR_F_Create(defn);
        int k = 0;
        OGR_F_SetFieldInteger(f, k++, (int)(i + 1));
        OGR_F_SetFieldString(f, k++, r->firms->sector_codes[t->sector[i]]);
        OGR_F_SetFieldInteger64(f, k++, (GIntBig)t->n_firms[i]);
        OGR_F_SetFieldInteger64(f, k++, (GIntBig)t->n_core[i]);
        if (t->weight)
            OGR_F_SetFieldDouble(f, k++, t->weight[i]);
        OGR_F_SetFieldDouble(f, k++, t->area_km2[i]);
        set_double(f, k++, t->area_km2[i] > 0 ? (double)t->n_firms[i] / t->area_km2[i] : NAN);
        set_double(f, k++, t->sector_share[i]);
        if (t->weight_share)
            set_double(f, k++, t->weight_share[i]);
        if (r->regions) {
            if (t->region[i] >= 0)
                OGR_F_SetFieldString(f, k, r->regions->names[t->region[i]]);
            k++;
            set_double(f, k++, t->region_share[i]);
            OGR_F_SetFieldInteger64(f, k++, (GIntBig)t->n_regions[i]);
            set_double(f, k++, t->region_lq[i]);
        }
        if (t->p_value) {
            OGR_F_SetFieldDouble(f, k++, t->p_value[i]);
            OGR_F_SetFieldDouble(f, k++, t->q_value[i]);
            OGR_F_SetFieldInteger(f, k++, t->runs[i]);
        }
        OGR_F_SetGeometryDirectly(f, g);
        if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
            status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write cluster %zu",
                                   GDALGetDescription(ds), i + 1);
        OGR_F_Destroy(f);
    }
    if (status == FC_OK)
        status = batch_end(ctx, ds, in_tx);
    mover_free(&mover);
    return status;
}

/* ---- reading ahead ------------------------------------------------------ */

/* The firms are read a second time, to copy their fields. A thread reads
 * ahead, a block of features at a time, while this one writes (a GDAL
 * dataset may be used from any thread, by one at a time). */
#define AHEAD_BLOCK 256
#define AHEAD_BLOCKS 8

typedef struct read_ahead {
    OGRLayerH layer;
    bool threaded;
    OGRFeatureH f[AHEAD_BLOCKS][AHEAD_BLOCK];
    size_t count[AHEAD_BLOCKS]; /* features in a block; fewer than AHEAD_BLOCK: the last */
    size_t filled, taken;       /* blocks filled and used up, from the start */
    size_t at;                  /* the next feature of block `taken` */
    bool stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
} read_ahead;

static void *read_blocks(void *arg)
{
    read_ahead *r = arg;
    CPLPushErrorHandler(CPLQuietErrorHandler); /* a short read is noticed by the writer */
    for (bool end = false; !end;) {
        pthread_mutex_lock(&r->lock);
        while (r->filled - r->taken == AHEAD_BLOCKS && !r->stop)
            pthread_cond_wait(&r->changed, &r->lock);
        const bool stop = r->stop;
        const size_t b = r->filled % AHEAD_BLOCKS;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
        size_t k = 0;
        while (k < AHEAD_BLOCK && (r->f[b][k] = OGR_L_GetNextFeature(r->layer)) != NULL)
            k++;
        end = k < AHEAD_BLOCK;
        pthread_mutex_lock(&r->lock);
        r->count[b] = k;
        r->filled++;
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->lock);
    }
    CPLPopErrorHandler();
    return NULL;
}

static void read_ahead_start(read_ahead *r, OGRLayerH layer)
{
    memset(r, 0, sizeof *r);
    r->layer = layer;
    OGR_L_ResetReading(layer);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
    r->threaded = pthread_create(&r->thread, NULL, read_blocks, r) == 0;
}

/* The layer's next feature, or NULL at its end. */
static OGRFeatureH read_ahead_next(read_ahead *r)
{
    if (!r->threaded)
        return OGR_L_GetNextFeature(r->layer);
    for (;;) {
        const size_t b = r->taken % AHEAD_BLOCKS;
        pthread_mutex_lock(&r->lock);
        while (r->filled == r->taken)
            pthread_cond_wait(&r->changed, &r->lock);
        const size_t count = r->count[b];
        pthread_mutex_unlock(&r->lock);
        if (r->at < count)
            return r->f[b][r->at++];
        if (count < AHEAD_BLOCK)
            return NULL;
        pthread_mutex_lock(&r->lock);
        r->taken++;
        r->at = 0;
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->lock);
    }
}

/* Stops the reader and frees the features read but not taken. */
static void read_ahead_stop(read_ahead *r)
{
    if (r->threaded) {
        pthread_mutex_lock(&r->lock);
        r->stop = true;
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
        for (size_t b = r->taken; b < r->filled; b++)
            for (size_t k = b == r->taken ? r->at : 0; k < r->count[b % AHEAD_BLOCKS]; k++)
                OGR_F_Destroy(r->f[b % AHEAD_BLOCKS][k]);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->changed);
}

static const char *const role_names[] = {"noise", "border", "core"};

/* Whether a geometry is empty or has only finite coordinates: infinite or
 * NaN ones cannot be reprojected, and break a GeoPackage's layer extent and
 * GeoJSON. */
static bool finite_geometry(OGRGeometryH g)
{
    if (OGR_G_IsEmpty(g))
        return true;
    OGREnvelope e;
    OGR_G_GetEnvelope(g, &e);
    return isfinite(e.MinX) && isfinite(e.MaxX) && isfinite(e.MinY) && isfinite(e.MaxY);
}

/* In a CSV opened with KEEP_SOURCE_COLUMNS, the typed column that field j
 * keeps the text of (j is NAME_original), or -1. */
static int source_column_of(const fc_input *in, OGRFeatureDefnH defn, int j)
{
    if (!in->csv_source_columns)
        return -1;
    const char *name = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, j));
    size_t len = strlen(name), suffix = strlen("_original");
    if (len <= suffix || strcmp(name + len - suffix, "_original") != 0)
        return -1;
    for (int k = 0; k < OGR_FD_GetFieldCount(defn); k++) {
        const char *typed = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, k));
        if (k != j && strlen(typed) == len - suffix && strncmp(typed, name, len - suffix) == 0)
            return k;
    }
    return -1;
}

/* For the typed sector column of a CSV, the column holding its text, or -1. */
static int sector_text_of(const fc_input *in, OGRFeatureDefnH defn, int j)
{
    if (in->sector_source < 0 || in->sector_source == j)
        return -1;
    return source_column_of(in, defn, in->sector_source) == j ? in->sector_source : -1;
}

/* ---- the firms' field names ------------------------------------------------ */

void fc_field_names_free(fc_field_names *names)
{
    for (size_t i = 0; i < names->n; i++)
        free(names->from[i]), free(names->to[i]);
    free(names->from), free(names->to);
    memset(names, 0, sizeof *names);
}

bool fc_field_names_add(fc_field_names *names, const char *from, const char *to)
{
    char **f = realloc(names->from, (names->n + 1) * sizeof *f);
    if (f)
        names->from = f;
    char **t = f ? realloc(names->to, (names->n + 1) * sizeof *t) : NULL;
    if (t)
        names->to = t;
    if (!t || !(names->from[names->n] = fc_strdup(from)))
        return false;
    if (!(names->to[names->n] = fc_strdup(to))) {
        free(names->from[names->n]);
        return false;
    }
    names->n++;
    return true;
}

/* The longest field name the output's driver holds, in bytes (0: any). */
static size_t name_limit(GDALDatasetH ds)
{
    return strcmp(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "ESRI Shapefile") == 0 ? 10 : 0;
}

/* The input fields given to the output so far, under which names. */
typedef struct out_fields {
    size_t limit;
    const char *reserved[4]; /* ours: never given to an input field */
    size_t n_reserved;
    fc_field_names given;    /* by output field: input name, name written */
    fc_field_names *renamed; /* where the renames go (may be NULL) */
} out_fields;

static bool name_taken(const out_fields *of, const char *name)
{
    for (size_t i = 0; i < of->n_reserved; i++)
        if (strcasecmp(of->reserved[i], name) == 0)
            return true;
    for (size_t i = 0; i < of->given.n; i++)
        if (strcasecmp(of->given.to[i], name) == 0)
            return true;
    return false;
}

/* The first `bytes` bytes of name, cut back to a whole UTF-8 character. */
static void cut_name(const char *name, size_t bytes, char *out, size_t size)
{
    size_t len = strlen(name);
    if (len > bytes)
        len = bytes;
    while (len > 0 && ((unsigned char)name[len] & 0xC0) == 0x80)
        len--; /* name[len] continues a character: cut before it */
    snprintf(out, size, "%.*s", (int)len, name);
}

/* A name for an input field that the output holds (of->limit bytes) and no
 * other field has: the name itself, or cut to the limit, or, while that is
 * taken, cut shorter to make room for "_1", "_2", ... This always ends: the
 * numbers run out only after 10^(limit - 2) names. */
static void fitting_name(const out_fields *of, const char *name, char *out, size_t size)
{
    if (of->limit == 0) {
        snprintf(out, size, "%s", name);
        return;
    }
    cut_name(name, of->limit, out, size);
    for (unsigned long k = 1; name_taken(of, out); k++) {
        char suffix[24];
        int len = snprintf(suffix, sizeof suffix, "_%lu", k);
        char stem[200];
        cut_name(name, of->limit > (size_t)len ? of->limit - (size_t)len : 0, stem, sizeof stem);
        snprintf(out, size, "%s%s", stem, suffix);
    }
}

/* Gives the input field `name` (defined as fd) an output field, or the one
 * it already has from an earlier input: *index receives it. */
static int add_input_field(fc_context *ctx, OGRLayerH l, out_fields *of, const char *name,
                           OGRFieldDefnH fd, int *index)
{
    for (size_t i = 0; i < of->given.n; i++)
        if (strcmp(of->given.from[i], name) == 0) {
            *index = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(l), of->given.to[i]);
            return FC_OK;
        }
    char written[256];
    fitting_name(of, name, written, sizeof written);
    if (!fc_field_names_add(&of->given, name, written))
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    OGRFieldDefnH out = OGR_Fld_Create(written, OGR_Fld_GetType(fd));
    OGR_Fld_SetSubType(out, OGR_Fld_GetSubType(fd));
    OGR_Fld_SetWidth(out, OGR_Fld_GetWidth(fd));
    OGR_Fld_SetPrecision(out, OGR_Fld_GetPrecision(fd));
    /* approx_ok FALSE: the driver must keep the name as given */
    OGRErr err = OGR_L_CreateField(l, out, FALSE);
    OGR_Fld_Destroy(out);
    if (err != OGRERR_NONE)
        return fc_error_gdal(ctx, FC_EIO, "cannot create field %s (for input field %s) in layer "
                             "firms", written, name);
    *index = OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(l)) - 1;
    if (strcmp(written, name) != 0 && of->renamed && !fc_field_names_add(of->renamed, name, written))
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    return FC_OK;
}

/* One warning for all renames; the summary and --json list every one. */
static void say_renamed(fc_context *ctx, GDALDatasetH ds, const fc_field_names *rn)
{
    char list[512] = "";
    for (size_t i = 0; i < rn->n && i < 4; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s -> %s", i ? ", " : "", rn->from[i],
                 rn->to[i]);
    }
    fc_message(ctx, FC_MSG_WARNING,
               "%s: %zu input field name%s did not fit the format's %zu characters, or collided "
               "with one of firmclust's, and %s renamed in layer firms: %s%s",
               CPLGetFilename(GDALGetDescription(ds)), rn->n, rn->n == 1 ? "" : "s",
               name_limit(ds), rn->n == 1 ? "was" : "were", list, rn->n > 4 ? ", ..." : "");
}

/* Whether an input field is replaced by one of ours. */
static bool ours(const char *name, const fc_findings *r, size_t n_inputs)
{
    return strcasecmp(name, "cluster_id") == 0 || strcasecmp(name, "role") == 0 ||
           (r->regions && strcasecmp(name, "region") == 0) ||
           (n_inputs > 1 && strcasecmp(name, "source") == 0);
}

int fc_write_firms(fc_context *ctx, GDALDatasetH ds, fc_input *inputs, size_t n_inputs,
                   const fc_findings *r)
{
    const fc_firms *firms = r->firms;
    /* Points stay as they are (Z included); anything else becomes points. */
    OGRwkbGeometryType gtype = OGR_L_GetGeomType(inputs[0].layer);
    for (size_t i = 0; i < n_inputs; i++)
        if (wkbFlatten(OGR_L_GetGeomType(inputs[i].layer)) != wkbPoint ||
            OGR_L_GetGeomType(inputs[i].layer) != gtype)
            gtype = wkbPoint;
    OGRLayerH l = create_layer(ctx, ds, "firms", r->out_srs, gtype, true);
    if (!l)
        return FC_EIO;
    /* The union of the inputs' fields, by name, in order of appearance. */
    int **maps = calloc(n_inputs, sizeof *maps);
    if (!maps)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    out_fields of = {.limit = name_limit(ds), .renamed = r->renamed};
    of.reserved[of.n_reserved++] = "cluster_id";
    of.reserved[of.n_reserved++] = "role";
    if (r->regions)
        of.reserved[of.n_reserved++] = "region";
    if (n_inputs > 1)
        of.reserved[of.n_reserved++] = "source";
    int status = FC_OK;
    for (size_t i = 0; i < n_inputs && status == FC_OK; i++) {
        OGRFeatureDefnH in_defn = OGR_L_GetLayerDefn(inputs[i].layer);
        const int n_in = OGR_FD_GetFieldCount(in_defn);
        if (!(maps[i] = malloc((n_in ? n_in : 1) * sizeof **maps))) {
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
            break;
        }
        for (int j = 0; j < n_in; j++)
            maps[i][j] = -1;
        for (int j = 0; j < n_in && status == FC_OK; j++) {
            OGRFieldDefnH fd = OGR_FD_GetFieldDefn(in_defn, j);
            const char *name = OGR_Fld_GetNameRef(fd);
            /* A CSV's kept text of a typed column (NAME_original) is left
             * out, except for the sector codes: written as text under the
             * sector field's own name, so that 01110 stays 01110. */
            if (source_column_of(&inputs[i], in_defn, j) >= 0)
                continue; /* the sector's text goes where its typed column stands */
            int text = sector_text_of(&inputs[i], in_defn, j);
            if (text >= 0) {
                status = add_input_field(ctx, l, &of, name, OGR_FD_GetFieldDefn(in_defn, text),
                                         &maps[i][text]);
                continue;
            }
            if (ours(name, r, n_inputs)) {
                /* named like ours (say, from an earlier run): replaced */
                fc_message(ctx, FC_MSG_WARNING, "%s, layer %s: field %s is replaced by the new one",
                           inputs[i].path, inputs[i].layer_name, name);
                continue;
            }
            status = add_input_field(ctx, l, &of, name, fd, &maps[i][j]);
        }
    }
    if (status == FC_OK && r->renamed && r->renamed->n > 0)
        say_renamed(ctx, ds, r->renamed);
    fc_field_names_free(&of.given);
    const int n_out = OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(l));
    const int cluster_field = n_out, role_field = n_out + 1;
    const int region_field = r->regions ? n_out + 2 : -1;
    const int source_field = n_inputs > 1 ? n_out + 2 + (r->regions != NULL) : -1;
    if (status == FC_OK && (status = add_field(ctx, l, "cluster_id", OFTInteger, 0)) == FC_OK)
        status = add_field(ctx, l, "role", OFTString, 6);
    if (status == FC_OK && r->regions)
        status = add_field(ctx, l, "region", OFTString, 0);
    if (status == FC_OK && n_inputs > 1)
        status = add_field(ctx, l, "source", OFTString, 0);
    fc_rtree *index = NULL;
    if (status == FC_OK)
        status = fc_rtree_begin(ctx, ds, l, &index);
    /* Points made here (multipoints, centroids) are in the firms' CRS;
     * features' own points in their input's. */
    bool failed = false;
    OGRCoordinateTransformationH ct_firms = transform_or_null(firms->srs, r->out_srs, &failed);
    if (status == FC_OK && failed)
        status = fc_error_gdal(ctx, FC_ECRS, "cannot transform firms to the output CRS");

    OGRFeatureDefnH out_defn = OGR_L_GetLayerDefn(l);
    bool in_tx = false;
    size_t k = 0, p = 0, rows = 0;
    for (size_t i = 0; i < n_inputs && status == FC_OK; i++) {
        fc_input *in = &inputs[i];
        /* Its own points are in its layer's CRS, unless --s-srs said what
         * every input is in (then the firms' CRS). */
        OGRSpatialReferenceH layer_srs = OGR_L_GetSpatialRef(in->layer);
        OGRSpatialReferenceH srs = !firms->srs_given && layer_srs ? fc_srs_clone_gis_order(layer_srs)
                                                                  : NULL;
        bool other = srs && firms->srs && !OSRIsSame(srs, firms->srs);
        OGRCoordinateTransformationH ct_own = other ? transform_or_null(srs, r->out_srs, &failed) : NULL;
        if (other && failed)
            status = fc_error_gdal(ctx, FC_ECRS, "%s: cannot transform to the output CRS", in->path);
        OGRCoordinateTransformationH ct_in = other ? ct_own : ct_firms;
        OGRFeatureH src;
        read_ahead ahead;
        read_ahead_start(&ahead, in->layer);
        while (status == FC_OK && (src = read_ahead_next(&ahead)) != NULL) {
            /* Points follow the features in read order: a feature has no
             * point (skipped: one row, NULL labels), one, or several (a
             * multipoint: one row per point). Rows that are not the
             * feature's own point get a point geometry. */
            OGRGeometryH sg = OGR_F_GetGeometryRef(src);
            bool own_point = !sg || wkbFlatten(OGR_G_GetGeometryType(sg)) == wkbPoint;
            size_t first = p;
            do {
                if ((status = batch_step(ctx, ds, rows, &in_tx)) != FC_OK)
                    break;
                bool labelled = p < firms->n && firms->feature_of[p] == k;
                OGRFeatureH f = OGR_F_Create(out_defn);
                OGR_F_SetFromWithMap(f, src, TRUE, maps[i]);
                OGRCoordinateTransformationH ct = ct_in;
                if (labelled) {
                    if (r->cluster_id[p] >= 0)
                        OGR_F_SetFieldInteger(f, cluster_field, r->cluster_id[p] + 1);
                    OGR_F_SetFieldString(f, role_field, role_names[r->role[p]]);
                    if (r->regions && r->region_of[p] >= 0)
                        OGR_F_SetFieldString(f, region_field, r->regions->names[r->region_of[p]]);
                    if (!own_point) {
                        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
                        OGR_G_SetPoint_2D(pt, 0, firms->x[p], firms->y[p]);
                        OGR_F_SetGeometryDirectly(f, pt);
                        ct = ct_firms;
                    }
                    p++;
                } else if (!own_point) { /* a skipped non-point: its centroid, if any */
                    OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
                    if (OGR_G_Centroid(sg, pt) == OGRERR_NONE && !OGR_G_IsEmpty(pt))
                        OGR_F_SetGeometryDirectly(f, pt);
                    else {
                        OGR_G_DestroyGeometry(pt);
                        OGR_F_SetGeometryDirectly(f, NULL);
                    }
                }
                if (source_field >= 0)
                    OGR_F_SetFieldString(f, source_field, in->path);
                OGRGeometryH g = OGR_F_GetGeometryRef(f);
                if (g && !finite_geometry(g)) { /* a skipped firm: kept, without it */
                    OGR_F_SetGeometryDirectly(f, NULL);
                    g = NULL;
                }
                if (g && ct && OGR_G_Transform(g, ct) != OGRERR_NONE)
                    status = fc_error_gdal(ctx, FC_ECRS,
                                           "%s, layer %s, feature " CPL_FRMT_GIB
                                           ": cannot transform to the output CRS",
                                           in->path, in->layer_name, OGR_F_GetFID(src));
                else if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
                    status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write firm %zu",
                                           GDALGetDescription(ds), k);
                else
                    status = fc_rtree_add(ctx, index, OGR_F_GetFID(f), OGR_F_GetGeometryRef(f));
                OGR_F_Destroy(f);
                rows++;
            } while (status == FC_OK && p > first && p < firms->n && firms->feature_of[p] == k);
            OGR_F_Destroy(src);
            k++;
            if ((k & 0xFFFF) == 0 && status == FC_OK)
                status = fc_progress(ctx, (double)k / (double)(firms->n_features + 1), "writing firms");
        }
        read_ahead_stop(&ahead);
        if (ct_own)
            OCTDestroyCoordinateTransformation(ct_own);
        if (srs)
            OSRRelease(srs);
    }
    if (status == FC_OK && (k != firms->n_features || p != firms->n))
        status = fc_error(ctx, FC_EIO, "%s: an input changed while it was read", inputs[0].path);
    if (status == FC_OK)
        status = batch_end(ctx, ds, in_tx);
    if (r->firm_rows)
        *r->firm_rows = rows;
    if (status == FC_OK && index) {
        status = fc_rtree_end(ctx, index);
    } else {
        fc_rtree_free(index);
    }
    if (ct_firms)
        OCTDestroyCoordinateTransformation(ct_firms);
    for (size_t i = 0; i < n_inputs; i++)
        free(maps[i]);
    free(maps);
    return status;
}

int fc_write_regions(fc_context *ctx, GDALDatasetH ds, const fc_findings *r)
{
    const fc_region_stats *st = r->stats;
    OGRLayerH l = create_layer(ctx, ds, "regions", r->out_srs, wkbMultiPolygon, false);
    if (!l)
        return FC_EIO;
    int status;
    if ((status = add_field(ctx, l, "region", OFTString, 0)) ||
        (status = add_field(ctx, l, "sector", OFTString, 0)) ||
        (status = add_field(ctx, l, "n_firms", OFTInteger, 0)) ||
        (st->w && (status = add_field(ctx, l, "weight", OFTReal, 0))) ||
        (status = add_field(ctx, l, "share", OFTReal, 0)) ||
        (status = add_field(ctx, l, "lq", OFTReal, 0)) ||
        (st->w && (status = add_field(ctx, l, "lq_weight", OFTReal, 0))))
        return status;
    polygon_mover mover;
    if ((status = mover_init(ctx, &mover, r->firms->srs, r->out_srs)) != FC_OK)
        return status;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    bool in_tx = false;
    size_t row = 0;
    for (size_t g = 0; g < st->n_regions && status == FC_OK; g++) {
        unsigned char *wkb = NULL;
        size_t size = 0;
        if ((status = fc_regions_wkb(ctx, r->regions, g, &wkb, &size)) != FC_OK)
            break;
        for (size_t s = 0; s < st->n_sectors && status == FC_OK; s++, row++) {
            if ((status = batch_step(ctx, ds, row, &in_tx)) != FC_OK)
                break;
            OGRGeometryH geom = move_polygon(&mover, wkb, size);
            if (!geom) {
                status = fc_error_gdal(ctx, FC_ECRS, "cannot transform region '%s' to the output CRS",
                                       r->regions->names[g]);
                break;
            }
            size_t cell = g * st->n_sectors + s;
            OGRFeatureH f = OGR_F_Create(defn);
            int k = 0;
            OGR_F_SetFieldString(f, k++, r->regions->names[g]);
            OGR_F_SetFieldString(f, k++, r->firms->sector_codes[s]);
            OGR_F_SetFieldInteger64(f, k++, (GIntBig)st->n[cell]);
            if (st->w)
                OGR_F_SetFieldDouble(f, k++, st->w[cell]);
            set_double(f, k++, st->n_region[g] ? (double)st->n[cell] / (double)st->n_region[g] : NAN);
            set_double(f, k++, fc_lq(st, g, s));
            if (st->w)
                set_double(f, k++, fc_lq_weight(st, g, s));
            OGR_F_SetGeometryDirectly(f, geom);
            if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
                status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write region '%s'",
                                       GDALGetDescription(ds), r->regions->names[g]);
            OGR_F_Destroy(f);
        }
        free(wkb);
    }
    if (status == FC_OK)
        status = batch_end(ctx, ds, in_tx);
    mover_free(&mover);
    return status;
}
