/* SPDX-License-Identifier: MIT */
/* The working CRS: projected inputs kept, geographic ones given a local
 * equidistant projection whose distances are checked against PROJ's
 * geodesic (GeographicLib) distances on the ellipsoid. */
#include "pipeline/pipeline.h"
#include "check_main.h"

#include <geodesic.h>
#include <math.h>
#include <string.h>

static fc_context *ctx;
static void setup(void) { ctx = fc_context_new(); }
static void teardown(void) { ctx = fc_context_destroy(ctx); }

static OGRSpatialReferenceH epsg(int code)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    ck_assert_int_eq(OSRImportFromEPSG(s, code), OGRERR_NONE);
    OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    return s;
}

START_TEST(projected_metric_crs_is_kept)
{
    OGRSpatialReferenceH utm = epsg(32642);
    fc_working_crs w;
    ck_assert_int_eq(fc_working_crs_choose(ctx, utm, 4e5, 4.5e6, 6e5, 5e6, FC_DIST_AUTO, &w), FC_OK);
    ck_assert(!w.reprojected);
    ck_assert(!w.distorted);
    ck_assert(w.distortion >= 0 && w.distortion < 5e-4); /* UTM: 0.9996 to 1.0001 here */
    ck_assert_double_eq(w.to_metres, 1.0);
    ck_assert_ptr_nonnull(strstr(w.description, "UTM zone 42N"));
    fc_working_crs_free(&w);
    OSRRelease(utm);
}
END_TEST

START_TEST(projected_feet_crs_converts_units)
{
    OGRSpatialReferenceH ny = epsg(2263); /* NAD83 / New York Long Island (ftUS) */
    fc_working_crs w;
    ck_assert_int_eq(fc_working_crs_choose(ctx, ny, 9e5, 1.5e5, 1e6, 2.5e5, FC_DIST_AUTO, &w), FC_OK);
    ck_assert(!w.reprojected);
    ck_assert(!w.distorted && w.distortion >= 0 && w.distortion < 1e-4); /* feet converted */
    ck_assert_double_eq_tol(w.to_metres, 1200.0 / 3937.0, 1e-12);
    fc_working_crs_free(&w);
    OSRRelease(ny);
}
END_TEST

START_TEST(web_mercator_is_not_measured_in)
{
    /* Around Astana (51 degrees north), a Web Mercator unit is 1/cos(lat)
     * times too long: 59 to 62% over this extent. */
    OGRSpatialReferenceH merc = epsg(3857);
    double x0 = 71.3 * 20037508.342789244 / 180, x1 = 71.6 * 20037508.342789244 / 180;
    double y0 = 6640000, y1 = 6660000;
    fc_working_crs w;
    ck_assert_int_eq(fc_working_crs_choose(ctx, merc, x0, y0, x1, y1, FC_DIST_AUTO, &w), FC_OK);
    ck_assert(w.distorted && w.reprojected);
    ck_assert_double_eq_tol(w.distortion, 1 / cos(51.2 * M_PI / 180) - 1, 0.01);
    ck_assert_ptr_nonnull(strstr(w.description, "+proj=eqdc"));
    fc_working_crs_free(&w);
    /* --distance planar: its plane all the same */
    ck_assert_int_eq(fc_working_crs_choose(ctx, merc, x0, y0, x1, y1, FC_DIST_PLANAR, &w), FC_OK);
    ck_assert(!w.distorted && !w.reprojected);
    ck_assert(w.distortion > 0.5);
    fc_working_crs_free(&w);
    OSRRelease(merc);
}
END_TEST

START_TEST(no_crs_is_an_error)
{
    fc_working_crs w;
    ck_assert_int_eq(fc_working_crs_choose(ctx, NULL, 0, 0, 1, 1, FC_DIST_AUTO, &w), FC_ECRS);
}
END_TEST

/* Largest relative error of planar distances in the working CRS over pairs
 * of points `step_m` apart (north-east, east and north), sampled over the
 * extent, against geodesic distances on WGS84. */
static double max_distance_error(double lon0, double lat0, double lon1, double lat1,
                                 double step_m, char *description, size_t size)
{
    OGRSpatialReferenceH wgs84 = epsg(4326);
    fc_working_crs w;
    ck_assert_int_eq(fc_working_crs_choose(ctx, wgs84, lon0, lat0, lon1, lat1, FC_DIST_AUTO, &w), FC_OK);
    ck_assert(w.reprojected);
    snprintf(description, size, "%s", w.description);
    struct geod_geodesic g;
    geod_init(&g, 6378137, 1 / 298.257223563);
    enum { N = 21 };
    double worst = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            for (int dir = 0; dir < 3; dir++) {
                double lon = lon0 + (lon1 - lon0) * i / (N - 1);
                double lat = lat0 + (lat1 - lat0) * j / (N - 1);
                double azimuth = dir * 45.0, lat2, lon2, s12;
                geod_direct(&g, lat, lon, azimuth, step_m, &lat2, &lon2, NULL);
                geod_inverse(&g, lat, lon, lat2, lon2, &s12, NULL, NULL);
                double x[2] = {lon, lon2}, y[2] = {lat, lat2};
                ck_assert_int_eq(fc_transform_points(ctx, wgs84, w.srs, 2, x, y), FC_OK);
                double planar = hypot(x[1] - x[0], y[1] - y[0]);
                worst = fmax(worst, fabs(planar - s12) / s12);
            }
    fc_working_crs_free(&w);
    OSRRelease(wgs84);
    return worst;
}

START_TEST(kazakhstan_distances_within_one_percent)
{
    /* The whole country, 46.5-87.3 E, 40.6-55.4 N, at eps 2 km. */
    char d[512];
    double err = max_distance_error(46.49, 40.59, 87.31, 55.43, 2000, d, sizeof d);
    ck_assert_ptr_nonnull(strstr(d, "+proj=eqdc"));
    ck_assert_msg(err < 0.01, "distance error %.4f%% over Kazakhstan", 100 * err);
    ck_assert_msg(err > 1e-4, "a conic over 15 degrees of latitude cannot be exact: %g", err);
}
END_TEST

START_TEST(city_distances_nearly_exact)
{
    /* Almaty's extent, about 40 x 30 km: errors far below a metre per km. */
    char d[512];
    double err = max_distance_error(76.7, 43.1, 77.1, 43.4, 2000, d, sizeof d);
    ck_assert_msg(err < 1e-5, "distance error %g over Almaty", err);
}
END_TEST

START_TEST(equator_gets_azimuthal_equidistant)
{
    char d[512];
    double err = max_distance_error(30, -2, 32, 2, 1000, d, sizeof d);
    ck_assert_ptr_nonnull(strstr(d, "+proj=aeqd"));
    ck_assert_msg(err < 1e-3, "distance error %g at the equator", err);
}
END_TEST

static Suite *reproject_suite(void)
{
    Suite *s = suite_create("reproject");
    TCase *tc = fc_tcase("reproject");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, projected_metric_crs_is_kept);
    tcase_add_test(tc, projected_feet_crs_converts_units);
    tcase_add_test(tc, no_crs_is_an_error);
    tcase_add_test(tc, web_mercator_is_not_measured_in);
    tcase_add_test(tc, kazakhstan_distances_within_one_percent);
    tcase_add_test(tc, city_distances_nearly_exact);
    tcase_add_test(tc, equator_gets_azimuthal_equidistant);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(reproject_suite)
