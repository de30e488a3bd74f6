/* SPDX-License-Identifier: MIT */
/* Writing the firms layer: every input feature in input order, with its
 * cluster, role and region; the input is read ahead on another thread while
 * rows are written, and field names the format cannot hold are renamed. */
#include "io/io.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>

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

static const char *const role_names[] = {"noise", "border", "core", "ungrouped"};

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
    const char *reserved[8]; /* ours: never given to an input field */
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
           (r->strength &&
            (strcasecmp(name, "strength") == 0 || strcasecmp(name, "outlier") == 0)) ||
           (r->regions && strcasecmp(name, "region") == 0) ||
           (n_inputs > 1 && strcasecmp(name, "source") == 0);
}

/* Writing the firms layer: every input feature in order, with its labels. */
typedef struct firms_writer {
    fc_context *ctx;
    fc_text_fit fit; /* text cut to fit a Shapefile */
    GDALDatasetH ds;
    OGRLayerH layer;
    OGRFeatureDefnH defn;
    const fc_findings *r;
    int **maps; /* per input: its fields' indexes in the layer (-1: left out) */
    int cluster_field, role_field, region_field, source_field; /* -1: none */
    int strength_field, outlier_field;                         /* HDBSCAN*, else -1 */
    fc_rtree *index;
    OGRCoordinateTransformationH ct_firms; /* the firms' CRS to the output's */
    bool in_tx;
    size_t k, p, rows; /* features read, firms labelled, rows written */
} firms_writer;

/* Points stay as they are (Z included); anything else becomes points. */
static OGRLayerH create_firms_layer(fc_context *ctx, GDALDatasetH ds, const fc_input *inputs,
                                    size_t n_inputs, const fc_findings *r)
{
    OGRwkbGeometryType gtype = OGR_L_GetGeomType(inputs[0].layer);
    for (size_t i = 0; i < n_inputs; i++)
        if (wkbFlatten(OGR_L_GetGeomType(inputs[i].layer)) != wkbPoint ||
            OGR_L_GetGeomType(inputs[i].layer) != gtype)
            gtype = wkbPoint;
    return fc_layer_create(ctx, ds, "firms", r->out_srs, gtype, true);
}

/* One input's fields into the layer, and their map. */
static int add_input_fields(firms_writer *w, out_fields *of, const fc_input *in, size_t n_inputs,
                            int **map)
{
    OGRFeatureDefnH in_defn = OGR_L_GetLayerDefn(in->layer);
    const int n_in = OGR_FD_GetFieldCount(in_defn);
    if (!(*map = malloc((n_in ? n_in : 1) * sizeof **map)))
        return fc_error(w->ctx, FC_ENOMEM, "out of memory");
    for (int j = 0; j < n_in; j++)
        (*map)[j] = -1;
    int status = FC_OK;
    for (int j = 0; j < n_in && status == FC_OK; j++) {
        OGRFieldDefnH fd = OGR_FD_GetFieldDefn(in_defn, j);
        const char *name = OGR_Fld_GetNameRef(fd);
        /* A CSV's kept text of a typed column (NAME_original) is left
         * out, except for the sector codes: written as text under the
         * sector field's own name, so that 01110 stays 01110. */
        if (source_column_of(in, in_defn, j) >= 0)
            continue; /* the sector's text goes where its typed column stands */
        int text = sector_text_of(in, in_defn, j);
        if (text >= 0) {
            status = add_input_field(w->ctx, w->layer, of, name,
                                     OGR_FD_GetFieldDefn(in_defn, text), &(*map)[text]);
        } else if (ours(name, w->r, n_inputs)) {
            /* named like ours (say, from an earlier run): replaced */
            fc_message(w->ctx, FC_MSG_WARNING, "%s, layer %s: field %s is replaced by the new one",
                       in->path, in->layer_name, name);
        } else {
            status = add_input_field(w->ctx, w->layer, of, name, fd, &(*map)[j]);
        }
    }
    return status;
}

/* The union of the inputs' fields, by name, in order of appearance; then
 * ours: cluster_id, role, and region and source where they apply. */
static int add_firms_fields(firms_writer *w, const fc_input *inputs, size_t n_inputs)
{
    const fc_findings *r = w->r;
    out_fields of = {.limit = name_limit(w->ds), .renamed = r->renamed};
    of.reserved[of.n_reserved++] = "cluster_id";
    of.reserved[of.n_reserved++] = "role";
    if (r->strength) {
        of.reserved[of.n_reserved++] = "strength";
        of.reserved[of.n_reserved++] = "outlier";
    }
    if (r->regions)
        of.reserved[of.n_reserved++] = "region";
    if (n_inputs > 1)
        of.reserved[of.n_reserved++] = "source";
    int status = FC_OK;
    for (size_t i = 0; i < n_inputs && status == FC_OK; i++)
        status = add_input_fields(w, &of, &inputs[i], n_inputs, &w->maps[i]);
    if (status == FC_OK && r->renamed && r->renamed->n > 0)
        say_renamed(w->ctx, w->ds, r->renamed);
    fc_field_names_free(&of.given);
    const int n_out = OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(w->layer));
    w->cluster_field = n_out;
    w->role_field = n_out + 1;
    w->region_field = r->regions ? n_out + 2 : -1;
    w->source_field = n_inputs > 1 ? n_out + 2 + (r->regions != NULL) : -1;
    const int next = n_out + 2 + (r->regions != NULL) + (n_inputs > 1);
    w->strength_field = r->strength ? next : -1;
    w->outlier_field = r->strength ? next + 1 : -1;
    if (status == FC_OK && (status = fc_field_add(w->ctx, w->layer, "cluster_id", OFTInteger, 0)) == FC_OK)
        status = fc_field_add(w->ctx, w->layer, "role", OFTString, 9);
    if (status == FC_OK && r->regions)
        status = fc_field_add(w->ctx, w->layer, "region", OFTString, 0);
    if (status == FC_OK && n_inputs > 1)
        status = fc_field_add(w->ctx, w->layer, "source", OFTString, 0);
    if (status == FC_OK && r->strength &&
        (status = fc_field_add(w->ctx, w->layer, "strength", OFTReal, 0)) == FC_OK)
        status = fc_field_add(w->ctx, w->layer, "outlier", OFTReal, 0);
    return status;
}

/* A point made here: a part of a multipoint, or a centroid. */
static OGRGeometryH made_point(double x, double y)
{
    OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_SetPoint_2D(pt, 0, x, y);
    return pt;
}

/* The row of firm p (labelled) or of a skipped feature: fields, labels and
 * geometry; *ct receives the transformation its geometry needs. */
static OGRFeatureH firm_row(firms_writer *w, OGRFeatureH src, size_t input, bool own_point,
                            OGRCoordinateTransformationH *ct)
{
    const fc_findings *r = w->r;
    const fc_firms *firms = r->firms;
    OGRFeatureH f = OGR_F_Create(w->defn);
    OGR_F_SetFromWithMap(f, src, TRUE, w->maps[input]);
    if (w->p < firms->n && firms->feature_of[w->p] == w->k) {
        size_t p = w->p++;
        if (r->cluster_id[p] >= 0)
            OGR_F_SetFieldInteger(f, w->cluster_field, r->cluster_id[p] + 1);
        OGR_F_SetFieldString(f, w->role_field, role_names[r->role[p]]);
        if (r->regions && r->region_of[p] >= 0)
            OGR_F_SetFieldString(f, w->region_field, r->regions->names[r->region_of[p]]);
        if (r->strength) {
            OGR_F_SetFieldDouble(f, w->strength_field, r->strength[p]);
            if (!isnan(r->outlier[p]))
                OGR_F_SetFieldDouble(f, w->outlier_field, r->outlier[p]);
        }
        if (!own_point) {
            OGR_F_SetGeometryDirectly(f, made_point(firms->x[p], firms->y[p]));
            *ct = w->ct_firms;
        }
    } else if (!own_point) { /* a skipped non-point: its centroid, if any */
        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
        if (OGR_G_Centroid(OGR_F_GetGeometryRef(src), pt) == OGRERR_NONE && !OGR_G_IsEmpty(pt)) {
            OGR_F_SetGeometryDirectly(f, pt);
        } else {
            OGR_G_DestroyGeometry(pt);
            OGR_F_SetGeometryDirectly(f, NULL);
        }
    }
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    if (g && !finite_geometry(g)) /* a skipped firm: kept, without it */
        OGR_F_SetGeometryDirectly(f, NULL);
    return f;
}

/* The rows of one input feature. Points follow the features in read order:
 * a feature has no point (skipped: one row, NULL labels), one, or several
 * (a multipoint: one row per point). Rows that are not the feature's own
 * point get a point geometry. */
static int write_feature_rows(firms_writer *w, const fc_input *in, size_t input, OGRFeatureH src,
                              OGRCoordinateTransformationH ct_in)
{
    const fc_firms *firms = w->r->firms;
    OGRGeometryH sg = OGR_F_GetGeometryRef(src);
    bool own_point = !sg || wkbFlatten(OGR_G_GetGeometryType(sg)) == wkbPoint;
    size_t first = w->p;
    int status;
    do {
        if ((status = fc_batch_step(w->ctx, w->ds, w->rows, &w->in_tx)) != FC_OK)
            break;
        OGRCoordinateTransformationH ct = ct_in;
        OGRFeatureH f = firm_row(w, src, input, own_point, &ct);
        if (w->source_field >= 0)
            OGR_F_SetFieldString(f, w->source_field, in->path);
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        if (g && ct && OGR_G_Transform(g, ct) != OGRERR_NONE)
            status = fc_error_gdal(w->ctx, FC_ECRS,
                                   "%s, layer %s, feature " CPL_FRMT_GIB
                                   ": cannot transform to the output CRS",
                                   in->path, in->layer_name, OGR_F_GetFID(src));
        else if (fc_text_fit_feature(&w->fit, f), OGR_L_CreateFeature(w->layer, f) != OGRERR_NONE)
            status = fc_error_gdal(w->ctx, FC_EIO, "%s: cannot write firm %zu",
                                   GDALGetDescription(w->ds), w->k);
        else
            status = fc_rtree_add(w->ctx, w->index, OGR_F_GetFID(f), OGR_F_GetGeometryRef(f));
        OGR_F_Destroy(f);
        w->rows++;
    } while (status == FC_OK && w->p > first && w->p < firms->n &&
             firms->feature_of[w->p] == w->k);
    return status;
}

/* Every feature of one input, read ahead on another thread. Its own points
 * are in its layer's CRS, unless --s-srs said what every input is in (then
 * the firms' CRS); points made here are in the firms' CRS. */
static int write_input_firms(firms_writer *w, fc_input *in, size_t input)
{
    const fc_firms *firms = w->r->firms;
    OGRSpatialReferenceH layer_srs = OGR_L_GetSpatialRef(in->layer);
    OGRSpatialReferenceH srs =
        !firms->srs_given && layer_srs ? fc_srs_clone_gis_order(layer_srs) : NULL;
    bool other = srs && firms->srs && !OSRIsSame(srs, firms->srs), failed = false;
    OGRCoordinateTransformationH ct_own =
        other ? fc_transform_or_null(srs, w->r->out_srs, &failed) : NULL;
    int status = FC_OK;
    if (other && failed)
        status = fc_error_gdal(w->ctx, FC_ECRS, "%s: cannot transform to the output CRS", in->path);
    OGRFeatureH src;
    read_ahead ahead;
    read_ahead_start(&ahead, in->layer);
    while (status == FC_OK && (src = read_ahead_next(&ahead)) != NULL) {
        status = write_feature_rows(w, in, input, src, other ? ct_own : w->ct_firms);
        OGR_F_Destroy(src);
        w->k++;
        if ((w->k & 0xFFFF) == 0 && status == FC_OK)
            status = fc_progress(w->ctx, (double)w->k / (double)(firms->n_features + 1),
                                 "writing firms");
    }
    read_ahead_stop(&ahead);
    if (ct_own)
        OCTDestroyCoordinateTransformation(ct_own);
    if (srs)
        OSRRelease(srs);
    return status;
}

int fc_write_firms(fc_context *ctx, GDALDatasetH ds, fc_input *inputs, size_t n_inputs,
                   const fc_findings *r)
{
    firms_writer w = {.ctx = ctx, .ds = ds, .r = r};
    if (!(w.layer = create_firms_layer(ctx, ds, inputs, n_inputs, r)))
        return FC_EIO;
    w.defn = OGR_L_GetLayerDefn(w.layer);
    if (!(w.maps = calloc(n_inputs, sizeof *w.maps)))
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    int status = add_firms_fields(&w, inputs, n_inputs);
    fc_text_fit_init(&w.fit, ds, w.layer);
    if (status == FC_OK)
        status = fc_rtree_begin(ctx, ds, w.layer, &w.index);
    bool failed = false;
    w.ct_firms = fc_transform_or_null(r->firms->srs, r->out_srs, &failed);
    if (status == FC_OK && failed)
        status = fc_error_gdal(ctx, FC_ECRS, "cannot transform firms to the output CRS");
    for (size_t i = 0; i < n_inputs && status == FC_OK; i++)
        status = write_input_firms(&w, &inputs[i], i);
    if (status == FC_OK && (w.k != r->firms->n_features || w.p != r->firms->n))
        status = fc_error(ctx, FC_EIO, "%s: an input changed while it was read", inputs[0].path);
    if (status == FC_OK)
        status = fc_batch_end(ctx, ds, w.in_tx);
    if (r->firm_rows)
        *r->firm_rows = w.rows;
    if (status == FC_OK && w.index)
        status = fc_rtree_end(ctx, w.index);
    else
        fc_rtree_free(w.index);
    fc_text_fit_end(ctx, &w.fit);
    if (w.ct_firms)
        OCTDestroyCoordinateTransformation(w.ct_firms);
    for (size_t i = 0; i < n_inputs; i++)
        free(w.maps[i]);
    free(w.maps);
    return status;
}

