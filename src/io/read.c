/* SPDX-License-Identifier: MIT */
/* Opening the inputs (firms, and tables of codes) with GDAL/OGR, and freeing
 * the firms read; read_firms.c reads them into flat columns. */
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

/* CSV files: GDAL builds points from these column names. */
static const char *const csv_open_options[] = {
    "X_POSSIBLE_NAMES=lon,long,longitude,x,easting,lng",
    "Y_POSSIBLE_NAMES=lat,latitude,y,northing",
    "KEEP_GEOM_COLUMNS=YES",
    "AUTODETECT_TYPE=YES",
    NULL};

/* The same, keeping the text of every column whose type GDAL guessed, as
 * NAME_original: sector codes are identifiers, and 01110 must not become
 * 1110. The writer leaves those columns out. */
static const char *const csv_text_open_options[] = {
    "X_POSSIBLE_NAMES=lon,long,longitude,x,easting,lng",
    "Y_POSSIBLE_NAMES=lat,latitude,y,northing",
    "KEEP_GEOM_COLUMNS=YES",
    "AUTODETECT_TYPE=YES",
    "KEEP_SOURCE_COLUMNS=YES",
    NULL};

static bool is_point_type(OGRwkbGeometryType t)
{
    t = wkbFlatten(t);
    return t == wkbPoint || t == wkbMultiPoint;
}

/* Whether path's sidecar with extension ext (or its upper case) exists. */
static bool sidecar_exists(const char *path, const char *ext)
{
    VSIStatBufL st;
    char upper[8];
    snprintf(upper, sizeof upper, "%s", ext);
    for (char *c = upper; *c; c++)
        *c = (char)(*c - 'a' + 'A');
    return VSIStatL(CPLResetExtension(path, ext), &st) == 0 ||
           VSIStatL(CPLResetExtension(path, upper), &st) == 0;
}

/* How a CSV is opened: points from lon/lat columns with types guessed; the
 * same keeping each column's text too (the sector field's); or a table of
 * codes, every column text. */
enum open_mode { OPEN_PLAIN, OPEN_SECTOR_TEXT, OPEN_CODES_TABLE };

static GDALDatasetH open_dataset(fc_context *ctx, const char *path, const char *encoding,
                                 enum open_mode mode)
{
    CPLErrorReset();
    GDALDriverH drv = GDALIdentifyDriverEx(path, GDAL_OF_VECTOR, NULL, NULL);
    if (!drv) {
        VSIStatBufL st;
        if (VSIStatL(path, &st) != 0)
            fc_error(ctx, FC_EIO, "%s: no such file or directory", path);
        else
            fc_error(ctx, FC_EIO, "%s: not a vector dataset that GDAL can read", path);
        return NULL;
    }
    if (strcmp(GDALGetDriverShortName(drv), "ESRI Shapefile") == 0 &&
        strcasecmp(CPLGetExtension(path), "shp") == 0) {
        if (!sidecar_exists(path, "shx")) {
            fc_error(ctx, FC_EIO, "%s: its .shx index is missing (GDAL can rebuild it: "
                                  "--config SHAPE_RESTORE_SHX YES)", path);
            return NULL;
        }
        if (!sidecar_exists(path, "dbf")) {
            fc_error(ctx, FC_EIO, "%s: its .dbf, which holds the attributes, is missing", path);
            return NULL;
        }
    }
    const char *const *open_options = NULL;
    if (strcmp(GDALGetDriverShortName(drv), "CSV") == 0)
        open_options = mode == OPEN_CODES_TABLE ? NULL
                       : mode == OPEN_SECTOR_TEXT ? csv_text_open_options
                                                  : csv_open_options;
    /* --encoding: the code page of a Shapefile's .dbf that says none, or a
     * wrong one (CP1251, CP866, RK1048...) */
    char encoding_option[80];
    const char *shp_options[] = {encoding_option, NULL};
    if (encoding) {
        if (strcmp(GDALGetDriverShortName(drv), "ESRI Shapefile") != 0) {
            fc_error(ctx, FC_EINVAL, "%s: --encoding applies to Shapefiles, not to %s files", path,
                     GDALGetDriverShortName(drv));
            return NULL;
        }
        snprintf(encoding_option, sizeof encoding_option, "ENCODING=%s", encoding);
        open_options = shp_options;
    }
    const char *const drivers[] = {GDALGetDriverShortName(drv), NULL};
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR,
                                 drivers, open_options, NULL);
    if (!ds)
        fc_error_gdal(ctx, FC_EIO, "%s: cannot open", path);
    return ds;
}

GDALDatasetH fc_dataset_open(fc_context *ctx, const char *path, const char *encoding)
{
    return open_dataset(ctx, path, encoding, OPEN_PLAIN);
}

GDALDatasetH fc_table_open(fc_context *ctx, const char *path)
{
    return open_dataset(ctx, path, NULL, OPEN_CODES_TABLE);
}

int fc_table_text_field(fc_context *ctx, const char *path, OGRLayerH l, const char *name)
{
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    int i = OGR_FD_GetFieldIndex(defn, name);
    if (i < 0)
        return i;
    OGRFieldType t = OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, i));
    if (t != OFTString) /* XLSX, ODS and GeoPackage columns of numbers */
        return fc_error(ctx, FC_EDATA,
                        "%s, layer %s: field '%s' holds %s, which lose leading zeros (06 would "
                        "read as 6, and as a prefix catch 60 to 69): store the codes as text",
                        path, OGR_L_GetName(l), name,
                        t == OFTInteger || t == OFTInteger64 ? "whole numbers" : "numbers"),
               -2;
    return i;
}

int fc_input_open(fc_context *ctx, const char *path, const fc_options *opts, fc_input *in)
{
    memset(in, 0, sizeof *in);
    in->path = path;
    in->sector_source = -1;
    if (!(in->ds = open_dataset(ctx, path, opts->encoding,
                                opts->sector_field ? OPEN_SECTOR_TEXT : OPEN_PLAIN)))
        return fc_errcode(ctx);
    const bool is_csv =
        strcmp(GDALGetDriverShortName(GDALGetDatasetDriver(in->ds)), "CSV") == 0;
    in->csv_source_columns = is_csv && opts->sector_field;

    int n_layers = GDALDatasetGetLayerCount(in->ds);
    if (opts->layer) {
        in->layer = GDALDatasetGetLayerByName(in->ds, opts->layer);
        if (!in->layer) {
            char names[512] = "";
            for (int i = 0; i < n_layers && strlen(names) < 400; i++) {
                if (i)
                    strcat(names, ", ");
                strcat(names, OGR_L_GetName(GDALDatasetGetLayer(in->ds, i)));
            }
            fc_error(ctx, FC_EDATA, "%s: no layer named '%s' (layers: %s)", path, opts->layer, names);
            fc_input_close(in);
            return FC_EDATA;
        }
    } else if (n_layers == 1) {
        in->layer = GDALDatasetGetLayer(in->ds, 0);
    } else {
        for (int i = 0; i < n_layers && !in->layer; i++) {
            OGRLayerH l = GDALDatasetGetLayer(in->ds, i);
            if (is_point_type(OGR_L_GetGeomType(l)))
                in->layer = l;
        }
    }
    if (!in->layer) {
        fc_error(ctx, FC_EDATA, "%s: %s", path,
                 n_layers == 0 ? "has no layers" : "has no point layer; name one with --layer");
        fc_input_close(in);
        return FC_EDATA;
    }
    in->layer_name = OGR_L_GetName(in->layer);
    if (OGR_L_GetGeomType(in->layer) == wkbNone) {
        fc_error(ctx, FC_EDATA, "%s, layer %s: has no geometry%s", path, in->layer_name,
                 is_csv ? " (a CSV needs columns named lon/lat, longitude/latitude or x/y)" : "");
        fc_input_close(in);
        return FC_EDATA;
    }
    if (opts->where) {
        /* Some drivers (GeoPackage) accept any filter and fail only when
         * reading: read one feature to find out now. */
        CPLErrorReset();
        bool bad = OGR_L_SetAttributeFilter(in->layer, opts->where) != OGRERR_NONE;
        if (!bad) {
            OGRFeatureH first = OGR_L_GetNextFeature(in->layer);
            if (first)
                OGR_F_Destroy(first);
            bad = CPLGetLastErrorType() == CE_Failure;
            OGR_L_ResetReading(in->layer);
        }
        if (bad) {
            fc_error_gdal(ctx, FC_EINVAL, "%s, layer %s: bad --where '%s'", path, in->layer_name,
                          opts->where);
            fc_input_close(in);
            return FC_EINVAL;
        }
    }
    return FC_OK;
}

void fc_input_close(fc_input *in)
{
    if (in->ds)
        GDALClose(in->ds);
    in->ds = NULL;
    in->layer = NULL;
}

void fc_truncate_code(char *code, int digits)
{
    size_t len = strlen(code), start = 0;
    while (len > 0 && isspace((unsigned char)code[len - 1]))
        len--;
    while (start < len && isspace((unsigned char)code[start]))
        start++;
    memmove(code, code + start, len - start);
    code[len - start] = '\0';
    if (digits <= 0)
        return;
    if (strpbrk(code, "0123456789")) {
        int kept = 0;
        for (char *p = code; *p && kept < digits; p++)
            if (*p >= '0' && *p <= '9')
                code[kept++] = *p;
        code[kept] = '\0';
        return;
    }
    int seen = 0;
    for (char *p = code; *p; p++) {
        /* Count code points: UTF-8 continuation bytes are 10xxxxxx. */
        if (((unsigned char)*p & 0xC0) != 0x80 && seen++ == digits) {
            *p = '\0';
            return;
        }
    }
}

void fc_sector_names_free(char **names, uint32_t n)
{
    for (uint32_t s = 0; names && s < n; s++)
        free(names[s]);
    free(names);
}

void fc_firms_free(fc_firms *f)
{
    free(f->x);
    free(f->y);
    free(f->sector);
    free(f->weight);
    free(f->feature_of);
    for (uint32_t i = 0; f->sector_codes && i < f->n_sectors; i++)
        free(f->sector_codes[i]);
    free(f->sector_codes);
    fc_sector_names_free(f->sector_names, f->n_sectors);
    if (f->srs)
        OSRRelease(f->srs);
    memset(f, 0, sizeof *f);
}
