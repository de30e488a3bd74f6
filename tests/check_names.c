/* SPDX-License-Identifier: MIT */
/* Sector names: the built-in NACE Rev. 2 table (every division and section,
 * codes unique), names chosen by language, tables of one's own with dotted
 * codes, and no names where the codes are not NACE divisions. */
#define _GNU_SOURCE
#include "pipeline/pipeline.h"
#include "check_main.h"
#include "support.h"

#include <stdio.h>
#include <string.h>

static fc_context *ctx;
static fc_options *o;

static void setup(void)
{
    ctx = fc_context_new();
    o = fc_options_new();
    fc_test_mkdtemp(dir, sizeof dir);
}

static void teardown(void)
{
    fc_test_rmtree(dir);
    o = fc_options_destroy(o);
    ctx = fc_context_destroy(ctx);
}

/* Firms of no interest but their sector codes (sorted, as read.c has them). */
static fc_firms sectors(size_t n, const char *const *codes)
{
    fc_firms f = {0};
    f.sector_codes = calloc(n, sizeof *f.sector_codes);
    for (size_t i = 0; i < n; i++)
        f.sector_codes[i] = strdup(codes[i]);
    f.n_sectors = (uint32_t)n;
    return f;
}

static const char *const divisions[] = {
    "01", "02", "03", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
    "32", "33", "35", "36", "37", "38", "39", "41", "42", "43", "45", "46", "47", "49", "50",
    "51", "52", "53", "55", "56", "58", "59", "60", "61", "62", "63", "64", "65", "66", "68",
    "69", "70", "71", "72", "73", "74", "75", "77", "78", "79", "80", "81", "82", "84", "85",
    "86", "87", "88", "90", "91", "92", "93", "94", "95", "96", "97", "98", "99"};
#define N_DIVISIONS (sizeof divisions / sizeof divisions[0])

START_TEST(the_table_holds_every_division_and_section_once)
{
    char path[600];
    snprintf(path, sizeof path, "%s/fixtures/nace/nace_rev2.csv", getenv("FIRMCLUST_SOURCE_DIR"));
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(ds);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    char seen[200][8];
    int n = 0, n_divisions = 0, n_sections = 0;
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(l)) && n < 200) {
        const char *code = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "code"));
        const char *level = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "level"));
        ck_assert_msg(*OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "name")), "%s: no name", code);
        ck_assert_msg(*OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "name_ru")), "%s: no name_ru",
                      code);
        ck_assert_int_ge(OGR_F_GetFieldIndex(f, "name_kk"), 0);
        for (int i = 0; i < n; i++)
            ck_assert_msg(strcmp(seen[i], code) != 0, "code %s twice", code);
        snprintf(seen[n++], sizeof seen[0], "%s", code);
        n_divisions += strcmp(level, "division") == 0;
        n_sections += strcmp(level, "section") == 0;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    ck_assert_int_eq(n_divisions, 88);
    ck_assert_int_eq(n_sections, 21);
    for (size_t d = 0; d < N_DIVISIONS; d++) {
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            found = strcmp(seen[i], divisions[d]) == 0;
        ck_assert_msg(found, "division %s missing", divisions[d]);
    }
}
END_TEST

START_TEST(divisions_are_named_by_the_built_in_table)
{
    fc_firms f = sectors(N_DIVISIONS, divisions);
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-digits", "2"), FC_OK);
    ck_assert_int_eq(fc_sector_names(ctx, o, &f), FC_OK);
    ck_assert_ptr_nonnull(f.sector_names);
    for (size_t s = 0; s < N_DIVISIONS; s++)
        ck_assert_msg(f.sector_names[s] && *f.sector_names[s], "%s unnamed", divisions[s]);
    ck_assert_str_eq(f.sector_names[42], "Retail trade, except of motor vehicles and motorcycles");
    ck_assert_str_eq(f.sector_codes[42], "47");
    ck_assert_ptr_nonnull(strstr(f.names_source, "NACE Rev. 2 divisions"));
    fc_firms_free(&f);

    /* in Russian; Kazakh names are left to fill, so English stands in */
    const char *some[] = {"06", "62"};
    f = sectors(2, some);
    ck_assert_int_eq(fc_options_set(ctx, o, "lang", "ru"), FC_OK);
    ck_assert_int_eq(fc_sector_names(ctx, o, &f), FC_OK);
    ck_assert_str_eq(f.sector_names[0], "Добыча сырой нефти и природного газа");
    fc_firms_free(&f);
    f = sectors(2, some);
    ck_assert_int_eq(fc_options_set(ctx, o, "lang", "kk"), FC_OK);
    ck_assert_int_eq(fc_sector_names(ctx, o, &f), FC_OK);
    ck_assert_str_eq(f.sector_names[1], "Computer programming, consultancy and related activities");
    fc_firms_free(&f);
}
END_TEST

START_TEST(no_names_where_codes_are_not_divisions)
{
    const char *not_nace[] = {"01", "04"}; /* there is no division 04 */
    fc_firms f = sectors(2, not_nace);
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-digits", "2"), FC_OK);
    ck_assert_int_eq(fc_sector_names(ctx, o, &f), FC_OK);
    ck_assert_ptr_null(f.sector_names);
    ck_assert_str_eq(f.names_source, "");
    fc_firms_free(&f);
    const char *whole[] = {"47"}; /* not grouped by --sector-digits 2: not known as divisions */
    f = sectors(1, whole);
    fc_options *plain = fc_options_new();
    ck_assert_int_eq(fc_sector_names(ctx, plain, &f), FC_OK);
    ck_assert_ptr_null(f.sector_names);
    fc_options_destroy(plain);
    fc_firms_free(&f);
}
END_TEST

START_TEST(a_table_of_ones_own_with_dotted_codes)
{
    write_text("names.csv", "code,name,name_ru\n"
                            "62.01,Computer programming,Разработка программного обеспечения\n"
                            "A,Agriculture,\n");
    const char *classes[] = {"4711", "6201"};
    fc_firms f = sectors(2, classes);
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-names", in_dir("names.csv")), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "lang", "ru"), FC_OK);
    ck_assert_int_eq(fc_sector_names(ctx, o, &f), FC_OK);
    ck_assert_ptr_null(f.sector_names[0]);
    ck_assert_str_eq(f.sector_names[1], "Разработка программного обеспечения");
    ck_assert_ptr_nonnull(strstr(f.names_source, "names.csv (1 of 2 sectors)"));
    fc_firms_free(&f);

    write_text("bad.csv", "code,title\n47,Retail\n");
    f = sectors(2, classes);
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-names", in_dir("bad.csv")), FC_OK);
    ck_assert_int_eq(fc_sector_names(ctx, o, &f), FC_EDATA);
    ck_assert_ptr_nonnull(strstr(fc_errmsg(ctx), "bad.csv: a table of sector names needs fields"));
    fc_firms_free(&f);
}
END_TEST

START_TEST(codes_with_leading_zeros_stay_text)
{
    /* A CSV's columns are read as text: 01 is not 1, so it names sector
     * 01 and not sector 1 (GDAL's type guessing made it the integer 1). */
    write_text("zeros.csv", "code,name\n01,Crop and animal production\n1,Not a division\n"
                            "06,Extraction of crude petroleum\n");
    const char *codes[] = {"01", "06"};
    fc_firms f = sectors(2, codes);
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-names", in_dir("zeros.csv")), FC_OK);
    ck_assert_int_eq(fc_sector_names(ctx, o, &f), FC_OK);
    ck_assert_str_eq(f.sector_names[0], "Crop and animal production");
    ck_assert_str_eq(f.sector_names[1], "Extraction of crude petroleum");
    fc_firms_free(&f);
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = fc_tcase("names");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, the_table_holds_every_division_and_section_once);
    tcase_add_test(tc, divisions_are_named_by_the_built_in_table);
    tcase_add_test(tc, no_names_where_codes_are_not_divisions);
    tcase_add_test(tc, a_table_of_ones_own_with_dotted_codes);
    tcase_add_test(tc, codes_with_leading_zeros_stay_text);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(names_suite)
