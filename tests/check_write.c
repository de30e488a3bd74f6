/* SPDX-License-Identifier: MIT */
/* Writing outputs (output.c, write.c, write_firms.c) through the tool: every
 * format read back with OGR, field names a Shapefile cannot hold, nothing
 * replaced without --overwrite, nothing half-written after a failure, a
 * full disk, Ctrl-C, SIGTERM, SIGKILL or a concurrent run. */
#define _GNU_SOURCE
#include "io/io.h"
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

START_TEST(existing_output_kept_without_overwrite)
{
    ck_assert_int_eq(run(MAIN_JOB " --hull convex", firms, "out.gpkg"), 0);
    ck_assert_int_eq(run(MAIN_JOB, firms, "out2.gpkg"), 0);
    copy_file(in_dir("out2.gpkg"), "before.gpkg", 0);
    ck_assert_int_eq(run(MAIN_JOB " --hull convex", firms, "out2.gpkg"), 1);
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
    ck_assert_ptr_nonnull(strstr(err_text, "in.gpkg: the output would replace the input in.gpkg"));
    ck_assert(same_bytes(in_dir("in.gpkg"), in_dir("copy.gpkg")));
}
END_TEST

/* Issue 26, cases 1 and 2: with --overwrite, what is in the way and is not
 * firmclust's own output is refused, named, and left as it was; so is every
 * path that is read, however it is spelt, and a device or link. */
static const struct {
    const char *args; /* after "cluster", in the test directory */
    const char *message;
} refused_overwrites[] = {
    /* a directory that holds the input, and one that holds a stranger */
    {"data/firms.gpkg data -f 'ESRI Shapefile'",
     "data: the output would replace the directory that holds the input data/firms.gpkg"},
    {"data/firms.gpkg keep -f 'ESRI Shapefile'",
     "keep: --overwrite replaces only a directory of firmclust's layers and styles, and this one "
     "also holds important.txt"},
    {"data/firms.gpkg keep", "keep exists and is not an output of firmclust cluster"},
    {"data/firms.gpkg other.gpkg", "other.gpkg exists and is not an output of firmclust cluster"},
    {"data/firms.gpkg shp -f 'ESRI Shapefile'", "shp: --overwrite replaces only a directory of "
                                                "firmclust's layers and styles, and this one also "
                                                "holds firms.gpkg"},
    /* the input through another name: a hard link, "..", a symbolic link */
    {"data/firms.gpkg hard.gpkg", "hard.gpkg: the output would replace the input data/firms.gpkg"},
    {"data/firms.gpkg data/../data/firms.gpkg", "the output would replace the input"},
    {"data/firms.gpkg link.gpkg", "the output would replace the input"},
    /* every other input, and the JSON */
    {"data/firms.gpkg out.gpkg --json data/firms.gpkg", "the output would replace the input"},
    {"data/firms.gpkg groups.csv --sector-field oked --groups groups.csv",
     "groups.csv: the output would replace the input groups.csv"},
    {"data/firms.gpkg names.csv --sector-field oked --sector-names names.csv",
     "names.csv: the output would replace the input names.csv"},
    {"data/firms.gpkg inst.gpkg --institutions inst.gpkg",
     "inst.gpkg: the output would replace the input inst.gpkg"},
    {"data/firms.gpkg out.gpkg --config-file run.conf --json run.conf",
     "run.conf: the output would replace the input run.conf"},
    {"data/firms.gpkg out.gpkg --json out.gpkg", "out.gpkg and out.gpkg are one file"},
    {"data/firms.gpkg out.gpkg --json notes.json", "notes.json exists and is not a JSON summary"},
    {"data/firms.gpkg shp -f 'ESRI Shapefile' --json shp/s.json",
     "one output would lie inside the other"},
    /* devices and links are never replaced */
    {"data/firms.gpkg /dev/null", "/dev/null is a character device; firmclust writes only files"},
    {"data/firms.gpkg out.gpkg --json /dev/full", "/dev/full is a character device"},
    {"data/firms.gpkg out.gpkg --json /dev/stdout", "/dev/stdout is a symbolic link"},
    {"data/firms.gpkg out.gpkg --json fifo", "fifo is a named pipe"},
};

START_TEST(overwrite_replaces_only_what_firmclust_wrote)
{
    ck_assert_int_eq(mkdir(in_dir("data"), 0755), 0);
    copy_file(firms, "data/firms.gpkg", 0);
    write_text("data/notes.txt", "mine\n");
    ck_assert_int_eq(mkdir(in_dir("keep"), 0755), 0);
    write_text("keep/important.txt", "mine\n");
    ck_assert_int_eq(mkdir(in_dir("shp"), 0755), 0);
    copy_file(firms, "shp/firms.gpkg", 0); /* a firms.* of another format is not ours */
    ck_assert_int_eq(run("synth -q --firms 50 other.gpkg --institutions inst.gpkg"), 0);
    ck_assert_int_eq(link(in_dir("data/firms.gpkg"), in_dir("hard.gpkg")), 0);
    ck_assert_int_eq(symlink("data/firms.gpkg", in_dir("link.gpkg")), 0);
    write_text("groups.csv", "code,group\n62,ict\n63,ict\n");
    write_text("names.csv", "code,name\n62,IT\n");
    write_text("run.conf", "eps = 2000\n");
    write_text("notes.json", "{\"mine\": 1}\n");
    ck_assert_int_eq(mkfifo(in_dir("fifo"), 0644), 0);
    ck_assert_int_eq(run(MAIN_JOB, firms, "out.gpkg"), 0);
    const char *watched[] = {"other.gpkg", "groups.csv", "notes.json", "run.conf"};
    char copy[4][64];
    for (int k = 0; k < 4; k++) {
        snprintf(copy[k], sizeof copy[k], "copy-%s", watched[k]);
        copy_file(in_dir(watched[k]), copy[k], 0);
    }
    const char *before = strdup(listing());
    for (size_t i = 0; i < sizeof refused_overwrites / sizeof *refused_overwrites; i++) {
        int rc = run("cluster %s --eps 2000 --permutations 0 -q --overwrite",
                     refused_overwrites[i].args);
        ck_assert_msg(rc == 1 && strstr(err_text, refused_overwrites[i].message),
                      "cluster %s: exit %d, expected 1 and '%s':\n%s", refused_overwrites[i].args,
                      rc, refused_overwrites[i].message, err_text);
        ck_assert_str_eq(listing(), before);
        ck_assert(same_bytes(in_dir("data/firms.gpkg"), firms));
        ck_assert(same_bytes(in_dir("hard.gpkg"), firms));
        for (int k = 0; k < 4; k++) {
            char was[600];
            snprintf(was, sizeof was, "%s", in_dir(copy[k]));
            ck_assert_msg(same_bytes(in_dir(watched[k]), was), "%s changed", watched[k]);
        }
        struct stat st;
        ck_assert_int_eq(stat(in_dir("data/notes.txt"), &st), 0);
        ck_assert_int_eq(stat(in_dir("keep/important.txt"), &st), 0);
        ck_assert_int_eq(lstat(in_dir("fifo"), &st), 0);
        ck_assert(S_ISFIFO(st.st_mode));
    }
    free((void *)before);
    /* what firmclust wrote is replaced: its output, its directory, its JSON */
    ck_assert_int_eq(run(MAIN_JOB " --json s.json", firms, "shp2 -f 'ESRI Shapefile'"), 0);
    ck_assert_int_eq(run(MAIN_JOB " --json s.json --overwrite --hull convex", firms,
                         "shp2 -f 'ESRI Shapefile'"),
                     0);
    ck_assert_int_eq(run(MAIN_JOB " --overwrite --hull convex", firms, "out.gpkg"), 0);
    /* --json - writes the summary to standard output, and nothing else there */
    ck_assert_int_eq(run(MAIN_JOB " --json - --overwrite", firms, "out.gpkg"), 0);
    ck_assert_msg(strncmp(out_text, "{\n  \"firmclust\": ", 17) == 0, "%s", out_text);
    ck_assert_ptr_nonnull(strstr(out_text, "\"cluster_list\""));
    ck_assert_ptr_null(strstr(out_text, "wrote"));
    ck_assert_ptr_nonnull(strstr(err_text, "wrote out.gpkg"));
}
END_TEST

static void check_directory_output(const char *format, const char *ext)
{
    ck_assert_int_eq(run(MAIN_JOB, firms, "ref.gpkg"), 0);
    ck_assert_int_eq(run(MAIN_JOB " -f '%s'", firms, "outdir", format), 0);
    char c[600], f[600];
    snprintf(c, sizeof c, "%s/outdir/clusters.%s", dir, ext);
    snprintf(f, sizeof f, "%s/outdir/firms.%s", dir, ext);
    ck_assert_int_eq(count(c, NULL), count(in_dir("ref.gpkg"), "clusters"));
    /* the co-location table, which a single-layer format has no room for */
    char t[600];
    snprintf(t, sizeof t, "%s/outdir/colocation.csv", dir);
    ck_assert_int_eq(count(t, NULL), SAMPLE_DIVISIONS * SAMPLE_DIVISIONS);
    /* whole numbers unquoted, codes text by the .csvt beside it (issue 26:
     * GDAL 3.6 quoted the integers; "01" must stay 01 when read back) */
    static char text[65536];
    slurp(t, text, sizeof text);
    ck_assert_msg(strstr(text, "\n01,01,") && strstr(text, ",1125,1125,279,"), "%.300s", text);
    char csvt[600];
    snprintf(csvt, sizeof csvt, "%s/outdir/colocation.csvt", dir);
    slurp(csvt, text, sizeof text);
    ck_assert_msg(strncmp(text, "String,String,", 14) == 0, "%s", text);
    GDALDatasetH table = open_vector(t);
    OGRFeatureH row = OGR_L_GetNextFeature(layer(table, NULL));
    ck_assert_str_eq(OGR_F_GetFieldAsString(row, 0), "01");
    OGR_F_Destroy(row);
    GDALClose(table);
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
    /* The firms layer is written first (beside the statistics), and it is
     * the largest: it is the one cut. The first GeoPackage case's limit is
     * one the database reaches before a commit fails; at the second, a commit
     * fails and SQLite rolls it back, so that the file is short of the limit
     * again: the cause is told as likely. */
    const struct { int blocks; const char *format, *output, *words, *cause; } cases[] = {
        {300, "GeoJSON", "outj",
         "FAILURE: outj/firms.geojson: writing layer firms failed: 0 of its 10000 features read "
         "back",
         "(file too large: the file size limit (ulimit -f) of 153600 bytes was reached)"},
        {160, "CSV", "out.csv", "FAILURE: out.csv/firms.csv: cannot write firm",
         "(file too large: the file size limit (ulimit -f) of 81920 bytes was reached)"},
        {150, "GPKG", "out.gpkg", "FAILURE: out.gpkg: ",
         "(file too large: the file size limit (ulimit -f) of 76800 bytes was reached)"},
        {600, "GPKG", "out.gpkg", "FAILURE: out.gpkg: cannot commit: ",
         "I/O error (the file size limit (ulimit -f) of 307200 bytes may have been reached)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(args, sizeof args, MAIN_JOB " -f %s -q", firms, cases[k].output, cases[k].format);
        ck_assert_int_eq(run_limited(cases[k].blocks, args), 1);
        ck_assert_msg(strstr(err_text, cases[k].words), "%s", err_text);
        ck_assert_msg(strstr(err_text, cases[k].cause), "%s", err_text);
        ck_assert_msg(!strstr(err_text, ".tmp"), "names the temporary: %s", err_text);
        ck_assert_str_eq(listing(), ""); /* nothing left behind */
    }
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

/* Cancels once the significance test runs, while the firms layer is being
 * written beside it; counts the "writing firms" messages said. */
static int cancel_in_significance(double complete, const char *message, void *arg)
{
    (void)complete;
    return strcmp(message, "significance") != 0 || ++*(int *)arg < 3;
}

static void count_firm_messages(int level, const char *message, void *arg)
{
    (void)level;
    *(int *)arg += strncmp(message, "writing firms: ", 15) == 0;
}

START_TEST(cancel_stops_the_firms_written_beside_the_statistics)
{
    fc_context *ctx = fc_context_new();
    fc_options *o = fc_options_new();
    int calls = 0, said = 0;
    fc_options_set(ctx, o, "eps", "2000");
    fc_options_set(ctx, o, "sector-field", "oked");
    fc_options_set(ctx, o, "sector-digits", "2");
    fc_context_set_message_handler(ctx, count_firm_messages, &said);
    fc_context_set_progress(ctx, cancel_in_significance, &calls);
    ck_assert_int_eq(fc_cluster(ctx, firms, in_dir("out.gpkg"), o, NULL), FC_ECANCEL);
    ck_assert_str_eq(fc_errmsg(ctx), "cancelled by the progress callback");
    ck_assert_int_eq(calls, 3);
    ck_assert_int_eq(said, 0); /* a stopped writer's messages are dropped */
    ck_assert_str_eq(listing(), "");
    /* not cancelled: the writer's timing said once, on this thread */
    fc_context_set_progress(ctx, NULL, NULL);
    ck_assert_int_eq(fc_cluster(ctx, firms, in_dir("out.gpkg"), o, NULL), FC_OK);
    ck_assert_int_eq(said, 1);
    ck_assert_str_eq(listing(), "out.gpkg ");
    fc_options_destroy(o);
    fc_context_destroy(ctx);
}
END_TEST

/* Issue 26, case 10: a Shapefile holds 254 bytes of text a field. GDAL cut
 * a Russian name inside a letter and printed each whole value; two codes
 * that shared their first 254 bytes became one sector. */
START_TEST(shapefile_text_cut_on_a_character)
{
    FILE *f = fopen(in_dir("long.csv"), "w");
    fprintf(f, "lon,lat,oked,note\n");
    for (int i = 0; i < 12; i++) {
        fprintf(f, "%.6f,51.128,62,", 71.43 + 0.0001 * i);
        for (int k = 0; k < 200; k++)
            fputs("\xd0\x96", f); /* Ж, two bytes */
        fputc('\n', f);
    }
    fclose(f);
    ck_assert_int_eq(run("cluster long.csv shp -f 'ESRI Shapefile' --s-srs EPSG:4326 "
                         "--sector-field oked --eps 100 --min-pts 1 --permutations 0 -q"),
                     0);
    ck_assert_msg(strstr(err_text, "layer firms, field note: 12 values were longer than the 254 "
                                   "bytes a Shapefile field holds, cut after the last whole "
                                   "character that fits"),
                  "%s", err_text);
    ck_assert_msg(strlen(err_text) < 1000, "GDAL's own warnings came through:\n%.300s", err_text);
    GDALDatasetH ds = open_vector(in_dir("shp/firms.shp"));
    OGRFeatureH feat;
    int seen = 0;
    while ((feat = OGR_L_GetNextFeature(layer(ds, NULL)))) {
        const char *note = OGR_F_GetFieldAsString(feat, OGR_F_GetFieldIndex(feat, "note"));
        ck_assert_uint_eq(strlen(note), 254); /* 127 whole letters */
        ck_assert(CPLIsUTF8(note, -1));
        OGR_F_Destroy(feat);
        seen++;
    }
    ck_assert_int_eq(seen, 12);
    GDALClose(ds);
    /* codes longer than a field holds are refused, not merged */
    f = fopen(in_dir("codes.csv"), "w");
    fprintf(f, "lon,lat,oked\n");
    for (int i = 0; i < 2; i++) {
        fprintf(f, "%.6f,51.128,", 71.43 + 0.0001 * i);
        for (int k = 0; k < 300; k++)
            fputc('A', f);
        fprintf(f, "%s\n", i ? "B" : "");
    }
    fclose(f);
    ck_assert_int_eq(run("cluster codes.csv shp2 -f 'ESRI Shapefile' --s-srs EPSG:4326 "
                         "--sector-field oked --eps 100 --min-pts 1 --permutations 0 -q"),
                     1);
    ck_assert_msg(strstr(err_text, "bytes long; a Shapefile field holds 254, and cut codes could "
                                   "merge two sectors: write a GeoPackage"),
                  "%s", err_text);
    ck_assert_int_eq(run("cluster codes.csv out.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--eps 100 --min-pts 1 --permutations 0 -q"),
                     0);
}
END_TEST

/* Issue 27: the clusters layer's fields are described in the GeoPackage
 * (gpkg_data_columns, the Schema extension) from the same schema that made
 * them: one row a field, in the layer's order, titles and descriptions. */
START_TEST(fields_described_in_the_geopackage)
{
    char regions[600];
    snprintf(regions, sizeof regions, "%s/fixtures/kz/kaz_admbnda_adm1_2024.shp", src);
    ck_assert_int_eq(run(MAIN_JOB " --regions '%s' -q", firms, "out.gpkg", regions), 0);
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer(ds, "clusters"));
    OGRLayerH rows = GDALDatasetExecuteSQL(
        ds, "SELECT column_name, title, description FROM gpkg_data_columns WHERE table_name = "
            "'clusters' ORDER BY rowid", NULL, NULL);
    ck_assert_ptr_nonnull(rows);
    ck_assert_int_eq(OGR_L_GetFeatureCount(rows, TRUE), OGR_FD_GetFieldCount(defn));
    int k = 0;
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(rows))) {
        const char *column = OGR_F_GetFieldAsString(f, 0);
        ck_assert_str_eq(column, OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, k++)));
        const fc_field *d = fc_cluster_schema();
        while (d->name && strcmp(d->name, column) != 0)
            d++;
        ck_assert_ptr_nonnull(d->name);
        ck_assert_str_eq(OGR_F_GetFieldAsString(f, 1), d->title);
        ck_assert_str_eq(OGR_F_GetFieldAsString(f, 2), d->description);
        OGR_F_Destroy(f);
    }
    GDALDatasetReleaseResultSet(ds, rows);
    GDALClose(ds);
}
END_TEST

/* Cancels at the last moment a run asks: just before its output goes into
 * place. */
static int cancel_at_the_end(double complete, const char *message, void *arg)
{
    (void)arg;
    return !(complete >= 1.0 && strcmp(message, "writing") == 0);
}

START_TEST(cancel_at_the_end_keeps_the_old_output)
{
    /* Issue 26, case 3: a cancel that came while the last layers were
     * written replaced the old output (and the JSON) all the same. */
    ck_assert_int_eq(run(MAIN_JOB " --json s.json", firms, "out.gpkg"), 0);
    copy_file(in_dir("out.gpkg"), "before.gpkg", 0);
    copy_file(in_dir("s.json"), "before.json", 0);
    fc_context *ctx = fc_context_new();
    fc_options *o = fc_options_new();
    fc_options_set(ctx, o, "eps", "1000");
    fc_options_set(ctx, o, "overwrite", NULL);
    fc_options_set(ctx, o, "json", in_dir("s.json"));
    fc_context_set_progress(ctx, cancel_at_the_end, NULL);
    ck_assert_int_eq(fc_cluster(ctx, firms, in_dir("out.gpkg"), o, NULL), FC_ECANCEL);
    ck_assert(same_bytes(in_dir("out.gpkg"), in_dir("before.gpkg")));
    ck_assert(same_bytes(in_dir("s.json"), in_dir("before.json")));
    ck_assert_str_eq(listing(), "before.gpkg before.json out.gpkg s.json ");
    fc_options_destroy(o);
    fc_context_destroy(ctx);
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
    /* SIGTERM (issue 26, case 3): either the run finished and says so (exit
     * 0), or it says it was cancelled (130) and the old output is as it was */
    for (int attempt = 0; attempt < 4; attempt++) {
        copy_file(in_dir("out.gpkg"), "before.gpkg", 0);
        pid_t pid = spawn("cluster big.gpkg out.gpkg --eps 1500 --permutations 0 --overwrite -q");
        sleep_ms(400 + 500 * attempt);
        kill(pid, SIGTERM);
        int status;
        waitpid(pid, &status, 0);
        ck_assert(WIFEXITED(status));
        if (WEXITSTATUS(status) == 130)
            ck_assert(same_bytes(in_dir("out.gpkg"), in_dir("before.gpkg")));
        else
            ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    /* whatever happened, out.gpkg is a complete output that opens */
    ck_assert_int_eq(count(in_dir("out.gpkg"), "firms"), 150000);
}
END_TEST

/* The clusters' style gives every sector its own colour, none repeated, up
 * to 24; beyond that the sectors with the fewest clustered firms share one
 * grey "other" category, which QGIS matches by its empty value. Read from
 * the style itself (layer_styles), not from pixels. */
static int style_colours(const char *gpkg, char colours[][24], char *categories, size_t size)
{
    GDALDatasetH ds = open_vector(gpkg);
    OGRLayerH rs = GDALDatasetExecuteSQL(
        ds, "SELECT styleQML FROM layer_styles WHERE f_table_name = 'clusters'", NULL, NULL);
    ck_assert_ptr_nonnull(rs);
    OGRFeatureH f = OGR_L_GetNextFeature(rs);
    ck_assert_ptr_nonnull(f);
    const char *qml = OGR_F_GetFieldAsString(f, 0);
    categories[0] = '\0';
    size_t len = 0;
    for (const char *c = strstr(qml, "<category "); c; c = strstr(c + 1, "<category ")) {
        size_t piece = (size_t)(strchr(c, '>') - c + 1);
        ck_assert_uint_lt(len + piece + 2, size);
        memcpy(categories + len, c, piece);
        len += piece;
        categories[len++] = '\n';
        categories[len] = '\0';
    }
    int n = 0; /* each fill symbol's own colour (its dot for small clusters has the same) */
    for (const char *c = strstr(qml, "<symbol type=\"fill\""); c && n < 64;
         c = strstr(c + 1, "<symbol type=\"fill\"")) {
        const char *colour = strstr(c, "name=\"color\" value=\"");
        ck_assert_ptr_nonnull(colour);
        sscanf(colour + strlen("name=\"color\" value=\""), "%23[0-9,]", colours[n]);
        n++;
    }
    OGR_F_Destroy(f);
    GDALDatasetReleaseResultSet(ds, rs);
    GDALClose(ds);
    return n;
}

static void assert_all_different(char colours[][24], int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(colours[i], colours[j]) != 0, "colour %s used twice", colours[i]);
}

/* The CLQ of a pair, read from the colocation table of an output. */
static double clq_of(const char *path, const char *a, const char *b)
{
    GDALDatasetH ds = open_vector(path);
    OGRLayerH l = layer(ds, "colocation");
    char filter[64];
    snprintf(filter, sizeof filter, "sector_a = '%s' AND sector_b = '%s'", a, b);
    OGR_L_SetAttributeFilter(l, filter);
    OGRFeatureH f = OGR_L_GetNextFeature(l);
    ck_assert_msg(f != NULL, "%s: no row %s -> %s", path, a, b);
    double v = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "clq"));
    OGR_F_Destroy(f);
    GDALClose(ds);
    return v;
}

static bool has_layer(const char *path, const char *name)
{
    GDALDatasetH ds = open_vector(path);
    bool found = GDALDatasetGetLayerByName(ds, name) != NULL;
    GDALClose(ds);
    return found;
}

START_TEST(colocation_table)
{
    /* The sample: every ordered pair of its divisions, codes as text;
     * oil extraction (06) and oil services (09) planted together, with
     * p-values (MAIN_JOB has --permutations 0, which a later one wins over) */
    ck_assert_int_eq(run(MAIN_JOB " --permutations 9 --json kz.json", firms, "kz.gpkg"), 0);
    ck_assert_int_eq(count(in_dir("kz.gpkg"), "colocation"),
                     SAMPLE_DIVISIONS * SAMPLE_DIVISIONS);
    ck_assert_double_gt(clq_of(in_dir("kz.gpkg"), "06", "09"), 2);
    ck_assert_double_gt(clq_of(in_dir("kz.gpkg"), "09", "06"), 2);
    GDALDatasetH ds = open_vector(in_dir("kz.gpkg"));
    OGRLayerH l = layer(ds, "colocation");
    OGR_L_SetAttributeFilter(l, "sector_a = '06' AND sector_b = '09' AND q_value <= 0.05");
    ck_assert_int_eq(OGR_L_GetFeatureCount(l, TRUE), 1);
    OGR_L_SetAttributeFilter(l, "p_value IS NULL AND q_value IS NOT NULL");
    ck_assert_int_eq(OGR_L_GetFeatureCount(l, TRUE), 0);
    GDALClose(ds);
    /* the strongest pairs: the related sectors synth planted */
    const char *pairs = strstr(out_text, "co-location (table colocation): 24 & 25 ");
    ck_assert_ptr_nonnull(pairs);
    ck_assert_ptr_nonnull(strstr(pairs, ", 62 & 63 "));
    ck_assert_ptr_nonnull(strstr(pairs, ", 06 & 09 "));
    static char json[1 << 20];
    slurp(in_dir("kz.json"), json, sizeof json);
    ck_assert_ptr_nonnull(strstr(json, "\"colocation\": ["));
    ck_assert_ptr_nonnull(strstr(json, "{\"sector_a\": \"01\", \"sector_b\": \"01\""));

    /* --colocation off, and one sector: no table */
    ck_assert_int_eq(run(MAIN_JOB " --colocation off", firms, "off.gpkg"), 0);
    ck_assert(has_layer(in_dir("off.gpkg"), "clusters"));
    ck_assert(!has_layer(in_dir("off.gpkg"), "colocation"));
    ck_assert_int_eq(run("cluster '%s' one.gpkg --eps 2000 --min-pts 10 --permutations 0", firms),
                     0);
    ck_assert(!has_layer(in_dir("one.gpkg"), "colocation"));
    ck_assert_ptr_null(strstr(out_text, "co-location"));
}
END_TEST

START_TEST(each_sector_its_own_colour)
{
    static char colours[64][24], categories[8192];
    /* the sample: every sector with clusters a colour of its own */
    ck_assert_int_eq(run(MAIN_JOB, firms, "kz.gpkg"), 0);
    int n = style_colours(in_dir("kz.gpkg"), colours, categories, sizeof categories);
    int n_categories = 0;
    for (const char *c = categories; (c = strstr(c, "<category ")); c++)
        n_categories++;
    ck_assert_int_gt(n, 12); /* more than the old palette held */
    ck_assert_int_eq(n, n_categories);
    assert_all_different(colours, n);
    ck_assert_ptr_null(strstr(categories, "other ("));

    /* 30 sectors with a cluster each, sector 10 + k of 3 + k firms: the 23
     * largest get colours, the 7 smallest (10 to 16) share "other" */
    FILE *f = fopen(in_dir("thirty.csv"), "w");
    fprintf(f, "lon,lat,oked\n");
    for (int k = 0; k < 30; k++)
        for (int i = 0; i < 3 + k; i++)
            fprintf(f, "%.4f,%.4f,%d\n", 60 + k * 0.5, 50 + i * 0.0001, 10 + k);
    fclose(f);
    ck_assert_int_eq(run("cluster thirty.csv thirty.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--eps 500 --min-pts 3 --permutations 0"),
                     0);
    n = style_colours(in_dir("thirty.gpkg"), colours, categories, sizeof categories);
    ck_assert_int_eq(n, 24);
    assert_all_different(colours, n);
    ck_assert_msg(strstr(categories, "value=\"\" label=\"other (7 sectors)\""), "%s", categories);
    ck_assert_ptr_null(strstr(categories, "value=\"16\""));
    ck_assert_ptr_nonnull(strstr(categories, "value=\"17\""));
    ck_assert_ptr_nonnull(strstr(categories, "value=\"39\""));
}
END_TEST

static Suite *write_suite(void)
{
    Suite *s = suite_create("write");
    TCase *tc = fc_tcase("write");
    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, existing_output_kept_without_overwrite);
    tcase_add_test(tc, overwrite_replaces_only_what_firmclust_wrote);
    tcase_add_test(tc, cancel_at_the_end_keeps_the_old_output);
    tcase_add_test(tc, shapefile_text_cut_on_a_character);
    tcase_add_test(tc, fields_described_in_the_geopackage);
    tcase_add_test(tc, output_never_replaces_input);
    tcase_add_test(tc, shapefile_directory_with_cpg_and_prj);
    tcase_add_test(tc, geojson_directory);
    tcase_add_test(tc, flatgeobuf_directory);
    tcase_add_test(tc, full_disk_names_the_output_and_the_cause);
    tcase_add_test(tc, shapefile_keeps_our_field_names);
    tcase_add_test(tc, spreadsheet_outputs);
    tcase_add_test(tc, each_sector_its_own_colour);
    tcase_add_test(tc, colocation_table);
    tcase_add_test(tc, json_never_replaced_without_overwrite);
    tcase_add_test(tc, cancelled_run_leaves_nothing);
    tcase_add_test(tc, cancel_stops_the_firms_written_beside_the_statistics);
    tcase_add_test(tc, ctrl_c_cancels_cleanly);
    tcase_add_test(tc, sigterm_stops_a_long_geometry_stage);
    tcase_add_test(tc, killed_run_leaves_the_old_output);
    tcase_add_test(tc, stale_temporaries_are_removed);
    tcase_add_test(tc, concurrent_overwrites_of_a_directory);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(write_suite)
