/* The command-line tool, run as a user runs it, on the bundled fixtures and
 * on small files made here; every output is read back with OGR. */
#define _GNU_SOURCE
#include "check_main.h"
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>

#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <geodesic.h>
#include <math.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

/* ---- the main job ------------------------------------------------------- */

START_TEST(main_job_writes_consistent_layers)
{
    ck_assert_int_eq(run(MAIN_JOB, firms, "out.gpkg"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "clusters holding"));
    ck_assert_str_eq(listing(), "out.gpkg ");

    GDALDatasetH in = open_vector(firms), out = open_vector(in_dir("out.gpkg"));
    OGRLayerH lin = layer(in, NULL), lf = layer(out, "firms"), lc = layer(out, "clusters");
    ck_assert_int_eq(epsg_of(lf), 4326);
    ck_assert_int_eq(epsg_of(lc), 4326);
    GIntBig n_clusters = OGR_L_GetFeatureCount(lc, TRUE);
    ck_assert_int_gt(n_clusters, 20);
    ck_assert_int_eq(OGR_L_GetFeatureCount(lf, TRUE), OGR_L_GetFeatureCount(lin, TRUE));

    /* Per cluster: firms and core firms counted from the firms layer. */
    GIntBig *n_firms = calloc(n_clusters + 1, sizeof *n_firms);
    GIntBig *n_core = calloc(n_clusters + 1, sizeof *n_core);
    char(*sector)[8] = calloc(n_clusters + 1, sizeof *sector);
    OGRFeatureDefnH fd = OGR_L_GetLayerDefn(lf);
    int i_cluster = OGR_FD_GetFieldIndex(fd, "cluster_id"), i_role = OGR_FD_GetFieldIndex(fd, "role");
    int i_name = OGR_FD_GetFieldIndex(fd, "name"), i_oked = OGR_FD_GetFieldIndex(fd, "oked");
    ck_assert_int_ge(i_cluster, 0);
    ck_assert_int_ge(i_role, 0);
    ck_assert_int_ge(i_name, 0); /* input fields are kept */
    OGRFeatureH a, b;
    OGR_L_ResetReading(lin);
    while ((a = OGR_L_GetNextFeature(lin)) && (b = OGR_L_GetNextFeature(lf))) {
        /* Kazakh names and every input value survive. */
        ck_assert_str_eq(OGR_F_GetFieldAsString(a, OGR_F_GetFieldIndex(a, "name")),
                         OGR_F_GetFieldAsString(b, i_name));
        ck_assert(OGR_G_Equals(OGR_F_GetGeometryRef(a), OGR_F_GetGeometryRef(b)));
        const char *role = OGR_F_GetFieldAsString(b, i_role);
        bool noise = strcmp(role, "noise") == 0;
        ck_assert(noise || strcmp(role, "core") == 0 || strcmp(role, "border") == 0);
        ck_assert_int_eq(OGR_F_IsFieldSetAndNotNull(b, i_cluster), !noise);
        if (!noise) {
            int c = OGR_F_GetFieldAsInteger(b, i_cluster);
            ck_assert(c >= 1 && c <= n_clusters);
            n_firms[c]++;
            n_core[c] += strcmp(role, "core") == 0;
            snprintf(sector[c], sizeof sector[c], "%.2s", OGR_F_GetFieldAsString(b, i_oked));
        }
        OGR_F_Destroy(a);
        OGR_F_Destroy(b);
    }
    OGRFeatureH c;
    GIntBig seen = 0;
    while ((c = OGR_L_GetNextFeature(lc))) {
        int id = OGR_F_GetFieldAsInteger(c, OGR_F_GetFieldIndex(c, "cluster_id"));
        ck_assert_int_eq(id, ++seen); /* ids run 1..N in order */
        ck_assert_int_eq(OGR_F_GetFieldAsInteger64(c, OGR_F_GetFieldIndex(c, "n_firms")), n_firms[id]);
        ck_assert_int_eq(OGR_F_GetFieldAsInteger64(c, OGR_F_GetFieldIndex(c, "n_core")), n_core[id]);
        /* At least one core firm; fewer than min-pts firms is possible, when
         * border firms of a core firm are nearer to another cluster. */
        ck_assert_int_ge(n_core[id], 1);
        ck_assert_int_ge(n_firms[id], n_core[id]);
        ck_assert_str_eq(OGR_F_GetFieldAsString(c, OGR_F_GetFieldIndex(c, "sector")), sector[id]);
        ck_assert_double_gt(OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "area_km2")), 0);
        OGRGeometryH g = OGR_F_GetGeometryRef(c);
        ck_assert_int_eq(wkbFlatten(OGR_G_GetGeometryType(g)), wkbMultiPolygon);
        ck_assert(OGR_G_IsValid(g));
        OGR_F_Destroy(c);
    }
    ck_assert_int_eq(seen, n_clusters);

    /* Each clustered firm lies in (or, after the round trip through the
     * working CRS, within a hair of) its cluster's polygon. */
    OGR_L_ResetReading(lf);
    while ((b = OGR_L_GetNextFeature(lf))) {
        if (OGR_F_IsFieldSetAndNotNull(b, i_cluster)) {
            OGRFeatureH poly = NULL;
            char filter[64];
            snprintf(filter, sizeof filter, "cluster_id = %d", OGR_F_GetFieldAsInteger(b, i_cluster));
            OGR_L_SetAttributeFilter(lc, filter);
            OGR_L_ResetReading(lc);
            poly = OGR_L_GetNextFeature(lc);
            ck_assert_ptr_nonnull(poly);
            double d = OGR_G_Distance(OGR_F_GetGeometryRef(poly), OGR_F_GetGeometryRef(b));
            ck_assert_msg(d < 1e-7, "firm " CPL_FRMT_GIB " is %g degrees from its cluster",
                          OGR_F_GetFID(b), d);
            OGR_F_Destroy(poly);
        }
        OGR_F_Destroy(b);
    }
    free(n_firms), free(n_core), free(sector);
    GDALClose(in);
    GDALClose(out);
}
END_TEST

START_TEST(clusters_lie_over_the_oblasts)
{
    ck_assert_int_eq(run(MAIN_JOB, firms, "out.gpkg"), 0);
    char oblasts[512];
    snprintf(oblasts, sizeof oblasts, "%s/fixtures/kz/kaz_admbnda_adm1_2024.shp", src);
    GDALDatasetH ob = open_vector(oblasts), out = open_vector(in_dir("out.gpkg"));
    OGRGeometryH kz = OGR_G_CreateGeometry(wkbMultiPolygon);
    OGRFeatureH f;
    OGRLayerH lo = layer(ob, NULL);
    while ((f = OGR_L_GetNextFeature(lo))) {
        OGRGeometryH valid = OGR_G_MakeValid(OGR_F_GetGeometryRef(f));
        OGRGeometryH u = OGR_G_Union(kz, valid);
        OGR_G_DestroyGeometry(kz);
        OGR_G_DestroyGeometry(valid);
        kz = u;
        OGR_F_Destroy(f);
    }
    OGRLayerH lc = layer(out, "clusters");
    int inside = 0, total = 0;
    while ((f = OGR_L_GetNextFeature(lc))) {
        OGRGeometryH centroid = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_Centroid(OGR_F_GetGeometryRef(f), centroid);
        inside += OGR_G_Contains(kz, centroid);
        total++;
        OGR_G_DestroyGeometry(centroid);
        OGR_F_Destroy(f);
    }
    ck_assert_int_gt(total, 20);
    ck_assert_msg(inside == total, "%d of %d cluster centroids inside Kazakhstan", inside, total);
    OGR_G_DestroyGeometry(kz);
    GDALClose(ob);
    GDALClose(out);
}
END_TEST

START_TEST(same_input_same_bytes)
{
    /* whatever the thread count: clustering, polygons and p-values */
    ck_assert_int_eq(run(MAIN_JOB " --threads 1 --permutations 49", firms, "a.gpkg"), 0);
    ck_assert_int_eq(run(MAIN_JOB " --hull buffer --permutations 49", firms, "b.gpkg"), 0);
    ck_assert_int_eq(run(MAIN_JOB " --threads 3 --permutations 49", firms, "c.gpkg"), 0);
    ck_assert(same_bytes(in_dir("a.gpkg"), in_dir("c.gpkg")));
    ck_assert(!same_bytes(in_dir("a.gpkg"), in_dir("b.gpkg")));
}
END_TEST

START_TEST(existing_output_kept_without_overwrite)
{
    ck_assert_int_eq(run(MAIN_JOB " --hull convex", firms, "out.gpkg"), 0);
    ck_assert_int_eq(run("synth -q --firms 50 before.gpkg"), 0);
    ck_assert_int_eq(run("synth -q --firms 50 out2.gpkg"), 0);
    ck_assert(same_bytes(in_dir("before.gpkg"), in_dir("out2.gpkg")));
    ck_assert_int_eq(run(MAIN_JOB, firms, "out2.gpkg"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "out2.gpkg exists; use --overwrite"));
    ck_assert(same_bytes(in_dir("before.gpkg"), in_dir("out2.gpkg")));
    ck_assert_int_eq(run(MAIN_JOB " --hull convex --overwrite", firms, "out2.gpkg"), 0);
    ck_assert(same_bytes(in_dir("out.gpkg"), in_dir("out2.gpkg")));
    ck_assert_str_eq(listing(), "before.gpkg out.gpkg out2.gpkg ");
}
END_TEST

START_TEST(output_never_replaces_input)
{
    ck_assert_int_eq(run("synth -q --firms 500 in.gpkg"), 0);
    ck_assert_int_eq(run("synth -q --firms 500 copy.gpkg"), 0);
    ck_assert_int_eq(run("cluster in.gpkg in.gpkg --eps 5000 --overwrite --permutations 0"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "would replace an input"));
    ck_assert(same_bytes(in_dir("in.gpkg"), in_dir("copy.gpkg")));
}
END_TEST

/* ---- formats ------------------------------------------------------------ */

static void check_directory_output(const char *format, const char *ext)
{
    ck_assert_int_eq(run(MAIN_JOB, firms, "ref.gpkg"), 0);
    ck_assert_int_eq(run(MAIN_JOB " -f '%s'", firms, "outdir", format), 0);
    char c[600], f[600];
    snprintf(c, sizeof c, "%s/outdir/clusters.%s", dir, ext);
    snprintf(f, sizeof f, "%s/outdir/firms.%s", dir, ext);
    ck_assert_int_eq(count(c, NULL), count(in_dir("ref.gpkg"), "clusters"));
    ck_assert_int_eq(count(f, NULL), count(in_dir("ref.gpkg"), "firms"));
    GDALDatasetH ds = open_vector(f);
    OGRFeatureDefnH fd = OGR_L_GetLayerDefn(layer(ds, NULL));
    ck_assert_int_ge(OGR_FD_GetFieldIndex(fd, "cluster_id"), 0);
    ck_assert_int_ge(OGR_FD_GetFieldIndex(fd, "role"), 0);
    ck_assert_int_eq(epsg_of(layer(ds, NULL)), 4326);
    /* Kazakh text intact (FlatGeobuf orders features spatially, so the
     * reference firm is found by id) */
    OGRFeatureH feat = OGR_L_GetNextFeature(layer(ds, NULL));
    GDALDatasetH ref = open_vector(in_dir("ref.gpkg"));
    char filter[64];
    snprintf(filter, sizeof filter, "firm_id = " CPL_FRMT_GIB,
             OGR_F_GetFieldAsInteger64(feat, OGR_F_GetFieldIndex(feat, "firm_id")));
    OGR_L_SetAttributeFilter(layer(ref, "firms"), filter);
    OGRFeatureH rf = OGR_L_GetNextFeature(layer(ref, "firms"));
    ck_assert_ptr_nonnull(rf);
    ck_assert_str_eq(OGR_F_GetFieldAsString(feat, OGR_F_GetFieldIndex(feat, "city")),
                     OGR_F_GetFieldAsString(rf, OGR_F_GetFieldIndex(rf, "city")));
    OGR_F_Destroy(feat);
    OGR_F_Destroy(rf);
    GDALClose(ref);
    GDALClose(ds);
}

START_TEST(shapefile_directory_with_cpg_and_prj)
{
    check_directory_output("ESRI Shapefile", "shp");
    const char *parts[] = {"clusters.shp", "clusters.dbf", "clusters.shx", "clusters.prj",
                           "clusters.cpg", "firms.shp", "firms.cpg", "firms.prj"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof p, "%s/outdir/%s", dir, parts[i]);
        ck_assert_msg(stat(p, &st) == 0, "%s missing", parts[i]);
    }
    char cpg[64];
    char p[600];
    snprintf(p, sizeof p, "%s/outdir/firms.cpg", dir);
    slurp(p, cpg, sizeof cpg);
    ck_assert_ptr_nonnull(strstr(cpg, "UTF-8"));
}
END_TEST

START_TEST(geojson_directory) { check_directory_output("GeoJSON", "geojson"); }
END_TEST

START_TEST(flatgeobuf_directory) { check_directory_output("FlatGeobuf", "fgb"); }
END_TEST

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

/* ---- distances in metres ------------------------------------------------ */

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

/* ---- geodesic distances ------------------------------------------------ */

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

/* ---- regions and statistics -------------------------------------------- */

START_TEST(oblasts_location_quotients_and_pvalues)
{
    char oblasts[512];
    snprintf(oblasts, sizeof oblasts, "%s/fixtures/kz/kaz_admbnda_adm1_2024.shp", src);
    ck_assert_int_eq(run("cluster '%s' out.gpkg --sector-field oked --sector-digits 2 --eps 2000 "
                         "--min-pts 10 --weight-field employees --regions '%s' --permutations 99 "
                         "--json summary.json",
                         firms, oblasts),
                     0);
    ck_assert_ptr_nonnull(strstr(out_text, "regions: 20, named by field ADM1_EN (a guess"));
    ck_assert_ptr_nonnull(strstr(out_text, "p-values: up to 99 Monte Carlo runs a sector"));
    ck_assert_ptr_nonnull(strstr(out_text, "q-values: Benjamini-Hochberg over the"));
    ck_assert_ptr_nonnull(strstr(err_text, "region 'Zhetysu' (feature 7) has 2 rings without area"));

    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    /* every cluster has its oblast and a p-value */
    OGRLayerH lc = layer(ds, "clusters");
    OGRFeatureH f;
    int n = 0;
    while ((f = OGR_L_GetNextFeature(lc))) {
        ck_assert(OGR_F_IsFieldSetAndNotNull(f, OGR_F_GetFieldIndex(f, "region")));
        double p = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "p_value"));
        ck_assert(p >= 0.01 - 1e-12 && p <= 1);
        double q = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "q_value"));
        ck_assert(q >= p && q <= 1);
        int runs = OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "runs"));
        ck_assert(runs >= 10 && runs <= 99);
        double share = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "reg_share"));
        ck_assert(share > 0 && share <= 1);
        ck_assert_int_ge(OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "n_regions")), 1);
        ck_assert(OGR_F_IsFieldSetAndNotNull(f, OGR_F_GetFieldIndex(f, "region_lq")));
        OGR_F_Destroy(f);
        n++;
    }
    ck_assert_int_gt(n, 20);

    /* the regions layer's LQs against a computation from the firms layer */
    OGRLayerH counts = GDALDatasetExecuteSQL(
        ds,
        "SELECT region, substr(oked, 1, 2) AS sector, COUNT(*) AS n, SUM(employees) AS w, "
        "(SELECT COUNT(*) FROM firms f2 WHERE f2.region = f.region) AS n_r, "
        "(SELECT SUM(employees) FROM firms f2 WHERE f2.region = f.region) AS w_r, "
        "(SELECT COUNT(*) FROM firms f3 WHERE f3.region IS NOT NULL AND "
        "   substr(f3.oked, 1, 2) = substr(f.oked, 1, 2)) AS n_s, "
        "(SELECT SUM(employees) FROM firms f3 WHERE f3.region IS NOT NULL AND "
        "   substr(f3.oked, 1, 2) = substr(f.oked, 1, 2)) AS w_s "
        "FROM firms f WHERE region IS NOT NULL GROUP BY region, sector",
        NULL, "SQLite");
    ck_assert_ptr_nonnull(counts);
    OGRLayerH totals = GDALDatasetExecuteSQL(
        ds, "SELECT COUNT(*), SUM(employees) FROM firms WHERE region IS NOT NULL", NULL, "SQLite");
    OGRFeatureH t = OGR_L_GetNextFeature(totals);
    double n_all = OGR_F_GetFieldAsDouble(t, 0), w_all = OGR_F_GetFieldAsDouble(t, 1);
    OGR_F_Destroy(t);
    GDALDatasetReleaseResultSet(ds, totals);
    OGRLayerH lr = layer(ds, "regions");
    int checked = 0;
    while ((f = OGR_L_GetNextFeature(counts))) {
        double lq = (OGR_F_GetFieldAsDouble(f, 2) / OGR_F_GetFieldAsDouble(f, 4)) /
                    (OGR_F_GetFieldAsDouble(f, 6) / n_all);
        double lqw = (OGR_F_GetFieldAsDouble(f, 3) / OGR_F_GetFieldAsDouble(f, 5)) /
                     (OGR_F_GetFieldAsDouble(f, 7) / w_all);
        char filter[256];
        char *region = CPLEscapeString(OGR_F_GetFieldAsString(f, 0), -1, CPLES_SQL);
        snprintf(filter, sizeof filter, "region = '%s' AND sector = '%s'", region,
                 OGR_F_GetFieldAsString(f, 1));
        CPLFree(region);
        OGR_L_SetAttributeFilter(lr, filter);
        OGR_L_ResetReading(lr);
        OGRFeatureH row = OGR_L_GetNextFeature(lr);
        ck_assert_msg(row != NULL, "no regions row for %s", filter);
        ck_assert_int_eq(OGR_F_GetFieldAsInteger(row, OGR_F_GetFieldIndex(row, "n_firms")),
                         OGR_F_GetFieldAsInteger(f, 2));
        ck_assert_double_eq_tol(OGR_F_GetFieldAsDouble(row, OGR_F_GetFieldIndex(row, "lq")), lq, 1e-9);
        ck_assert_double_eq_tol(OGR_F_GetFieldAsDouble(row, OGR_F_GetFieldIndex(row, "lq_weight")),
                                lqw, 1e-9);
        ck_assert(OGR_G_IsValid(OGR_F_GetGeometryRef(row)));
        OGR_F_Destroy(row);
        OGR_F_Destroy(f);
        checked++;
    }
    GDALDatasetReleaseResultSet(ds, counts);
    ck_assert_int_gt(checked, 150);
    OGR_L_SetAttributeFilter(lr, NULL);
    ck_assert_int_eq(OGR_L_GetFeatureCount(lr, TRUE), 20 * 20); /* every region x sector */
    GDALClose(ds);

    char json[16384];
    slurp(in_dir("summary.json"), json, sizeof json);
    ck_assert_ptr_nonnull(strstr(json, "\"regions\": {\"count\": 20, \"field\": \"ADM1_EN\""));
    ck_assert_ptr_nonnull(strstr(json, "\"top_regions\": [{\"region\": "));
    ck_assert_ptr_nonnull(strstr(json, "\"p_value\": "));
}
END_TEST

START_TEST(spreadsheet_outputs)
{
    /* XLSX and ODS hold the attributes, not the geometries: written, with a
     * warning that says so. (Their temporary once held ".xlsx" twice, which
     * /vsizip/ took for a zip inside a directory.) */
    const char *outs[] = {"out.xlsx", "out.ods"};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(run(MAIN_JOB, firms, outs[k]), 0);
        ck_assert_msg(strstr(err_text, "files hold no geometries: layer clusters is written "
                                       "without its polygons"),
                      "%s", err_text);
        ck_assert_int_eq(count(in_dir(outs[k]), "firms"), 10000);
        ck_assert_int_gt(count(in_dir(outs[k]), "clusters"), 20);
    }
    ck_assert_str_eq(listing(), "out.ods out.xlsx ");
}
END_TEST

START_TEST(synth_city_firms_inside_their_city)
{
    /* Almaty, Astana and Shymkent have boundaries of their own: a firm
     * whose city is one of them lies inside it, not in the oblast around. */
    ck_assert_int_eq(run("synth -q --firms 4000 --seed 5 s.gpkg"), 0);
    ck_assert_int_eq(run("cluster s.gpkg out.gpkg -q --eps 2000 --min-pts 10 --permutations 0 "
                         "--regions '%s/fixtures/kz/kaz_admbnda_adm1_2024.shp'",
                         src),
                     0);
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH sql = GDALDatasetExecuteSQL(
        ds,
        "SELECT SUM(city = 'Алматы'), SUM(city = 'Алматы' AND region = 'Almaty (city)'), "
        "SUM(city = 'Астана'), SUM(city = 'Астана' AND region = 'Astana (city)'), "
        "SUM(city = 'Шымкент'), SUM(city = 'Шымкент' AND region = 'Shymkent (city)') FROM firms",
        NULL, NULL);
    OGRFeatureH f = OGR_L_GetNextFeature(sql);
    for (int k = 0; k < 6; k += 2) {
        ck_assert_int_gt(OGR_F_GetFieldAsInteger(f, k), 100);
        ck_assert_int_eq(OGR_F_GetFieldAsInteger(f, k), OGR_F_GetFieldAsInteger(f, k + 1));
    }
    OGR_F_Destroy(f);
    GDALDatasetReleaseResultSet(ds, sql);
    GDALClose(ds);
}
END_TEST

START_TEST(regions_without_firms_are_named)
{
    /* firms in Astana only: 19 oblasts hold none */
    FILE *f = fopen(in_dir("astana.csv"), "w");
    fprintf(f, "lon,lat\n71.43,51.13\n71.44,51.13\n");
    fclose(f);
    ck_assert_int_eq(run("cluster astana.csv out.gpkg --s-srs EPSG:4326 --eps 2000 --min-pts 2 "
                         "--regions '%s/fixtures/kz/kaz_admbnda_adm1_2024.shp'",
                         src),
                     0);
    ck_assert_msg(strstr(err_text, "kaz_admbnda_adm1_2024.shp: 19 of 20 regions hold no firm "
                                   "('Abay', 'Akmola', 'Aktobe', 'Almaty', 'Atyrau', ...); 2 firms "
                                   "lie in the others, 0 outside every region"),
                  "%s", err_text);
    ck_assert_ptr_nonnull(strstr(out_text, "; 2 firms in them, 0 outside every region"));
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

START_TEST(shapefile_keeps_our_field_names)
{
    /* cluster_identifier would be cut to cluster_id, and 120 names share
     * their first 10 characters: ours keep their names, the input's get
     * names that fit, and the mapping is in the summary and the JSON. */
    FILE *f = fopen(in_dir("wide.csv"), "w");
    fprintf(f, "lon,lat,cluster_identifier");
    for (int i = 0; i < 120; i++)
        fprintf(f, ",longfieldname_%03d", i);
    fprintf(f, "\n");
    for (int k = 0; k < 5; k++) {
        fprintf(f, "71.43%d,51.128,7", k);
        for (int i = 0; i < 120; i++)
            fprintf(f, ",%d", i);
        fprintf(f, "\n");
    }
    fclose(f);
    ck_assert_int_eq(run("cluster wide.csv shp -f 'ESRI Shapefile' --s-srs EPSG:4326 --eps 2000 "
                         "--min-pts 2 --json wide.json"),
                     0);
    ck_assert_ptr_nonnull(strstr(out_text, "fields renamed in layer firms: cluster_identifier -> "
                                           "cluster__1, longfieldname_000 -> longfieldn, "
                                           "longfieldname_001 -> longfiel_1,"));
    ck_assert_ptr_nonnull(strstr(out_text, "longfieldname_119 -> longfi_119\n"));
    int lines = 0;
    for (const char *c = err_text; *c; c++)
        lines += *c == '\n';
    ck_assert_int_le(lines, 2); /* one warning, not one per field */
    char json[65536];
    slurp(in_dir("wide.json"), json, sizeof json);
    ck_assert_ptr_nonnull(strstr(json, "{\"from\": \"cluster_identifier\", \"to\": \"cluster__1\"}"));
    GDALDatasetH ds = open_vector(in_dir("shp/firms.shp"));
    OGRLayerH l = layer(ds, NULL);
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    ck_assert_int_eq(OGR_FD_GetFieldCount(defn), 2 + 1 + 120 + 2);
    OGRFeatureH feat = OGR_L_GetNextFeature(l);
    ck_assert_int_eq(OGR_F_GetFieldAsInteger(feat, OGR_F_GetFieldIndex(feat, "cluster_id")), 1);
    ck_assert_str_eq(OGR_F_GetFieldAsString(feat, OGR_F_GetFieldIndex(feat, "role")), "core");
    ck_assert_int_eq(OGR_F_GetFieldAsInteger(feat, OGR_F_GetFieldIndex(feat, "cluster__1")), 7);
    ck_assert_int_eq(OGR_F_GetFieldAsInteger(feat, OGR_F_GetFieldIndex(feat, "longfi_119")), 119);
    OGR_F_Destroy(feat);
    GDALClose(ds);
    /* a GeoPackage holds every name as it is */
    ck_assert_int_eq(run("cluster wide.csv w.gpkg --s-srs EPSG:4326 --eps 2000 --min-pts 2"), 0);
    ck_assert_ptr_null(strstr(out_text, "fields renamed"));
}
END_TEST

/* Runs firmclust with a file size limit of `blocks` 512-byte blocks (sh's
 * ulimit -f), as a full disk would stop it: the signal ignored, so that
 * writes just fail. */
static int run_limited(int blocks, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && (ulimit -f %d; trap '' XFSZ; exec '%s' %s) > stdout.txt 2> stderr.txt",
             dir, blocks, bin, args);
    int status = system(cmd);
    slurp(in_dir("stderr.txt"), err_text, sizeof err_text);
    unlink(in_dir("stdout.txt"));
    unlink(in_dir("stderr.txt"));
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(full_disk_names_the_output_and_the_cause)
{
    char args[1024];
    /* GeoJSON: GDAL does not report the failed write; reading back does. It
     * once went unnoticed, and a cut file was committed as the output. */
    const struct { int blocks; const char *format, *output, *words; } cases[] = {
        {100, "GeoJSON", "outj", "FAILURE: outj/clusters.geojson: writing layer clusters failed"},
        {300, "GeoJSON", "outj", "FAILURE: outj/firms.geojson: writing layer firms failed: 0 of "
                                 "its 10000 features read back"},
        {100, "CSV", "out.csv", "FAILURE: out.csv/clusters.csv: cannot write cluster"},
        {200, "GPKG", "out.gpkg", "FAILURE: out.gpkg: "},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(args, sizeof args, MAIN_JOB " -f %s -q", firms, cases[k].output, cases[k].format);
        ck_assert_int_eq(run_limited(cases[k].blocks, args), 1);
        ck_assert_msg(strstr(err_text, cases[k].words), "%s", err_text);
        ck_assert_msg(strstr(err_text, "(file too large: the file size limit (ulimit -f) of"),
                      "%s", err_text);
        ck_assert_msg(!strstr(err_text, ".tmp"), "names the temporary: %s", err_text);
        ck_assert_str_eq(listing(), ""); /* nothing left behind */
    }
}
END_TEST

START_TEST(one_sector_has_no_pvalues)
{
    /* Shuffling the one sector's code changes nothing: no runs, no p-values. */
    ck_assert_int_eq(run("cluster '%s' out.gpkg --eps 2000 --min-pts 10", firms), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "p-values: none: all firms are of one sector"));
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer(ds, "clusters"));
    ck_assert_int_lt(OGR_FD_GetFieldIndex(defn, "p_value"), 0);
    ck_assert_int_lt(OGR_FD_GetFieldIndex(defn, "q_value"), 0);
    GDALClose(ds);
}
END_TEST

START_TEST(json_never_replaced_without_overwrite)
{
    FILE *f = fopen(in_dir("summary.json"), "w");
    fputs("keep me\n", f);
    fclose(f);
    ck_assert_int_eq(run(MAIN_JOB " --json summary.json", firms, "out.gpkg"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "summary.json exists; use --overwrite"));
    char text[64];
    slurp(in_dir("summary.json"), text, sizeof text);
    ck_assert_str_eq(text, "keep me\n");
    ck_assert_str_eq(listing(), "summary.json ");
}
END_TEST

/* ---- bad input: a clear message, a non-zero exit, nothing left behind -- */

static const struct {
    const char *args;
    int exit_code;
    const char *words;
} bad_runs[] = {
    {"cluster missing.gpkg out.gpkg --eps 100", 1, "missing.gpkg: no such file"},
    {"cluster FIRMS out.gpkg --eps 100 --sector-field sektor", 1, "no field named 'sektor'"},
    {"cluster FIRMS out.gpkg --eps 100 --layer nope", 1, "no layer named 'nope'"},
    {"cluster FIRMS out.gpkg --eps 100 --sector-field employees --weight-field oked", 1,
     "weight field 'oked' is of type String"},
    {"cluster FIRMS out.gpkg --eps 100 --where 'no_such_column > 1'", 1, "bad --where"},
    /* usage errors: options that are wrong or do not go together, exit 2 */
    {"cluster FIRMS out.gpkg --sector-field oked", 2, "--eps is required"},
    {"cluster FIRMS out.gpkg --eps 100 --region-field city", 2,
     "--region-field names part of --regions, which is not given"},
    {"cluster FIRMS out.gpkg --eps -3", 2, "--eps must be greater than 0"},
    {"cluster FIRMS out.gpkg --eps 100 --min-pts 0", 2, "--min-pts must be at least 1"},
    {"cluster FIRMS out.gpkg --eps 100 --hull round", 2, "--hull takes convex, concave or buffer"},
    {"cluster FIRMS out.gpkg --eps 100 --bogus 1", 2, "unknown option --bogus"},
    {"cluster FIRMS --eps 100", 2, "needs FIRMS and OUTPUT"},
    {"cluster FIRMS out.xyz --eps 100", 1, "no GDAL driver writes '.xyz' files"},
    {"cluster FIRMS out.gpkg --eps 100 -f NoSuchDriver", 1, "'NoSuchDriver' is not a GDAL vector driver"},
    {"cluster FIRMS out.gpkg --eps 100 --t-srs EPSG:999999", 2, "--t-srs: cannot understand the CRS"},
    {"cluster notvector.txt out.gpkg --eps 100", 1, "notvector.txt: not a vector dataset"},
    {"cluster polygons.gpkg out.gpkg --eps 100", 1, "feature 1: geometry is a Polygon, not a point"},
    {"frobnicate", 2, "unknown command 'frobnicate'"},
    {"cluster FIRMS out.gpkg --eps 100 --regions missing.shp", 1, "missing.shp: no such file"},
    {"cluster FIRMS out.gpkg --eps 100 --regions FIRMS", 1, "is a POINT, not a polygon"},
    {"cluster FIRMS out.gpkg --eps 100 --permutations -1", 2, "--permutations must be between"},
    {"cluster empty.gpkg out.gpkg --eps 100", 1, "layer points: no firms to cluster (0 features"},
    {"cluster truncated.gpkg out.gpkg --eps 100", 1, "truncated.gpkg"},
    {"cluster nodbf.shp out.gpkg --eps 100", 1, "nodbf.shp: its .dbf, which holds the attributes, is missing"},
    {"cluster noshx.shp out.gpkg --eps 100", 1, "noshx.shp: its .shx index is missing"},
    {"cluster nocoords.csv out.gpkg --eps 100", 1, "has no geometry (a CSV needs columns named lon/lat"},
    {"cluster realcode.geojson out.gpkg --eps 100 --sector-field code", 1,
     "realcode.geojson, layer realcode: sector field 'code' holds its codes as numbers with no "
     "fixed number of decimals"},
    {"cluster FIRMS out.gpkg --eps 3e7", 2, "more than half the earth's circumference"},
    /* one expression only, in both ways of reading */
    {"cluster FIRMS out.gpkg --eps 100 --where '1=1; DROP TABLE firms'", 2,
     "--where takes one SQL expression, as ogr2ogr -where does"},
    {"cluster FIRMS out.gpkg --eps 100 --where '1=1; DROP TABLE firms' --config FIRMCLUST_ARROW NO",
     2, "--where takes one SQL expression"},
    {"cluster FIRMS out.gpkg --eps 100 --min-pts 50 --where \"oked <> 'x;y'\"", 0, ""},
    /* a --json that cannot be written: the file and the cause */
    {"cluster FIRMS out.gpkg --eps 100 --json /nonexistent-dir/s.json", 1,
     "/nonexistent-dir/s.json: cannot write in /nonexistent-dir: No such file or directory"},
    /* degrees by mistake: no cluster, and the data's scale says why */
    {"cluster FIRMS out.gpkg --eps 0.02 --sector-field oked --sector-digits 2 --permutations 0", 0,
     "no clusters: eps is 0.02 m, but the 5 firms nearest to a firm of sector 47 (itself "
     "included, as --min-pts 5 counts them) lie within a median of"},
    {"cluster FIRMS out.gpkg --eps 100 --s-srs nonsense", 2, "--s-srs: cannot understand the CRS 'nonsense'"},
    {"cluster a.gpkg b.gpkg c.gpkg --eps 100", 2, "several inputs need --output-dir"},
    {"cluster FIRMS --output-dir d --output o.gpkg --eps 100", 2, "--output and --output-dir do not go together"},
    {"cluster FIRMS out.gpkg --config-file missing.conf", 1, "missing.conf: cannot read the configuration file"},
    {"cluster FIRMS out.gpkg --config-file bad.conf", 1, "bad.conf:2: expected 'option = value'"},
    {"info missing.gpkg", 1, "missing.gpkg: no such file"},
    {"cluster near.gpkg far.gpkg --output o.gpkg --eps 100", 1,
     "far.gpkg, layer points: point 0 cannot be transformed from WGS 84 / UTM zone 42N to WGS 84"},
    /* per-feature problems: a warning with a count and FIDs, and the run goes on */
    /* OGR reads a NaN point as an empty one */
    {"cluster nan.shp out.gpkg --eps 100 --min-pts 1", 0,
     "skipped 1 feature with no geometry or an empty one (FID 1)"},
    {"cluster mixed.csv out.gpkg --eps 100 --min-pts 1 --s-srs EPSG:4326", 0,
     "skipped 1 feature with longitude/latitude out of range (FID 3)"},
    {"cluster mixed.csv out.gpkg --eps 100 --min-pts 1 --s-srs EPSG:4326 --sector-field oked", 0,
     "skipped 1 feature with no sector code (FID 4)"},
    {"cluster weights.csv out.gpkg --eps 100 --s-srs EPSG:4326 --weight-field staff", 0,
     "skipped 2 features with a missing or negative weight (FID 2, 3)"},
};


/* Copies `bytes` bytes (all when 0) of a file. */
static void copy_file(const char *from, const char *to, long bytes)
{
    char cmd[1400];
    if (bytes > 0)
        snprintf(cmd, sizeof cmd, "head -c %ld '%s' > '%s'", bytes, from, in_dir(to));
    else
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, in_dir(to));
    ck_assert_int_eq(system(cmd), 0);
}

/* The broken inputs of the table below. */
static void make_bad_inputs(void)
{
    write_text("notvector.txt", "hello\n");
    const char *poly[] = {"POLYGON ((0 0, 1 0, 1 1, 0 0))"}, *one[] = {"1"};
    fc_test_write_points(in_dir("polygons.gpkg"), 4326, 1, poly, one);
    fc_test_write_points(in_dir("empty.gpkg"), 4326, 0, poly, one);
    const char *codes2[] = {"62", "62"};
    write_text("mixed.csv", "lon,lat,oked\n71.4,51.1,62\n71.4,51.1,62\n200,51.1,62\n71.4,51.1,\n");
    const char *nan[] = {"POINT (71.4 51.1)", "NAN"}; /* a Shapefile holds NaNs as they are */
    fc_test_write_points(in_dir("nan.shp"), 4326, 2, nan, codes2);
    copy_file(firms, "truncated.gpkg", 200000);
    char shp[512];
    snprintf(shp, sizeof shp, "%s/fixtures/kz/kaz_admbnda_adm1_2024", src);
    const char *parts[] = {"shp", "shx", "dbf", "prj"};
    for (int i = 0; i < 4; i++) {
        char from[600], to[64];
        snprintf(from, sizeof from, "%s.%s", shp, parts[i]);
        if (i != 2) {
            snprintf(to, sizeof to, "nodbf.%s", parts[i]);
            copy_file(from, to, 0);
        }
        if (i != 1) {
            snprintf(to, sizeof to, "noshx.%s", parts[i]);
            copy_file(from, to, 0);
        }
    }
    write_text("nocoords.csv", "name,code\nA,1\n");
    write_text("realcode.geojson", "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": "
                                   "\"Feature\", \"properties\": {\"code\": 47.5}, \"geometry\": "
                                   "{\"type\": \"Point\", \"coordinates\": [71.4, 51.1]}}]}\n");
    write_text("weights.csv", "lon,lat,staff\n71.4,51.1,5\n71.4,51.1,\n71.4,51.1,-3\n");
    write_text("bad.conf", "eps = 100\n= 5\n");
    const char *far[] = {"POINT (1e12 1e12)"}; /* no place on earth in UTM */
    fc_test_write_points(in_dir("far.gpkg"), 32642, 1, far, codes2);
    const char *near[] = {"POINT (71.4 51.1)"};
    fc_test_write_points(in_dir("near.gpkg"), 4326, 1, near, codes2);
}

START_TEST(bad_input_fails_cleanly)
{
    make_bad_inputs();
    const char *before = strdup(listing());

    /* FIRMS stands for the fixture's firms */
    char args[2048] = "";
    const char *a = bad_runs[_i].args, *at, *rest = a;
    while ((at = strstr(rest, "FIRMS"))) {
        size_t len = strlen(args);
        snprintf(args + len, sizeof args - len, "%.*s'%s'", (int)(at - rest), rest, firms);
        rest = at + 5;
    }
    strncat(args, rest, sizeof args - strlen(args) - 1);
    ck_assert_int_eq(run("%s", args), bad_runs[_i].exit_code);
    ck_assert_msg(strstr(err_text, bad_runs[_i].words), "firmclust %s: stderr '%s' lacks '%s'", a,
                  err_text, bad_runs[_i].words);
    if (bad_runs[_i].exit_code != 0)
        ck_assert_str_eq(listing(), before); /* no output, no temporary */
    else
        ck_assert_int_gt(count(in_dir("out.gpkg"), "firms"), 0);
    free((void *)before);
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

static int cancel_at_half(double complete, const char *message, void *arg)
{
    (void)message;
    *(double *)arg = complete;
    return complete < 0.5;
}

START_TEST(cancelled_run_leaves_nothing)
{
    fc_context *ctx = fc_context_new();
    fc_options *o = fc_options_new();
    double last = 0;
    fc_options_set(ctx, o, "eps", "2000");
    fc_options_set(ctx, o, "sector-field", "oked");
    fc_context_set_progress(ctx, cancel_at_half, &last);
    ck_assert_int_eq(fc_cluster(ctx, firms, in_dir("out.gpkg"), o, NULL), FC_ECANCEL);
    ck_assert_str_eq(fc_errmsg(ctx), "cancelled by the progress callback");
    ck_assert_double_ge(last, 0.5);
    ck_assert_str_eq(listing(), "");
    fc_options_destroy(o);
    fc_context_destroy(ctx);
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

/* ---- batches, configuration, signals ------------------------------------ */

START_TEST(batch_of_twenty_with_three_broken)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/in'", dir);
    ck_assert_int_eq(system(cmd), 0);
    for (int i = 1; i <= 17; i++)
        ck_assert_int_eq(run("synth -q --firms 400 --seed %d in/year%02d.gpkg", i, i), 0);
    write_text("in/broken.gpkg", "not a GeoPackage\n");
    write_text("in/nocoords.csv", "name,oked\nA,47\n");
    const char *poly[] = {"POLYGON ((0 0, 1 0, 1 1, 0 0))"}, *one[] = {"47"};
    fc_test_write_points(in_dir("in/polygons.gpkg"), 4326, 1, poly, one);
    ck_assert_int_eq(run("cluster in/* --output-dir out --sector-field oked --sector-digits 2 "
                         "--eps 3000 --min-pts 5 --permutations 9 --progress"),
                     1);
    ck_assert_ptr_nonnull(strstr(out_text, "17 of 20 inputs done, 3 failed"));
    ck_assert_ptr_nonnull(strstr(out_text, "FAILED  in/broken.gpkg: not a vector dataset"));
    ck_assert_ptr_nonnull(strstr(out_text, "FAILED  in/nocoords.csv, layer nocoords: has no geometry"));
    ck_assert_ptr_nonnull(strstr(out_text, "FAILED  in/polygons.gpkg, layer points, feature 1"));
    ck_assert_ptr_nonnull(strstr(out_text, "ok      in/year07.gpkg -> out/year07.gpkg: "));
    ck_assert_ptr_nonnull(strstr(err_text, "100 - done."));
    for (int i = 1; i <= 17; i++) {
        char name[64];
        snprintf(name, sizeof name, "out/year%02d.gpkg", i);
        ck_assert_int_eq(count(in_dir(name), "firms"), 400);
    }
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s/out' | wc -l) -eq 17", dir);
    ck_assert_msg(system(cmd) == 0, "out/ holds more than the 17 outputs");
    /* all good: exit 0; the existing outputs need --overwrite */
    ck_assert_int_eq(run("cluster in/year0*.gpkg --output-dir out --eps 3000 --permutations 0 -q"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "out/year01.gpkg exists; use --overwrite"));
    ck_assert_int_eq(run("cluster in/year0*.gpkg --output-dir out --eps 3000 --permutations 0 "
                         "--overwrite"),
                     0);
    ck_assert_ptr_nonnull(strstr(out_text, "9 of 9 inputs done, 0 failed"));
    /* --fail-fast, one at a time, a broken input first: the rest is not run */
    ck_assert_int_eq(run("cluster in/broken.gpkg in/year01.gpkg in/year02.gpkg --output-dir out2 "
                         "--eps 3000 --threads 1 --fail-fast"),
                     1);
    ck_assert_ptr_nonnull(strstr(out_text, "skipped in/year01.gpkg"));
    ck_assert_ptr_nonnull(strstr(out_text, "0 of 3 inputs done, 1 failed, the rest not run"));
}
END_TEST

/* A part of the fixture's firms, perhaps in another CRS. */
static void split(const char *name, const char *where, const char *t_srs)
{
    char *args[] = {"-where", (char *)where, t_srs ? "-t_srs" : NULL, (char *)t_srs, NULL};
    GDALVectorTranslateOptions *o = GDALVectorTranslateOptionsNew(args, NULL);
    GDALDatasetH whole = open_vector(firms);
    GDALDatasetH part = GDALVectorTranslate(in_dir(name), NULL, 1, &whole, o, NULL);
    ck_assert_ptr_nonnull(part);
    GDALClose(part);
    GDALClose(whole);
    GDALVectorTranslateOptionsFree(o);
}

START_TEST(several_inputs_taken_together)
{
    /* the fixture in two halves, the second in UTM: together they give
     * the fixture's clusters */
    split("west.gpkg", "firm_id <= 5000", NULL);
    split("east.gpkg", "firm_id > 5000", "EPSG:32642");
    ck_assert_int_eq(run(MAIN_JOB, firms, "whole.gpkg"), 0);
    ck_assert_int_eq(run("cluster west.gpkg east.gpkg --output merged.gpkg --sector-field oked "
                         "--sector-digits 2 --eps 2000 --min-pts 10 --permutations 0"),
                     0);
    GDALDatasetH w = open_vector(in_dir("whole.gpkg")), m = open_vector(in_dir("merged.gpkg"));
    OGRLayerH cw = layer(w, "clusters"), cm = layer(m, "clusters");
    ck_assert_int_eq(OGR_L_GetFeatureCount(cm, TRUE), OGR_L_GetFeatureCount(cw, TRUE));
    OGRFeatureH a, b;
    while ((a = OGR_L_GetNextFeature(cw)) && (b = OGR_L_GetNextFeature(cm))) {
        for (int k = 0; k < 4; k++) /* cluster_id, sector, n_firms, n_core */
            ck_assert_str_eq(OGR_F_GetFieldAsString(a, k), OGR_F_GetFieldAsString(b, k));
        OGR_F_Destroy(a);
        OGR_F_Destroy(b);
    }
    OGRLayerH fm = layer(m, "firms");
    ck_assert_int_eq(epsg_of(fm), 4326); /* the first input's CRS */
    ck_assert_int_eq(OGR_L_GetFeatureCount(fm, TRUE), 10000);
    OGR_L_SetAttributeFilter(fm, "source LIKE '%east.gpkg'");
    ck_assert_int_eq(OGR_L_GetFeatureCount(fm, TRUE), 5000);
    OGRLayerH fw = layer(w, "firms");
    OGR_L_SetAttributeFilter(fw, "firm_id = 7777");
    OGR_L_SetAttributeFilter(fm, "firm_id = 7777");
    a = OGR_L_GetNextFeature(fw);
    b = OGR_L_GetNextFeature(fm);
    ck_assert_double_lt(OGR_G_Distance(OGR_F_GetGeometryRef(a), OGR_F_GetGeometryRef(b)), 1e-9);
    ck_assert_str_eq(OGR_F_GetFieldAsString(a, OGR_F_GetFieldIndex(a, "name")),
                     OGR_F_GetFieldAsString(b, OGR_F_GetFieldIndex(b, "name")));
    OGR_F_Destroy(a);
    OGR_F_Destroy(b);
    GDALClose(w);
    GDALClose(m);
}
END_TEST

START_TEST(config_file_equals_command_line)
{
    write_text("year.conf", "# the yearly run\n"
                            "sector-field = oked\n"
                            "sector-digits 2\n"
                            "--eps=2000   # metres\n"
                            "min-pts = \"10\"\n"
                            "permutations = 0\n");
    ck_assert_int_eq(run("cluster '%s' a.gpkg --config-file year.conf", firms), 0);
    ck_assert_int_eq(run(MAIN_JOB, firms, "b.gpkg"), 0);
    ck_assert(same_bytes(in_dir("a.gpkg"), in_dir("b.gpkg")));
    /* what follows the file on the command line wins */
    ck_assert_int_eq(run("cluster '%s' c.gpkg --config-file year.conf --min-pts 3", firms), 0);
    ck_assert(!same_bytes(in_dir("a.gpkg"), in_dir("c.gpkg")));
    /* a flag given a value reads it (it once became a file name) */
    write_text("flag.conf", "sector-field = oked\nsector-digits 2\neps 2000\nmin-pts 10\n"
                            "permutations 0\noverwrite = yes\n");
    ck_assert_int_eq(run("cluster '%s' a.gpkg --config-file flag.conf", firms), 0);
    ck_assert(same_bytes(in_dir("a.gpkg"), in_dir("b.gpkg")));
    write_text("noflag.conf", "overwrite = no\n");
    ck_assert_int_eq(run("cluster '%s' a.gpkg --config-file year.conf --config-file=noflag.conf",
                         firms), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "exists"));
    write_text("typo.conf", "epss = 2000\n");
    ck_assert_int_eq(run("cluster '%s' d.gpkg --config-file typo.conf", firms), 2);
    ck_assert_ptr_nonnull(strstr(err_text, "unknown option --epss"));
}
END_TEST

START_TEST(info_tells_roles)
{
    ck_assert_int_eq(run("info '%s'", firms), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "layer firms: Point, 10000 features, CRS EPSG:4326"));
    ck_assert_ptr_nonnull(strstr(out_text, "looks like a sector code (--sector-field oked)"));
    ck_assert_ptr_nonnull(strstr(out_text, "looks like a weight (--weight-field employees)"));
    /* a place name among the firms is not something --region-field takes */
    ck_assert_ptr_nonnull(strstr(out_text, "city             String     Орал, Рудный, Астана   "
                                           "<- looks like a place name (regions come from "
                                           "polygons: --regions FILE)"));
    ck_assert_ptr_null(strstr(out_text, "--region-field"));
    /* the styles of an output: each field on one line, QML included */
    ck_assert_int_eq(run(MAIN_JOB, firms, "out.gpkg"), 0);
    ck_assert_int_eq(run("info out.gpkg"), 0);
    const char *qml = strstr(out_text, "  styleQML ");
    ck_assert_ptr_nonnull(qml);
    ck_assert_ptr_nonnull(strstr(qml, "\n  styleSLD "));
    ck_assert_int_eq(run("info '%s/fixtures/kz/kaz_admbnda_adm1_2024.shp'", src), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "--region-field ADM1_EN)"));
    ck_assert_int_eq(run("info '%s/fixtures/kz/kaz_admbnda_adm1_2024.shp' --json", src), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "\"name\": \"ADM1_EN\", \"type\": \"String\", "
                                           "\"samples\": [\"Abay\", \"Akmola\", \"Aktobe\"], "
                                           "\"looks_like\": \"region\""));
    ck_assert_ptr_nonnull(strstr(out_text, "\"features\": 20"));
}
END_TEST

/* Starts firmclust ARGS in the background in the test directory. */
static pid_t spawn(const char *args)
{
    pid_t pid = fork();
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' %s > /dev/null 2> stderr.txt", dir, bin, args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

START_TEST(ctrl_c_cancels_cleanly)
{
    char args[1024];
    snprintf(args, sizeof args, MAIN_JOB " --permutations 200000 --threads 1", firms, "out.gpkg");
    pid_t pid = spawn(args + 0);
    sleep_ms(1500);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 130);
    char log[4096];
    slurp(in_dir("stderr.txt"), log, sizeof log);
    ck_assert_msg(strstr(log, ": cancelled by Ctrl-C (SIGINT); nothing was written"), "%s", log);
    unlink(in_dir("stderr.txt"));
    ck_assert_str_eq(listing(), ""); /* no output, no temporary */
}
END_TEST

START_TEST(sigterm_stops_a_long_geometry_stage)
{
    /* The eps/2 discs of 200,000 firms on a 1.5 km grid overlap their
     * neighbours only: none can be left out, and their union (a polygon
     * with some 200,000 holes) keeps GEOS busy for minutes in one call.
     * SIGTERM, sent once the clustering stage is done, must stop the run
     * inside that call: the debug log then never reports the polygon stage
     * done. */
    FILE *f = fopen(in_dir("grid.csv"), "w");
    fprintf(f, "lon,lat\n");
    for (int i = 0; i < 450; i++)
        for (int j = 0; j < 450; j++)
            fprintf(f, "%.6f,%.6f\n", 70 + i * 0.0216, 48 + j * 0.0135);
    fclose(f);
    /* GEOS 3.11 leaks what an interrupted operation held (see lsan.supp);
     * where it stops depends on the machine's load, so leak checking, which
     * the other tests do, is off for this run. On a heavily loaded machine
     * the run was once found killed by a signal, cause unknown: the message
     * below then names the signal and shows the log. */
    setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
    pid_t pid = spawn("cluster grid.csv out.gpkg --s-srs EPSG:4326 --eps 2000 --min-pts 2 "
                      "--hull buffer --permutations 0 -q --debug on");
    static char log[65536] = "";
    log[0] = '\0';
    while (!strstr(log, "FIRMCLUST: clustering:")) {
        sleep_ms(20);
        slurp(in_dir("stderr.txt"), log, sizeof log);
        ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0); /* still running */
    }
    sleep_ms(300);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    slurp(in_dir("stderr.txt"), log, sizeof log);
    ck_assert_msg(WIFEXITED(status), "killed by signal %d:\n%s", WTERMSIG(status), log);
    ck_assert_int_eq(WEXITSTATUS(status), 130);
    ck_assert_msg(strstr(log, "FAILURE: grid.csv: cancelled by SIGTERM; nothing was written"), "%s",
                  log);
    ck_assert_msg(!strstr(log, "FIRMCLUST: cluster polygons:"), "the polygons were finished:\n%s",
                  log);
    unlink(in_dir("stderr.txt"));
    ck_assert_str_eq(listing(), "grid.csv ");
}
END_TEST

START_TEST(stale_temporaries_are_removed)
{
    /* the temporaries a killed run left: its process no longer exists */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char name[128];
    const char *files[] = {".out.%d.tmp.gpkg", ".out.%d.tmp.gpkg-journal", ".out.gpkg.%d.tmp.gpkg"};
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, files[k], (int)dead);
        FILE *f = fopen(in_dir(name), "w");
        fclose(f);
    }
    snprintf(name, sizeof name, ".shp.%d.tmp.%d.old", (int)dead, (int)dead);
    ck_assert_int_eq(mkdir(in_dir(name), 0755), 0);
    /* a temporary of a run still going (this test's own pid) is kept */
    snprintf(name, sizeof name, ".out.%d.tmp.gpkg", (int)getpid());
    FILE *f = fopen(in_dir(name), "w");
    fclose(f);
    ck_assert_int_eq(run(MAIN_JOB, firms, "out.gpkg"), 0);
    ck_assert_int_eq(run(MAIN_JOB " -f 'ESRI Shapefile'", firms, "shp"), 0);
    char want[256];
    snprintf(want, sizeof want, "%s out.gpkg shp ", name);
    ck_assert_str_eq(listing(), want);
}
END_TEST

START_TEST(concurrent_overwrites_of_a_directory)
{
    /* Each run swaps its output in with the old one in one step: all
     * succeed, the last one's output stays whole, nothing is left aside. */
    ck_assert_int_eq(run(MAIN_JOB " -f 'ESRI Shapefile'", firms, "shp"), 0);
    char args[1024];
    snprintf(args, sizeof args, MAIN_JOB " -f 'ESRI Shapefile' --overwrite -q", firms, "shp");
    pid_t pids[4];
    for (int k = 0; k < 4; k++)
        pids[k] = spawn(args);
    for (int k = 0; k < 4; k++) {
        int status;
        ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    unlink(in_dir("stderr.txt"));
    ck_assert_str_eq(listing(), "shp ");
    ck_assert_int_eq(count(in_dir("shp/firms.shp"), NULL), 10000);
}
END_TEST

START_TEST(killed_run_leaves_the_old_output)
{
    ck_assert_int_eq(run("synth -q --firms 150000 --seed 3 big.gpkg"), 0);
    ck_assert_int_eq(run("cluster big.gpkg out.gpkg --eps 1500 --permutations 0 -q"), 0);
    copy_file(in_dir("out.gpkg"), "before.gpkg", 0);
    for (int attempt = 0; attempt < 3; attempt++) { /* kill at different moments */
        pid_t pid = spawn("cluster big.gpkg out.gpkg --eps 1500 --permutations 0 --hull buffer "
                          "--overwrite -q");
        sleep_ms(300 + 700 * attempt);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        ck_assert(same_bytes(in_dir("out.gpkg"), in_dir("before.gpkg")) ||
                  (WIFEXITED(status) && WEXITSTATUS(status) == 0)); /* or it had finished */
    }
    /* whatever happened, out.gpkg is a complete output that opens */
    ck_assert_int_eq(count(in_dir("out.gpkg"), "firms"), 150000);
}
END_TEST

/* ---- text encodings ------------------------------------------------------ */

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

/* ---- help and the GDAL generic options ---------------------------------- */

START_TEST(help_and_version)
{
    ck_assert_int_eq(run("cluster --help"), 0);
    const char *opts[] = {"--layer", "--where", "--sector-field", "--sector-digits", "--eps",
                          "--min-pts", "--weight-field", "--min-weight", "--hull", "--concavity",
                          "--s-srs", "--t-srs", "--format", "--overwrite", "--quiet"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        ck_assert_msg(strstr(out_text, opts[i]), "cluster --help lacks %s", opts[i]);
    ck_assert_int_eq(run("--help"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "synth"));
    ck_assert_int_eq(run("%s", ""), 2);
    ck_assert_int_eq(run("--version"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "firmclust " FIRMCLUST_VERSION));
    ck_assert_ptr_nonnull(strstr(out_text, "GEOS"));
    ck_assert_int_eq(run("--formats"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "GPKG"));
    ck_assert_int_eq(run("synth --help"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "--seed"));
}
END_TEST

START_TEST(synth_is_deterministic)
{
    ck_assert_int_eq(run("synth -q --firms 3000 --seed 9 a.gpkg"), 0);
    ck_assert_int_eq(run("synth -q --firms 3000 --seed 9 b.gpkg"), 0);
    ck_assert_int_eq(run("synth -q --firms 3000 --seed 10 c.gpkg"), 0);
    ck_assert(same_bytes(in_dir("a.gpkg"), in_dir("b.gpkg")));
    ck_assert(!same_bytes(in_dir("a.gpkg"), in_dir("c.gpkg")));
    ck_assert_int_eq(count(in_dir("a.gpkg"), NULL), 3000);
    /* Oil firms concentrate in the west, IT in Almaty and Astana. */
    GDALDatasetH ds = open_vector(in_dir("a.gpkg"));
    OGRLayerH check = GDALDatasetExecuteSQL(ds, "SELECT rtreecheck('rtree_firms_geom')", NULL, NULL);
    OGRFeatureH ok = OGR_L_GetNextFeature(check);
    ck_assert_str_eq(OGR_F_GetFieldAsString(ok, 0), "ok"); /* its packed spatial index */
    OGR_F_Destroy(ok);
    GDALDatasetReleaseResultSet(ds, check);
    OGRLayerH sql = GDALDatasetExecuteSQL(
        ds, "SELECT AVG(ST_X(geom)) FROM firms WHERE oked IN ('06100', '09100')", NULL, "SQLite");
    OGRFeatureH f = OGR_L_GetNextFeature(sql);
    ck_assert_double_lt(OGR_F_GetFieldAsDouble(f, 0), 60);
    OGR_F_Destroy(f);
    GDALDatasetReleaseResultSet(ds, sql);
    GDALClose(ds);
    ck_assert_int_eq(run("synth -q --firms 100 d.shp"), 0); /* a Shapefile, with its sidecars */
    ck_assert_str_eq(listing(), "a.gpkg b.gpkg c.gpkg d.cpg d.dbf d.prj d.shp d.shx ");
    ck_assert_int_eq(run("synth -q --firms 100 d.shp"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "exists; use --overwrite"));
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = fc_tcase("cli");
    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, main_job_writes_consistent_layers);
    tcase_add_test(tc, clusters_lie_over_the_oblasts);
    tcase_add_test(tc, same_input_same_bytes);
    tcase_add_test(tc, existing_output_kept_without_overwrite);
    tcase_add_test(tc, output_never_replaces_input);
    tcase_add_test(tc, shapefile_directory_with_cpg_and_prj);
    tcase_add_test(tc, geojson_directory);
    tcase_add_test(tc, flatgeobuf_directory);
    tcase_add_test(tc, csv_input_needs_a_crs);
    tcase_add_test(tc, projected_input_eps_in_metres);
    tcase_add_test(tc, lonlat_input_eps_in_metres);
    tcase_add_test(tc, weights_are_summed_and_can_define_core);
    tcase_add_test(tc, where_filters_firms);
    tcase_add_test(tc, distance_mode_follows_the_crs);
    tcase_add_test(tc, oblasts_location_quotients_and_pvalues);
    tcase_add_test(tc, one_sector_has_no_pvalues);
    tcase_add_test(tc, full_disk_names_the_output_and_the_cause);
    tcase_add_test(tc, shapefile_keeps_our_field_names);
    tcase_add_test(tc, web_mercator_input_measured_on_the_ellipsoid);
    tcase_add_test(tc, regions_without_firms_are_named);
    tcase_add_test(tc, synth_city_firms_inside_their_city);
    tcase_add_test(tc, spreadsheet_outputs);
    tcase_add_test(tc, json_never_replaced_without_overwrite);
    tcase_add_test(tc, areas_on_the_ellipsoid);
    tcase_add_test(tc, cluster_across_the_antimeridian);
    tcase_add_loop_test(tc, bad_input_fails_cleanly, 0, sizeof bad_runs / sizeof bad_runs[0]);
    tcase_add_test(tc, skipped_features_are_reported_and_kept);
    tcase_add_test(tc, cancelled_run_leaves_nothing);
    tcase_add_test(tc, multipoints_exploded_and_centroids_on_request);
    tcase_add_test(tc, arrow_and_feature_reading_agree);
    tcase_add_test(tc, batch_of_twenty_with_three_broken);
    tcase_add_test(tc, several_inputs_taken_together);
    tcase_add_test(tc, config_file_equals_command_line);
    tcase_add_test(tc, info_tells_roles);
    tcase_add_test(tc, ctrl_c_cancels_cleanly);
    tcase_add_test(tc, sigterm_stops_a_long_geometry_stage);
    tcase_add_test(tc, killed_run_leaves_the_old_output);
    tcase_add_test(tc, stale_temporaries_are_removed);
    tcase_add_test(tc, concurrent_overwrites_of_a_directory);
    tcase_add_test(tc, cyrillic_and_kazakh_through_code_pages);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, synth_is_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(cli_suite)
