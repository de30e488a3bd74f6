/* SPDX-License-Identifier: MIT */
/* Regions and statistics (regions.c, stats.c) through the tool: location
 * quotients and p-values over the oblasts, regions without firms, one sector. */
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
    ck_assert_int_eq(OGR_L_GetFeatureCount(lr, TRUE), 20 * SAMPLE_DIVISIONS); /* region x sector */
    GDALClose(ds);

    char json[16384];
    slurp(in_dir("summary.json"), json, sizeof json);
    ck_assert_ptr_nonnull(strstr(json, "\"regions\": {\"count\": 20, \"field\": \"ADM1_EN\""));
    ck_assert_ptr_nonnull(strstr(json, "\"top_regions\": [{\"region\": "));
    ck_assert_ptr_nonnull(strstr(json, "\"p_value\": "));
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
    /* no sector names: the table as it was, without a name column or brackets */
    ck_assert_msg(strstr(out_text, "clustered  top regions by location quotient\n"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "   Astana (city) 1.00\n"), "%s", out_text);
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

static Suite *regions_suite(void)
{
    Suite *s = suite_create("regions");
    TCase *tc = fc_tcase("regions");
    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, oblasts_location_quotients_and_pvalues);
    tcase_add_test(tc, one_sector_has_no_pvalues);
    tcase_add_test(tc, regions_without_firms_are_named);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(regions_suite)
