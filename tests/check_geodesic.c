/* SPDX-License-Identifier: MIT */
/* Geodesic DBSCAN: exact against a brute-force reference that calls PROJ's
 * geod_inverse on every pair, at the equator, at 80 degrees north, across
 * the antimeridian, near the pole and over Kazakhstan, with pairs placed
 * 1 mm inside and outside eps. */
#include "pipeline/pipeline.h"
#include "check_main.h"
#include "support.h"

#include <geodesic.h>
#include <math.h>
#include <string.h>

static fc_context *ctx;
static struct geod_geodesic wgs84;
static void setup(void)
{
    ctx = fc_context_new();
    geod_init(&wgs84, 6378137, 1 / 298.257223563);
}
static void teardown(void) { ctx = fc_context_destroy(ctx); }

static fc_dbscan_params geodesic_params(double eps, size_t min_pts)
{
    return (fc_dbscan_params){.eps = eps, .min_pts = min_pts, .distance = FC_DISTANCE_GEODESIC};
}

/* ---- by eye ------------------------------------------------------------- */

static size_t run2(double lon0, double lat0, double lon1, double lat1, double eps)
{
    double lon[] = {lon0, lon1}, lat[] = {lat0, lat1};
    int32_t c[2];
    size_t k;
    fc_dbscan_params p = geodesic_params(eps, 2);
    ck_assert_int_eq(fc_dbscan(ctx, 2, lon, lat, NULL, &p, c, NULL, &k), FC_OK);
    return k;
}

START_TEST(a_hundredth_of_a_degree)
{
    /* On WGS84 a degree of latitude at the equator is 110,574 m, a degree
     * of longitude there 111,319 m. */
    ck_assert_uint_eq(run2(30, 0, 30, 0.01, 1105.7), 0);
    ck_assert_uint_eq(run2(30, 0, 30, 0.01, 1105.8), 1);
    ck_assert_uint_eq(run2(30, 0, 30.01, 0, 1113.1), 0);
    ck_assert_uint_eq(run2(30, 0, 30.01, 0, 1113.2), 1);
}
END_TEST

START_TEST(across_the_antimeridian)
{
    /* 0.01 degrees apart, though their longitudes differ by 359.99 */
    ck_assert_uint_eq(run2(179.995, 0, -179.995, 0, 1113.2), 1);
    ck_assert_uint_eq(run2(179.995, 0, -179.995, 0, 1113.1), 0);
    ck_assert_uint_eq(run2(180, 10, -180, 10, 0.001), 1); /* one place, two names */
}
END_TEST

START_TEST(over_the_pole)
{
    /* Both 0.001 degrees from the pole, on opposite meridians: about
     * 2 x 111.7 m apart. */
    ck_assert_uint_eq(run2(0, 89.999, 180, 89.999, 224), 1);
    ck_assert_uint_eq(run2(0, 89.999, 180, 89.999, 223), 0);
    ck_assert_uint_eq(run2(0, 90, 123, 90, 0.001), 1); /* the pole, two longitudes */
}
END_TEST

START_TEST(latitude_out_of_range_is_refused)
{
    double lon[] = {0}, lat[] = {91};
    int32_t c[1];
    fc_dbscan_params p = geodesic_params(100, 1);
    ck_assert_int_eq(fc_dbscan(ctx, 1, lon, lat, NULL, &p, c, NULL, NULL), FC_EINVAL);
    ck_assert_ptr_nonnull(strstr(fc_errmsg(ctx), "not a longitude and latitude"));
}
END_TEST

/* ---- against the oracle ------------------------------------------------- */


typedef struct region {
    const char *name;
    double lon, lat;  /* centre */
    double km;        /* half-width */
} region;

static const region regions[] = {
    {"equator", 10, 0, 15},          {"80 north", 40, 80, 15},
    {"antimeridian", 180, -20, 15},  {"north pole", 0, 89.95, 8},
    {"Almaty", 76.9, 43.25, 20},     {"all Kazakhstan", 67, 48, 1500},
};

START_TEST(matches_brute_force)
{
    const region *r = &regions[_i];
    enum { MAX_N = 160, CASES = 60 };
    double lon[MAX_N], lat[MAX_N];
    int32_t c_fast[MAX_N], c_ref[MAX_N];
    uint8_t r_fast[MAX_N], r_ref[MAX_N];
    rng_state = 1000 + (uint64_t)_i;
    size_t clusters = 0, exact_pairs = 0;
    for (int t = 0; t < CASES; t++) {
        double eps = r->km < 100 ? 300 + 1700 * uniform() : 50e3 + 150e3 * uniform();
        size_t n = (size_t)(uniform() * MAX_N);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && uniform() < 0.4) {
                /* 1 mm inside or outside eps of an earlier point, in any
                 * direction, or a duplicate */
                size_t j = (size_t)(uniform() * (double)i);
                double s = uniform() < 0.1 ? 0 : eps + (uniform() < 0.5 ? -1e-3 : 1e-3);
                geod_direct(&wgs84, lat[j], lon[j], 360 * uniform() - 180, s, &lat[i], &lon[i], NULL);
                exact_pairs++;
            } else if (i > 0 && uniform() < 0.5) {
                size_t j = (size_t)(uniform() * (double)i); /* near an earlier point */
                geod_direct(&wgs84, lat[j], lon[j], 360 * uniform() - 180, eps * 1.5 * uniform(),
                            &lat[i], &lon[i], NULL);
            } else {
                geod_direct(&wgs84, r->lat, r->lon, 360 * uniform() - 180, 1e3 * r->km * uniform(),
                            &lat[i], &lon[i], NULL);
            }
        }
        fc_dbscan_params p = geodesic_params(eps, 1 + (size_t)(uniform() * 5));
        size_t k_ref = fc_test_dbscan_oracle(n, lon, lat, NULL, &p, c_ref, r_ref), k_fast;
        /* Half the cases with cubes larger than the default, whose points
         * are not all within eps of each other. */
        double side = (eps - 2e-6) / sqrt(3.0) * (t % 2 ? 1.0 : 2.5);
        p.threads = 1 + t % 3;
        ck_assert_int_eq(fc_dbscan_with_side(ctx, n, lon, lat, NULL, &p, side, c_fast, r_fast, &k_fast),
                         FC_OK);
        ck_assert_msg(k_fast == k_ref, "%s case %d: %zu clusters, oracle %zu", r->name, t, k_fast, k_ref);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(c_fast[i] == c_ref[i] && r_fast[i] == r_ref[i],
                          "%s case %d, point %zu (%.10f, %.10f): role %d cluster %d, oracle role "
                          "%d cluster %d",
                          r->name, t, i, lon[i], lat[i], r_fast[i], c_fast[i], r_ref[i], c_ref[i]);
        clusters += k_ref;
    }
    ck_assert_uint_gt(clusters, 50);
    ck_assert_uint_gt(exact_pairs, 500);
}
END_TEST

START_TEST(default_cells_match_too)
{
    /* fc_dbscan() itself, on Kazakh-city-like data */
    enum { N = 400 };
    double lon[N], lat[N];
    int32_t c_fast[N], c_ref[N];
    uint8_t r_fast[N], r_ref[N];
    rng_state = 99;
    for (int i = 0; i < N; i++)
        geod_direct(&wgs84, 51.17, 71.45, 360 * uniform(), 8000 * uniform() * uniform(), &lat[i],
                    &lon[i], NULL);
    fc_dbscan_params p = geodesic_params(400, 6);
    size_t k_ref = fc_test_dbscan_oracle(N, lon, lat, NULL, &p, c_ref, r_ref), k_fast;
    ck_assert_int_eq(fc_dbscan(ctx, N, lon, lat, NULL, &p, c_fast, r_fast, &k_fast), FC_OK);
    ck_assert_uint_eq(k_fast, k_ref);
    ck_assert_uint_gt(k_ref, 0);
    ck_assert_mem_eq(c_fast, c_ref, sizeof c_ref);
    ck_assert_mem_eq(r_fast, r_ref, sizeof r_ref);
}
END_TEST

START_TEST(planar_and_geodesic_agree_where_distortion_is_negligible)
{
    /* 300 points in 4 x 4 km in UTM zone 42N near its central meridian
     * (scale error 0.04%, 6 cm at eps 150 m), no pair within 10 cm of eps:
     * both modes find the same clusters. */
    enum { N = 300 };
    OGRSpatialReferenceH utm = OSRNewSpatialReference(NULL), ll = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(utm, 32642);
    OSRImportFromEPSG(ll, 4326);
    OSRSetAxisMappingStrategy(ll, OAMS_TRADITIONAL_GIS_ORDER);
    double x[N], y[N], lon[N], lat[N];
    rng_state = 6;
    for (int i = 0; i < N; i++) {
        x[i] = lon[i] = 500000 + 4000 * uniform();
        y[i] = lat[i] = 5000000 + 4000 * uniform() * uniform();
    }
    ck_assert_int_eq(fc_transform_points(ctx, utm, ll, N, lon, lat), FC_OK);
    double eps = 150;
    int32_t cp[N], cg[N];
    size_t kp, kg;
    fc_dbscan_params planar = {.eps = eps, .min_pts = 4};
    fc_dbscan_params geo = geodesic_params(eps, 4);
    ck_assert_int_eq(fc_dbscan(ctx, N, x, y, NULL, &planar, cp, NULL, &kp), FC_OK);
    ck_assert_int_eq(fc_dbscan(ctx, N, lon, lat, NULL, &geo, cg, NULL, &kg), FC_OK);
    int near_eps = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++)
            near_eps += fabs(hypot(x[i] - x[j], y[i] - y[j]) - eps) < 0.1;
    ck_assert_msg(near_eps == 0, "%d pairs within 10 cm of eps: pick another seed", near_eps);
    ck_assert_uint_gt(kp, 2);
    ck_assert_uint_eq(kp, kg);
    ck_assert_mem_eq(cp, cg, sizeof cp);
    OSRRelease(utm);
    OSRRelease(ll);
}
END_TEST

static Suite *geodesic_suite(void)
{
    Suite *s = suite_create("geodesic");
    TCase *tc = fc_tcase("geodesic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_hundredth_of_a_degree);
    tcase_add_test(tc, across_the_antimeridian);
    tcase_add_test(tc, over_the_pole);
    tcase_add_test(tc, latitude_out_of_range_is_refused);
    tcase_add_loop_test(tc, matches_brute_force, 0, sizeof regions / sizeof regions[0]);
    tcase_add_test(tc, default_cells_match_too);
    tcase_add_test(tc, planar_and_geodesic_agree_where_distortion_is_negligible);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(geodesic_suite)
