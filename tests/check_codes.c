/* SPDX-License-Identifier: MIT */
/* Sector codes are identifiers, never numbers: whatever the format holds
 * them in, 01110 stays 01110 from the input to the output, byte for byte. */
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
#include <gdal_utils.h>

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the words of list in place: each is followed by sep. */
static const char *sorted_words(char *list, const char *sep)
{
    char *copy = strdup(list), *words[256], *save = NULL;
    size_t n = 0;
    for (char *w = strtok_r(copy, sep, &save); w && n < 256; w = strtok_r(NULL, sep, &save))
        words[n++] = w;
    qsort(words, n, sizeof *words, by_text);
    list[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(list, words[i]);
        strcat(list, sep);
    }
    free(copy);
    return list;
}

/* The sectors of the summary's table, sorted, joined by spaces. */
static const char *summary_sectors(void)
{
    static char list[1024];
    list[0] = '\0';
    /* the table's header: "sector" padded with blanks, not "sector names:" */
    const char *line = strstr(out_text, "\nsector  ");
    ck_assert_msg(line != NULL, "no sector table in:\n%s", out_text);
    for (line = strchr(line + 1, '\n'); line && line[1] && strncmp(line + 1, "wrote", 5) != 0;
         line = strchr(line + 1, '\n')) {
        char code[64];
        if (sscanf(line + 1, "%63s", code) == 1) {
            strncat(list, code, sizeof list - strlen(list) - 2);
            strcat(list, " ");
        }
    }
    return sorted_words(list, " ");
}

/* The `oked` values of the output's firms layer, as written (blanks
 * included), sorted, each followed by '|'. */
static const char *written_codes(const char *output)
{
    static char list[1024];
    list[0] = '\0';
    GDALDatasetH ds = open_vector(in_dir(output));
    OGRLayerH l = layer(ds, "firms");
    int i = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(l), "oked");
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(OGR_Fld_GetType(OGR_FD_GetFieldDefn(OGR_L_GetLayerDefn(l), i)), OFTString);
    ck_assert_int_lt(OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(l), "oked_original"), 0);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(l))) {
        strncat(list, OGR_F_GetFieldAsString(f, i), sizeof list - strlen(list) - 2);
        strcat(list, "|");
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    return sorted_words(list, "|");
}


/* Firms 30 m apart near Astana, one per code, in a layer of the given
 * driver whose `oked` field has the given type (and width and precision). */
static void write_typed(const char *name, const char *driver, OGRFieldType type, int width,
                        int precision, size_t n, const double *values)
{
    GDALDatasetH ds =
        GDALCreate(GDALGetDriverByName(driver), in_dir(name), 0, 0, 0, GDT_Unknown, NULL);
    ck_assert_ptr_nonnull(ds);
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(s, 4326);
    OGRLayerH l = GDALDatasetCreateLayer(ds, "firms", s, wkbPoint, NULL);
    OSRRelease(s);
    OGRFieldDefnH fd = OGR_Fld_Create("oked", type);
    OGR_Fld_SetWidth(fd, width);
    OGR_Fld_SetPrecision(fd, precision);
    ck_assert_int_eq(OGR_L_CreateField(l, fd, TRUE), OGRERR_NONE);
    OGR_Fld_Destroy(fd);
    for (size_t i = 0; i < n; i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
        OGR_F_SetFieldDouble(f, 0, values[i]);
        OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
        OGR_G_SetPoint_2D(g, 0, 71.43 + 0.0004 * (double)i, 51.128);
        OGR_F_SetGeometryDirectly(f, g);
        ck_assert_int_eq(OGR_L_CreateFeature(l, f), OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

/* Every row looks like a number: GDAL guesses Integer for the column, and
 * used to turn 01110 (crop farming) into 1110, division 11 (beverages). */
static const char numeric_looking_csv[] =
    "lon,lat,oked,employees\n"
    "71.4300,51.128,01110,5\n"
    "71.4303,51.128,01110,3\n"
    "71.4306,51.128,01120,2\n"
    "71.4400,51.128,62010,7\n"
    "71.4403,51.128,62020,1\n";

START_TEST(csv_codes_that_look_numeric_stay_text)
{
    write_text("firms.csv", numeric_looking_csv);
    const char *arrow[] = {"", "--config FIRMCLUST_ARROW NO"};
    for (int k = 0; k < 2; k++) {
        char out[32];
        snprintf(out, sizeof out, "out%d.gpkg", k);
        ck_assert_int_eq(run("cluster firms.csv %s --s-srs EPSG:4326 --sector-field oked "
                             "--sector-digits 2 --eps 100 --min-pts 2 --permutations 0 %s",
                             out, arrow[k]),
                         0);
        ck_assert_str_eq(summary_sectors(), "01 62 ");
        ck_assert_ptr_null(strstr(err_text, "sector-width")); /* text: nothing lost */
        ck_assert_str_eq(written_codes(out), "01110|01110|01120|62010|62020|");
    }
    /* the other columns keep the types GDAL gave them */
    GDALDatasetH ds = open_vector(in_dir("out0.gpkg"));
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer(ds, "firms"));
    int i = OGR_FD_GetFieldIndex(defn, "employees");
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, i)), OFTInteger);
    ck_assert_int_lt(OGR_FD_GetFieldIndex(defn, "employees_original"), 0);
    GDALClose(ds);
}
END_TEST

START_TEST(dotted_codes_count_digits_only)
{
    write_text("dotted.csv", "lon,lat,oked\n"
                             "71.4300,51.128,62.01\n"
                             "71.4303,51.128,62.01.0\n"
                             "71.4306,51.128,62.02\n"
                             "71.4309,51.128, 62.02 \n");
    ck_assert_int_eq(run("cluster dotted.csv a.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--sector-digits 4 --eps 100 --min-pts 2 --permutations 0"),
                     0);
    ck_assert_str_eq(summary_sectors(), "6201 6202 ");
    ck_assert_str_eq(written_codes("a.gpkg"), " 62.02 |62.01|62.01.0|62.02|");
    ck_assert_int_eq(run("cluster dotted.csv b.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--sector-digits 2 --eps 100 --min-pts 2 --permutations 0"),
                     0);
    ck_assert_str_eq(summary_sectors(), "62 ");
}
END_TEST

START_TEST(text_codes_survive_every_format)
{
    /* GeoJSON, and FlatGeobuf, GeoPackage and Shapefile made from it */
    write_text("firms.geojson",
               "{\"type\": \"FeatureCollection\", \"crs\": {\"type\": \"name\", \"properties\": "
               "{\"name\": \"urn:ogc:def:crs:OGC:1.3:CRS84\"}}, \"features\": [\n"
               "{\"type\": \"Feature\", \"properties\": {\"oked\": \"01110\"}, \"geometry\": "
               "{\"type\": \"Point\", \"coordinates\": [71.4300, 51.128]}},\n"
               "{\"type\": \"Feature\", \"properties\": {\"oked\": \"01110\"}, \"geometry\": "
               "{\"type\": \"Point\", \"coordinates\": [71.4303, 51.128]}},\n"
               "{\"type\": \"Feature\", \"properties\": {\"oked\": \"09100\"}, \"geometry\": "
               "{\"type\": \"Point\", \"coordinates\": [71.4306, 51.128]}}]}\n");
    const char *formats[][2] = {{"FlatGeobuf", "firms.fgb"},
                                {"GPKG", "firms.gpkg"},
                                {"ESRI Shapefile", "firms.shp"}};
    GDALDatasetH src_ds = open_vector(in_dir("firms.geojson"));
    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
        char *argv[] = {"-f", (char *)formats[k][0], NULL};
        GDALVectorTranslateOptions *o = GDALVectorTranslateOptionsNew(argv, NULL);
        GDALDatasetH d = GDALVectorTranslate(in_dir(formats[k][1]), NULL, 1, &src_ds, o, NULL);
        ck_assert_ptr_nonnull(d);
        GDALClose(d);
        GDALVectorTranslateOptionsFree(o);
    }
    GDALClose(src_ds);
    const char *inputs[] = {"firms.geojson", "firms.fgb", "firms.gpkg", "firms.shp"};
    for (size_t k = 0; k < 4; k++) {
        ck_assert_int_eq(run("cluster %s out%zu.gpkg --sector-field oked --sector-digits 2 "
                             "--eps 100 --min-pts 2 --permutations 0",
                             inputs[k], k),
                         0);
        ck_assert_msg(strcmp(summary_sectors(), "01 09 ") == 0, "%s: %s", inputs[k], out_text);
        char out[32];
        snprintf(out, sizeof out, "out%zu.gpkg", k);
        ck_assert_str_eq(written_codes(out), "01110|01110|09100|");
    }
}
END_TEST

START_TEST(whole_number_codes_are_padded_on_request)
{
    /* a GeoPackage whose integer column already lost the zeros */
    const double codes[] = {1110, 1110, 1120, 62010, 62010};
    write_typed("int.gpkg", "GPKG", OFTInteger, 0, 0, 5, codes);
    ck_assert_int_eq(run("cluster int.gpkg a.gpkg --sector-field oked --sector-digits 2 "
                         "--eps 100 --min-pts 2 --permutations 0"),
                     0);
    ck_assert_str_eq(summary_sectors(), "11 62 "); /* what the data says, but with a warning */
    ck_assert_msg(strstr(err_text, "whole numbers of 4 to 5 digits") &&
                      strstr(err_text, "--sector-width 5"),
                  "%s", err_text);
    ck_assert_int_eq(run("cluster int.gpkg b.gpkg --sector-field oked --sector-digits 2 "
                         "--sector-width 5 --eps 100 --min-pts 2 --permutations 0"),
                     0);
    ck_assert_str_eq(summary_sectors(), "01 62 ");
    ck_assert_ptr_null(strstr(err_text, "sector-width"));
    /* the whole code, padded */
    ck_assert_int_eq(run("cluster int.gpkg c.gpkg --sector-field oked --sector-width 5 "
                         "--eps 100 --min-pts 2 --permutations 0"),
                     0);
    ck_assert_str_eq(summary_sectors(), "01110 01120 62010 ");
    /* codes of one length: nothing to warn about */
    const double same[] = {62010, 62010, 62020};
    write_typed("same.gpkg", "GPKG", OFTInteger, 0, 0, 3, same);
    ck_assert_int_eq(run("cluster same.gpkg d.gpkg --sector-field oked --sector-digits 2 "
                         "--eps 100 --min-pts 2 --permutations 0"),
                     0);
    ck_assert_ptr_null(strstr(err_text, "sector-width"));
}
END_TEST

START_TEST(decimal_codes_read_exactly_or_refused)
{
    /* A Shapefile's N(8,2) keeps two decimals: 62.10 is class 6210, not 621. */
    const double codes[] = {62.10, 62.10, 62.01};
    write_typed("dec.shp", "ESRI Shapefile", OFTReal, 8, 2, 3, codes);
    const char *arrow[] = {"", "--config FIRMCLUST_ARROW NO"};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(run("cluster dec.shp a%d.gpkg --sector-field oked --sector-digits 4 "
                             "--eps 100 --min-pts 2 --permutations 0 %s",
                             k, arrow[k]),
                         0);
        ck_assert_str_eq(summary_sectors(), "6201 6210 ");
    }
    /* A GeoPackage REAL has no fixed decimals: the codes cannot be read back. */
    write_typed("dec.gpkg", "GPKG", OFTReal, 0, 0, 3, codes);
    ck_assert_int_eq(run("cluster dec.gpkg b.gpkg --sector-field oked --sector-digits 4 "
                         "--eps 100 --min-pts 2 --permutations 0"),
                     1);
    ck_assert_msg(strstr(err_text, "dec.gpkg") && strstr(err_text, "'oked'") &&
                      strstr(err_text, "store the codes as text"),
                  "%s", err_text);
    ck_assert_ptr_null(strstr(listing(), "b.gpkg"));
}
END_TEST

START_TEST(blank_codes_are_skipped)
{
    write_text("blank.csv", "lon,lat,oked\n"
                            "71.4300,51.128,01110\n"
                            "71.4303,51.128,\"   \"\n"
                            "71.4306,51.128,01110\n"
                            "71.4309,51.128,\n");
    ck_assert_int_eq(run("cluster blank.csv a.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--eps 100 --min-pts 2 --permutations 0"),
                     0);
    ck_assert_str_eq(summary_sectors(), "01110 ");
    ck_assert_msg(strstr(err_text, "2 features skipped") || strstr(err_text, "2 features"),
                  "%s", err_text);
}
END_TEST

static Suite *codes_suite(void)
{
    Suite *s = suite_create("codes");
    TCase *tc = fc_tcase("codes");
    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, csv_codes_that_look_numeric_stay_text);
    tcase_add_test(tc, dotted_codes_count_digits_only);
    tcase_add_test(tc, text_codes_survive_every_format);
    tcase_add_test(tc, whole_number_codes_are_padded_on_request);
    tcase_add_test(tc, decimal_codes_read_exactly_or_refused);
    tcase_add_test(tc, blank_codes_are_skipped);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(codes_suite)
