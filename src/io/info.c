/* SPDX-License-Identifier: MIT */
/* What the tool sees in a file: layers, geometry, features, CRS, fields with
 * sample values, and which fields look like sector codes, weights or
 * region names (as text for people, or JSON for scripts). */
#define _GNU_SOURCE /* strcasestr, open_memstream */
#include "io/io.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLES 3
#define SCAN 200 /* features read for samples and guesses */

static bool name_has(const char *name, const char *const *words)
{
    for (; *words; words++)
        if (strcasestr(name, *words))
            return true;
    return false;
}

static const char *const sector_words[] = {"oked", "okved", "nace", "naics", "isic", "sic",
                                           "sector", "activity", "industry", NULL};
static const char *const weight_words[] = {"employ", "staff", "worker", "headcount", "jobs",
                                           "weight", "personnel", NULL};
static const char *const region_words[] = {"region", "oblast", "rayon", "district", "adm",
                                           "province", "county", "city", "kato", NULL};

/* A code of 2 to 7 digits, perhaps with dots: 47, 47.11, 47111. */
static bool looks_like_code(const char *v)
{
    size_t digits = 0, len = strlen(v);
    for (const char *c = v; *c; c++) {
        if (isdigit((unsigned char)*c))
            digits++;
        else if (*c != '.')
            return false;
    }
    return digits >= 2 && digits <= 7 && len <= 9;
}

typedef struct field_info {
    const char *name;
    OGRFieldType type;
    char samples[SAMPLES][64];
    int n_samples;
    bool all_codes, all_non_negative, any_value;
    const char *role; /* "sector", "weight", "region" or NULL */
} field_info;


/* What the first SCAN features hold in each field: samples, and whether
 * every value looks like a code or is non-negative. */
static void scan_values(OGRLayerH l, field_info *fi, int n_fields)
{
    OGRFeatureH f;
    OGR_L_ResetReading(l);
    for (int k = 0; k < SCAN && (f = OGR_L_GetNextFeature(l)); k++) {
        for (int i = 0; i < n_fields; i++) {
            if (!OGR_F_IsFieldSetAndNotNull(f, i))
                continue;
            const char *v = OGR_F_GetFieldAsString(f, i);
            fi[i].any_value = true;
            fi[i].all_codes &= looks_like_code(v);
            if (fi[i].type == OFTInteger || fi[i].type == OFTInteger64 || fi[i].type == OFTReal)
                fi[i].all_non_negative &= OGR_F_GetFieldAsDouble(f, i) >= 0;
            bool seen = false;
            for (int s = 0; s < fi[i].n_samples && !seen; s++)
                seen = strncmp(fi[i].samples[s], v, sizeof fi[i].samples[s] - 1) == 0;
            if (!seen && fi[i].n_samples < SAMPLES) {
                /* one line per field: a sample's line breaks (a QML style,
                 * say) shown as spaces */
                char *sample = fi[i].samples[fi[i].n_samples++];
                snprintf(sample, sizeof fi[i].samples[0], "%s", v);
                for (char *c = sample; *c; c++)
                    if (*c == '\n' || *c == '\r' || *c == '\t')
                        *c = ' ';
            }
        }
        OGR_F_Destroy(f);
    }
    OGR_L_ResetReading(l);
}

/* Each field's likely role: in a polygon layer the field --regions would
 * pick; else a sector code, a weight or a place name, by name and values. */
static void guess_roles(OGRLayerH l, field_info *fi, int n_fields, bool polygons)
{
    int region_field = polygons ? fc_guess_region_field(l) : -1;
    for (int i = 0; i < n_fields; i++) {
        OGRFieldType t = fi[i].type;
        bool numeric = t == OFTInteger || t == OFTInteger64 || t == OFTReal;
        bool text_or_int = t == OFTString || t == OFTInteger || t == OFTInteger64;
        if (polygons)
            fi[i].role = i == region_field ? "region" : NULL;
        else if (text_or_int && fi[i].any_value &&
                 (name_has(fi[i].name, sector_words) || (t == OFTString && fi[i].all_codes)))
            fi[i].role = "sector";
        else if (numeric && fi[i].any_value && fi[i].all_non_negative &&
                 name_has(fi[i].name, weight_words))
            fi[i].role = "weight";
        else if (t == OFTString && fi[i].any_value && name_has(fi[i].name, region_words))
            fi[i].role = "region";
    }
}

/* "EPSG:4326 (WGS 84)", a CRS's name, or "none". */
static void describe_crs(OGRSpatialReferenceH srs, char *crs, size_t size)
{
    const char *auth = srs ? OSRGetAuthorityName(srs, NULL) : NULL;
    const char *code = srs ? OSRGetAuthorityCode(srs, NULL) : NULL;
    if (!srs)
        snprintf(crs, size, "none");
    else if (auth && code)
        snprintf(crs, size, "%s:%s (%s)", auth, code, OSRGetName(srs));
    else
        snprintf(crs, size, "%s", OSRGetName(srs) ? OSRGetName(srs) : "unnamed");
}

static void json_or_null(FILE *out, const char *s)
{
    if (s)
        fc_json_string(out, s);
    else
        fputs("null", out);
}

static void print_layer_json(FILE *out, OGRLayerH l, const char *geom, GIntBig count,
                             const char *crs, const field_info *fi, int n_fields, bool first)
{
    fprintf(out, "%s\n    {\"name\": ", first ? "" : ",");
    fc_json_string(out, OGR_L_GetName(l));
    fprintf(out, ", \"geometry\": ");
    fc_json_string(out, geom);
    fprintf(out, ", \"features\": " CPL_FRMT_GIB ", \"crs\": ", count);
    json_or_null(out, OGR_L_GetSpatialRef(l) ? crs : NULL);
    fprintf(out, ", \"fields\": [");
    for (int i = 0; i < n_fields; i++) {
        fprintf(out, "%s\n      {\"name\": ", i ? "," : "");
        fc_json_string(out, fi[i].name);
        fprintf(out, ", \"type\": ");
        fc_json_string(out, OGR_GetFieldTypeName(fi[i].type));
        fprintf(out, ", \"samples\": [");
        for (int s = 0; s < fi[i].n_samples; s++) {
            fprintf(out, "%s", s ? ", " : "");
            fc_json_string(out, fi[i].samples[s]);
        }
        fprintf(out, "], \"looks_like\": ");
        json_or_null(out, fi[i].role);
        fprintf(out, "}");
    }
    fprintf(out, "\n    ]}");
}

static void print_layer_text(FILE *out, const char *path, OGRLayerH l, const char *geom,
                             GIntBig count, const char *crs, const field_info *fi, int n_fields,
                             bool polygons)
{
    fprintf(out, "layer %s: %s, " CPL_FRMT_GIB " features, CRS %s\n", OGR_L_GetName(l), geom,
            count, crs);
    for (int i = 0; i < n_fields; i++) {
        fprintf(out, "  %-16s %-10s", fi[i].name, OGR_GetFieldTypeName(fi[i].type));
        for (int s = 0; s < fi[i].n_samples; s++)
            fprintf(out, "%s%s", s ? ", " : " ", fi[i].samples[s]);
        if (fi[i].role && strcmp(fi[i].role, "region") == 0 && !polygons)
            fprintf(out, "   <- looks like a place name (regions come from polygons: "
                         "--regions FILE)");
        else if (fi[i].role && strcmp(fi[i].role, "region") == 0)
            fprintf(out, "   <- looks like a region name (--regions %s --region-field %s)",
                    path, fi[i].name);
        else if (fi[i].role)
            fprintf(out, "   <- looks like %s (--%s-field %s)",
                    strcmp(fi[i].role, "sector") == 0 ? "a sector code" : "a weight",
                    fi[i].role, fi[i].name);
        fputc('\n', out);
    }
}

static void describe_layer(FILE *out, const char *path, OGRLayerH l, bool json, bool first)
{
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    int n_fields = OGR_FD_GetFieldCount(defn);
    field_info *fi = calloc((size_t)(n_fields ? n_fields : 1), sizeof *fi);
    if (!fi)
        return;
    for (int i = 0; i < n_fields; i++) {
        OGRFieldDefnH fd = OGR_FD_GetFieldDefn(defn, i);
        fi[i].name = OGR_Fld_GetNameRef(fd);
        fi[i].type = OGR_Fld_GetType(fd);
        fi[i].all_codes = fi[i].all_non_negative = true;
    }
    scan_values(l, fi, n_fields);
    OGRwkbGeometryType gt = wkbFlatten(OGR_L_GetGeomType(l));
    bool polygons = gt == wkbPolygon || gt == wkbMultiPolygon;
    guess_roles(l, fi, n_fields, polygons);
    char crs[256];
    describe_crs(OGR_L_GetSpatialRef(l), crs, sizeof crs);
    const char *geom = OGRGeometryTypeToName(OGR_L_GetGeomType(l));
    GIntBig count = OGR_L_GetFeatureCount(l, TRUE);
    if (json)
        print_layer_json(out, l, geom, count, crs, fi, n_fields, first);
    else
        print_layer_text(out, path, l, geom, count, crs, fi, n_fields, polygons);
    free(fi);
}

int fc_info(fc_context *ctx, const char *path, int json, char **text)
{
    *text = NULL;
    GDALDatasetH ds = fc_dataset_open(ctx, path, NULL);
    if (!ds)
        return fc_errcode(ctx);
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out) {
        GDALClose(ds);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    const char *driver = GDALGetDriverShortName(GDALGetDatasetDriver(ds));
    int n = GDALDatasetGetLayerCount(ds);
    if (json) {
        fprintf(out, "{\"file\": ");
        fc_json_string(out, path);
        fprintf(out, ", \"driver\": ");
        fc_json_string(out, driver);
        fprintf(out, ", \"layers\": [");
    } else {
        fprintf(out, "%s: %s, %d layer%s\n", path, driver, n, n == 1 ? "" : "s");
    }
    for (int i = 0; i < n; i++)
        describe_layer(out, path, GDALDatasetGetLayer(ds, i), json != 0, i == 0);
    if (json)
        fprintf(out, "\n]}\n");
    fclose(out);
    GDALClose(ds);
    *text = buf;
    return FC_OK;
}

void fc_free(void *p) { free(p); }
