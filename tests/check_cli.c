/* SPDX-License-Identifier: MIT */
/* The command-line tool as a user runs it: the main job on the bundled sample,
 * usage errors and bad input (a clear message, a non-zero exit, nothing left
 * behind), batches, configuration files, info, help and synth. */
#define _GNU_SOURCE
#include "pipeline/pipeline.h"
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

START_TEST(main_job_writes_consistent_layers)
{
    ck_assert_int_eq(run(MAIN_JOB, firms, "out.gpkg"), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "clusters holding"));
    ck_assert_str_eq(listing(), "out.gpkg ");
    /* OKED divisions are named from the built-in NACE Rev. 2 table */
    ck_assert_ptr_nonnull(strstr(out_text, "sector names: NACE Rev. 2 divisions"));
    ck_assert_ptr_nonnull(strstr(out_text, "  Retail trade, except of motor vehicl..."));

    GDALDatasetH in = open_vector(firms), out = open_vector(in_dir("out.gpkg"));
    OGRLayerH lin = layer(in, NULL), lf = layer(out, "firms"), lc = layer(out, "clusters");
    ck_assert_int_eq(epsg_of(lf), 4326);
    ck_assert_int_eq(epsg_of(lc), 4326);
    GIntBig n_clusters = OGR_L_GetFeatureCount(lc, TRUE);
    ck_assert_int_gt(n_clusters, 20);
    int i_sect_name = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(lc), "sect_name");
    ck_assert_int_ge(i_sect_name, 0);
    OGRFeatureH c1;
    OGR_L_ResetReading(lc);
    while ((c1 = OGR_L_GetNextFeature(lc))) {
        if (strcmp(OGR_F_GetFieldAsString(c1, OGR_F_GetFieldIndex(c1, "sector")), "62") == 0)
            ck_assert_str_eq(OGR_F_GetFieldAsString(c1, i_sect_name),
                             "Computer programming, consultancy and related activities");
        OGR_F_Destroy(c1);
    }
    OGR_L_ResetReading(lc);
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
    {"cluster FIRMS out.gpkg --eps 100 --min-weight 5", 2, "--min-weight needs --weight-field"},
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
    {"cluster FIRMS out.gpkg --eps 100 --lang de", 2, "--lang takes en, ru or kk, not 'de'"},
    {"cluster FIRMS out.gpkg --eps 100 --sector-names missing.csv", 1, "missing.csv: no such file"},
    {"render FIRMS map.jpg", 2, "MAP must end in .png, .pdf or .svg, not 'map.jpg'"},
    {"render FIRMS map.png --extent 1,2,3", 2, "--extent takes W,S,E,N in degrees"},
    {"render FIRMS map.png --extent 80,40,70,45", 2, "west below east"},
    {"render FIRMS map.png --region Almaty", 2, "--region names a region of --regions"},
    {"render FIRMS atlas.png --atlas --regions FIRMS", 2, "--atlas writes a PDF"},
    {"render FIRMS atlas.pdf --atlas", 2, "--atlas writes a PDF (ATLAS.pdf), with --regions"},
    {"render FIRMS map.png --dpi 5", 2, "--dpi takes a whole number from 30 to 1200"},
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
    /* issue 26, case 5: codes as numbers lost their zeros; 6 caught 62, 63, 64 and 68 */
    {"cluster FIRMS out.gpkg --eps 2000 --sector-field oked --sector-digits 2 --groups "
     "intcodes.gpkg", 1,
     "intcodes.gpkg, layer codes: field 'code' holds whole numbers, which lose leading zeros (06 "
     "would read as 6, and as a prefix catch 60 to 69): store the codes as text"},
    {"cluster FIRMS out.gpkg --eps 2000 --sector-field oked --sector-digits 2 --sector-names "
     "intcodes.gpkg", 1, "intcodes.gpkg, layer codes: field 'code' holds whole numbers"},
    /* case 8: options that would mean nothing, said */
    {"cluster FIRMS out.gpkg --eps 2000 --groups groups.csv", 2,
     "--groups needs --sector-field: a group is made of sector codes"},
    {"cluster FIRMS out.gpkg --eps 2000 --sector-field oked --link-clq 3", 2,
     "--link-clq links sectors into groups: it needs --groups auto"},
    {"cluster FIRMS out.gpkg --eps 2000 --min-pts 10 --sector-field oked --sector-digits 2 "
     "--groups none.csv --permutations 0", 0,
     "no clusters: no firm's sector is in a group of none.csv: its codes match none of the "
     "firms' sector codes"},
    {"cluster FIRMS out.gpkg --eps 2000 --min-pts 10 --sector-field oked --sector-digits 2 "
     "--groups single.csv --permutations 0", 0,
     "clusters of the groups' firms were found, but none has core firms of 2 sectors or more "
     "(--min-sectors 2); a group of one sector never has"},
    {"cluster FIRMS out.gpkg --eps 2000 --min-pts 10 --permutations 0 --colocation on", 0,
     "co-location: there is one sector; it pairs sectors, so there is nothing to pair (give "
     "--sector-field)"},
    {"cluster stack.csv out.gpkg --s-srs EPSG:4326 --sector-field oked --method hdbscan "
     "--min-samples 1 --permutations 0", 0,
     "co-location skipped: with HDBSCAN* and no --eps its band is the median core distance of "
     "the clustered firms, and that is 0 m here"},
    /* case 10: limits and messages */
    {"cluster FIRMS nodir/out.gpkg --eps 100", 1,
     "nodir/out.gpkg: cannot write in nodir: No such file or directory"},
    {"cluster FIRMS nodir/out -f 'ESRI Shapefile' --eps 100", 1,
     "nodir/out: cannot write in nodir: No such file or directory"},
    {"cluster FIRMS out.gpkg --eps 1e-3", 2,
     "--eps 0.001 m is below 0.01 m, the smallest firmclust takes"},
    {"cluster FIRMS out.gpkg --eps 1e-10 --s-srs EPSG:32642", 2, "is below 0.01 m"},
    {"cluster FIRMS out.gpkg --eps 0x10", 2, "option --eps takes a number, not '0x10'"},
    {"cluster FIRMS out.gpkg --eps '2000 ' --min-pts 50 --permutations 0", 0, ""},
    {"cluster bigweights.csv out.gpkg --eps 100 --min-pts 1 --s-srs EPSG:4326 --weight-field staff",
     0, "skipped 2 features with an infinite weight, or one above 1e15 (FID 2, 3)"},
    /* --where on a CSV's field that the stream of columns left out: no firm at all */
    {"cluster stack.csv out.gpkg --s-srs EPSG:4326 --where 'oked = 47' --eps 300 --permutations 0",
     0, ""},
    /* case 8: one input twice */
    {"cluster FIRMS FIRMS --output o.gpkg --eps 2000", 1, "is given twice: its firms would count twice"},
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

/* stack.csv: 40 firms of sector 62 at one address, 200 of 47 on a grid
 * around it (100 m apart), and 14 of 71, fewer than a --min-pts of 20. */
static void write_stack(void)
{
    FILE *f = fopen(in_dir("stack.csv"), "w");
    fprintf(f, "lon,lat,oked\n");
    for (int i = 0; i < 40; i++)
        fprintf(f, "71.43,51.128,62\n");
    for (int i = 0; i < 200; i++)
        fprintf(f, "%.6f,%.6f,47\n", 71.4 + 0.001 * (i % 20), 51.1 + 0.001 * (i / 20));
    for (int i = 0; i < 14; i++)
        fprintf(f, "%.6f,51.2,71\n", 71.4 + 0.01 * i);
    fclose(f);
}

/* A table without geometry as an XLSX or GeoPackage holds it: codes 6 and
 * 62 as whole numbers. */
static void write_integer_codes(const char *name)
{
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), in_dir(name), 0, 0, 0, GDT_Unknown,
                                 NULL);
    OGRLayerH l = GDALDatasetCreateLayer(ds, "codes", NULL, wkbNone, NULL);
    const char *fields[] = {"group", "code", "name"};
    for (int k = 0; k < 3; k++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[k], k == 1 ? OFTInteger : OFTString);
        OGR_L_CreateField(l, fd, TRUE);
        OGR_Fld_Destroy(fd);
    }
    const char *group[] = {"oil", "ict"}, *label[] = {"Oil", "IT"};
    const int code[] = {6, 62};
    for (int r = 0; r < 2; r++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
        OGR_F_SetFieldString(f, 0, group[r]);
        OGR_F_SetFieldInteger(f, 1, code[r]);
        OGR_F_SetFieldString(f, 2, label[r]);
        ck_assert_int_eq(OGR_L_CreateFeature(l, f), OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

/* The broken inputs of the table below. */
static void make_bad_inputs(void)
{
    write_integer_codes("intcodes.gpkg");
    write_text("bigweights.csv", "lon,lat,staff\n71.4,51.1,5\n71.4,51.1,1e400\n71.4,51.1,1e308\n");
    write_text("groups.csv", "group,code\nict,62\nict,63\n");
    write_text("none.csv", "group,code\nx,99\n");
    write_text("single.csv", "group,code\noil,06\nict,62\n");
    write_stack();
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

/* Issue 26, case 8: a sector whose firms stand at one address got eps 0 m
 * from --eps auto (no cluster, where 40 firms at one place are the densest
 * there is); suggest counted a sector of fewer than min-pts firms as 0. */
START_TEST(eps_auto_for_a_stacked_sector)
{
    write_stack();
    ck_assert_int_eq(run("suggest stack.csv --s-srs EPSG:4326 --sector-field oked --min-pts 20"),
                     0);
    ck_assert_msg(strstr(out_text, "\n71             14  fewer than 20 firms"), "%s", out_text);
    ck_assert_msg(strstr(out_text, "\n62             40       0 m"), "%s", out_text);
    ck_assert_msg(strstr(err_text, "sector 62: all its 40 firms stand at places of 20 firms or "
                                   "more, so every k-distance is 0 m; eps 1 m is suggested"),
                  "%s", err_text);
    ck_assert_int_eq(run("cluster stack.csv out.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--eps auto --min-pts 20 --permutations 0"),
                     0);
    ck_assert_msg(strstr(out_text, "\n62             40        1        40"), "%s", out_text);
}
END_TEST

/* Issue 26, case 10: a group named " ict" in one row and "ict" in another
 * made two groups; "give --sector-field" was said to a run that gave it. */
START_TEST(groups_trimmed_and_one_sector_said)
{
    write_text("spaced.csv", "group,code\n ict ,62\nict,63\n");
    ck_assert_int_eq(run("cluster '%s' out.gpkg --sector-field oked --sector-digits 2 --eps 2000 "
                         "--min-pts 10 --permutations 0 --groups spaced.csv",
                         firms),
                     0);
    ck_assert_msg(strstr(out_text, "firms in 1 group ("), "%s", out_text);
    /* a Cyrillic group id is padded by characters, not bytes, in the table */
    write_text("ru.csv", "group,code\n\xd0\x98\xd0\x9a\xd0\xa2,62\n\xd0\x98\xd0\x9a\xd0\xa2,63\n");
    ck_assert_int_eq(run("cluster '%s' ru.gpkg --sector-field oked --sector-digits 2 --eps 2000 "
                         "--min-pts 10 --permutations 0 --groups ru.csv",
                         firms),
                     0);
    ck_assert_msg(strstr(out_text, "\n\xd0\x98\xd0\x9a\xd0\xa2           434        3"), "%s",
                  out_text);
    write_stack();
    ck_assert_int_eq(run("cluster stack.csv out.gpkg --overwrite --s-srs EPSG:4326 --sector-field "
                         "oked --where 'oked = 47' --eps 300 --permutations 9"),
                     0);
    ck_assert_msg(strstr(out_text, "all firms are of one sector, so there is nothing to shuffle\n"),
                  "%s", out_text);
}
END_TEST

/* Issue 26, case 7: a file that includes itself ate all memory; every
 * error in a configuration file names the file and the line. */
START_TEST(config_files_name_file_and_line)
{
    write_text("self.conf", "eps = 2000\nconfig-file = self.conf\n");
    ck_assert_int_eq(run("cluster '%s' o.gpkg --config-file self.conf", firms), 1);
    ck_assert_msg(strstr(err_text, "self.conf:2: self.conf includes itself (a cycle"), "%s",
                  err_text);
    write_text("a.conf", "# a\nconfig-file = b.conf\n");
    write_text("b.conf", "eps 2000\n\n--config-file=a.conf\n");
    ck_assert_int_eq(run("cluster '%s' o.gpkg --config-file a.conf", firms), 1);
    ck_assert_msg(strstr(err_text, "b.conf:3: a.conf includes itself"), "%s", err_text);
    /* nine deep, each another file */
    for (int k = 0; k < 9; k++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "d%d.conf", k);
        snprintf(text, sizeof text, "config-file = d%d.conf\n", k + 1);
        write_text(name, text);
    }
    write_text("d9.conf", "eps = 2000\n");
    ck_assert_int_eq(run("cluster '%s' o.gpkg --config-file d0.conf", firms), 1);
    ck_assert_msg(strstr(err_text, "d7.conf:1: configuration files nest deeper than 8"), "%s",
                  err_text);
    /* eight deep is fine */
    ck_assert_int_eq(run("cluster '%s' o.gpkg --config-file d2.conf --permutations 0 -q", firms),
                     0);
    /* an unknown option, a bad value, a file it cannot read: file and line */
    write_text("nightly.conf", "sector-field = oked\n# typo below\n\nepss = 2000\n");
    ck_assert_int_eq(run("cluster '%s' p.gpkg --config-file nightly.conf", firms), 2);
    ck_assert_msg(strstr(err_text, "nightly.conf:4: unknown option --epss"), "%s", err_text);
    write_text("value.conf", "eps = 2000\nmin-pts = many\n");
    ck_assert_int_eq(run("cluster '%s' p.gpkg --config-file value.conf", firms), 2);
    ck_assert_msg(strstr(err_text, "value.conf:2: option --min-pts takes a whole number"), "%s", err_text);
    write_text("missing.conf", "eps = 2000\nconfig-file = nowhere.conf\n");
    ck_assert_int_eq(run("cluster '%s' p.gpkg --config-file missing.conf", firms), 1);
    ck_assert_msg(strstr(err_text, "missing.conf:2: cannot read the configuration file "
                                   "nowhere.conf"), "%s", err_text);
    /* a UTF-8 byte order mark, as Windows editors write, is no option */
    write_text("bom.conf", "\xef\xbb\xbfsector-field = oked\nsector-digits 2\neps 2000\n"
                           "min-pts 10\npermutations 0\n");
    ck_assert_int_eq(run("cluster '%s' bom.gpkg --config-file bom.conf", firms), 0);
    ck_assert_int_eq(run(MAIN_JOB, firms, "ref.gpkg"), 0);
    ck_assert(same_bytes(in_dir("bom.gpkg"), in_dir("ref.gpkg")));
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

/* The role and cluster of the firm with a given firm_id. */
static void firm_label(const char *path, int id, char *role, size_t size, int *cluster)
{
    GDALDatasetH ds = open_vector(path);
    OGRLayerH l = layer(ds, "firms");
    char filter[32];
    snprintf(filter, sizeof filter, "firm_id = %d", id);
    OGR_L_SetAttributeFilter(l, filter);
    OGRFeatureH f = OGR_L_GetNextFeature(l);
    ck_assert_ptr_nonnull(f);
    snprintf(role, size, "%s", OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "role")));
    int k = OGR_F_GetFieldIndex(f, "cluster_id");
    *cluster = OGR_F_IsFieldSetAndNotNull(f, k) ? OGR_F_GetFieldAsInteger(f, k) : 0;
    OGR_F_Destroy(f);
    GDALClose(ds);
}

START_TEST(related_sector_groups)
{
    /* Group oil = 06 and 09, food = 10; 47 is in no group. Three 06 and
     * three 09 firms together: with min-pts 4 neither sector clusters
     * alone, but the group does, of two sectors. Five food firms cluster
     * but are of one sector: dropped unless --min-sectors 1. Five 47 firms
     * are in no group: never clustered, role "ungrouped". */
    write_text("groups.csv", "group,code,name\noil,06,Oil and gas\noil,09,Oil and gas\n"
                             "food,10,Food\n");
    FILE *f = fopen(in_dir("firms.csv"), "w");
    fprintf(f, "firm_id,lon,lat,oked\n");
    for (int i = 0; i < 6; i++)
        fprintf(f, "%d,50.%04d,47.0,%s\n", i + 1, i, i < 3 ? "06100" : "09.10");
    for (int i = 0; i < 5; i++)
        fprintf(f, "%d,60.%04d,47.0,10110\n", i + 11, i);
    for (int i = 0; i < 5; i++)
        fprintf(f, "%d,70.%04d,47.0,47110\n", i + 21, i);
    fclose(f);
    const char *job = "cluster firms.csv %s --s-srs EPSG:4326 --sector-field oked --sector-digits 2 "
                      "--eps 500 --min-pts 4 --permutations 0 --groups groups.csv %s";
    ck_assert_int_eq(run(job, "g.gpkg", ""), 0);
    ck_assert_int_eq(count(in_dir("g.gpkg"), "clusters"), 1);
    GDALDatasetH ds = open_vector(in_dir("g.gpkg"));
    OGRFeatureH c = OGR_L_GetNextFeature(layer(ds, "clusters"));
    ck_assert_str_eq(OGR_F_GetFieldAsString(c, OGR_F_GetFieldIndex(c, "sector")), "oil");
    ck_assert_str_eq(OGR_F_GetFieldAsString(c, OGR_F_GetFieldIndex(c, "sect_name")), "Oil and gas");
    ck_assert_int_eq(OGR_F_GetFieldAsInteger(c, OGR_F_GetFieldIndex(c, "n_sectors")), 2);
    ck_assert_str_eq(OGR_F_GetFieldAsString(c, OGR_F_GetFieldIndex(c, "top_sects")),
                     "06:50%,09:50%");
    ck_assert_double_eq_tol(OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "diversity")), 2,
                            1e-12);
    OGR_F_Destroy(c);
    GDALClose(ds);
    char role[16];
    int cluster;
    firm_label(in_dir("g.gpkg"), 4, role, sizeof role, &cluster);
    ck_assert_str_eq(role, "core");
    ck_assert_int_eq(cluster, 1);
    firm_label(in_dir("g.gpkg"), 11, role, sizeof role, &cluster);
    ck_assert_str_eq(role, "noise");
    firm_label(in_dir("g.gpkg"), 21, role, sizeof role, &cluster);
    ck_assert_str_eq(role, "ungrouped");
    ck_assert_int_eq(cluster, 0);
    ck_assert_ptr_nonnull(strstr(err_text, "5 firms of 1 sector are in no group"));

    /* co-location pairs the firms' own sectors, not the groups: in the table,
     * the summary and the JSON */
    ck_assert_int_eq(run(job, "gj.gpkg", "--json gj.json"), 0);
    ck_assert_int_eq(count(in_dir("gj.gpkg"), "colocation"), 16); /* 06 09 10 47 */
    ck_assert_ptr_nonnull(strstr(out_text, "co-location (table colocation): "));
    static char json[65536];
    slurp(in_dir("gj.json"), json, sizeof json);
    ck_assert_ptr_nonnull(strstr(json, "{\"sector_a\": \"06\", \"sector_b\": \"09\", \"n_a\": 3, "
                                       "\"n_b\": 3, \"n_a_near\": 3, \"clq\": "));
    ck_assert_ptr_null(strstr(json, "\"sector_a\": \"oil\""));

    /* in a Shapefile every field keeps its name (10 characters at most) */
    ck_assert_int_eq(run(job, "shp", "-f 'ESRI Shapefile'"), 0);
    ck_assert_ptr_null(strstr(err_text, "laundered"));
    GDALDatasetH shp = open_vector(in_dir("shp/clusters.shp"));
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer(shp, NULL));
    ck_assert_int_ge(OGR_FD_GetFieldIndex(defn, "top_sects"), 0);
    ck_assert_int_ge(OGR_FD_GetFieldIndex(defn, "n_sectors"), 0);
    ck_assert_int_ge(OGR_FD_GetFieldIndex(defn, "diversity"), 0);
    GDALClose(shp);

    /* one sector is enough with --min-sectors 1; 47 stays unclustered */
    ck_assert_int_eq(run(job, "g1.gpkg", "--min-sectors 1"), 0);
    ck_assert_int_eq(count(in_dir("g1.gpkg"), "clusters"), 2);
    firm_label(in_dir("g1.gpkg"), 21, role, sizeof role, &cluster);
    ck_assert_str_eq(role, "ungrouped");

    /* bad tables name the file and what is wrong */
    write_text("twice.csv", "group,code\noil,06\nfood,06\n");
    ck_assert_int_ne(run("cluster firms.csv t.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--eps 500 --groups twice.csv"), 0);
    ck_assert_ptr_nonnull(strstr(err_text, "twice.csv: code 06 is in group oil (feature 1) and in "
                                           "group food (feature 2)"));
    write_text("nogroup.csv", "grp,code\noil,06\n");
    ck_assert_int_ne(run("cluster firms.csv t.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--eps 500 --groups nogroup.csv"), 0);
    ck_assert_ptr_nonnull(strstr(err_text, "nogroup.csv: a groups table needs fields 'group'"));
    ck_assert_int_ne(run("cluster firms.csv t.gpkg --s-srs EPSG:4326 --eps 500 --min-sectors 2"),
                     0);
    ck_assert_ptr_nonnull(strstr(err_text, "--min-sectors needs --groups"));
}
END_TEST

/* The points and one integer field of a layer, in feature order. */
static size_t read_points(const char *path, const char *name, const char *field, double *x,
                          double *y, int *value, size_t max)
{
    GDALDatasetH ds = open_vector(path);
    OGRLayerH l = layer(ds, name);
    OGRFeatureH f;
    size_t n = 0;
    while ((f = OGR_L_GetNextFeature(l)) && n < max) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        x[n] = OGR_G_GetX(g, 0);
        y[n] = OGR_G_GetY(g, 0);
        int k = OGR_F_GetFieldIndex(f, field);
        value[n++] = OGR_F_IsFieldSetAndNotNull(f, k) ? OGR_F_GetFieldAsInteger(f, k) : 0;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    return n;
}

START_TEST(groups_auto_round_trip)
{
    /* With the default --link-clq 2, the groups derived from the sample are
     * exactly the related sectors synth planted: oil extraction, services
     * and engineering (06, 09, 71), textiles and apparel (13, 14), steel
     * and metal products (24, 25), IT and information services (62, 63).
     * The groups table is a --groups file: written out as CSV and read
     * back, it gives the same clusters. */
    ck_assert_int_eq(run(MAIN_JOB " --permutations 9 --groups auto", firms, "auto.gpkg"), 0);
    ck_assert_int_eq(count(in_dir("auto.gpkg"), "groups"), 9);
    GDALDatasetH ds = open_vector(in_dir("auto.gpkg"));
    OGRLayerH l = layer(ds, "groups");
    FILE *csv = fopen(in_dir("groups.csv"), "w");
    fprintf(csv, "group,code,name\n");
    OGRFeatureH f;
    char seen[256] = "";
    while ((f = OGR_L_GetNextFeature(l))) {
        const char *group = OGR_F_GetFieldAsString(f, 0), *code = OGR_F_GetFieldAsString(f, 1);
        ck_assert_msg(strstr(group, code) == group || strstr(group, CPLSPrintf("+%s", code)),
                      "%s in %s", code, group);
        snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s:%s ", code, group);
        fprintf(csv, "%s,%s,\"%s\"\n", OGR_F_GetFieldAsString(f, 0), OGR_F_GetFieldAsString(f, 1),
                OGR_F_GetFieldAsString(f, 2));
        OGR_F_Destroy(f);
    }
    fclose(csv);
    GDALClose(ds);
    ck_assert_str_eq(seen, "06:06+09+71 09:06+09+71 13:13+14 14:13+14 24:24+25 25:24+25 62:62+63 "
                           "63:62+63 71:06+09+71 ");
    ck_assert_int_eq(run(MAIN_JOB " --permutations 9 --groups groups.csv", firms, "file.gpkg"), 0);
    ck_assert_int_eq(count(in_dir("file.gpkg"), "clusters"), count(in_dir("auto.gpkg"), "clusters"));
    ck_assert_int_gt(count(in_dir("auto.gpkg"), "clusters"), 3);

    ck_assert_int_ne(run(MAIN_JOB " --permutations 9 --groups auto --link-clq 1000", firms,
                         "none.gpkg"),
                     0);
    ck_assert_ptr_nonnull(strstr(err_text, "no two sectors locate together"));
    ck_assert_int_eq(run(MAIN_JOB " --groups auto", firms, "none.gpkg"), 2); /* --permutations 0 */
    ck_assert_ptr_nonnull(strstr(err_text, "not with --colocation off or --permutations 0"));

    /* 40 regions (a grid of squares over Kazakhstan): too many strata for the
     * quotients' p-values, and --groups auto says so */
    static char wkt_text[40][160], name_text[40][16];
    const char *wkt[40], *names[40];
    for (int r = 0; r < 40; r++) {
        double w = 46 + (r % 10) * 4, s = 40 + (r / 10) * 4;
        snprintf(wkt_text[r], sizeof wkt_text[r], "POLYGON((%g %g,%g %g,%g %g,%g %g,%g %g))", w, s,
                 w + 4, s, w + 4, s + 4, w, s + 4, w, s);
        snprintf(name_text[r], sizeof name_text[r], "square %d", r);
        wkt[r] = wkt_text[r];
        names[r] = name_text[r];
    }
    fc_test_write_polygons(in_dir("squares.gpkg"), 4326, 40, names, wkt);
    ck_assert_int_eq(run(MAIN_JOB " --permutations 9 --groups auto --regions squares.gpkg", firms,
                         "squares_out.gpkg"),
                     1);
    ck_assert_ptr_nonnull(strstr(err_text, "there are none with 40 regions (at most 31)"));
}
END_TEST

START_TEST(suggest_eps_per_sector)
{
    /* The sample's 20 divisions: a row each with quantiles and a suggested
     * eps; IT (62), crowded into Almaty and Astana, has the shortest median
     * k-distance, under a kilometre; metal ores (07) the longest */
    ck_assert_int_eq(run("suggest '%s' --sector-field oked --sector-digits 2 --min-pts 10", firms),
                     0);
    ck_assert_ptr_nonnull(strstr(out_text, "to its 10th nearest firm of its sector"));
    ck_assert_ptr_nonnull(strstr(out_text, "\n62            381     308 m     389 m     649 m"));
    ck_assert_ptr_nonnull(strstr(out_text, "\n07             34   43.8 km   46.7 km  587.6 km"));
    ck_assert_int_eq(run("suggest '%s' --sector-field oked --sector-digits 2 --min-pts 10 --json",
                         firms),
                     0);
    ck_assert_ptr_nonnull(strstr(out_text, "\"sector\": \"62\", \"name\": "));
    ck_assert_ptr_nonnull(strstr(out_text, "\"suggested_eps_m\": "));
    int sectors = 0; /* in the part of the output the runner keeps (16 kB) */
    for (const char *c = out_text; (c = strstr(c, "{\"sector\": ")); c++)
        sectors++;
    ck_assert_int_ge(sectors, 10);
    ck_assert_int_eq(run("suggest '%s' --min-pts 0", firms), 2);
    ck_assert_int_eq(run("suggest"), 2);
    ck_assert_int_eq(run("suggest missing.gpkg"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "missing.gpkg"));
}
END_TEST

START_TEST(synth_institutions_near_their_sectors)
{
    /* The bundled institutions are what synth makes with the sample's seed;
     * those serving a sector sit by its clusters: Shymkent's textile
     * research institute and technopark by the textile clusters. */
    ck_assert_int_eq(run("synth -q --firms 10000 --seed 2024 s.gpkg --institutions i.gpkg"), 0);
    char bundled[600];
    snprintf(bundled, sizeof bundled, "%s/fixtures/kz/institutions.gpkg", src);
    ck_assert(same_bytes(in_dir("i.gpkg"), bundled));
    ck_assert(same_bytes(in_dir("s.gpkg"), firms)); /* and so is the sample */
    ck_assert_int_eq(count(in_dir("i.gpkg"), "institutions"), 73);
    ck_assert_int_ne(run("synth -q --firms 10 t.gpkg --institutions i.gpkg"), 0); /* exists */
    ck_assert_ptr_nonnull(strstr(err_text, "i.gpkg exists"));
    ck_assert_int_ne(access(in_dir("t.gpkg"), F_OK), 0); /* refused before the firms */
    ck_assert_int_eq(run(MAIN_JOB " --institutions '%s' --institution-field type", firms,
                         "out.gpkg", bundled),
                     0);
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH l = layer(ds, "clusters");
    OGR_L_SetAttributeFilter(l, "sector = '13' AND inst_types LIKE '%research%'");
    ck_assert_int_ge(OGR_L_GetFeatureCount(l, TRUE), 1);
    OGR_L_SetAttributeFilter(l, "sector = '24' AND inst_types LIKE '%research%'");
    ck_assert_int_ge(OGR_L_GetFeatureCount(l, TRUE), 1);
    GDALClose(ds);

    /* institutions without a CRS: refused, with the remedy */
    write_text("nocrs.csv", "lon,lat,type\n76.9,43.2,university\n");
    ck_assert_int_eq(run(MAIN_JOB " --institutions nocrs.csv", firms, "x.gpkg"), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "nocrs.csv: the institutions have no CRS"));
    ck_assert_ptr_nonnull(strstr(err_text, "--s-srs"));
    ck_assert_int_ne(access(in_dir("x.gpkg"), F_OK), 0);
}
END_TEST

START_TEST(synth_plants_related_sectors)
{
    /* synth plants sectors related to an anchor in its districts: oil and
     * gas engineering (71) by extraction (06) and services (09) in Atyrau,
     * metal products (25) by the steel works (24) of Temirtau, apparel (14)
     * by Shymkent's textile mills (13), information services (63) by IT
     * (62) in Almaty. The example groups find each as a cluster of several
     * sectors, with the planted one among its three largest. */
    char groups[600], bundled[600];
    snprintf(groups, sizeof groups, "%s/fixtures/groups/oked_groups_example.csv", src);
    snprintf(bundled, sizeof bundled, "%s/fixtures/kz/institutions.gpkg", src);
    ck_assert_int_eq(run(MAIN_JOB " --groups '%s' --institutions '%s' --institution-field type",
                         firms, "g.gpkg", groups, bundled),
                     0);
    const struct { const char *group, *planted, *anchor; } want[] = {
        {"oil_gas", "71:", "06:"}, {"metals", "25:", "24:"},
        {"textiles", "14:", "13:"}, {"ict", "63:", "62:"}};
    GDALDatasetH ds = open_vector(in_dir("g.gpkg"));
    OGRLayerH l = layer(ds, "clusters");
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        char filter[160];
        snprintf(filter, sizeof filter,
                 "sector = '%s' AND n_sectors >= 2 AND top_sects LIKE '%%%s%%' AND "
                 "top_sects LIKE '%%%s%%' AND n_firms >= 20",
                 want[k].group, want[k].planted, want[k].anchor);
        OGR_L_SetAttributeFilter(l, filter);
        ck_assert_msg(OGR_L_GetFeatureCount(l, TRUE) >= 1, "no %s cluster with %s", want[k].group,
                      want[k].planted);
    }
    /* and the institutions that serve IT sit in Almaty's IT cluster */
    OGR_L_SetAttributeFilter(l, "sector = 'ict' AND inst_types LIKE '%technopark%'");
    ck_assert_int_ge(OGR_L_GetFeatureCount(l, TRUE), 1);
    GDALClose(ds);
}
END_TEST

/* Issue 26, case 10: an institution without a geometry was fatal (a firm
 * without one is skipped); one without a type was left out of inst_types,
 * whose counts then did not add up to n_inst; a type holding ',' or ':'
 * could not be parsed back. */
START_TEST(institutions_without_geometry_or_type)
{
    FILE *f = fopen(in_dir("firms.csv"), "w");
    fprintf(f, "lon,lat,oked\n");
    for (int i = 0; i < 20; i++)
        fprintf(f, "%.6f,51.128,62\n", 71.43 + 0.0001 * i);
    fclose(f);
    const char *wkt[] = {"POINT (71.431 51.128)", "POINT (71.431 51.1281)", NULL,
                         "POINT (71.4311 51.128)"};
    const char *kind[] = {"univ,ersity:x", NULL, "agency", "agency"};
    fc_test_write_points(in_dir("inst.gpkg"), 4326, 4, wkt, kind);
    ck_assert_int_eq(run("cluster firms.csv out.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--eps 500 --min-pts 5 --permutations 0 --institutions inst.gpkg "
                         "--institution-field oked"),
                     0);
    ck_assert_msg(strstr(err_text, "inst.gpkg: skipped 1 institution with no geometry or an "
                                   "empty one (FID 3)"),
                  "%s", err_text);
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRFeatureH c = OGR_L_GetNextFeature(layer(ds, "clusters"));
    ck_assert_int_eq(OGR_F_GetFieldAsInteger(c, OGR_F_GetFieldIndex(c, "n_inst")), 3);
    ck_assert_str_eq(OGR_F_GetFieldAsString(c, OGR_F_GetFieldIndex(c, "inst_types")),
                     "(no type):1,agency:1,univ%2Cersity%3Ax:1");
    OGR_F_Destroy(c);
    GDALClose(ds);
}
END_TEST

START_TEST(institutions_match_brute_force)
{
    /* Random firms in blobs and random institutions, longitude/latitude:
     * each cluster's n_inst, and each institution's nearest cluster and
     * distance, against geod_inverse over every pair. */
    enum { FIRMS = 400, INST = 60 };
    const double eps = 100;
    FILE *f = fopen(in_dir("firms.csv"), "w"), *g = fopen(in_dir("inst.csv"), "w");
    fprintf(f, "lon,lat,oked\n");
    fprintf(g, "lon,lat,kind\n");
    rng_state = 5;
    for (int i = 0; i < FIRMS; i++) {
        int blob = (int)(next_u64() % 6);
        double u = uniform(), v = uniform();
        fprintf(f, "%.7f,%.7f,%d\n", 71.40 + blob * 0.02 + u * 0.006, 51.10 + v * 0.005,
                10 + blob % 2);
    }
    for (int i = 0; i < INST; i++) { /* half around the blobs, half anywhere */
        double u = uniform(), v = uniform(), blob = (double)(next_u64() % 6);
        if (i % 2)
            fprintf(g, "%.7f,%.7f,%s\n", 71.398 + blob * 0.02 + u * 0.01, 51.098 + v * 0.009,
                    i % 3 ? "univ" : "lab");
        else
            fprintf(g, "%.7f,%.7f,%s\n", 71.38 + u * 0.16, 51.08 + v * 0.05,
                    i % 3 ? "univ" : "lab");
    }
    fclose(f);
    fclose(g);
    ck_assert_int_eq(run("cluster firms.csv out.gpkg --s-srs EPSG:4326 --sector-field oked "
                         "--eps %g --min-pts 5 --permutations 0 --institutions inst.csv "
                         "--institution-field kind",
                         eps),
                     0);
    static double fx[FIRMS], fy[FIRMS], ix[INST], iy[INST];
    static int fc[FIRMS], near[INST];
    ck_assert_uint_eq(read_points(in_dir("out.gpkg"), "firms", "cluster_id", fx, fy, fc, FIRMS),
                      FIRMS);
    ck_assert_uint_eq(read_points(in_dir("out.gpkg"), "institutions", "nearest", ix, iy, near,
                                  INST), INST);
    struct geod_geodesic geod;
    geod_init(&geod, 6378137, 1 / 298.257223563);
    static size_t n_inst[FIRMS + 1];
    size_t total = 0, with_nearest = 0;
    for (int t = 0; t < INST; t++) {
        static int seen[FIRMS + 1];
        double best = INFINITY;
        int best_cluster = 0;
        for (int i = 0; i < FIRMS; i++) {
            if (!fc[i])
                continue;
            double d;
            geod_inverse(&geod, iy[t], ix[t], fy[i], fx[i], &d, NULL, NULL);
            if (d <= eps && seen[fc[i]] != t + 1) {
                seen[fc[i]] = t + 1;
                n_inst[fc[i]]++;
                total++;
            }
            if (d <= 10 * eps && d < best) {
                best = d;
                best_cluster = fc[i];
            }
        }
        ck_assert_int_eq(near[t], best_cluster);
        with_nearest += best_cluster != 0;
    }
    GDALDatasetH ds = open_vector(in_dir("out.gpkg"));
    OGRLayerH l = layer(ds, "clusters");
    OGRFeatureH c;
    while ((c = OGR_L_GetNextFeature(l))) {
        int id = OGR_F_GetFieldAsInteger(c, OGR_F_GetFieldIndex(c, "cluster_id"));
        ck_assert_int_eq(OGR_F_GetFieldAsInteger(c, OGR_F_GetFieldIndex(c, "n_inst")),
                         (int)n_inst[id]);
        OGR_F_Destroy(c);
    }
    GDALClose(ds);
    ck_assert_uint_gt(total, 10); /* the case has institutions near clusters, */
    ck_assert_uint_lt(with_nearest, INST); /* and some far from all */
}
END_TEST

START_TEST(hdbscan_run_is_the_library_s)
{
    /* The sample by HDBSCAN*, no eps: the firms layer's clusters and
     * strengths are fc_hdbscan()'s on the same points (geodesic, per OKED
     * division), the clusters layer has its fields, the summary says how. */
    ck_assert_int_eq(run("cluster '%s' h.gpkg --sector-field oked --sector-digits 2 "
                         "--method hdbscan --min-cluster-size 12 --min-samples 8 "
                         "--permutations 0 --colocation off",
                         firms),
                     0);
    ck_assert_ptr_nonnull(strstr(out_text, "method: HDBSCAN*, min-cluster-size 12, min-samples 8, "
                                           "excess of mass; eps "));
    GDALDatasetH ds = open_vector(in_dir("h.gpkg"));
    OGRLayerH l = layer(ds, "firms");
    const size_t n = (size_t)OGR_L_GetFeatureCount(l, TRUE);
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *strength = malloc(n * sizeof *strength), *want_strength = malloc(n * sizeof *x);
    int32_t *cid = malloc(n * sizeof *cid), *want = malloc(n * sizeof *want);
    uint32_t *sector = malloc(n * sizeof *sector);
    OGRFeatureH f;
    size_t i = 0, n_codes = 0;
    while ((f = OGR_L_GetNextFeature(l))) { /* every code here is a 5-digit OKED */
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        x[i] = OGR_G_GetX(g, 0);
        y[i] = OGR_G_GetY(g, 0);
        const int k = OGR_F_GetFieldIndex(f, "cluster_id");
        cid[i] = OGR_F_IsFieldSetAndNotNull(f, k) ? OGR_F_GetFieldAsInteger(f, k) - 1 : -1;
        strength[i] = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "strength"));
        const char *code = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "oked"));
        sector[i++] = (uint32_t)(10 * (code[0] - '0') + (code[1] - '0')); /* 2 digits */
        OGR_F_Destroy(f);
    }
    ck_assert_uint_eq(i, n);
    uint32_t rank[100] = {0}; /* the divisions present, in code order */
    bool present[100] = {false};
    for (i = 0; i < n; i++)
        present[sector[i]] = true;
    for (uint32_t d = 0; d < 100; d++)
        if (present[d])
            rank[d] = (uint32_t)n_codes++;
    for (i = 0; i < n; i++)
        sector[i] = rank[sector[i]];
    fc_context *ctx = fc_context_new();
    fc_hdbscan_params p = {.min_cluster_size = 12, .min_samples = 8,
                           .distance = FC_DISTANCE_GEODESIC};
    size_t k = 0;
    ck_assert_int_eq(fc_hdbscan(ctx, n, x, y, sector, &p,
                                &(fc_hdbscan_labels){want, want_strength, NULL, NULL}, NULL, &k),
                     FC_OK);
    ck_assert_uint_gt(k, 50);
    ck_assert_int_eq(count(in_dir("h.gpkg"), "clusters"), (GIntBig)k);
    for (i = 0; i < n; i++) {
        ck_assert_msg(cid[i] == want[i], "firm %zu: cluster %d, by the library %d", i, cid[i],
                      want[i]);
        ck_assert_double_eq(strength[i], want_strength[i]);
    }
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer(ds, "clusters"));
    ck_assert_int_ge(OGR_FD_GetFieldIndex(defn, "stability"), 0);
    ck_assert_int_ge(OGR_FD_GetFieldIndex(defn, "birth_m"), 0);
    ck_assert_int_ge(OGR_FD_GetFieldIndex(defn, "death_m"), 0);
    OGRFeatureH c = OGR_L_GetNextFeature(layer(ds, "clusters"));
    ck_assert_double_gt(OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "birth_m")),
                        OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "death_m")));
    OGR_F_Destroy(c);
    GDALClose(ds);
    fc_context_destroy(ctx);
    free(x), free(y), free(strength), free(want_strength), free(cid), free(want), free(sector);

    /* by groups of related sectors: clusters of one sector are dropped and the
     * rest renumbered; each keeps its own HDBSCAN* figures (a cluster is born
     * farther out than it dies) and firms of dropped clusters are noise */
    ck_assert_int_eq(run("cluster '%s' hg.gpkg --sector-field oked --sector-digits 2 --method "
                         "hdbscan --min-pts 10 --permutations 0 --colocation off --groups "
                         "'%s/fixtures/groups/oked_groups_example.csv'",
                         firms, src),
                     0);
    ds = open_vector(in_dir("hg.gpkg"));
    l = layer(ds, "clusters");
    GIntBig kg = OGR_L_GetFeatureCount(l, TRUE);
    ck_assert_int_gt(kg, 5);
    while ((c = OGR_L_GetNextFeature(l))) {
        ck_assert_int_ge(OGR_F_GetFieldAsInteger(c, OGR_F_GetFieldIndex(c, "n_sectors")), 2);
        ck_assert_double_gt(OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "birth_m")),
                            OGR_F_GetFieldAsDouble(c, OGR_F_GetFieldIndex(c, "death_m")));
        OGR_F_Destroy(c);
    }
    l = layer(ds, "firms");
    ck_assert_int_eq(OGR_L_SetAttributeFilter(l, "cluster_id IS NULL AND strength > 0"),
                     OGRERR_NONE);
    ck_assert_int_eq(OGR_L_GetFeatureCount(l, TRUE), 0);
    char filter[128];
    snprintf(filter, sizeof filter, "cluster_id > 0 AND (strength <= 0 OR cluster_id > %d)",
             (int)kg);
    ck_assert_int_eq(OGR_L_SetAttributeFilter(l, filter), OGRERR_NONE);
    ck_assert_int_eq(OGR_L_GetFeatureCount(l, TRUE), 0);
    ck_assert_int_eq(OGR_L_SetAttributeFilter(l, "cluster_id > 0"), OGRERR_NONE);
    ck_assert_int_gt(OGR_L_GetFeatureCount(l, TRUE), 500);
    GDALClose(ds);

    /* options that belong to one method only */
    ck_assert_int_ne(run("cluster '%s' e.gpkg --eps 1000 --min-samples 5", firms), 0);
    ck_assert_ptr_nonnull(strstr(err_text, "--min-samples needs --method hdbscan"));
    ck_assert_int_ne(run("cluster '%s' e.gpkg --method hdbscan --weight-field employees "
                         "--min-weight 50",
                         firms),
                     0);
    ck_assert_ptr_nonnull(strstr(err_text, "--min-weight is for --method dbscan"));
    ck_assert_int_ne(run("cluster '%s' e.gpkg", firms), 0);
    ck_assert_ptr_nonnull(strstr(err_text, "--eps is required"));
    ck_assert_int_ne(run("cluster '%s' e.gpkg --sector-field oked --sector-digits 2 "
                         "--method hdbscan --groups auto",
                         firms),
                     0);
    ck_assert_ptr_nonnull(strstr(err_text, "--groups auto with --method hdbscan needs --eps"));
    ck_assert_int_eq(access(in_dir("e.gpkg"), F_OK), -1);
}
END_TEST

/* The clusters of one sector in an output: their sizes in id order, and
 * the eps field of the first. Returns how many. */
static size_t sector_clusters(const char *path, const char *sector, int *sizes, size_t max,
                              double *eps)
{
    GDALDatasetH ds = open_vector(path);
    OGRLayerH l = layer(ds, "clusters");
    char filter[64];
    snprintf(filter, sizeof filter, "sector = '%s'", sector);
    OGR_L_SetAttributeFilter(l, filter);
    OGRFeatureH f;
    size_t k = 0;
    while ((f = OGR_L_GetNextFeature(l))) {
        if (k < max)
            sizes[k] = OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "n_firms"));
        const int e = OGR_F_GetFieldIndex(f, "eps");
        if (k == 0 && eps && e >= 0)
            *eps = OGR_F_GetFieldAsDouble(f, e);
        k++;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    return k;
}

START_TEST(eps_auto_is_each_sector_alone)
{
    /* --eps auto: a sector's clusters are those of that sector clustered
     * alone with the eps in its clusters' eps field, which is what
     * firmclust suggest suggests for it */
    ck_assert_int_eq(run("cluster '%s' auto.gpkg --sector-field oked --sector-digits 2 --eps auto "
                         "--min-pts 10 --permutations 0 --colocation off",
                         firms),
                     0);
    ck_assert_ptr_nonnull(strstr(out_text, "method: DBSCAN, eps per sector (--eps auto"));
    ck_assert_int_eq(run("suggest '%s' --sector-field oked --sector-digits 2 --min-pts 10 --json",
                         firms),
                     0);
    static char suggested[sizeof out_text];
    memcpy(suggested, out_text, sizeof suggested);
    const char *sectors[] = {"62", "09", "47"};
    for (int k = 0; k < 3; k++) {
        int want[256], got[256];
        double eps = 0;
        const size_t n = sector_clusters(in_dir("auto.gpkg"), sectors[k], got, 256, &eps);
        ck_assert_uint_gt(n, 0);
        char key[64];
        snprintf(key, sizeof key, "\"sector\": \"%s\"", sectors[k]);
        const char *at = strstr(suggested, key), *e = at ? strstr(at, "\"suggested_eps_m\": ") : NULL;
        ck_assert_ptr_nonnull(e);
        const double printed = atof(e + strlen("\"suggested_eps_m\": ")); /* %.6g */
        ck_assert_double_eq_tol(eps, printed, 1e-5 * printed);
        char out[32];
        snprintf(out, sizeof out, "alone%s.gpkg", sectors[k]);
        ck_assert_int_eq(run("cluster '%s' %s --sector-field oked --sector-digits 2 --where "
                             "\"oked LIKE '%s%%'\" --eps %.17g --min-pts 10 --permutations 0",
                             firms, out, sectors[k], eps),
                         0);
        ck_assert_uint_eq(sector_clusters(in_dir(out), sectors[k], want, 256, NULL), n);
        for (size_t c = 0; c < n && c < 256; c++)
            ck_assert_int_eq(got[c], want[c]);
    }
    ck_assert_int_ne(run("cluster '%s' e.gpkg --eps auto --method hdbscan", firms), 0);
    ck_assert_ptr_nonnull(strstr(err_text, "--eps auto is for --method dbscan"));
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = fc_tcase("cli");
    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, main_job_writes_consistent_layers);
    tcase_add_test(tc, related_sector_groups);
    tcase_add_test(tc, hdbscan_run_is_the_library_s);
    tcase_add_test(tc, eps_auto_is_each_sector_alone);
    tcase_add_test(tc, institutions_match_brute_force);
    tcase_add_test(tc, institutions_without_geometry_or_type);
    tcase_add_test(tc, synth_institutions_near_their_sectors);
    tcase_add_test(tc, synth_plants_related_sectors);
    tcase_add_test(tc, groups_auto_round_trip);
    tcase_add_test(tc, suggest_eps_per_sector);
    tcase_add_test(tc, clusters_lie_over_the_oblasts);
    tcase_add_test(tc, same_input_same_bytes);
    tcase_add_test(tc, synth_city_firms_inside_their_city);
    tcase_add_loop_test(tc, bad_input_fails_cleanly, 0, sizeof bad_runs / sizeof bad_runs[0]);
    tcase_add_test(tc, batch_of_twenty_with_three_broken);
    tcase_add_test(tc, several_inputs_taken_together);
    tcase_add_test(tc, config_file_equals_command_line);
    tcase_add_test(tc, config_files_name_file_and_line);
    tcase_add_test(tc, eps_auto_for_a_stacked_sector);
    tcase_add_test(tc, groups_trimmed_and_one_sector_said);
    tcase_add_test(tc, info_tells_roles);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, synth_is_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(cli_suite)
