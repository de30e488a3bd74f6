/* SPDX-License-Identifier: MIT */
/* Reading firms (read.c) through the tool: CSV, filters, skipped features,
 * the Arrow stream against feature by feature reading, multipoints and
 * centroids, code pages. */
#define _GNU_SOURCE
#include "check_main.h"
#include "support.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <geodesic.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

START_TEST(csv_input_needs_a_crs)
{
    FILE *f = fopen(in_dir("firms.csv"), "w");
    fprintf(f, "name,lon,lat,oked\n");
    for (int i = 0; i < 30; i++) /* a tight group in Astana and two far away */
        fprintf(f, "Фирма %d,%.5f,%.5f,62011\n", i, 71.44 + 0.001 * (i % 6), 51.16 + 0.001 * (i / 6));
    fprintf(f, "Алыс,75.0,45.0,62011\nҚашық,80.0,50.0,62011\n");
    fclose(f);
    ck_assert_int_eq(run("cluster firms.csv out.gpkg --eps 500 --sector-field oked --permutations 0"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "has no CRS; give one with --s-srs"));
    ck_assert_str_eq(listing(), "firms.csv ");
    ck_assert_int_eq(run("cluster firms.csv out.gpkg --eps 500 --sector-field oked --s-srs EPSG:4326 --permutations 0"), 0);
    ck_assert_int_eq(count(in_dir("out.gpkg"), "clusters"), 1);
    ck_assert_int_eq(count(in_dir("out.gpkg"), "firms"), 32);
}
END_TEST

START_TEST(where_filters_firms)
{
    ck_assert_int_eq(run(MAIN_JOB " --where \"oked LIKE '47%%'\"", firms, "w.gpkg"), 0);
    GDALDatasetH ds = open_vector(in_dir("w.gpkg"));
    OGRLayerH sql = GDALDatasetExecuteSQL(ds, "SELECT COUNT(*) FROM firms WHERE oked NOT LIKE '47%'",
                                          NULL, NULL);
    OGRFeatureH f = OGR_L_GetNextFeature(sql);
    ck_assert_int_eq(OGR_F_GetFieldAsInteger(f, 0), 0);
    OGR_F_Destroy(f);
    GDALDatasetReleaseResultSet(ds, sql);
    ck_assert_int_gt(OGR_L_GetFeatureCount(layer(ds, "firms"), TRUE), 1000);
    GDALClose(ds);
}
END_TEST

START_TEST(skipped_features_are_reported_and_kept)
{
    const char *wkt[] = {"POINT (71.4 51.1)", NULL, "POINT (71.4 51.1)", "POINT EMPTY",
                         "POINT (71.4 51.1)"};
    const char *oked[] = {"62", "62", NULL, "62", "62"};
    fc_test_write_points(in_dir("gaps.gpkg"), 4326, 5, wkt, oked);
    ck_assert_int_eq(run("cluster gaps.gpkg out.gpkg --eps 100 --min-pts 2 --sector-field oked --permutations 0"), 0);
    ck_assert_ptr_nonnull(strstr(err_text, "skipped 2 features with no geometry or an empty one (FID 2, 4)"));
    ck_assert_ptr_nonnull(strstr(err_text, "skipped 1 feature with no sector code (FID 3)"));
    ck_assert_ptr_nonnull(strstr(out_text, "(3 features skipped)"));
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH lf = layer(ds, "firms");
    ck_assert_int_eq(OGR_L_GetFeatureCount(lf, TRUE), 5);
    OGRFeatureH f;
    int labelled = 0;
    while ((f = OGR_L_GetNextFeature(lf))) {
        labelled += OGR_F_IsFieldSetAndNotNull(f, OGR_F_GetFieldIndex(f, "role"));
        OGR_F_Destroy(f);
    }
    ck_assert_int_eq(labelled, 2);
    GDALClose(ds);
}
END_TEST

/* A GeoPackage layer of type Point, with a row of every kind the reader
 * skips, and `extra` (a WKT geometry, or NULL) as its last row. */
static void write_typed_points(const char *path, const char *extra)
{
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), path, 0, 0, 0, GDT_Unknown, NULL);
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(s, 4326);
    OGRLayerH l = GDALDatasetCreateLayer(ds, "points", s, wkbPoint, NULL);
    OSRRelease(s);
    const char *names[] = {"oked", "code", "employees"};
    const OGRFieldType types[] = {OFTString, OFTInteger, OFTReal};
    for (int i = 0; i < 3; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(names[i], types[i]);
        OGR_L_CreateField(l, fd, TRUE);
        OGR_Fld_Destroy(fd);
    }
    for (int i = 0; i < 60 + (extra != NULL); i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
        double x = 71.4 + 0.0001 * (i % 7), y = 51.1 + 0.0001 * (i % 5);
        OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
        switch (i) {
        case 1: OGR_G_DestroyGeometry(g), g = NULL; break;   /* no geometry */
        case 2: break;                                       /* empty */
        case 3: OGR_G_SetPoint_2D(g, 0, NAN, y); break;      /* half NaN */
        case 4: OGR_G_SetPoint_2D(g, 0, INFINITY, y); break;
        case 5: OGR_G_SetPoint_2D(g, 0, 200, y); break;      /* not a longitude */
        case 6: OGR_G_SetPoint(g, 0, x, y, 300); break;      /* with Z */
        default: OGR_G_SetPoint_2D(g, 0, x, y); break;
        }
        if (i == 60) { /* the extra row */
            OGR_G_DestroyGeometry(g);
            char *w = (char *)extra;
            ck_assert_int_eq(OGR_G_CreateFromWkt(&w, NULL, &g), OGRERR_NONE);
        }
        OGR_F_SetGeometryDirectly(f, g);
        if (i != 7) /* no sector */
            OGR_F_SetFieldString(f, 0, i == 8 ? "" : i % 3 ? "62010" : "47111");
        if (i != 9)
            OGR_F_SetFieldInteger(f, 1, i % 3 ? 62010 : 47111);
        if (i != 10) /* no weight, then a negative one */
            OGR_F_SetFieldDouble(f, 2, i == 11 ? -3 : 1 + i % 4);
        ck_assert_int_eq(OGR_L_CreateFeature(l, f), OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

START_TEST(arrow_and_feature_reading_agree)
{
    /* GDAL's Arrow stream reads a Point layer column by column; the result,
     * warnings included, must be the one feature by feature reading gives.
     * A multipoint in a Point layer sends the reader back to features. */
    const char *extras[] = {NULL, "MULTIPOINT ((71.4 51.1), (71.5 51.2))"};
    const char *fields[] = {"--sector-field oked --sector-digits 2 --weight-field employees",
                            "--sector-field code"};
    for (int e = 0; e < 2; e++) {
        write_typed_points(in_dir("typed.gpkg"), extras[e]);
        for (int k = 0; k < 2; k++) {
            ck_assert_msg(run("--debug on cluster typed.gpkg a.gpkg --eps 100 --min-pts 3 "
                              "--permutations 0 --overwrite %s", fields[k]) == 0, "%s",
                          err_text + (strlen(err_text) > 600 ? strlen(err_text) - 600 : 0));
            ck_assert_msg((strstr(err_text, "read through GDAL's Arrow stream") != NULL) == (e == 0),
                          "extra row %d, fields %d: Arrow stream %s", e, k,
                          e == 0 ? "not used" : "used with a multipoint");
            ck_assert_int_eq(run("cluster typed.gpkg a.gpkg --eps 100 --min-pts 3 "
                                 "--permutations 0 --overwrite %s", fields[k]), 0);
            char arrow_err[sizeof err_text];
            snprintf(arrow_err, sizeof arrow_err, "%s", err_text);
            ck_assert_msg(strstr(arrow_err, "not finite (FID 5)") &&
                              strstr(arrow_err, "out of range (FID 6)") &&
                              strstr(arrow_err, k == 0 ? "negative weight (FID 11, 12)"
                                                       : "no sector code (FID 10)"),
                          "%s", arrow_err);
            ck_assert_int_eq(run("--config FIRMCLUST_ARROW NO cluster typed.gpkg b.gpkg "
                                 "--eps 100 --min-pts 3 --permutations 0 --overwrite %s",
                                 fields[k]), 0);
            ck_assert_str_eq(arrow_err, err_text);
            ck_assert(same_bytes(in_dir("a.gpkg"), in_dir("b.gpkg")));
        }
        unlink(in_dir("typed.gpkg"));
    }
}
END_TEST

START_TEST(multipoints_exploded_and_centroids_on_request)
{
    const char *wkt[] = {"MULTIPOINT ((71.4 51.1), (71.401 51.1))", "POINT (71.4005 51.1)",
                         "POLYGON ((71.40 51.10, 71.402 51.10, 71.402 51.102, 71.40 51.10))"};
    const char *oked[] = {"62", "62", "62"};
    fc_test_write_points(in_dir("shapes.gpkg"), 4326, 3, wkt, oked);
    ck_assert_int_eq(run("cluster shapes.gpkg out.gpkg --eps 500 --min-pts 2 --permutations 0"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "feature 3: geometry is a Polygon, not a point (use --centroids"));
    ck_assert_int_eq(run("cluster shapes.gpkg out.gpkg --eps 500 --min-pts 2 --permutations 0 --centroids"), 0);
    ck_assert_ptr_nonnull(strstr(err_text, "2 features were multipoints or other geometries"));
    ck_assert_ptr_nonnull(strstr(out_text, "4 firms in 1 sector; 1 cluster holding 4 firms"));
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH lf = layer(ds, "firms");
    ck_assert_int_eq(OGR_L_GetFeatureCount(lf, TRUE), 4); /* the multipoint gave two rows */
    ck_assert_int_eq(wkbFlatten(OGR_L_GetGeomType(lf)), wkbPoint);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(lf))) {
        ck_assert_int_eq(wkbFlatten(OGR_G_GetGeometryType(OGR_F_GetGeometryRef(f))), wkbPoint);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}
END_TEST

/* A Shapefile of firms named `names`, written in `encoding`; `legacy`
 * removes what says the encoding (.cpg, and the .dbf's code page byte), as
 * in files from older software. */
static void write_encoded(const char *base, const char *encoding, const char *const *names, int n,
                          bool legacy)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s.shp", dir, base);
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("ESRI Shapefile"), path, 0, 0, 0, GDT_Unknown, NULL);
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(s, 4326);
    char option[64];
    snprintf(option, sizeof option, "ENCODING=%s", encoding);
    char *lco[] = {option, NULL};
    OGRLayerH l = GDALDatasetCreateLayer(ds, base, s, wkbPoint, lco);
    OSRRelease(s);
    OGRFieldDefnH fd = OGR_Fld_Create("name", OFTString);
    OGR_Fld_SetWidth(fd, 60);
    OGR_L_CreateField(l, fd, TRUE);
    OGR_Fld_Destroy(fd);
    for (int i = 0; i < n; i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
        OGR_F_SetFieldString(f, 0, names[i]);
        OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(g, 0, 71.4 + 0.0001 * i, 51.1);
        OGR_F_SetGeometryDirectly(f, g);
        ck_assert_int_eq(OGR_L_CreateFeature(l, f), OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    if (legacy) {
        snprintf(path, sizeof path, "%s/%s.cpg", dir, base);
        unlink(path);
        snprintf(path, sizeof path, "%s/%s.dbf", dir, base);
        FILE *dbf = fopen(path, "r+b");
        ck_assert_ptr_nonnull(dbf);
        fseek(dbf, 29, SEEK_SET); /* language driver id: 0, "not said" */
        fputc(0, dbf);
        fclose(dbf);
    }
}

/* Whether the names in out.gpkg's firms are exactly `names`. */
static bool names_survive(const char *const *names, int n)
{
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH l = layer(ds, "firms");
    OGRFeatureH f;
    int i = 0;
    bool same = true;
    while ((f = OGR_L_GetNextFeature(l))) {
        same &= i < n && strcmp(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "name")), names[i]) == 0;
        i++;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    return same && i == n;
}

START_TEST(cyrillic_and_kazakh_through_code_pages)
{
    static const char *const russian[] = {"Карагандинская", "Павлодар", "Усть-Каменогорск"};
    static const char *const kazakh[] = {"Қарағанды", "Өскемен", "Ақтөбе", "Шығыс Қазақстан",
                                         "Әлихан Бөкейхан", "Ұлытау", "Түркістан", "Һ і ң"};
    static const struct {
        const char *encoding;
        const char *const *names;
        int n;
    } cases[] = {{"CP1251", russian, 3}, {"CP866", russian, 3}, {"RK1048", kazakh, 8},
                 {"UTF-8", kazakh, 8}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* a .dbf that says its code page is read right without help */
        write_encoded("said", cases[c].encoding, cases[c].names, cases[c].n, false);
        ck_assert_int_eq(run("cluster said.shp out.gpkg --eps 100 --permutations 0 --overwrite -q"), 0);
        ck_assert_msg(names_survive(cases[c].names, cases[c].n), "%s with .cpg", cases[c].encoding);
        if (strcmp(cases[c].encoding, "UTF-8") == 0)
            continue;
        /* one that does not is garbled, unless --encoding says it */
        write_encoded("unsaid", cases[c].encoding, cases[c].names, cases[c].n, true);
        ck_assert_int_eq(run("cluster unsaid.shp out.gpkg --eps 100 --permutations 0 --overwrite -q"), 0);
        ck_assert_msg(!names_survive(cases[c].names, cases[c].n), "%s read right by chance",
                      cases[c].encoding);
        ck_assert_int_eq(run("cluster unsaid.shp out.gpkg --eps 100 --permutations 0 --overwrite -q "
                             "--encoding %s",
                             cases[c].encoding),
                         0);
        ck_assert_msg(names_survive(cases[c].names, cases[c].n), "%s with --encoding",
                      cases[c].encoding);
    }
    ck_assert_int_eq(run("cluster '%s' out.gpkg --eps 100 --encoding CP1251 --overwrite", firms), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "--encoding applies to Shapefiles, not to GPKG files"));
}
END_TEST

static Suite *read_suite(void)
{
    Suite *s = suite_create("read");
    TCase *tc = fc_tcase("read");
    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, csv_input_needs_a_crs);
    tcase_add_test(tc, where_filters_firms);
    tcase_add_test(tc, skipped_features_are_reported_and_kept);
    tcase_add_test(tc, multipoints_exploded_and_centroids_on_request);
    tcase_add_test(tc, arrow_and_feature_reading_agree);
    tcase_add_test(tc, cyrillic_and_kazakh_through_code_pages);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(read_suite)
