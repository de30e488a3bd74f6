/* SPDX-License-Identifier: MIT */
/* Every cluster polygon is valid and has the area that follows from it,
 * whatever the geometry of its firms: lines in every direction in
 * longitude/latitude and in projected input, two firms, duplicates, across
 * the antimeridian and near the poles. */
#define _GNU_SOURCE
#include "pipeline/pipeline.h" /* before check_main.h: its random numbers */
#include "check_main.h"
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Appends one firm to a CSV. */
static void firm(FILE *f, double x, double y) { fprintf(f, "%.9f,%.9f,01\n", x, y); }

/* Writes, around (x0, y0), seven degenerate clusters 30 units of `step`
 * apart: a line along x, along y, a diagonal one and one at a random angle
 * (firms `spacing` apart), two firms, ten copies of one firm, and a line
 * where every firm is a duplicate. Returns the number of clusters. */
static int degenerate_sets(FILE *f, double x0, double y0, double step, double spacing)
{
    const double angle = 2 * M_PI * uniform();
    const double dirs[4][2] = {{1, 0}, {0, 1}, {M_SQRT1_2, M_SQRT1_2}, {cos(angle), sin(angle)}};
    int k = 0;
    for (int d = 0; d < 4; d++, k++) {
        int m = 3 + (int)(next_u64() % 8);
        for (int i = 0; i < m; i++)
            firm(f, x0 + 30 * step * k + i * spacing * dirs[d][0], y0 + i * spacing * dirs[d][1]);
    }
    firm(f, x0 + 30 * step * k, y0);
    firm(f, x0 + 30 * step * k + spacing, y0 + spacing);
    k++;
    for (int i = 0; i < 10; i++)
        firm(f, x0 + 30 * step * k, y0);
    k++;
    for (int i = 0; i < 6; i++)
        firm(f, x0 + 30 * step * k + (i / 2) * spacing, y0);
    return k + 1;
}

/* Runs the tool on the CSV and checks every cluster: valid, polygonal, at
 * least the area of an eps/2 disc (what the buffer of a point or a line
 * covers), and its density n_firms / area_km2. */
static void check_clusters(const char *csv, const char *srs, int expected)
{
    ck_assert_int_eq(run("cluster %s out.gpkg --overwrite --s-srs %s --eps 2000 --min-pts 2 "
                         "--permutations 0 -q",
                         csv, srs),
                     0);
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH l = layer(ds, "clusters");
    ck_assert_int_eq(OGR_L_GetFeatureCount(l, TRUE), expected);
    OGRFeatureH f;
    const double disc = M_PI * 1.0 * 1.0; /* km², radius eps/2 */
    while ((f = OGR_L_GetNextFeature(l))) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        int id = OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "cluster_id"));
        double area = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "area_km2"));
        double density = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "density"));
        int n = OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "n_firms"));
        ck_assert_msg(g && OGR_G_IsValid(g), "%s %s: cluster %d is not valid", csv, srs, id);
        ck_assert_int_eq(wkbFlatten(OGR_G_GetGeometryType(g)), wkbMultiPolygon);
        ck_assert_msg(area > 0.97 * disc && area < 1.5 * disc, "%s %s: cluster %d has %g km²", csv,
                      srs, id, area);
        ck_assert_double_eq_tol(density, n / area, 1e-9 * density);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

START_TEST(degenerate_clusters_in_longitude_latitude)
{
    /* The case that was wrong: ten firms on a parallel, 0.7 m apart. */
    FILE *f = fopen(in_dir("parallel.csv"), "w");
    fprintf(f, "lon,lat,oked\n");
    for (int i = 0; i < 10; i++)
        firm(f, 71.43 + 0.00001 * i, 51.128);
    fclose(f);
    check_clusters("parallel.csv", "EPSG:4326", 1);

    /* Random degenerate sets at many places, the antimeridian and 80° N
     * included: firms 1e-5 degrees (about a metre) apart, sets 0.3 degrees
     * apart. */
    rng_state = 2024;
    const double places[][2] = {{71.4, 51.1}, {51.9, 47.1}, {179.95, -17.7}, {-179.99, 65.0},
                                {0.0, 0.0},   {20.0, 80.0}, {-70.6, -33.4}};
    for (size_t p = 0; p < sizeof places / sizeof places[0]; p++) {
        f = fopen(in_dir("sets.csv"), "w");
        fprintf(f, "lon,lat,oked\n");
        int k = degenerate_sets(f, places[p][0], places[p][1], 0.01, 1e-5);
        fclose(f);
        /* across the antimeridian: wrap the longitudes */
        if (places[p][0] > 179) {
            char cmd[600];
            snprintf(cmd, sizeof cmd,
                     "cd '%s' && awk -F, 'NR > 1 && $1 > 180 {$1 = $1 - 360} {OFS = \",\"; print}' "
                     "sets.csv > wrapped.csv && mv wrapped.csv sets.csv",
                     dir);
            ck_assert_int_eq(system(cmd), 0);
        }
        check_clusters("sets.csv", "EPSG:4326", k);
    }
}
END_TEST

START_TEST(degenerate_clusters_in_projected_input)
{
    /* UTM 42N metres near Astana: the same sets, firms 0.5 m apart, sets
     * 9 km apart. */
    rng_state = 7;
    for (int round = 0; round < 4; round++) {
        FILE *f = fopen(in_dir("utm.csv"), "w");
        fprintf(f, "x,y,oked\n");
        int k = degenerate_sets(f, 600000 + 1000 * round, 5660000, 300, 0.5);
        fclose(f);
        check_clusters("utm.csv", "EPSG:32642", k);
    }
}
END_TEST

/* Issue 26, case 6: clusters across the antimeridian, every hull kind, in
 * longitude/latitude output and in projected outputs whose edge is there
 * (Web Mercator) or elsewhere (PDC Mercator, centred on 150 E). Each
 * polygon is valid, no part of it reaches round the world, and its area,
 * measured in an equal-area projection centred on the cluster, is the
 * cluster's area_km2. */
START_TEST(clusters_across_the_antimeridian)
{
    rng_state = 180;
    const double lats[] = {-17.7, 0.5, 52.0, 65.0};
    FILE *f = fopen(in_dir("am.csv"), "w");
    fprintf(f, "lon,lat,oked\n");
    for (size_t c = 0; c < 4; c++)
        for (int i = 0; i < 60; i++) {
            double lon = 180 + (uniform() - 0.5) * 0.02 / cos(lats[c] * M_PI / 180);
            fprintf(f, "%.9f,%.9f,01\n", lon > 180 ? lon - 360 : lon,
                    lats[c] + (uniform() - 0.5) * 0.02);
        }
    fclose(f);
    const char *hulls[] = {"concave", "convex", "buffer"};
    const char *outputs[] = {"", "--t-srs EPSG:3857", "--t-srs EPSG:3832"};
    for (int h = 0; h < 3; h++)
        for (int o = 0; o < 3; o++) {
            ck_assert_int_eq(run("cluster am.csv out.gpkg --overwrite --s-srs EPSG:4326 --eps 500 "
                                 "--min-pts 5 --hull %s %s --permutations 0 -q",
                                 hulls[h], outputs[o]),
                             0);
            GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
            OGRLayerH l = layer(ds, "clusters");
            ck_assert_int_ge(OGR_L_GetFeatureCount(l, TRUE), 4);
            OGRFeatureH feat;
            while ((feat = OGR_L_GetNextFeature(l))) {
                OGRGeometryH g = OGR_F_GetGeometryRef(feat);
                int id = OGR_F_GetFieldAsInteger(feat, OGR_F_GetFieldIndex(feat, "cluster_id"));
                ck_assert_msg(OGR_G_IsValid(g), "--hull %s %s: cluster %d is not valid", hulls[h],
                              outputs[o], id);
                /* each part is small: none wraps round the world */
                for (int k = 0; k < OGR_G_GetGeometryCount(g); k++) {
                    OGREnvelope e;
                    OGR_G_GetEnvelope(OGR_G_GetGeometryRef(g, k), &e);
                    ck_assert_msg(e.MaxX - e.MinX < (o ? 1e5 : 1),
                                  "--hull %s %s: cluster %d spans %g", hulls[h], outputs[o], id,
                                  e.MaxX - e.MinX);
                }
                OGRGeometryH centre = OGR_G_Clone(g);
                OGRSpatialReferenceH wgs84 = fc_test_epsg(4326);
                OGR_G_TransformTo(centre, wgs84);
                OGREnvelope ll;
                OGR_G_GetEnvelope(centre, &ll);
                OGR_G_DestroyGeometry(centre);
                char laea[128];
                snprintf(laea, sizeof laea, "+proj=laea +lon_0=180 +lat_0=%.6f +datum=WGS84",
                         (ll.MinY + ll.MaxY) / 2);
                OGRSpatialReferenceH equal_area = OSRNewSpatialReference(NULL);
                OSRImportFromProj4(equal_area, laea);
                OGRGeometryH copy = OGR_G_Clone(g);
                ck_assert_int_eq(OGR_G_TransformTo(copy, equal_area), OGRERR_NONE);
                double measured = OGR_G_Area(copy) / 1e6;
                double area = OGR_F_GetFieldAsDouble(feat, OGR_F_GetFieldIndex(feat, "area_km2"));
                ck_assert_msg(fabs(measured - area) <= 0.01 * area,
                              "--hull %s %s: cluster %d measures %g km², area_km2 %g", hulls[h],
                              outputs[o], id, measured, area);
                OGR_G_DestroyGeometry(copy);
                OSRRelease(equal_area);
                OSRRelease(wgs84);
                OGR_F_Destroy(feat);
            }
            GDALClose(ds);
        }
}
END_TEST

/* Issue 26, case 9: 30 firms on a geodesic line 2.9 km long, eps 300 m,
 * came out as a sliver some 30 cm wide (455 m², 65,907 firms per km²): a
 * hair off a line in the working plane, but wider than the sliver limit
 * then was. Every direction now gets at least the eps/2 disc's area. */
START_TEST(long_lines_in_longitude_latitude)
{
    FILE *f = fopen(in_dir("lines.csv"), "w");
    fprintf(f, "lon,lat,oked\n");
    const int n_dirs = 18;
    for (int d = 0; d < n_dirs; d++) {
        const double a = M_PI * d / n_dirs, lat0 = 51.1 + 0.1 * d; /* 11 km apart */
        for (int i = 0; i < 30; i++)
            fprintf(f, "%.9f,%.9f,01\n", 71.4 + i * 100.0 * cos(a) / (111320 * cos(lat0 * M_PI / 180)),
                    lat0 + i * 100.0 * sin(a) / 110574);
    }
    fclose(f);
    ck_assert_int_eq(run("cluster lines.csv out.gpkg --s-srs EPSG:4326 --eps 300 --min-pts 3 "
                         "--permutations 0 -q"),
                     0);
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH l = layer(ds, "clusters");
    ck_assert_int_eq(OGR_L_GetFeatureCount(l, TRUE), n_dirs);
    OGRFeatureH feat;
    const double disc = M_PI * 0.15 * 0.15; /* km² */
    while ((feat = OGR_L_GetNextFeature(l))) {
        double area = OGR_F_GetFieldAsDouble(feat, OGR_F_GetFieldIndex(feat, "area_km2"));
        ck_assert_msg(area >= disc, "cluster %d: %g km², under the eps/2 disc's %g",
                      OGR_F_GetFieldAsInteger(feat, OGR_F_GetFieldIndex(feat, "cluster_id")), area,
                      disc);
        ck_assert(OGR_G_IsValid(OGR_F_GetGeometryRef(feat)));
        OGR_F_Destroy(feat);
    }
    GDALClose(ds);
}
END_TEST

static Suite *polygons_suite(void)
{
    Suite *s = suite_create("polygons");
    TCase *tc = fc_tcase("polygons");
    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, degenerate_clusters_in_longitude_latitude);
    tcase_add_test(tc, degenerate_clusters_in_projected_input);
    tcase_add_test(tc, clusters_across_the_antimeridian);
    tcase_add_test(tc, long_lines_in_longitude_latitude);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(polygons_suite)
