/* SPDX-License-Identifier: MIT */
/* Reading the firms of opened inputs (read.c opens them) into flat columns:
 * sector codes to dense ids in code order, the skip rules both ways of
 * reading share, GDAL's Arrow stream for point layers, and feature by
 * feature for the rest. */
#define _GNU_SOURCE /* qsort_r */
#include "io/io.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <ogr_recordbatch.h>

/* ---- sector codes: string -> dense id, then renumbered in code order ---- */

typedef struct code_table {
    char **codes;     /* by id */
    uint32_t n, cap;
    uint32_t *slots;  /* open addressing: id + 1, 0 empty */
    size_t n_slots;
} code_table;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int code_table_grow(code_table *t)
{
    size_t n_slots = t->n_slots ? t->n_slots * 2 : 64;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return 0;
    for (uint32_t id = 0; id < t->n; id++) {
        size_t s = hash_str(t->codes[id]) & (n_slots - 1);
        while (slots[s])
            s = (s + 1) & (n_slots - 1);
        slots[s] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return 1;
}

/* The id of `code`, added if new; UINT32_MAX when out of memory. */
static uint32_t code_table_id(code_table *t, const char *code)
{
    if ((size_t)(t->n + 1) * 2 > t->n_slots && !code_table_grow(t))
        return UINT32_MAX;
    size_t s = hash_str(code) & (t->n_slots - 1);
    while (t->slots[s]) {
        uint32_t id = t->slots[s] - 1;
        if (strcmp(t->codes[id], code) == 0)
            return id;
        s = (s + 1) & (t->n_slots - 1);
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        char **codes = realloc(t->codes, cap * sizeof *codes);
        if (!codes)
            return UINT32_MAX;
        t->codes = codes;
        t->cap = cap;
    }
    if (!(t->codes[t->n] = fc_strdup(code)))
        return UINT32_MAX;
    t->slots[s] = t->n + 1;
    return t->n++;
}

static int cmp_code_ids(const void *a, const void *b, void *codes)
{
    char **c = codes;
    return strcmp(c[*(const uint32_t *)a], c[*(const uint32_t *)b]);
}

/* Renumbers sectors so that ids follow the byte order of their codes. */
static int sort_sectors(fc_firms *f, code_table *t)
{
    uint32_t *by_rank = malloc((t->n ? t->n : 1) * sizeof *by_rank);
    uint32_t *rank_of = malloc((t->n ? t->n : 1) * sizeof *rank_of);
    char **sorted = malloc((t->n ? t->n : 1) * sizeof *sorted);
    if (!by_rank || !rank_of || !sorted) {
        free(by_rank), free(rank_of), free(sorted);
        return 0;
    }
    for (uint32_t i = 0; i < t->n; i++)
        by_rank[i] = i;
    qsort_r(by_rank, t->n, sizeof *by_rank, cmp_code_ids, t->codes);
    for (uint32_t r = 0; r < t->n; r++) {
        rank_of[by_rank[r]] = r;
        sorted[r] = t->codes[by_rank[r]];
    }
    for (size_t i = 0; i < f->n; i++)
        f->sector[i] = rank_of[f->sector[i]];
    f->sector_codes = sorted;
    f->n_sectors = t->n;
    free(t->codes);
    t->codes = NULL;
    free(by_rank);
    free(rank_of);
    return 1;
}

/* ---- features ----------------------------------------------------------- */

/* Per-feature problems are counted and the first few FIDs kept for the
 * warning; the run goes on without the feature. */
typedef struct skip_log {
    const char *what;
    size_t count;
    GIntBig first[5];
} skip_log;

static void skip(skip_log *log, GIntBig fid)
{
    if (log->count < 5)
        log->first[log->count] = fid;
    log->count++;
}

static void report_skips(fc_context *ctx, const fc_input *in, const skip_log *log)
{
    if (!log->count)
        return;
    char ids[128] = "";
    size_t len = 0;
    for (size_t i = 0; i < log->count && i < 5; i++)
        len += (size_t)snprintf(ids + len, sizeof ids - len, "%s" CPL_FRMT_GIB, i ? ", " : "",
                                log->first[i]);
    fc_message(ctx, FC_MSG_WARNING, "%s, layer %s: skipped %zu feature%s with %s (FID %s%s)",
               in->path, in->layer_name, log->count, log->count == 1 ? "" : "s", log->what, ids,
               log->count > 5 ? ", ..." : "");
}

static int field_index(fc_context *ctx, const fc_input *in, const char *name, int *idx)
{
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(in->layer);
    *idx = OGR_FD_GetFieldIndex(defn, name);
    if (*idx >= 0)
        return FC_OK;
    char names[512] = "";
    for (int i = 0; i < OGR_FD_GetFieldCount(defn) && strlen(names) < 400; i++) {
        if (i)
            strcat(names, ", ");
        strcat(names, OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)));
    }
    return fc_error(ctx, FC_EDATA, "%s, layer %s: no field named '%s' (fields: %s)", in->path,
                    in->layer_name, name, names);
}

/* Part i of a point (i = 0) or multipoint. */
static OGRGeometryH point_part(OGRGeometryH g, int i)
{
    return wkbFlatten(OGR_G_GetGeometryType(g)) == wkbMultiPoint ? OGR_G_GetGeometryRef(g, i) : g;
}

static bool grow_array(void *pp, size_t elem_size, size_t n)
{
    void **p = pp;
    void *q = realloc(*p, elem_size * n);
    if (q)
        *p = q;
    return q != NULL;
}

static bool grow(fc_firms *f, size_t *cap)
{
    size_t c = *cap ? *cap * 2 : 4096;
    bool ok = grow_array(&f->x, sizeof *f->x, c) && grow_array(&f->y, sizeof *f->y, c) &&
              grow_array(&f->sector, sizeof *f->sector, c) &&
              grow_array(&f->feature_of, sizeof *f->feature_of, c) &&
              (!f->weight || grow_array(&f->weight, sizeof *f->weight, c));
    if (ok)
        *cap = c;
    return ok;
}

/* ---- the skip rules, shared by both ways of reading --------------------- */

/* How a sector field holds its codes. */
enum code_kind { CODE_TEXT, CODE_INTEGER, CODE_DECIMAL };

typedef struct firm_checks {
    skip_log no_geom, bad_xy, out_of_range, no_sector, bad_weight, huge_weight;
    bool geographic;
    int sector_digits;
    int code_kind;          /* an enum code_kind */
    int sector_width;       /* whole-number codes: padded with zeros to it */
    int decimals;           /* decimal codes: digits after the point */
    int shortest, longest;  /* whole-number codes: their lengths, before padding */
} firm_checks;

/* What is wrong with a (non-empty) point's coordinates, or NULL. */
static skip_log *point_problem(firm_checks *c, double x, double y)
{
    if (!isfinite(x) || !isfinite(y))
        return &c->bad_xy;
    if (c->geographic && (fabs(x) > 180 || fabs(y) > 90))
        return &c->out_of_range;
    return NULL;
}

/* The largest weight taken: a billion firms of it still sum to a finite
 * double (1e308 each summed to infinity). */
#define MAX_WEIGHT 1e15

static skip_log *weight_problem(firm_checks *c, double w)
{
    if (isnan(w) || w < 0)
        return &c->bad_weight;
    return w <= MAX_WEIGHT ? NULL : &c->huge_weight;
}

/* The sector of a code as read (len bytes of text): its id in codes, or
 * the no_sector problem when nothing is left once it is truncated. */
static int sector_of_code(fc_context *ctx, firm_checks *c, code_table *codes, const char *text,
                          size_t len, uint32_t *sector, skip_log **problem)
{
    char *code = malloc(len + 1);
    if (!code)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    memcpy(code, text, len);
    code[len] = '\0';
    fc_truncate_code(code, c->sector_digits);
    int status = FC_OK;
    if (!*code)
        *problem = &c->no_sector;
    else if ((*sector = code_table_id(codes, code)) == UINT32_MAX)
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    free(code);
    return status;
}

/* Room for the text of a numeric code, padded to at most 64 digits. */
#define CODE_BUF 80

/* The text of a whole-number code (buf: CODE_BUF bytes), padded with zeros
 * to --sector-width. */
static const char *integer_code(firm_checks *c, int64_t v, char *buf)
{
    int len = snprintf(buf, CODE_BUF, "%" PRId64, v);
    if (c->shortest == 0 || len < c->shortest)
        c->shortest = len;
    if (len > c->longest)
        c->longest = len;
    if (v >= 0 && len < c->sector_width)
        snprintf(buf, CODE_BUF, "%0*" PRId64, c->sector_width < 64 ? c->sector_width : 64, v);
    return buf;
}

/* The text of a decimal code (buf: CODE_BUF bytes) with the field's fixed number
 * of decimals, as a Shapefile stores it: 62.10 stays 62.10. NULL when the
 * value cannot be a code. */
static const char *decimal_code(firm_checks *c, double v, char *buf)
{
    if (!isfinite(v) || fabs(v) >= 1e15)
        return NULL;
    snprintf(buf, CODE_BUF, "%.*f", c->decimals < 20 ? c->decimals : 20, v);
    return buf;
}

/* Without a sector field, every firm is of one sector: "all". */
static int one_sector(fc_context *ctx, code_table *codes)
{
    if (codes->n > 0 || code_table_id(codes, "all") != UINT32_MAX)
        return FC_OK;
    return fc_error(ctx, FC_ENOMEM, "out of memory");
}

static int add_firm(fc_context *ctx, fc_firms *f, size_t *cap, double x, double y,
                    uint32_t sector, size_t feature, double w)
{
    if (f->n == *cap && !grow(f, cap))
        return fc_error(ctx, FC_ENOMEM, "out of memory reading %zu firms", f->n);
    f->x[f->n] = x;
    f->y[f->n] = y;
    f->sector[f->n] = sector;
    f->feature_of[f->n] = feature;
    if (f->weight)
        f->weight[f->n] = w;
    f->n++;
    return FC_OK;
}

/* ---- reading through GDAL's Arrow stream -------------------------------- */

/* A layer of points is read column by column through GDAL's Arrow stream:
 * several times faster than feature by feature for a GeoPackage (GDAL 3.6).
 * Geometries come as WKB, which OGR decodes. The same firms come out, with
 * the same skip rules; a layer whose rows turn out not to be plain points is
 * read again feature by feature. */
#define ARROW_UNUSABLE 1 /* not an error: read feature by feature instead */

typedef struct arrow_column {
    const struct ArrowArray *a;
    char type; /* the Arrow format: 'l' int64, 'i' int32, 'g' double, 'u' utf8, 'z' binary */
} arrow_column;

static bool arrow_valid(const arrow_column *c, int64_t i)
{
    const uint8_t *bits = c->a->buffers[0];
    int64_t at = i + c->a->offset;
    return c->a->null_count == 0 || !bits || ((bits[at / 8] >> (at % 8)) & 1);
}

static int64_t arrow_integer(const arrow_column *c, int64_t i)
{
    int64_t at = i + c->a->offset;
    if (c->type == 'i')
        return ((const int32_t *)c->a->buffers[1])[at];
    return ((const int64_t *)c->a->buffers[1])[at];
}

static double arrow_number(const arrow_column *c, int64_t i)
{
    if (c->type == 'g')
        return ((const double *)c->a->buffers[1])[i + c->a->offset];
    return (double)arrow_integer(c, i);
}

/* Text (utf8 or binary) of row i: its bytes and length. */
static const uint8_t *arrow_bytes(const arrow_column *c, int64_t i, size_t *len)
{
    const int32_t *offsets = c->a->buffers[1];
    int64_t at = i + c->a->offset;
    *len = (size_t)(offsets[at + 1] - offsets[at]);
    return (const uint8_t *)c->a->buffers[2] + offsets[at];
}

static int arrow_child(const struct ArrowSchema *s, const char *name, const char *types,
                       char *type)
{
    for (int64_t i = 0; name && i < s->n_children; i++)
        if (strcmp(s->children[i]->name, name) == 0) {
            const char *fmt = s->children[i]->format;
            if (fmt[0] && !fmt[1] && strchr(types, fmt[0])) {
                *type = fmt[0];
                return (int)i;
            }
            return -1;
        }
    return -1;
}

/* Reading one input: where its firms go, the skip rules, and its fields. */
typedef struct firm_reader {
    fc_context *ctx;
    fc_input *in;
    const fc_options *opts;
    fc_firms *f;
    code_table *codes;
    size_t *cap;
    firm_checks checks;
    int sector_idx, weight_idx; /* -1: none */
    GIntBig total;              /* features, for progress (< 0: unknown) */
} firm_reader;

/* The sector of a code given as text: its id, or a problem. */
static int sector_of_text(firm_reader *r, const char *text, size_t len, uint32_t *sector,
                          skip_log **problem)
{
    if (!text) {
        *problem = &r->checks.no_sector;
        return FC_OK;
    }
    return sector_of_code(r->ctx, &r->checks, r->codes, text, len, sector, problem);
}

/* Progress every 65536 features. */
static int reading_progress(firm_reader *r, size_t k)
{
    if ((k & 0xFFFF) != 0 || r->total <= 0)
        return FC_OK;
    return fc_progress(r->ctx, (double)k / (double)r->total, "reading");
}

/* Only the columns needed go through the stream; the writer asks for the
 * others again. Not with --where: GDAL's stream is then empty when the
 * filter names an ignored field (GDAL 3.6; OSGeo/gdal#9655 tells of it). */
static void arrow_ignore_other_fields(firm_reader *r)
{
    if (r->opts->where)
        return;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(r->in->layer);
    char **ignored = NULL;
    for (int i = 0; i < OGR_FD_GetFieldCount(defn); i++) {
        const char *name = OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i));
        if (i != r->in->sector_source &&
            !(r->opts->weight_field && strcmp(name, r->opts->weight_field) == 0))
            ignored = CSLAddString(ignored, name);
    }
    OGR_L_SetIgnoredFields(r->in->layer, (const char **)ignored);
    CSLDestroy(ignored);
}

/* The stream's columns of FID, geometry, sector and weight. */
typedef struct arrow_columns {
    int fid, geom, sector, weight; /* child index, -1: none */
    char fid_t, geom_t, sector_t, weight_t;
} arrow_columns;

/* Finds the columns in the stream's schema: FC_OK, or ARROW_UNUSABLE when
 * one is missing or of a type not read here. */
static int arrow_find_columns(firm_reader *r, struct ArrowArrayStream *stream, arrow_columns *c)
{
    OGRLayerH layer = r->in->layer;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
    const char *sector_name =
        r->in->sector_source >= 0
            ? OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, r->in->sector_source))
            : NULL;
    const char *fid_name = *OGR_L_GetFIDColumn(layer) ? OGR_L_GetFIDColumn(layer) : "OGC_FID";
    const char *geom_name =
        *OGR_L_GetGeometryColumn(layer) ? OGR_L_GetGeometryColumn(layer) : "wkb_geometry";
    const char *weight_name = r->opts->weight_field;
    struct ArrowSchema schema = {0};
    int status = ARROW_UNUSABLE;
    *c = (arrow_columns){-1, -1, -1, -1, 0, 0, 0, 0};
    if (stream->get_schema(stream, &schema) == 0) {
        c->fid = arrow_child(&schema, fid_name, "l", &c->fid_t);
        c->geom = arrow_child(&schema, geom_name, "z", &c->geom_t);
        c->sector = arrow_child(&schema, sector_name,
                                r->checks.code_kind == CODE_DECIMAL ? "g" : "uil", &c->sector_t);
        c->weight = arrow_child(&schema, weight_name, "ilg", &c->weight_t);
        if (c->fid >= 0 && c->geom >= 0 && (!sector_name || c->sector >= 0) &&
            (!weight_name || c->weight >= 0))
            status = FC_OK;
    }
    if (schema.release)
        schema.release(&schema);
    return status;
}

/* The point of row i, or a problem; ARROW_UNUSABLE when the row is not a
 * plain point (the layer is then read feature by feature). */
static int arrow_point(firm_reader *r, const arrow_column *geom, int64_t i, double *x, double *y,
                       skip_log **problem)
{
    size_t len = 0;
    const uint8_t *wkb = arrow_valid(geom, i) ? arrow_bytes(geom, i, &len) : NULL;
    OGRGeometryH pt = NULL;
    int status = FC_OK;
    if (wkb && (OGR_G_CreateFromWkbEx(wkb, NULL, &pt, len) != OGRERR_NONE ||
                wkbFlatten(OGR_G_GetGeometryType(pt)) != wkbPoint)) {
        status = ARROW_UNUSABLE;
    } else if (!pt || OGR_G_IsEmpty(pt)) {
        *problem = &r->checks.no_geom;
    } else {
        *x = OGR_G_GetX(pt, 0);
        *y = OGR_G_GetY(pt, 0);
        *problem = point_problem(&r->checks, *x, *y);
    }
    if (pt)
        OGR_G_DestroyGeometry(pt);
    return status;
}

/* The sector of row i: text as it is, numbers as the feature path formats
 * them. */
static int arrow_sector(firm_reader *r, const arrow_column *sector, int64_t i, uint32_t *id,
                        skip_log **problem)
{
    if (!arrow_valid(sector, i)) {
        *problem = &r->checks.no_sector;
        return FC_OK;
    }
    size_t len;
    if (sector->type == 'u') {
        const char *text = (const char *)arrow_bytes(sector, i, &len);
        return sector_of_text(r, text, len, id, problem);
    }
    char buf[CODE_BUF];
    const char *text = sector->type == 'g'
                           ? decimal_code(&r->checks, arrow_number(sector, i), buf)
                           : integer_code(&r->checks, arrow_integer(sector, i), buf);
    return sector_of_text(r, text, text ? strlen(text) : 0, id, problem);
}

/* One batch of the stream, row by row, with the same skip rules as the
 * feature path. */
static int arrow_batch(firm_reader *r, const struct ArrowArray *batch, const arrow_columns *c)
{
    fc_firms *f = r->f;
    arrow_column fid = {batch->children[c->fid], c->fid_t};
    arrow_column geom = {batch->children[c->geom], c->geom_t};
    arrow_column sector = {c->sector >= 0 ? batch->children[c->sector] : NULL, c->sector_t};
    arrow_column weight = {c->weight >= 0 ? batch->children[c->weight] : NULL, c->weight_t};
    int status = FC_OK;
    for (int64_t i = 0; i < batch->length && status == FC_OK; i++) {
        size_t k = f->n_features++;
        double x = 0, y = 0, w = 1;
        uint32_t sector_id = 0;
        skip_log *problem = NULL;
        if ((status = arrow_point(r, &geom, i, &x, &y, &problem)) != FC_OK)
            break;
        if (!problem)
            status = sector.a ? arrow_sector(r, &sector, i, &sector_id, &problem)
                              : one_sector(r->ctx, r->codes);
        if (!problem && weight.a)
            problem = arrow_valid(&weight, i)
                          ? weight_problem(&r->checks, w = arrow_number(&weight, i))
                          : &r->checks.bad_weight;
        if (status != FC_OK)
            break;
        if (problem) {
            skip(problem, (GIntBig)arrow_integer(&fid, i));
            f->n_skipped++;
        } else {
            status = add_firm(r->ctx, f, r->cap, x, y, sector_id, k, w);
        }
        if (status == FC_OK)
            status = reading_progress(r, k);
    }
    return status;
}

/* Reads the firms of a point layer through its Arrow stream. Returns
 * ARROW_UNUSABLE, having added nothing, when the stream cannot be used. */
static int read_arrow(firm_reader *r)
{
    fc_input *in = r->in;
    if (r->opts->centroids || wkbFlatten(OGR_L_GetGeomType(in->layer)) != wkbPoint ||
        CPLTestBool(CPLGetConfigOption("FIRMCLUST_ARROW", "YES")) == FALSE)
        return ARROW_UNUSABLE;
    arrow_ignore_other_fields(r);
    OGR_L_ResetReading(in->layer);
    struct ArrowArrayStream stream;
    if (!OGR_L_GetArrowStream(in->layer, &stream, NULL)) {
        OGR_L_SetIgnoredFields(in->layer, NULL);
        return ARROW_UNUSABLE;
    }
    fc_firms *f = r->f;
    const size_t first_point = f->n, first_feature = f->n_features, first_skipped = f->n_skipped;
    const firm_checks saved = r->checks;
    arrow_columns columns;
    int status = arrow_find_columns(r, &stream, &columns);
    struct ArrowArray batch;
    while (status == FC_OK && stream.get_next(&stream, &batch) == 0 && batch.release) {
        status = arrow_batch(r, &batch, &columns);
        batch.release(&batch);
    }
    if (status == FC_OK && stream.get_last_error && stream.get_last_error(&stream) &&
        *stream.get_last_error(&stream))
        status = fc_error(r->ctx, FC_EIO, "%s, layer %s: read failed after %zu features: %s",
                          in->path, in->layer_name, f->n_features,
                          stream.get_last_error(&stream));
    stream.release(&stream);
    OGR_L_SetIgnoredFields(in->layer, NULL);
    if (status == ARROW_UNUSABLE) { /* undo, for the feature by feature reading */
        f->n = first_point;
        f->n_features = first_feature;
        f->n_skipped = first_skipped;
        r->checks = saved;
    }
    return status;
}

/* Finds the field the sector codes are read from, and how they are held:
 * text as it is; whole numbers (padded with --sector-width); decimals only
 * where the field fixes their number (a Shapefile's N(10,2)), since 62.10
 * would otherwise read back as 62.1. A CSV's codes are read from the text
 * GDAL kept before guessing the column's type. */
static int sector_source(fc_context *ctx, fc_input *in, const fc_options *opts, int *idx,
                         int *kind, int *decimals)
{
    int status = field_index(ctx, in, opts->sector_field, idx);
    if (status != FC_OK)
        return status;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(in->layer);
    if (in->csv_source_columns) {
        char *name = CPLStrdup(CPLSPrintf("%s_original", opts->sector_field));
        int text_idx = OGR_FD_GetFieldIndex(defn, name);
        CPLFree(name);
        if (text_idx >= 0)
            *idx = text_idx;
    }
    in->sector_source = *idx;
    OGRFieldDefnH fd = OGR_FD_GetFieldDefn(defn, *idx);
    OGRFieldType t = OGR_Fld_GetType(fd);
    if (t == OFTString) {
        *kind = CODE_TEXT;
    } else if (t == OFTInteger || t == OFTInteger64) {
        *kind = CODE_INTEGER;
    } else if (t == OFTReal && OGR_Fld_GetPrecision(fd) > 0) {
        *kind = CODE_DECIMAL;
        *decimals = OGR_Fld_GetPrecision(fd);
    } else if (t == OFTReal) {
        return fc_error(ctx, FC_EDATA,
                        "%s, layer %s: sector field '%s' holds its codes as numbers with no fixed "
                        "number of decimals, so they cannot be read back as written (62.10 would "
                        "read as 62.1, 01.11 as 1.11): store the codes as text",
                        in->path, in->layer_name, opts->sector_field);
    } else {
        return fc_error(ctx, FC_EDATA,
                        "%s, layer %s: sector field '%s' is of type %s; it must hold codes as text "
                        "or whole numbers",
                        in->path, in->layer_name, opts->sector_field, OGR_GetFieldTypeName(t));
    }
    return FC_OK;
}

/* The sector and weight fields of an input, checked. */
static int reader_fields(firm_reader *r, bool first)
{
    const fc_options *opts = r->opts;
    fc_input *in = r->in;
    int status;
    if (opts->sector_field &&
        (status = sector_source(r->ctx, in, opts, &r->sector_idx, &r->checks.code_kind,
                                &r->checks.decimals)) != FC_OK)
        return status;
    if (!opts->weight_field)
        return FC_OK;
    if ((status = field_index(r->ctx, in, opts->weight_field, &r->weight_idx)) != FC_OK)
        return status;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(in->layer);
    OGRFieldType t = OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, r->weight_idx));
    if (t != OFTInteger && t != OFTInteger64 && t != OFTReal)
        return fc_error(r->ctx, FC_EDATA,
                        "%s, layer %s: weight field '%s' is of type %s; it must be numeric",
                        in->path, in->layer_name, opts->weight_field, OGR_GetFieldTypeName(t));
    if (first && !(r->f->weight = malloc(sizeof *r->f->weight))) /* grown with the others */
        return fc_error(r->ctx, FC_ENOMEM, "out of memory");
    return FC_OK;
}

/* The input's CRS (--s-srs overrides the layer's, as ogr2ogr -s_srs does):
 * the first input's becomes the firms'; the others must have one when the
 * first has. *in_srs is the caller's to release. */
static int reader_srs(firm_reader *r, bool first, OGRSpatialReferenceH *in_srs)
{
    const fc_options *opts = r->opts;
    fc_firms *f = r->f;
    OGRSpatialReferenceH layer_srs = OGR_L_GetSpatialRef(r->in->layer);
    *in_srs = NULL;
    if (opts->s_srs) {
        if (!(*in_srs = fc_srs_from_user(r->ctx, opts->s_srs, "--s-srs")))
            return fc_errcode(r->ctx);
    } else if (layer_srs) {
        *in_srs = fc_srs_clone_gis_order(layer_srs);
    }
    if (first) {
        f->srs_given = opts->s_srs != NULL;
        f->srs = *in_srs ? OSRClone(*in_srs) : NULL;
        if (f->srs)
            OSRSetAxisMappingStrategy(f->srs, OAMS_TRADITIONAL_GIS_ORDER);
    } else if ((f->srs == NULL) != (*in_srs == NULL)) {
        return fc_error(r->ctx, FC_ECRS, "%s, layer %s: %s a CRS and the first input %s",
                        r->in->path, r->in->layer_name, *in_srs ? "has" : "has no",
                        *in_srs ? "has none" : "has one");
    }
    return FC_OK;
}

/* A feature's points: one, the parts of a multipoint, or with --centroids
 * the centroid of any other geometry (*centroid, the caller's to destroy).
 * *geom becomes the geometry whose parts are the points. */
static int feature_points(firm_reader *r, OGRFeatureH feat, OGRGeometryH *geom,
                          OGRGeometryH *centroid, int *n_parts, skip_log **problem)
{
    *n_parts = 0;
    if (!*geom || OGR_G_IsEmpty(*geom)) {
        *problem = &r->checks.no_geom;
        return FC_OK;
    }
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(*geom));
    if (t == wkbMultiPoint) {
        *n_parts = OGR_G_GetGeometryCount(*geom);
    } else if (t == wkbPoint) {
        *n_parts = 1;
    } else if (r->opts->centroids) {
        *centroid = OGR_G_CreateGeometry(wkbPoint);
        if (OGR_G_Centroid(*geom, *centroid) != OGRERR_NONE || OGR_G_IsEmpty(*centroid))
            *problem = &r->checks.no_geom;
        *geom = *centroid;
        *n_parts = 1;
    } else {
        return fc_error(r->ctx, FC_EDATA,
                        "%s, layer %s, feature " CPL_FRMT_GIB
                        ": geometry is a %s, not a point (use --centroids to cluster "
                        "the centroids of other geometries)",
                        r->in->path, r->in->layer_name, OGR_F_GetFID(feat),
                        OGRGeometryTypeToName(t));
    }
    for (int part = 0; part < *n_parts && !*problem; part++) {
        OGRGeometryH pt = point_part(*geom, part);
        *problem = OGR_G_IsEmpty(pt) ? &r->checks.no_geom
                                     : point_problem(&r->checks, OGR_G_GetX(pt, 0),
                                                     OGR_G_GetY(pt, 0));
    }
    return FC_OK;
}

static int feature_sector(firm_reader *r, OGRFeatureH feat, uint32_t *sector, skip_log **problem)
{
    int idx = r->sector_idx;
    if (idx < 0)
        return one_sector(r->ctx, r->codes);
    if (!OGR_F_IsFieldSetAndNotNull(feat, idx)) {
        *problem = &r->checks.no_sector;
        return FC_OK;
    }
    char buf[CODE_BUF];
    const char *text =
        r->checks.code_kind == CODE_INTEGER
            ? integer_code(&r->checks, OGR_F_GetFieldAsInteger64(feat, idx), buf)
        : r->checks.code_kind == CODE_DECIMAL
            ? decimal_code(&r->checks, OGR_F_GetFieldAsDouble(feat, idx), buf)
            : OGR_F_GetFieldAsString(feat, idx);
    return sector_of_text(r, text, text ? strlen(text) : 0, sector, problem);
}

/* One feature: its points become firms, or it is skipped with its problem. */
static int read_feature(firm_reader *r, OGRFeatureH feat)
{
    fc_firms *f = r->f;
    size_t k = f->n_features++;
    OGRGeometryH geom = OGR_F_GetGeometryRef(feat), centroid = NULL;
    double w = 1;
    uint32_t sector = 0;
    skip_log *problem = NULL;
    int n_parts;
    int status = feature_points(r, feat, &geom, &centroid, &n_parts, &problem);
    if (status == FC_OK && !problem)
        status = feature_sector(r, feat, &sector, &problem);
    if (status == FC_OK && !problem && r->weight_idx >= 0)
        problem = OGR_F_IsFieldSetAndNotNull(feat, r->weight_idx)
                      ? weight_problem(&r->checks, w = OGR_F_GetFieldAsDouble(feat, r->weight_idx))
                      : &r->checks.bad_weight;
    if (status == FC_OK && !problem) {
        for (int part = 0; part < n_parts && status == FC_OK; part++) {
            OGRGeometryH pt = point_part(geom, part);
            status = add_firm(r->ctx, f, r->cap, OGR_G_GetX(pt, 0), OGR_G_GetY(pt, 0), sector, k, w);
        }
        if (n_parts > 1 || centroid)
            f->n_reshaped++;
    }
    if (centroid)
        OGR_G_DestroyGeometry(centroid);
    if (status == FC_OK && problem) {
        skip(problem, OGR_F_GetFID(feat));
        f->n_skipped++;
        return FC_OK;
    }
    return status == FC_OK ? reading_progress(r, k) : status;
}

static int read_features(firm_reader *r)
{
    OGRFeatureH feat;
    int status = FC_OK;
    while (status == FC_OK && (feat = OGR_L_GetNextFeature(r->in->layer)) != NULL) {
        status = read_feature(r, feat);
        OGR_F_Destroy(feat);
    }
    return status;
}

/* What reading an input left to say: reshaped and skipped features, and
 * whole-number codes that lost their leading zeros. */
static void report_reading(firm_reader *r)
{
    const fc_input *in = r->in;
    const fc_options *opts = r->opts;
    const firm_checks *c = &r->checks;
    if (r->f->n_reshaped)
        fc_message(r->ctx, FC_MSG_INFO, "%s, layer %s: %zu features were multipoints or other "
                   "geometries: their points or centroids are clustered", in->path, in->layer_name,
                   r->f->n_reshaped);
    report_skips(r->ctx, in, &c->no_geom);
    report_skips(r->ctx, in, &c->bad_xy);
    report_skips(r->ctx, in, &c->out_of_range);
    report_skips(r->ctx, in, &c->no_sector);
    report_skips(r->ctx, in, &c->bad_weight);
    report_skips(r->ctx, in, &c->huge_weight);
    if (c->code_kind == CODE_INTEGER && !opts->sector_width && opts->sector_digits > 0 &&
        c->shortest < c->longest)
        fc_message(r->ctx, FC_MSG_WARNING,
                   "%s, layer %s: sector field '%s' holds whole numbers of %d to %d digits: "
                   "codes that began with 0 have lost it (01110 reads as 1110), and "
                   "--sector-digits %d takes the wrong digits of them; give --sector-width %d "
                   "to pad them back",
                   in->path, in->layer_name, opts->sector_field, c->shortest, c->longest,
                   opts->sector_digits, c->longest);
}

/* Appends the firms of one input to f: through the Arrow stream where it
 * can, else feature by feature. Points of an input in another CRS than the
 * first's are transformed into the first's. */
static int read_input(fc_context *ctx, fc_input *in, const fc_options *opts, fc_firms *f,
                      code_table *codes, size_t *cap, bool first)
{
    firm_reader r = {.ctx = ctx, .in = in, .opts = opts, .f = f, .codes = codes, .cap = cap,
                     .sector_idx = -1, .weight_idx = -1};
    r.checks = (firm_checks){.no_geom = {"no geometry or an empty one", 0, {0}},
                             .bad_xy = {"coordinates that are not finite", 0, {0}},
                             .out_of_range = {"longitude/latitude out of range", 0, {0}},
                             .no_sector = {"no sector code", 0, {0}},
                             .bad_weight = {"a missing or negative weight", 0, {0}},
                             .huge_weight = {"an infinite weight, or one above 1e15", 0, {0}},
                             .sector_digits = opts->sector_digits,
                             .code_kind = CODE_TEXT,
                             .sector_width = opts->sector_width};
    OGRSpatialReferenceH in_srs = NULL;
    int status = reader_fields(&r, first);
    if (status == FC_OK)
        status = reader_srs(&r, first, &in_srs);
    if (status != FC_OK) {
        if (in_srs)
            OSRRelease(in_srs);
        return status;
    }
    r.checks.geographic = in_srs && OSRIsGeographic(in_srs);
    r.total = OGR_L_GetFeatureCount(in->layer, FALSE);
    const size_t first_point = f->n;

    CPLErrorReset();
    status = read_arrow(&r);
    OGR_L_ResetReading(in->layer);
    if (status == ARROW_UNUSABLE) {
        CPLErrorReset();
        status = read_features(&r);
    } else {
        fc_message(ctx, FC_MSG_DEBUG, "%s, layer %s: read through GDAL's Arrow stream", in->path,
                   in->layer_name);
    }
    if (status == FC_OK && CPLGetLastErrorType() == CE_Failure)
        status = fc_error_gdal(ctx, FC_EIO, "%s, layer %s: read failed after %zu features",
                               in->path, in->layer_name, f->n_features);
    if (status == FC_OK)
        report_reading(&r);
    /* another CRS than the first input's: into the first's */
    if (status == FC_OK && !first && in_srs && !OSRIsSame(in_srs, f->srs) && f->n > first_point &&
        (status = fc_transform_points(ctx, in_srs, f->srs, f->n - first_point, f->x + first_point,
                                      f->y + first_point)) != FC_OK)
        fc_error_prefix(ctx, "%s, layer %s", in->path, in->layer_name);
    if (in_srs)
        OSRRelease(in_srs);
    return status;
}

int fc_read_firms(fc_context *ctx, fc_input *inputs, size_t n_inputs, const fc_options *opts,
                  fc_firms *f)
{
    memset(f, 0, sizeof *f);
    code_table codes = {0};
    size_t cap = 0;
    int status = FC_OK;
    for (size_t i = 0; i < n_inputs && status == FC_OK; i++)
        status = read_input(ctx, &inputs[i], opts, f, &codes, &cap, i == 0);
    if (status == FC_OK && !sort_sectors(f, &codes))
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    for (uint32_t i = 0; codes.codes && i < codes.n; i++)
        free(codes.codes[i]);
    free(codes.codes);
    free(codes.slots);
    if (status != FC_OK)
        fc_firms_free(f);
    return status;
}

/* (beside fc_firms_free(), which frees a firms' names with it: read.c then
 * needs nothing of names.c, which reads its tables through read.c) */
