/* SPDX-License-Identifier: MIT */
/* Regions: read administrative polygons, repair them, and find the region
 * of every firm with a GEOS STRtree and prepared geometries. */
#define _GNU_SOURCE /* strcasestr */
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_conv.h>
#include <cpl_error.h>

static bool is_polygon_type(OGRwkbGeometryType t)
{
    t = wkbFlatten(t);
    return t == wkbPolygon || t == wkbMultiPolygon || t == wkbCurvePolygon ||
           t == wkbMultiSurface;
}

/* How much a field looks like the name of a region; -1: cannot be one. */
static int name_score(const char *field)
{
    size_t len = strlen(field);
    if (len >= 3 && strcasecmp(field + len - 3, "_EN") == 0)
        return 40 + (field[len - 4] >= '0' && field[len - 4] <= '9' ? field[len - 4] - '0' : 0);
    if (strcasestr(field, "name"))
        return 30;
    if (strcasestr(field, "pcode") || strcasestr(field, "code"))
        return 20;
    return 10;
}

int fc_guess_region_field(OGRLayerH l)
{
    /* The string field with one distinct, non-empty value per feature that
     * looks most like a name (for the Kazakhstan boundaries: ADM1_EN). */
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    int n_fields = OGR_FD_GetFieldCount(defn), best = -1, best_score = -1;
    GIntBig n = OGR_L_GetFeatureCount(l, TRUE);
    for (int i = 0; i < n_fields; i++) {
        if (OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, i)) != OFTString)
            continue;
        int score = name_score(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)));
        if (score <= best_score)
            continue;
        char **seen = calloc((size_t)(n > 0 ? n : 1), sizeof *seen);
        size_t k = 0;
        bool unique = seen != NULL;
        OGRFeatureH f;
        OGR_L_ResetReading(l);
        while (unique && (f = OGR_L_GetNextFeature(l))) {
            const char *v = OGR_F_IsFieldSetAndNotNull(f, i) ? OGR_F_GetFieldAsString(f, i) : "";
            unique = *v != '\0';
            for (size_t j = 0; j < k && unique; j++)
                unique = strcmp(seen[j], v) != 0;
            if (unique && k < (size_t)n)
                seen[k++] = fc_strdup(v);
            OGR_F_Destroy(f);
        }
        for (size_t j = 0; j < k; j++)
            free(seen[j]);
        free(seen);
        if (unique) {
            best = i;
            best_score = score;
        }
    }
    OGR_L_ResetReading(l);
    return best;
}

/* The region field: the one given, or a guess. */
static int choose_field(fc_context *ctx, const char *path, OGRLayerH l, const char *given,
                        fc_regions *r)
{
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    if (given) {
        r->field_index = OGR_FD_GetFieldIndex(defn, given);
        if (r->field_index < 0)
            return fc_error(ctx, FC_EDATA, "%s, layer %s: no field named '%s' for --region-field",
                            path, OGR_L_GetName(l), given);
        r->field = fc_strdup(given);
        return r->field ? FC_OK : fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    int best = fc_guess_region_field(l);
    if (best < 0)
        return fc_error(ctx, FC_EDATA,
                        "%s, layer %s: no text field names each region once; give one with "
                        "--region-field",
                        path, OGR_L_GetName(l));
    r->field_index = best;
    r->field = fc_strdup(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, best)));
    r->field_guessed = true;
    return r->field ? FC_OK : fc_error(ctx, FC_ENOMEM, "out of memory");
}


/* A valid polygonal version of g (which it consumes), or NULL. */
static GEOSGeometry *repair(GEOSContextHandle_t h, GEOSGeometry *g)
{
    GEOSMakeValidParams *p = GEOSMakeValidParams_create_r(h);
    GEOSMakeValidParams_setMethod_r(h, p, GEOS_MAKE_VALID_STRUCTURE);
    GEOSMakeValidParams_setKeepCollapsed_r(h, p, 0);
    GEOSGeometry *v = GEOSMakeValidWithParams_r(h, g, p);
    GEOSMakeValidParams_destroy_r(h, p);
    GEOSGeom_destroy_r(h, g);
    return v;
}

static int count_rings(GEOSContextHandle_t h, const GEOSGeometry *g)
{
    int n = 0;
    for (int i = 0; i < GEOSGetNumGeometries_r(h, g); i++) {
        const GEOSGeometry *p = GEOSGetGeometryN_r(h, g, i);
        if (GEOSGeomTypeId_r(h, p) == GEOS_POLYGON)
            n += 1 + GEOSGetNumInteriorRings_r(h, p);
    }
    return n;
}

/* Rings that are lines in disguise (collinear points, or points that differ
 * only in the 14th digit), which GEOS accepts as valid but other tools
 * reject, are dropped: g snapped to a 1e-9 grid loses them. Returns how
 * many went. */
static int drop_degenerate_rings(GEOSContextHandle_t h, GEOSGeometry **g)
{
    GEOSGeometry *snapped = GEOSGeom_setPrecision_r(h, *g, 1e-9, 0);
    if (!snapped)
        return 0;
    int dropped = count_rings(h, *g) - count_rings(h, snapped);
    if (dropped > 0 && GEOSisValid_r(h, snapped) && !GEOSisEmpty_r(h, snapped)) {
        GEOSGeom_destroy_r(h, *g);
        *g = snapped;
        return dropped;
    }
    GEOSGeom_destroy_r(h, snapped);
    return 0;
}

static int add_region(fc_context *ctx, fc_regions *r, GEOSGeometry *g, const char *name)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        GEOSGeometry **geoms = realloc(r->geoms, cap * sizeof *geoms);
        if (geoms)
            r->geoms = geoms;
        char **names = realloc(r->names, cap * sizeof *names);
        if (names)
            r->names = names;
        if (!geoms || !names)
            return fc_error(ctx, FC_ENOMEM, "out of memory reading regions");
        r->cap = cap;
    }
    r->names[r->n] = fc_strdup(name);
    r->geoms[r->n] = g;
    if (!r->names[r->n])
        return fc_error(ctx, FC_ENOMEM, "out of memory reading regions");
    r->n++;
    return FC_OK;
}

/* Opens the regions' layer: the one named, else the first polygon layer
 * rather than a point layer. */
static int open_regions(fc_context *ctx, const char *path, const char *layer_name, fc_input *in)
{
    fc_options o = {.layer = (char *)layer_name};
    int status = fc_input_open(ctx, path, &o, in);
    if (status != FC_OK || layer_name)
        return status;
    for (int i = 0; i < GDALDatasetGetLayerCount(in->ds); i++)
        if (is_polygon_type(OGR_L_GetGeomType(GDALDatasetGetLayer(in->ds, i)))) {
            in->layer = GDALDatasetGetLayer(in->ds, i);
            in->layer_name = OGR_L_GetName(in->layer);
            break;
        }
    return FC_OK;
}

/* The transformation of the regions into the firms' CRS (NULL when they
 * are in it already). */
static int regions_transform(fc_context *ctx, const fc_input *in, OGRSpatialReferenceH target,
                             OGRCoordinateTransformationH *ct)
{
    OGRSpatialReferenceH src = OGR_L_GetSpatialRef(in->layer);
    *ct = NULL;
    if (!target)
        return FC_OK;
    if (!src)
        return fc_error(ctx, FC_ECRS, "%s, layer %s: the regions have no CRS", in->path,
                        in->layer_name);
    OGRSpatialReferenceH s = fc_srs_clone_gis_order(src);
    bool same = OSRIsSame(s, target);
    if (!same)
        *ct = OCTNewCoordinateTransformation(s, target);
    OSRRelease(s);
    if (!same && !*ct)
        return fc_error_gdal(ctx, FC_ECRS, "%s: cannot transform the regions to the firms' CRS",
                             in->path);
    return FC_OK;
}

/* A region's polygon as GEOS holds it, in the firms' CRS, valid: repaired
 * with MakeValid where it is not, and without rings that have no area.
 * *g stays NULL when GEOS cannot read it. */
static int region_geometry(fc_context *ctx, fc_regions *r, const fc_input *in, OGRGeometryH og,
                           OGRCoordinateTransformationH ct, const char *name, GIntBig fid,
                           GEOSGeometry **g)
{
    *g = NULL;
    og = OGR_G_ForceToMultiPolygon(OGR_G_Clone(og));
    if (ct && OGR_G_Transform(og, ct) != OGRERR_NONE) {
        OGR_G_DestroyGeometry(og);
        return fc_error_gdal(ctx, FC_ECRS, "%s: region '%s' cannot be transformed", in->path, name);
    }
    size_t size = (size_t)OGR_G_WkbSize(og);
    unsigned char *wkb = malloc(size);
    if (wkb && OGR_G_ExportToIsoWkb(og, wkbNDR, wkb) == OGRERR_NONE)
        *g = GEOSGeomFromWKB_buf_r(r->h, wkb, size);
    free(wkb);
    OGR_G_DestroyGeometry(og);
    if (*g && !GEOSisValid_r(r->h, *g)) {
        char *why = GEOSisValidReason_r(r->h, *g);
        fc_message(ctx, FC_MSG_INFO, "%s: region '%s' (feature " CPL_FRMT_GIB
                   ") is not a valid polygon (%s); repaired with GEOS MakeValid",
                   in->path, name, fid, why ? why : "?");
        GEOSFree_r(r->h, why);
        *g = repair(r->h, *g);
        r->n_repaired++;
    }
    int dropped = *g ? drop_degenerate_rings(r->h, g) : 0;
    if (dropped > 0) {
        fc_message(ctx, FC_MSG_INFO, "%s: region '%s' (feature " CPL_FRMT_GIB
                   ") has %d ring%s without area (collapsed to a line or a point); removed",
                   in->path, name, fid, dropped, dropped == 1 ? "" : "s");
        r->n_repaired++;
    }
    return FC_OK;
}

/* One feature of the regions' layer: a region, left out (no geometry) or
 * refused (not a polygon, unreadable). */
static int read_region(fc_context *ctx, fc_regions *r, const fc_input *in, OGRFeatureH f,
                       OGRCoordinateTransformationH ct)
{
    GIntBig fid = OGR_F_GetFID(f);
    const char *name = OGR_F_IsFieldSetAndNotNull(f, r->field_index)
                           ? OGR_F_GetFieldAsString(f, r->field_index)
                           : "";
    OGRGeometryH og = OGR_F_GetGeometryRef(f);
    if (!og || OGR_G_IsEmpty(og)) {
        fc_message(ctx, FC_MSG_WARNING, "%s: region '%s' (feature " CPL_FRMT_GIB
                   ") has no geometry and is left out", in->path, name, fid);
        return FC_OK;
    }
    if (!is_polygon_type(OGR_G_GetGeometryType(og)))
        return fc_error(ctx, FC_EDATA, "%s, layer %s, feature " CPL_FRMT_GIB
                        ": region '%s' is a %s, not a polygon",
                        in->path, in->layer_name, fid, name, OGR_G_GetGeometryName(og));
    GEOSGeometry *g;
    int status = region_geometry(ctx, r, in, og, ct, name, fid, &g);
    if (status != FC_OK)
        return status;
    if (!g)
        return fc_error(ctx, FC_EGEOM, "%s: region '%s' (feature " CPL_FRMT_GIB
                        ") cannot be read: %s", in->path, name, fid, r->geos_msg);
    return add_region(ctx, r, g, name);
}

/* Prepared polygons and an STR tree, for point-in-polygon. */
static int index_regions(fc_context *ctx, fc_regions *r)
{
    r->prepared = calloc(r->n, sizeof *r->prepared);
    r->tree = GEOSSTRtree_create_r(r->h, 10);
    if (!r->prepared || !r->tree)
        return fc_error(ctx, FC_ENOMEM, "out of memory indexing regions");
    for (size_t i = 0; i < r->n; i++) {
        r->prepared[i] = GEOSPrepare_r(r->h, r->geoms[i]);
        GEOSSTRtree_insert_r(r->h, r->tree, r->geoms[i], (void *)(uintptr_t)(i + 1));
    }
    return FC_OK;
}

int fc_regions_read(fc_context *ctx, const char *path, const char *layer_name,
                    const char *field, OGRSpatialReferenceH target, fc_regions *r)
{
    memset(r, 0, sizeof *r);
    r->h = GEOS_init_r();
    r->geos_msg = calloc(1, FC_GEOS_MESSAGE_SIZE);
    if (!r->h || !r->geos_msg) {
        fc_regions_free(r);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    GEOSContext_setErrorMessageHandler_r(r->h, fc_geos_message, r->geos_msg);
    fc_input in;
    int status = open_regions(ctx, path, layer_name, &in);
    if (status != FC_OK) {
        fc_regions_free(r);
        return status;
    }
    OGRCoordinateTransformationH ct = NULL;
    status = choose_field(ctx, path, in.layer, field, r);
    if (status == FC_OK)
        status = regions_transform(ctx, &in, target, &ct);
    OGR_L_ResetReading(in.layer);
    OGRFeatureH f;
    while (status == FC_OK && (f = OGR_L_GetNextFeature(in.layer))) {
        status = read_region(ctx, r, &in, f, ct);
        OGR_F_Destroy(f);
    }
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (status == FC_OK && r->n == 0)
        status = fc_error(ctx, FC_EDATA, "%s, layer %s: no region polygons", path, in.layer_name);
    if (status == FC_OK)
        status = index_regions(ctx, r);
    if (status == FC_OK && !(r->path = fc_strdup(path)))
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    fc_input_close(&in);
    if (status != FC_OK)
        fc_regions_free(r);
    return status;
}

typedef struct candidates {
    size_t n, cap;
    size_t *items;
} candidates;

static void collect(void *item, void *userdata)
{
    candidates *c = userdata;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        size_t *items = realloc(c->items, cap * sizeof *items);
        if (!items)
            return;
        c->items = items;
        c->cap = cap;
    }
    c->items[c->n++] = (uintptr_t)item - 1;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

int fc_regions_assign(fc_context *ctx, const fc_regions *r, size_t n, const double *x,
                      const double *y, int32_t *region_of)
{
    candidates c = {0};
    for (size_t i = 0; i < n; i++) {
        GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(r->h, x[i], y[i]);
        if (!pt) {
            free(c.items);
            return fc_error(ctx, FC_ENOMEM, "out of memory assigning regions");
        }
        c.n = 0;
        GEOSSTRtree_query_r(r->h, r->tree, pt, collect, &c);
        /* A point on a shared border lies in both: the region read first
         * takes it, so the answer never depends on the tree's order. */
        qsort(c.items, c.n, sizeof *c.items, cmp_size);
        region_of[i] = -1;
        for (size_t k = 0; k < c.n; k++)
            if (GEOSPreparedIntersects_r(r->h, r->prepared[c.items[k]], pt) == 1) {
                region_of[i] = (int32_t)c.items[k];
                break;
            }
        GEOSGeom_destroy_r(r->h, pt);
        if ((i & 0xFFFF) == 0 && fc_progress(ctx, (double)i / (double)n, "regions") != FC_OK) {
            free(c.items);
            return FC_ECANCEL;
        }
    }
    free(c.items);
    return FC_OK;
}

int fc_regions_wkb(fc_context *ctx, const fc_regions *r, size_t i, unsigned char **wkb,
                   size_t *size)
{
    GEOSWKBWriter *w = GEOSWKBWriter_create_r(r->h);
    unsigned char *buf = GEOSWKBWriter_write_r(r->h, w, r->geoms[i], size);
    GEOSWKBWriter_destroy_r(r->h, w);
    if (!buf)
        return fc_error(ctx, FC_EGEOM, "cannot encode region '%s'", r->names[i]);
    *wkb = malloc(*size);
    if (*wkb)
        memcpy(*wkb, buf, *size);
    GEOSFree_r(r->h, buf);
    return *wkb ? FC_OK : fc_error(ctx, FC_ENOMEM, "out of memory");
}

void fc_regions_free(fc_regions *r)
{
    if (r->h) {
        if (r->tree)
            GEOSSTRtree_destroy_r(r->h, r->tree);
        for (size_t i = 0; i < r->n; i++) {
            if (r->prepared && r->prepared[i])
                GEOSPreparedGeom_destroy_r(r->h, r->prepared[i]);
            GEOSGeom_destroy_r(r->h, r->geoms[i]);
        }
        GEOS_finish_r(r->h);
    }
    free(r->geos_msg);
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    free(r->geoms);
    free(r->prepared);
    free(r->field);
    free(r->path);
    memset(r, 0, sizeof *r);
}
