/* SPDX-License-Identifier: MIT */
/* Options and sector codes: what users type is checked, and named back in
 * the error when it is wrong. */
#include "pipeline/pipeline.h"
#include "check_main.h"

#include <stdio.h>
#include <string.h>

static fc_context *ctx;
static fc_options *o;
static void setup(void)
{
    ctx = fc_context_new();
    o = fc_options_new();
}
static void teardown(void)
{
    o = fc_options_destroy(o);
    ctx = fc_context_destroy(ctx);
}

START_TEST(defaults)
{
    ck_assert_uint_eq(o->min_pts, 5);
    ck_assert_int_eq(o->hull, FC_HULL_CONCAVE);
    ck_assert(!o->overwrite);
    ck_assert_double_eq(o->eps, 0);
    ck_assert_ptr_null(o->sector_field);
}
END_TEST

START_TEST(good_values_are_stored)
{
    ck_assert_int_eq(fc_options_set(ctx, o, "eps", "2000"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "min-pts", "10"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-field", "oked"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-field", "OKED2"), FC_OK); /* replaced */
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-digits", "2"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "hull", "buffer"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "concavity", "0.5"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "overwrite", NULL), FC_OK);
    ck_assert_double_eq(o->eps, 2000);
    ck_assert_uint_eq(o->min_pts, 10);
    ck_assert_str_eq(o->sector_field, "OKED2");
    ck_assert_int_eq(o->sector_digits, 2);
    ck_assert_int_eq(o->hull, FC_HULL_BUFFER);
    ck_assert_double_eq(o->concavity, 0.5);
    ck_assert(o->overwrite);
    ck_assert_int_eq(fc_options_set(ctx, o, "overwrite", "no"), FC_OK);
    ck_assert(!o->overwrite);
}
END_TEST

static const struct {
    const char *name, *value, *words;
} bad[] = {
    {"eps", "0", "--eps must be greater than 0"},
    {"eps", "-5", "--eps must be greater than 0"},
    {"eps", "2km", "--eps takes a number, not '2km'"},
    {"eps", "nan", "--eps takes a number"},
    {"eps", "1e999", "--eps takes a number"},
    {"eps", "", "--eps needs a value"},
    {"min-pts", "0", "--min-pts must be at least 1"},
    {"min-pts", "2.5", "--min-pts takes a whole number"},
    {"min-pts", "99999999999999999999", "--min-pts takes a whole number"},
    {"sector-digits", "0", "--sector-digits must be between 1 and 64"},
    {"hull", "alpha", "--hull takes convex, concave or buffer, not 'alpha'"},
    {"concavity", "1.5", "--concavity must be between 0 and 1"},
    {"min-weight", "-1", "--min-weight must be 0 or more"},
    {"overwrite", "maybe", "--overwrite takes yes or no"},
    {"epsilon", "5", "unknown option --epsilon"},
    /* every range and list of choices in the option table */
    {"sector-digits", "65", "--sector-digits must be between 1 and 64, not 65"},
    {"sector-width", "0", "--sector-width must be between 1 and 64"},
    {"permutations", "-1", "--permutations must be between 0 and 1000000"},
    {"permutations", "1000001", "--permutations must be between 0 and 1000000"},
    {"threads", "0", "--threads must be between 1 and 1024"},
    {"threads", "1025", "--threads must be between 1 and 1024"},
    {"seed", "-1", "--seed must be 0 or more"},
    {"concavity", "-0.1", "--concavity must be between 0 and 1"},
    {"eps", "0", "--eps must be greater than 0 metres, not 0"},
    {"distance", "spherical", "--distance takes geodesic, planar or auto, not 'spherical'"},
    {"s-srs", "EPSG:99999999", "--s-srs: cannot understand the CRS"},
    {"where", "a = 1; DROP TABLE firms", "--where takes one SQL expression"},
};

START_TEST(bad_values_are_refused_by_name)
{
    ck_assert_int_eq(fc_options_set(ctx, o, bad[_i].name, bad[_i].value), FC_EINVAL);
    ck_assert_msg(strstr(fc_errmsg(ctx), bad[_i].words), "--%s %s: message '%s' lacks '%s'",
                  bad[_i].name, bad[_i].value, fc_errmsg(ctx), bad[_i].words);
    ck_assert_int_eq(fc_errcode(ctx), FC_EINVAL);
}
END_TEST

/* Each number lands in its own field: none falls through to another
 * (an integer option once ended in a catch-all that set the seed). */
START_TEST(each_number_sets_its_own_field)
{
    ck_assert_int_eq(fc_options_set(ctx, o, "seed", "7"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "threads", "3"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "permutations", "0"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "sector-width", "5"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "min-pts", "2147483647"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "distance", "planar"), FC_OK);
    ck_assert_int_eq(fc_options_set(ctx, o, "min-weight", "0"), FC_OK);
    ck_assert_uint_eq(o->seed, 7);
    ck_assert_int_eq(o->threads, 3);
    ck_assert_int_eq(o->permutations, 0);
    ck_assert_int_eq(o->sector_width, 5);
    ck_assert_int_eq(o->sector_digits, 0);
    ck_assert_uint_eq(o->min_pts, 2147483647);
    ck_assert_int_eq(o->distance, FC_DIST_PLANAR);
    ck_assert_double_eq(o->min_weight, 0);
    ck_assert_int_eq(fc_options_set(ctx, o, "seed", "18446744073709551615"), FC_EINVAL);
    ck_assert_uint_eq(o->seed, 7); /* a refused value changes nothing */
}
END_TEST

START_TEST(usage_lists_every_option)
{
    const char *names[] = {"layer", "where", "sector-field", "sector-digits", "eps", "min-pts",
                           "weight-field", "min-weight", "hull", "concavity", "s-srs", "t-srs",
                           "format", "overwrite"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char flag[40];
        snprintf(flag, sizeof flag, "--%s", names[i]);
        ck_assert_msg(strstr(fc_options_usage(), flag), "usage lacks %s", flag);
        ck_assert_int_ge(fc_option_takes_value(names[i]), 0);
    }
    ck_assert_int_eq(fc_option_takes_value("overwrite"), 0);
    ck_assert_int_eq(fc_option_takes_value("eps"), 1);
    ck_assert_int_eq(fc_option_takes_value("nope"), -1);
}
END_TEST

START_TEST(truncate_codes_by_digits)
{
    char a[] = "01110", b[] = " 4711 ", c[] = "62.01", d[] = "62.01.0", e[] = "7", f[] = "C10.11",
         g[] = "ӘБВ", h[] = "  ";
    fc_truncate_code(a, 2);
    fc_truncate_code(b, 0); /* 0: the whole code, trimmed */
    fc_truncate_code(c, 4);
    fc_truncate_code(d, 2);
    fc_truncate_code(e, 2);
    fc_truncate_code(f, 2); /* a NACE section letter is not a digit */
    fc_truncate_code(g, 2); /* no digit at all: characters, Ә being one of two bytes */
    fc_truncate_code(h, 2);
    ck_assert_str_eq(a, "01");
    ck_assert_str_eq(b, "4711");
    ck_assert_str_eq(c, "6201");
    ck_assert_str_eq(d, "62");
    ck_assert_str_eq(e, "7");
    ck_assert_str_eq(f, "10");
    ck_assert_str_eq(g, "ӘБ");
    ck_assert_str_eq(h, "");
}
END_TEST

START_TEST(status_names_and_messages)
{
    ck_assert_str_eq(fc_err_name(FC_EEXIST), "FC_EEXIST");
    ck_assert_str_eq(fc_strerror(FC_OK), "success");
    ck_assert_str_eq(fc_strerror(FC_ECANCEL), "cancelled");
    for (int code = FC_EINTERNAL; code < 0; code++)
        ck_assert_str_ne(fc_err_name(code), "FC_EUNKNOWN");
    /* name and message of every code come from the one list */
#define CHECK_STATUS(name, value, text)                                 \
    ck_assert_int_eq(FC_##name, value);                                 \
    ck_assert_str_eq(fc_err_name(value), "FC_" #name);                  \
    ck_assert_str_eq(fc_strerror(value), text);
    FC_STATUS_MAP(CHECK_STATUS)
#undef CHECK_STATUS
    ck_assert_str_eq(fc_err_name(-100), "FC_EUNKNOWN");
    ck_assert_str_eq(fc_strerror(1), "unknown status");
    ck_assert_str_eq(fc_version(), FIRMCLUST_VERSION);
    ck_assert_ptr_null(fc_context_destroy(NULL));
    ck_assert_ptr_null(fc_options_destroy(NULL));
    ck_assert_ptr_null(fc_result_destroy(NULL));
    /* a NULL context is fc_context_new() failing: out of memory, as the
     * header says (it gave FC_EINVAL and "") */
    ck_assert_int_eq(fc_errcode(NULL), FC_ENOMEM);
    ck_assert_str_eq(fc_errmsg(NULL), "out of memory");
    fc_context *fresh = fc_context_new();
    ck_assert_int_eq(fc_errcode(fresh), FC_OK);
    ck_assert_str_eq(fc_errmsg(fresh), "");
    fc_context_destroy(fresh);
    /* the version macros are CMake's project() version */
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", FIRMCLUST_VERSION_MAJOR,
             FIRMCLUST_VERSION_MINOR, FIRMCLUST_VERSION_PATCH);
    ck_assert_str_eq(version, FIRMCLUST_VERSION);
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = fc_tcase("options");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, good_values_are_stored);
    tcase_add_loop_test(tc, bad_values_are_refused_by_name, 0, sizeof bad / sizeof bad[0]);
    tcase_add_test(tc, each_number_sets_its_own_field);
    tcase_add_test(tc, usage_lists_every_option);
    tcase_add_test(tc, truncate_codes_by_digits);
    tcase_add_test(tc, status_names_and_messages);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(options_suite)
