/* SPDX-License-Identifier: MIT */
/* The firms layer's GeoPackage spatial index, packed in bulk: SQLite finds
 * it sound (rtreecheck), a spatial filter through it finds exactly the
 * points a scan finds, and it follows edits made afterwards. */
#include "pipeline/pipeline.h"
#include "check_main.h"
#include "support.h"

#include <gdal.h>
#include <math.h>
#include <ogr_api.h>
#include <stdio.h>
#include <string.h>

static fc_context *ctx;
static char output[300];

static void setup(void)
{
    ctx = fc_context_new();
    fc_test_mkdtemp(dir, sizeof dir);
    char input[300];
    snprintf(input, sizeof input, "%s/firms.gpkg", dir);
    snprintf(output, sizeof output, "%s/out.gpkg", dir);
    ck_assert_int_eq(fc_synth(ctx, input, "GPKG", 30000, 3, 0), FC_OK);
    fc_options *o = fc_options_new();
    ck_assert_int_eq(fc_options_set(ctx, o, "eps", "3000"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "permutations", "0"), FC_OK);
    ck_assert_int_eq(fc_cluster(ctx, input, output, o, NULL), FC_OK);
    fc_options_destroy(o);
}

static void teardown(void)
{
    fc_test_rmtree(dir);
    ctx = fc_context_destroy(ctx);
}

/* The first value of a query, as text (static). */
static const char *sql_value(GDALDatasetH ds, const char *sql)
{
    static char value[256];
    OGRLayerH res = GDALDatasetExecuteSQL(ds, sql, NULL, NULL);
    ck_assert_msg(res != NULL, "no result for %s", sql);
    OGRFeatureH f = OGR_L_GetNextFeature(res);
    ck_assert_ptr_nonnull(f);
    snprintf(value, sizeof value, "%s", OGR_F_GetFieldAsString(f, 0));
    OGR_F_Destroy(f);
    GDALDatasetReleaseResultSet(ds, res);
    return value;
}

typedef struct firm_point {
    GIntBig fid;
    double x, y;
} firm_point;

static size_t read_points(OGRLayerH l, firm_point *pts, size_t max)
{
    size_t n = 0;
    OGRFeatureH f;
    OGR_L_SetSpatialFilter(l, NULL);
    OGR_L_ResetReading(l);
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        ck_assert_uint_lt(n, max);
        pts[n++] = (firm_point){OGR_F_GetFID(f), OGR_G_GetX(g, 0), OGR_G_GetY(g, 0)};
        OGR_F_Destroy(f);
    }
    return n;
}

/* Random rectangles: the index-backed filter returns what a scan returns. */
static void assert_filter_matches_scan(OGRLayerH l, const firm_point *pts, size_t n, int rects)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        x0 = fmin(x0, pts[i].x), x1 = fmax(x1, pts[i].x);
        y0 = fmin(y0, pts[i].y), y1 = fmax(y1, pts[i].y);
    }
    size_t found_total = 0;
    for (int r = 0; r < rects; r++) {
        double w = (x1 - x0) * (0.002 + 0.2 * uniform()), h = (y1 - y0) * (0.002 + 0.2 * uniform());
        double ax = x0 + (x1 - x0 - w) * uniform(), ay = y0 + (y1 - y0 - h) * uniform();
        if (r % 5 == 0) { /* a rectangle with a firm exactly on its corner */
            const firm_point *p = &pts[(size_t)(uniform() * (double)n)];
            ax = p->x, ay = p->y;
        }
        size_t expected = 0;
        for (size_t i = 0; i < n; i++)
            expected += pts[i].x >= ax && pts[i].x <= ax + w && pts[i].y >= ay && pts[i].y <= ay + h;
        OGR_L_SetSpatialFilterRect(l, ax, ay, ax + w, ay + h);
        OGR_L_ResetReading(l);
        size_t found = 0;
        OGRFeatureH f;
        while ((f = OGR_L_GetNextFeature(l)) != NULL) {
            OGRGeometryH g = OGR_F_GetGeometryRef(f);
            double x = OGR_G_GetX(g, 0), y = OGR_G_GetY(g, 0);
            ck_assert(x >= ax && x <= ax + w && y >= ay && y <= ay + h);
            found++;
            OGR_F_Destroy(f);
        }
        ck_assert_msg(found == expected, "rectangle %d: %zu firms through the index, %zu by scan",
                      r, found, expected);
        found_total += found;
    }
    OGR_L_SetSpatialFilter(l, NULL);
    ck_assert_uint_gt(found_total, 1000); /* the rectangles were not all empty */
}

/* SQLite finds the firms' index sound, it holds the 30000 firms, and
 * `rects` random rectangles (seeded) find through it what a scan finds. */
static void assert_index_like_a_scan(GDALDatasetH ds, OGRLayerH l, uint64_t seed, int rects)
{
    ck_assert_str_eq(sql_value(ds, "SELECT rtreecheck('rtree_firms_geom')"), "ok");
    ck_assert_str_eq(sql_value(ds, "SELECT count(*) FROM rtree_firms_geom_rowid"), "30000");
    static firm_point pts[30001];
    size_t n = read_points(l, pts, 30001);
    ck_assert_uint_eq(n, 30000);
    rng_state = seed;
    assert_filter_matches_scan(l, pts, n, rects);
}

START_TEST(index_is_sound_and_answers_like_a_scan)
{
    GDALDatasetH ds = GDALOpenEx(output, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(ds);
    OGRLayerH l = GDALDatasetGetLayerByName(ds, "firms");
    ck_assert(OGR_L_TestCapability(l, OLCFastSpatialFilter)); /* GDAL sees the index */
    ck_assert_str_eq(sql_value(ds, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                                   "AND name LIKE 'rtree_firms_geom_%'"),
                     "6");
    assert_index_like_a_scan(ds, l, 17, 200);
    GDALClose(ds);
}
END_TEST

START_TEST(index_follows_later_edits)
{
    GDALDatasetH ds = GDALOpenEx(output, GDAL_OF_VECTOR | GDAL_OF_UPDATE, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(ds);
    OGRLayerH l = GDALDatasetGetLayerByName(ds, "firms");
    /* one firm added far from the others, one deleted, one moved */
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
    OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_SetPoint_2D(g, 0, 50.5, 41.25);
    OGR_F_SetGeometryDirectly(f, g);
    ck_assert_int_eq(OGR_L_CreateFeature(l, f), OGRERR_NONE);
    OGR_F_Destroy(f);
    ck_assert_int_eq(OGR_L_DeleteFeature(l, 5), OGRERR_NONE);
    f = OGR_L_GetFeature(l, 9);
    g = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_SetPoint_2D(g, 0, 60.125, 43.5);
    OGR_F_SetGeometryDirectly(f, g);
    ck_assert_int_eq(OGR_L_SetFeature(l, f), OGRERR_NONE);
    OGR_F_Destroy(f);
    GDALClose(ds);

    ds = GDALOpenEx(output, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    l = GDALDatasetGetLayerByName(ds, "firms");
    OGR_L_SetSpatialFilterRect(l, 60.1, 43.4, 60.2, 43.6);
    OGR_L_ResetReading(l);
    f = OGR_L_GetNextFeature(l);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(OGR_F_GetFID(f), 9);
    OGR_F_Destroy(f);
    assert_index_like_a_scan(ds, l, 18, 100);
    GDALClose(ds);
}
END_TEST

static Suite *gpkg_index_suite(void)
{
    Suite *s = suite_create("gpkg_index");
    TCase *tc = fc_tcase("packed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, index_is_sound_and_answers_like_a_scan);
    tcase_add_test(tc, index_follows_later_edits);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(gpkg_index_suite)
