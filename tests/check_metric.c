/* SPDX-License-Identifier: MIT */
/* Distances in metres whatever the CRS (reproject.c and the choice of the
 * metric in cluster.c), through the tool: projected and longitude/latitude
 * input, weights, geodesic distances and areas, the antimeridian, Web
 * Mercator. */
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

START_TEST(projected_input_eps_in_metres)
{
    /* UTM 43N: a chain of three points 999 m apart, and a pair 1001 m apart. */
    const char *wkt[] = {"POINT (500000 5000000)", "POINT (500999 5000000)",
                         "POINT (501998 5000000)", "POINT (600000 5000000)",
                         "POINT (600000 5001001)"};
    const char *oked[] = {"1", "1", "1", "1", "1"};
    fc_test_write_points(in_dir("utm.gpkg"), 32643, 5, wkt, oked);
    ck_assert_int_eq(run("cluster utm.gpkg out.gpkg --eps 1000 --min-pts 2 --permutations 0"), 0);
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH lc = layer(ds, "clusters");
    ck_assert_int_eq(epsg_of(lc), 32643);
    ck_assert_int_eq(OGR_L_GetFeatureCount(lc, TRUE), 1);
    OGRFeatureH c = OGR_L_GetNextFeature(lc);
    ck_assert_int_eq(OGR_F_GetFieldAsInteger(c, OGR_F_GetFieldIndex(c, "n_firms")), 3);
    ck_assert_str_eq(OGR_F_GetFieldAsString(c, OGR_F_GetFieldIndex(c, "sector")), "all");
    OGR_F_Destroy(c);
    GDALClose(ds);
    /* --t-srs reprojects the output */
    ck_assert_int_eq(run("cluster utm.gpkg wgs.gpkg --eps 1000 --min-pts 2 --t-srs EPSG:4326 --permutations 0"), 0);
    ds = open_vector(in_dir("wgs.gpkg"));
    ck_assert_int_eq(epsg_of(layer(ds, "clusters")), 4326);
    ck_assert_int_eq(epsg_of(layer(ds, "firms")), 4326);
    GDALClose(ds);
}
END_TEST

START_TEST(lonlat_input_eps_in_metres)
{
    /* Two points 0.01 degrees of latitude apart near Astana: 1112 m. */
    const char *wkt[] = {"POINT (71.4 51.10)", "POINT (71.4 51.11)", "POINT (80 45)"};
    const char *oked[] = {"62", "62", "62"};
    fc_test_write_points(in_dir("ll.gpkg"), 4326, 3, wkt, oked);
    ck_assert_int_eq(run("cluster ll.gpkg a.gpkg --eps 1115 --min-pts 2 --sector-field oked --permutations 0"), 0);
    ck_assert_int_eq(count(in_dir("a.gpkg"), "clusters"), 1);
    ck_assert_int_eq(run("cluster ll.gpkg b.gpkg --eps 1110 --min-pts 2 --sector-field oked --permutations 0"), 0);
    ck_assert_int_eq(count(in_dir("b.gpkg"), "clusters"), 0);
}
END_TEST

START_TEST(weights_are_summed_and_can_define_core)
{
    ck_assert_int_eq(run(MAIN_JOB " --weight-field employees", firms, "w.gpkg"), 0);
    GDALDatasetH ds = open_vector(in_dir("w.gpkg"));
    OGRLayerH lc = layer(ds, "clusters");
    OGRFeatureH c = OGR_L_GetNextFeature(lc);
    ck_assert_int_ge(OGR_F_GetFieldIndex(c, "weight"), 0);
    double weight = OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "weight"));
    OGR_F_Destroy(c);
    OGRLayerH sum = GDALDatasetExecuteSQL(ds, "SELECT SUM(employees) FROM firms WHERE cluster_id = 1",
                                          NULL, NULL);
    OGRFeatureH s = OGR_L_GetNextFeature(sum);
    ck_assert_double_eq(weight, OGR_F_GetFieldAsDouble(s, 0));
    OGR_F_Destroy(s);
    GDALDatasetReleaseResultSet(ds, sum);
    GDALClose(ds);
    ck_assert_int_eq(run(MAIN_JOB " --weight-field employees --min-weight 500", firms, "w2.gpkg"), 0);
    ck_assert_int_ne(count(in_dir("w2.gpkg"), "clusters"), count(in_dir("w.gpkg"), "clusters"));
    ck_assert_int_eq(run(MAIN_JOB " --min-weight 500", firms, "w3.gpkg"), 2); /* usage */
    ck_assert_ptr_nonnull(strstr(err_text, "--min-weight needs --weight-field"));
}
END_TEST

START_TEST(distance_mode_follows_the_crs)
{
    ck_assert_int_eq(run(MAIN_JOB, firms, "g.gpkg"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "distances: geodesic on the WGS 84 ellipsoid"));
    ck_assert_int_eq(run(MAIN_JOB " --distance planar", firms, "p.gpkg"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "distances: planar in +proj=eqdc"));
    const char *wkt[] = {"POINT (500000 5000000)", "POINT (500999 5000000)"};
    const char *oked[] = {"1", "1"};
    fc_test_write_points(in_dir("utm.gpkg"), 32643, 2, wkt, oked);
    ck_assert_int_eq(run("cluster utm.gpkg u.gpkg --eps 1000 --min-pts 2 --permutations 0"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "distances: planar in WGS 84 / UTM zone 43N"));
    ck_assert_int_eq(run("cluster utm.gpkg u2.gpkg --eps 1000 --min-pts 2 --distance geodesic --permutations 0"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "distances: geodesic on the WGS 84 ellipsoid"));
    ck_assert_int_eq(count(in_dir("u2.gpkg"), "clusters"), 1);
    ck_assert_int_eq(run("cluster utm.gpkg u3.gpkg --eps 1000 --distance spherical --permutations 0"), 2);
    ck_assert_ptr_nonnull(strstr(err_text, "--distance takes geodesic, planar or auto"));
}
END_TEST

START_TEST(areas_on_the_ellipsoid)
{
    /* A square of 0.01 degrees at the equator, about 1.1 x 1.1 km. */
    const char *wkt[] = {"POINT (30 0)", "POINT (30.01 0)", "POINT (30.01 0.01)", "POINT (30 0.01)",
                         "POINT (30.005 0.005)"};
    const char *oked[] = {"1", "1", "1", "1", "1"};
    fc_test_write_points(in_dir("square.gpkg"), 4326, 5, wkt, oked);
    ck_assert_int_eq(run("cluster square.gpkg out.gpkg --eps 1000 --min-pts 2 --hull convex --permutations 0"), 0);
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRFeatureH c = OGR_L_GetNextFeature(layer(ds, "clusters"));
    ck_assert_ptr_nonnull(c);
    double area = OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "area_km2"));
    struct geod_geodesic g;
    double lats[] = {0, 0, 0.01, 0.01}, lons[] = {30, 30.01, 30.01, 30}, expected;
    geod_init(&g, 6378137, 1 / 298.257223563);
    geod_polygonarea(&g, lats, lons, 4, &expected, NULL);
    expected = fabs(expected) / 1e6;
    ck_assert_msg(fabs(area - expected) / expected < 1e-4, "area %.6f km2, geodesic square %.6f",
                  area, expected);
    /* The square's edges (1.1 km) got a vertex every kilometre before
     * leaving the working CRS: more than its 4 corners and closing point. */
    OGRGeometryH polygon = OGR_G_GetGeometryRef(OGR_F_GetGeometryRef(c), 0);
    ck_assert_int_gt(OGR_G_GetPointCount(OGR_G_GetGeometryRef(polygon, 0)), 5);
    OGR_F_Destroy(c);
    GDALClose(ds);
}
END_TEST

START_TEST(cluster_across_the_antimeridian)
{
    /* Fiji: eight firms within 1 km, on both sides of 180 degrees. */
    const char *wkt[] = {"POINT (179.997 -17)", "POINT (179.999 -17.002)", "POINT (-179.999 -17)",
                         "POINT (-179.997 -17.001)", "POINT (179.998 -16.998)",
                         "POINT (-179.998 -17.003)", "POINT (180 -17.001)", "POINT (-179.996 -16.999)"};
    const char *oked[] = {"1", "1", "1", "1", "1", "1", "1", "1"};
    fc_test_write_points(in_dir("fiji.gpkg"), 4326, 8, wkt, oked);
    ck_assert_int_eq(run("cluster fiji.gpkg out.gpkg --eps 1000 --min-pts 3 --permutations 0"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "1 cluster holding 8 firms"));
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRFeatureH c = OGR_L_GetNextFeature(layer(ds, "clusters"));
    OGRGeometryH g = OGR_F_GetGeometryRef(c);
    ck_assert(OGR_G_IsValid(g));
    /* cut at 180 degrees into narrow parts, not stretched round the world */
    ck_assert_int_eq(OGR_G_GetGeometryCount(g), 2);
    for (int i = 0; i < OGR_G_GetGeometryCount(g); i++) {
        OGREnvelope e;
        OGR_G_GetEnvelope(OGR_G_GetGeometryRef(g, i), &e);
        ck_assert_double_lt(e.MaxX - e.MinX, 0.02);
    }
    double area = OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "area_km2"));
    ck_assert(area > 0.05 && area < 2);
    OGR_F_Destroy(c);
    GDALClose(ds);
}
END_TEST

START_TEST(web_mercator_input_measured_on_the_ellipsoid)
{
    /* The sample in EPSG:3857 gives the clusters, and areas, of the sample
     * in longitude/latitude: its units are not metres (0.63 m at 51 N). */
    GDALDatasetH src_ds = open_vector(firms);
    char *argv[] = {"-t_srs", "EPSG:3857", NULL};
    GDALVectorTranslateOptions *opt = GDALVectorTranslateOptionsNew(argv, NULL);
    GDALDatasetH d = GDALVectorTranslate(in_dir("merc.gpkg"), NULL, 1, &src_ds, opt, NULL);
    ck_assert_ptr_nonnull(d);
    GDALClose(d);
    GDALVectorTranslateOptionsFree(opt);
    GDALClose(src_ds);
    ck_assert_int_eq(run(MAIN_JOB, firms, "ll.gpkg"), 0);
    char ll_summary[256];
    snprintf(ll_summary, sizeof ll_summary, "%.*s", (int)strcspn(out_text, "\n"), out_text);
    ck_assert_int_eq(run(MAIN_JOB, "merc.gpkg", "merc_out.gpkg"), 0);
    ck_assert_msg(strstr(out_text, ll_summary), "%s\nnot\n%s", out_text, ll_summary);
    ck_assert_ptr_nonnull(strstr(out_text, "distances: geodesic on the WGS 84 ellipsoid"));
    ck_assert_ptr_nonnull(strstr(out_text, "as the input CRS WGS 84 / Pseudo-Mercator stretches "
                                           "distances by up to"));
    double area[2];
    const char *outs[] = {"ll.gpkg", "merc_out.gpkg"};
    for (int k = 0; k < 2; k++) {
        GDALDatasetH ds = open_vector(in_dir(outs[k]));
        OGRLayerH sql = GDALDatasetExecuteSQL(ds, "SELECT SUM(area_km2) FROM clusters", NULL, NULL);
        OGRFeatureH f = OGR_L_GetNextFeature(sql);
        area[k] = OGR_F_GetFieldAsDouble(f, 0);
        OGR_F_Destroy(f);
        GDALDatasetReleaseResultSet(ds, sql);
        GDALClose(ds);
    }
    ck_assert_double_eq_tol(area[1], area[0], 1e-3 * area[0]);
    /* --distance planar keeps the plane, and says what that costs */
    ck_assert_int_eq(run(MAIN_JOB " --distance planar", "merc.gpkg", "p.gpkg"), 0);
    ck_assert_ptr_nonnull(strstr(err_text, "distances in the plane of WGS 84 / Pseudo-Mercator are "
                                           "up to"));
    ck_assert_ptr_nonnull(strstr(out_text, "distances: planar in WGS 84 / Pseudo-Mercator"));
}
END_TEST

static Suite *metric_suite(void)
{
    Suite *s = suite_create("metric");
    TCase *tc = fc_tcase("metric");
    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, projected_input_eps_in_metres);
    tcase_add_test(tc, lonlat_input_eps_in_metres);
    tcase_add_test(tc, weights_are_summed_and_can_define_core);
    tcase_add_test(tc, distance_mode_follows_the_crs);
    tcase_add_test(tc, web_mercator_input_measured_on_the_ellipsoid);
    tcase_add_test(tc, areas_on_the_ellipsoid);
    tcase_add_test(tc, cluster_across_the_antimeridian);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(metric_suite)
