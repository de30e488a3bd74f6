/* SPDX-License-Identifier: MIT */
/* Writing the clusters and regions layers, and what every layer writer
 * shares (creating layers and fields, transactions, transformations). The
 * firms layer is written by write_firms.c, into an output that output.c
 * makes and moves into place. */
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>

#define TRANSACTION_SIZE 20000

/* ---- layers ------------------------------------------------------------- */

/* index_later: the caller makes the GeoPackage spatial index (fc_rtree). */
OGRLayerH fc_layer_create(fc_context *ctx, GDALDatasetH ds, const char *name,
                          OGRSpatialReferenceH srs, OGRwkbGeometryType type, bool index_later)
{
    char **lco = NULL;
    const char *drv = GDALGetDriverShortName(GDALGetDatasetDriver(ds));
    if (strcmp(drv, "ESRI Shapefile") == 0)
        lco = CSLSetNameValue(lco, "ENCODING", "UTF-8"); /* and a .cpg saying so */
    else if (strcmp(drv, "CSV") == 0) {
        lco = CSLSetNameValue(lco, "GEOMETRY", "AS_WKT"); /* for spreadsheets */
        /* Each column's type in a .csvt beside it (GDAL and QGIS read codes
         * as text from it, so "01" stays 01), and only what must be quoted
         * quoted: GDAL 3.6 quotes whole numbers otherwise (OSGeo/gdal#8813) */
        lco = CSLSetNameValue(lco, "CREATE_CSVT", "YES");
        lco = CSLSetNameValue(lco, "STRING_QUOTING", "IF_NEEDED");
    }
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

/* ---- text that fits the format ------------------------------------------ */

/* A DBF text field (Shapefile) holds 254 bytes. GDAL cuts longer text
 * wherever the byte falls, inside a Cyrillic letter too, and prints each
 * whole value in a warning; instead each value is cut at the last whole
 * UTF-8 character that fits, and one warning a field says how many were. */
#define DBF_TEXT_BYTES 254

void fc_text_fit_init(fc_text_fit *t, GDALDatasetH ds, OGRLayerH l)
{
    *t = (fc_text_fit){0};
    const char *drv = GDALGetDriverShortName(GDALGetDatasetDriver(ds));
    if (strcmp(drv, "ESRI Shapefile") != 0)
        return;
    t->layer = l;
    t->n_fields = OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(l));
    t->cut = calloc((size_t)t->n_fields + 1, sizeof *t->cut);
}

void fc_text_fit_feature(fc_text_fit *t, OGRFeatureH f)
{
    for (int i = 0; t->cut && i < t->n_fields; i++) {
        if (OGR_Fld_GetType(OGR_F_GetFieldDefnRef(f, i)) != OFTString ||
            !OGR_F_IsFieldSetAndNotNull(f, i))
            continue;
        const char *v = OGR_F_GetFieldAsString(f, i);
        size_t len = strlen(v);
        if (len <= DBF_TEXT_BYTES)
            continue;
        len = DBF_TEXT_BYTES;
        while (len > 0 && ((unsigned char)v[len] & 0xC0) == 0x80) /* inside a character */
            len--;
        char cut[DBF_TEXT_BYTES + 1];
        memcpy(cut, v, len);
        cut[len] = '\0';
        OGR_F_SetFieldString(f, i, cut);
        t->cut[i]++;
    }
}

void fc_text_fit_end(fc_context *ctx, fc_text_fit *t)
{
    OGRFeatureDefnH defn = t->cut ? OGR_L_GetLayerDefn(t->layer) : NULL;
    for (int i = 0; t->cut && i < t->n_fields; i++)
        if (t->cut[i])
            fc_message(ctx, FC_MSG_WARNING,
                       "layer %s, field %s: %zu value%s longer than the %d bytes a Shapefile "
                       "field holds, cut after the last whole character that fits (a GeoPackage "
                       "keeps them whole)",
                       OGR_L_GetName(t->layer), OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)),
                       t->cut[i], t->cut[i] == 1 ? " was" : "s were", DBF_TEXT_BYTES);
    free(t->cut);
    t->cut = NULL;
}

int fc_codes_fit(fc_context *ctx, const char *driver, char *const *codes, size_t n)
{
    if (!driver || strcmp(driver, "ESRI Shapefile") != 0)
        return FC_OK;
    for (size_t s = 0; s < n; s++)
        if (strlen(codes[s]) > DBF_TEXT_BYTES)
            return fc_error(ctx, FC_EDATA,
                            "sector code '%.40s...' is %zu bytes long; a Shapefile field holds "
                            "%d, and cut codes could merge two sectors: write a GeoPackage",
                            codes[s], strlen(codes[s]), DBF_TEXT_BYTES);
    return FC_OK;
}

/* Starts a new transaction every TRANSACTION_SIZE features; drivers without
 * transactions ignore it. */
int fc_batch_step(fc_context *ctx, GDALDatasetH ds, size_t written, bool *in_tx)
{
    if (written % TRANSACTION_SIZE != 0)
        return FC_OK;
    if (*in_tx && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        return fc_error_gdal(ctx, FC_EIO, "%s: cannot commit", GDALGetDescription(ds));
    *in_tx = GDALDatasetStartTransaction(ds, FALSE) == OGRERR_NONE;
    return FC_OK;
}

int fc_batch_end(fc_context *ctx, GDALDatasetH ds, bool in_tx)
{
    if (in_tx && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        return fc_error_gdal(ctx, FC_EIO, "%s: cannot commit", GDALGetDescription(ds));
    return FC_OK;
}

OGRCoordinateTransformationH fc_transform_or_null(OGRSpatialReferenceH from,
                                                  OGRSpatialReferenceH to, bool *failed)
{
    *failed = false;
    if (!from || !to || OSRIsSame(from, to))
        return NULL;
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(from, to);
    *failed = ct == NULL;
    return ct;
}

/* Moves polygons from one CRS to another. A cluster polygon across the
 * antimeridian (its longitudes in the output's geographic CRS spread over
 * more than 180 degrees, which no cluster does) is cut there: its
 * longitudes made contiguous (west of it + 360), the halves east and west
 * of 180 taken by GEOS intersections, the western one moved back by -360,
 * as ogr2ogr -wrapdateline means. In a projected output the halves are then
 * projected and joined where the projection joins them (not in Web
 * Mercator, whose edge is at 180; in PDC Mercator, centred on 150 E). */
typedef struct polygon_mover {
    OGRCoordinateTransformationH ct;
    OGRGeomTransformerH gt;
    /* cluster polygons: to the output's geographic CRS, and from it to a
     * projected output (NULL when the output is geographic) */
    OGRCoordinateTransformationH to_geog, from_geog;
} polygon_mover;

static int mover_init(fc_context *ctx, polygon_mover *m, OGRSpatialReferenceH from,
                      OGRSpatialReferenceH to, bool cut_antimeridian)
{
    bool failed, failed_geog = false;
    *m = (polygon_mover){0};
    m->ct = fc_transform_or_null(from, to, &failed);
    const char *const wrap[] = {"WRAPDATELINE=YES", NULL};
    if (m->ct)
        m->gt = OGR_GeomTransformer_Create(m->ct, OSRIsGeographic(to) ? (CSLConstList)wrap : NULL);
    OGRSpatialReferenceH geog = cut_antimeridian && m->ct ? OSRCloneGeogCS(to) : NULL;
    if (geog) {
        OSRSetAxisMappingStrategy(geog, OAMS_TRADITIONAL_GIS_ORDER);
        bool f1, f2 = false;
        m->to_geog = fc_transform_or_null(from, geog, &f1);
        if (OSRIsProjected(to))
            m->from_geog = fc_transform_or_null(geog, to, &f2);
        failed_geog = f1 || f2;
        OSRRelease(geog);
    }
    if (failed || (m->ct && !m->gt) || failed_geog)
        return fc_error_gdal(ctx, FC_ECRS, "cannot transform polygons to the output CRS");
    return FC_OK;
}

static void mover_free(polygon_mover *m)
{
    if (m->gt)
        OGR_GeomTransformer_Destroy(m->gt);
    if (m->ct)
        OCTDestroyCoordinateTransformation(m->ct);
    if (m->to_geog)
        OCTDestroyCoordinateTransformation(m->to_geog);
    if (m->from_geog)
        OCTDestroyCoordinateTransformation(m->from_geog);
}

/* In every ring of g, longitudes below `below` moved by `shift`. */
static void shift_longitudes(OGRGeometryH g, double below, double shift)
{
    int parts = OGR_G_GetGeometryCount(g);
    for (int k = 0; k < parts; k++)
        shift_longitudes(OGR_G_GetGeometryRef(g, k), below, shift);
    for (int i = 0; parts == 0 && i < OGR_G_GetPointCount(g); i++)
        if (OGR_G_GetX(g, i) < below)
            OGR_G_SetPoint_2D(g, i, OGR_G_GetX(g, i) + shift, OGR_G_GetY(g, i));
}

/* The part of g between longitudes west and east, moved by shift. */
static OGRGeometryH between(OGRGeometryH g, double west, double east, double shift)
{
    OGRGeometryH box = OGR_G_CreateGeometry(wkbPolygon), ring = OGR_G_CreateGeometry(wkbLinearRing);
    const double corner[5][2] = {{west, -90}, {east, -90}, {east, 90}, {west, 90}, {west, -90}};
    for (int k = 0; k < 5; k++)
        OGR_G_AddPoint_2D(ring, corner[k][0], corner[k][1]);
    OGR_G_AddGeometryDirectly(box, ring);
    OGRGeometryH part = OGR_G_Intersection(g, box);
    OGR_G_DestroyGeometry(box);
    if (part && shift != 0)
        shift_longitudes(part, INFINITY, shift);
    return part;
}

/* g (in the mover's input CRS) cut at the antimeridian, in the output CRS;
 * NULL with *crosses false when it does not cross (or cannot be moved). */
static OGRGeometryH cut_at_the_antimeridian(const polygon_mover *m, OGRGeometryH g, bool *crosses)
{
    *crosses = false;
    OGRGeometryH ll = OGR_G_Clone(g);
    OGREnvelope e;
    if (!ll || OGR_G_Transform(ll, m->to_geog) != OGRERR_NONE ||
        (OGR_G_GetEnvelope(ll, &e), e.MaxX - e.MinX <= 180)) {
        if (ll)
            OGR_G_DestroyGeometry(ll);
        return NULL;
    }
    *crosses = true;
    shift_longitudes(ll, 0, 360); /* contiguous: west of 180 is now above it */
    OGRGeometryH east = between(ll, -180, 180, 0), west = between(ll, 180, 540, -360);
    OGR_G_DestroyGeometry(ll);
    OGRGeometryH cut = OGR_G_CreateGeometry(wkbMultiPolygon);
    OGRGeometryH halves[2] = {east, west};
    for (int h = 0; h < 2; h++) {
        OGRGeometryH half = halves[h] ? OGR_G_ForceToMultiPolygon(halves[h]) : NULL;
        for (int k = 0; half && k < OGR_G_GetGeometryCount(half); k++)
            OGR_G_AddGeometry(cut, OGR_G_GetGeometryRef(half, k));
        if (half)
            OGR_G_DestroyGeometry(half);
    }
    if (m->from_geog) { /* projected: the halves joined where they meet there */
        OGRGeometryH joined = OGR_G_Transform(cut, m->from_geog) == OGRERR_NONE
                                  ? OGR_G_UnionCascaded(cut)
                                  : NULL;
        OGR_G_DestroyGeometry(cut);
        cut = joined;
    }
    return cut;
}

/* A multipolygon in the output CRS from WKB, or NULL. */
static OGRGeometryH move_polygon(const polygon_mover *m, const unsigned char *wkb, size_t size)
{
    OGRGeometryH g = NULL;
    if (OGR_G_CreateFromWkbEx(wkb, NULL, &g, size) != OGRERR_NONE)
        return NULL;
    if (m->gt) {
        bool crosses = false;
        OGRGeometryH moved = m->to_geog ? cut_at_the_antimeridian(m, g, &crosses) : NULL;
        if (!crosses)
            moved = OGR_GeomTransformer_Transform(m->gt, g);
        OGR_G_DestroyGeometry(g);
        if (!(g = moved))
            return NULL;
    }
    return OGR_G_ForceToMultiPolygon(g);
}

int fc_write_clusters(fc_context *ctx, GDALDatasetH ds, const fc_findings *r)
{
    const fc_cluster_table *t = r->clusters;
    OGRLayerH l = fc_layer_create(ctx, ds, "clusters", r->out_srs, wkbMultiPolygon, false);
    if (!l)
        return FC_EIO;
    const fc_field *schema = fc_cluster_schema();
    int status = fc_schema_add_fields(ctx, l, schema, r);
    if (status != FC_OK)
        return status;
    polygon_mover mover;
    if ((status = mover_init(ctx, &mover, r->work->srs, r->out_srs, true)) != FC_OK)
        return status;
    fc_text_fit fit;
    fc_text_fit_init(&fit, ds, l);

    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    bool in_tx = false;
    for (size_t i = 0; i < t->n && status == FC_OK; i++) {
        if ((status = fc_batch_step(ctx, ds, i, &in_tx)) != FC_OK)
            break;
        OGRGeometryH g = move_polygon(&mover, t->wkb[i], t->wkb_size[i]);
        if (!g) {
            status = fc_error_gdal(ctx, FC_ECRS, "cannot transform cluster %zu to the output CRS",
                                   i + 1);
            break;
        }
        OGRFeatureH f = OGR_F_Create(defn);
        fc_schema_fill(f, schema, r, i);
        OGR_F_SetGeometryDirectly(f, g);
        fc_text_fit_feature(&fit, f);
        if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
            status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write cluster %zu",
                                   GDALGetDescription(ds), i + 1);
        OGR_F_Destroy(f);
    }
    if (status == FC_OK)
        status = fc_batch_end(ctx, ds, in_tx);
    fc_text_fit_end(ctx, &fit);
    mover_free(&mover);
    if (status == FC_OK)
        status = fc_schema_describe(ctx, ds, "clusters", schema, r);
    return status;
}

int fc_write_colocation(fc_context *ctx, GDALDatasetH ds, const fc_findings *r)
{
    const fc_colocation *c = r->colocation;
    char **codes = c->codes;
    OGRLayerH l = fc_layer_create(ctx, ds, "colocation", NULL, wkbNone, false);
    if (!l)
        return FC_EIO;
    const fc_field *schema = fc_colocation_schema();
    int status = fc_schema_add_fields(ctx, l, schema, r);
    if (status != FC_OK)
        return status;
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    const size_t S = c->n_sectors;
    bool in_tx = false;
    for (size_t a = 0; a < S && status == FC_OK; a++)
        for (size_t b = 0; b < S && status == FC_OK; b++) {
            if ((status = fc_batch_step(ctx, ds, a * S + b, &in_tx)) != FC_OK)
                break;
            OGRFeatureH f = OGR_F_Create(defn);
            fc_schema_fill(f, schema, r, a * S + b);
            if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
                status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write the co-location of %s and %s",
                                       GDALGetDescription(ds), codes[a], codes[b]);
            OGR_F_Destroy(f);
        }
    if (status == FC_OK)
        status = fc_batch_end(ctx, ds, in_tx);
    if (status == FC_OK)
        status = fc_schema_describe(ctx, ds, "colocation", schema, r);
    return status;
}

int fc_write_institutions(fc_context *ctx, GDALDatasetH ds, const fc_findings *r)
{
    const fc_institutions *in = r->institutions;
    OGRLayerH l = fc_layer_create(ctx, ds, "institutions", r->out_srs, wkbPoint, false);
    if (!l)
        return FC_EIO;
    const fc_field *schema = fc_institution_schema();
    int status = fc_schema_add_fields(ctx, l, schema, r);
    if (status != FC_OK)
        return status;
    bool failed;
    OGRCoordinateTransformationH ct = fc_transform_or_null(r->firms->srs, r->out_srs, &failed);
    if (failed)
        return fc_error_gdal(ctx, FC_ECRS, "cannot transform institutions to the output CRS");
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    fc_text_fit fit;
    fc_text_fit_init(&fit, ds, l);
    for (size_t i = 0; i < in->n && status == FC_OK; i++) {
        OGRFeatureH f = OGR_F_Create(defn);
        fc_schema_fill(f, schema, r, i);
        double x = in->x[i], y = in->y[i], z = 0;
        if (ct && !OCTTransform(ct, 1, &x, &y, &z))
            status = fc_error_gdal(ctx, FC_ECRS, "cannot transform institution %zu", i + 1);
        OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(pt, 0, x, y);
        OGR_F_SetGeometryDirectly(f, pt);
        fc_text_fit_feature(&fit, f);
        if (status == FC_OK && OGR_L_CreateFeature(l, f) != OGRERR_NONE)
            status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write institution %zu",
                                   GDALGetDescription(ds), i + 1);
        OGR_F_Destroy(f);
    }
    fc_text_fit_end(ctx, &fit);
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (status == FC_OK)
        status = fc_schema_describe(ctx, ds, "institutions", schema, r);
    return status;
}

int fc_write_regions(fc_context *ctx, GDALDatasetH ds, const fc_findings *r)
{
    const fc_region_stats *st = r->stats;
    OGRLayerH l = fc_layer_create(ctx, ds, "regions", r->out_srs, wkbMultiPolygon, false);
    if (!l)
        return FC_EIO;
    const fc_field *schema = fc_region_schema();
    int status = fc_schema_add_fields(ctx, l, schema, r);
    if (status != FC_OK)
        return status;
    polygon_mover mover;
    if ((status = mover_init(ctx, &mover, r->firms->srs, r->out_srs, false)) != FC_OK)
        return status;
    fc_text_fit fit;
    fc_text_fit_init(&fit, ds, l);
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    bool in_tx = false;
    size_t row = 0;
    for (size_t g = 0; g < st->n_regions && status == FC_OK; g++) {
        unsigned char *wkb = NULL;
        size_t size = 0;
        if ((status = fc_regions_wkb(ctx, r->regions, g, &wkb, &size)) != FC_OK)
            break;
        for (size_t s = 0; s < st->n_sectors && status == FC_OK; s++, row++) {
            if ((status = fc_batch_step(ctx, ds, row, &in_tx)) != FC_OK)
                break;
            OGRGeometryH geom = move_polygon(&mover, wkb, size);
            if (!geom) {
                status = fc_error_gdal(ctx, FC_ECRS, "cannot transform region '%s' to the output CRS",
                                       r->regions->names[g]);
                break;
            }
            OGRFeatureH f = OGR_F_Create(defn);
            fc_schema_fill(f, schema, r, g * st->n_sectors + s);
            OGR_F_SetGeometryDirectly(f, geom);
            fc_text_fit_feature(&fit, f);
            if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
                status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write region '%s'",
                                       GDALGetDescription(ds), r->regions->names[g]);
            OGR_F_Destroy(f);
        }
        free(wkb);
    }
    if (status == FC_OK)
        status = fc_batch_end(ctx, ds, in_tx);
    fc_text_fit_end(ctx, &fit);
    mover_free(&mover);
    if (status == FC_OK)
        status = fc_schema_describe(ctx, ds, "regions", schema, r);
    return status;
}
