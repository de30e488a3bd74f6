/* What the tests of the command-line tool share: running the built tool in a
 * fresh directory and reading its output back with OGR. Included by one
 * test program each (check_cli.c, check_codes.c): its functions are static. */
#ifndef CLI_SUPPORT_H
#define CLI_SUPPORT_H

#define _GNU_SOURCE
#include "firmclust.h"
#include "check_main.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

static const char *bin, *src;
static char dir[256], firms[512], out_text[16384], err_text[16384];

static __attribute__((unused)) void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs `firmclust ARGS` in the test directory; returns its exit code and
 * keeps its stdout and stderr in out_text and err_text. */
static __attribute__((unused)) int run(const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > stdout.txt 2> stderr.txt < /dev/null", dir,
             bin, args);
    int status = system(cmd);
    char path[512];
    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    slurp(path, out_text, sizeof out_text);
    unlink(path);
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    slurp(path, err_text, sizeof err_text);
    unlink(path);
    ck_assert_msg(WIFEXITED(status), "firmclust %s did not exit normally", args);
    return WEXITSTATUS(status);
}

static __attribute__((unused)) const char *in_dir(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

/* Names in the test directory, sorted, joined by spaces. */
static __attribute__((unused)) const char *listing(void)
{
    static char buf[4096];
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' || strlen(names[i]->d_name) > 2) {
            if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
                strncat(buf, names[i]->d_name, sizeof buf - strlen(buf) - 2);
                strcat(buf, " ");
            }
        }
        free(names[i]);
    }
    free(names);
    return buf;
}

static __attribute__((unused)) GDALDatasetH open_vector(const char *path)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    ck_assert_msg(ds != NULL, "cannot open %s", path);
    return ds;
}

static __attribute__((unused)) OGRLayerH layer(GDALDatasetH ds, const char *name)
{
    OGRLayerH l = name ? GDALDatasetGetLayerByName(ds, name) : GDALDatasetGetLayer(ds, 0);
    ck_assert_msg(l != NULL, "no layer %s", name ? name : "0");
    return l;
}

static __attribute__((unused)) GIntBig count(const char *path, const char *layer_name)
{
    GDALDatasetH ds = open_vector(path);
    GIntBig n = OGR_L_GetFeatureCount(layer(ds, layer_name), TRUE);
    GDALClose(ds);
    return n;
}

static __attribute__((unused)) int epsg_of(OGRLayerH l)
{
    OGRSpatialReferenceH s = OGR_L_GetSpatialRef(l);
    ck_assert_ptr_nonnull(s);
    OSRAutoIdentifyEPSG(s);
    const char *code = OSRGetAuthorityCode(s, NULL);
    return code ? atoi(code) : 0;
}

static __attribute__((unused)) bool same_bytes(const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static __attribute__((unused)) void setup(void)
{
    bin = getenv("FIRMCLUST_BIN");
    src = getenv("FIRMCLUST_SOURCE_DIR");
    ck_assert_msg(bin && src, "FIRMCLUST_BIN and FIRMCLUST_SOURCE_DIR must be set (ctest sets them)");
    snprintf(dir, sizeof dir, "/tmp/firmclust-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(firms, sizeof firms, "%s/fixtures/kz/firms.gpkg", src);
    GDALAllRegister();
}

static __attribute__((unused)) void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

#define MAIN_JOB                                                                            \
    "cluster '%s' %s --sector-field oked --sector-digits 2 --eps 2000 --min-pts 10 "         \
    "--permutations 0"

/* Writes a small GeoPackage of points; `wkt` and `oked` per feature, NULL
 * WKT for a feature without geometry. */
static __attribute__((unused)) void write_points(const char *path, int epsg, size_t n, const char *const *wkt,
                         const char *const *oked)
{
    bool shp = strcmp(CPLGetExtension(path), "shp") == 0;
    GDALDriverH drv = GDALGetDriverByName(shp ? "ESRI Shapefile" : "GPKG");
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(s, epsg);
    OGRLayerH l = GDALDatasetCreateLayer(ds, "points", s, shp ? wkbPoint : wkbUnknown, NULL);
    OSRRelease(s);
    OGRFieldDefnH fd = OGR_Fld_Create("oked", OFTString);
    OGR_L_CreateField(l, fd, TRUE);
    OGR_Fld_Destroy(fd);
    for (size_t i = 0; i < n; i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
        if (oked[i])
            OGR_F_SetFieldString(f, 0, oked[i]);
        if (wkt[i] && strcmp(wkt[i], "NAN") == 0) {
            OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
            OGR_G_SetPoint_2D(g, 0, NAN, NAN);
            OGR_F_SetGeometryDirectly(f, g);
        } else if (wkt[i]) {
            OGRGeometryH g = NULL;
            char *w = (char *)wkt[i];
            ck_assert_int_eq(OGR_G_CreateFromWkt(&w, NULL, &g), OGRERR_NONE);
            OGR_F_SetGeometryDirectly(f, g);
        }
        ck_assert_int_eq(OGR_L_CreateFeature(l, f), OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

#endif
