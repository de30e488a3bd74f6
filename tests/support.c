/* SPDX-License-Identifier: MIT */
/* What the test programs share; see support.h. */
#define _GNU_SOURCE
#include "support.h"

#include <check.h>
#include <dirent.h>
#include <geodesic.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cpl_conv.h>

/* ---- temporary directories ----------------------------------------------- */

void fc_test_mkdtemp(char *dir_out, size_t size)
{
    snprintf(dir_out, size, "/tmp/firmclust-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir_out));
}

void fc_test_rmtree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- fixtures ------------------------------------------------------------ */

OGRSpatialReferenceH fc_test_epsg(int code)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    ck_assert_int_eq(OSRImportFromEPSG(s, code), OGRERR_NONE);
    OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    return s;
}

static OGRGeometryH from_wkt(const char *wkt)
{
    OGRGeometryH g = NULL;
    char *w = (char *)wkt;
    ck_assert_msg(OGR_G_CreateFromWkt(&w, NULL, &g) == OGRERR_NONE, "bad WKT %s", wkt);
    return g;
}

static OGRLayerH new_layer(GDALDatasetH ds, const char *name, int epsg, OGRwkbGeometryType type,
                           const char *field)
{
    OGRSpatialReferenceH s = fc_test_epsg(epsg);
    OGRLayerH l = GDALDatasetCreateLayer(ds, name, s, type, NULL);
    OSRRelease(s);
    ck_assert_ptr_nonnull(l);
    OGRFieldDefnH fd = OGR_Fld_Create(field, OFTString);
    ck_assert_int_eq(OGR_L_CreateField(l, fd, TRUE), OGRERR_NONE);
    OGR_Fld_Destroy(fd);
    return l;
}

void fc_test_write_points(const char *path, int epsg, size_t n, const char *const *wkt,
                          const char *const *oked)
{
    bool shp = strcmp(CPLGetExtension(path), "shp") == 0;
    GDALDriverH drv = GDALGetDriverByName(shp ? "ESRI Shapefile" : "GPKG");
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    ck_assert_ptr_nonnull(ds);
    OGRLayerH l = new_layer(ds, "points", epsg, shp ? wkbPoint : wkbUnknown, "oked");
    for (size_t i = 0; i < n; i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
        if (oked[i])
            OGR_F_SetFieldString(f, 0, oked[i]);
        if (wkt[i] && strcmp(wkt[i], "NAN") == 0) {
            OGRGeometryH g = OGR_G_CreateGeometry(wkbPoint);
            OGR_G_SetPoint_2D(g, 0, NAN, NAN);
            OGR_F_SetGeometryDirectly(f, g);
        } else if (wkt[i]) {
            OGR_F_SetGeometryDirectly(f, from_wkt(wkt[i]));
        }
        ck_assert_int_eq(OGR_L_CreateFeature(l, f), OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

void fc_test_write_polygons(const char *path, int epsg, size_t n, const char *const *names,
                            const char *const *wkt)
{
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), path, 0, 0, 0, GDT_Unknown, NULL);
    ck_assert_ptr_nonnull(ds);
    OGRLayerH l = new_layer(ds, "regions", epsg, wkbPolygon, "name");
    for (size_t i = 0; i < n; i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
        OGR_F_SetFieldString(f, 0, names[i]);
        OGR_F_SetGeometryDirectly(f, from_wkt(wkt[i]));
        ck_assert_int_eq(OGR_L_CreateFeature(l, f), OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

/* ---- the oracle ------------------------------------------------------------ */

typedef struct metric {
    const double *x, *y;
    bool geodesic;
    struct geod_geodesic geod;
    double limit; /* eps * eps (planar), eps (geodesic) */
} metric;

/* A distance that orders pairs as the true one does: the squared distance
 * (planar), the geodesic distance in metres (geodesic). */
static double distance(const metric *m, size_t i, size_t j)
{
    if (!m->geodesic) {
        double dx = m->x[i] - m->x[j], dy = m->y[i] - m->y[j];
        return dx * dx + dy * dy;
    }
    size_t a = i < j ? i : j, b = i < j ? j : i;
    double s12;
    geod_inverse(&m->geod, m->y[a], m->x[a], m->y[b], m->x[b], &s12, NULL, NULL);
    return s12;
}

static bool near(const metric *m, const uint32_t *group, size_t i, size_t j)
{
    return (!group || group[i] == group[j]) && distance(m, i, j) <= m->limit;
}

/* Components of core points, found by depth-first search from each core
 * point in input order, so numbered by smallest index; comp_first[k] is
 * component k's first point. */
static size_t core_components(const metric *m, size_t n, const uint32_t *group,
                              const uint8_t *core, size_t *comp, size_t *comp_first)
{
    size_t *stack = malloc((n + 1) * sizeof *stack), n_comp = 0;
    for (size_t i = 0; i < n; i++)
        comp[i] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!core[i] || comp[i] != SIZE_MAX)
            continue;
        size_t top = 0;
        stack[top++] = i;
        comp[i] = n_comp;
        while (top) {
            size_t a = stack[--top];
            for (size_t b = 0; b < n; b++)
                if (core[b] && comp[b] == SIZE_MAX && near(m, group, a, b)) {
                    comp[b] = n_comp;
                    stack[top++] = b;
                }
        }
        comp_first[n_comp++] = i;
    }
    free(stack);
    return n_comp;
}

static metric metric_of(const double *x, const double *y, const fc_dbscan_params *p)
{
    metric m = {.x = x, .y = y, .geodesic = p->distance == FC_DISTANCE_GEODESIC,
                .limit = p->distance == FC_DISTANCE_GEODESIC ? p->eps : p->eps * p->eps};
    if (m.geodesic)
        geod_init(&m.geod, p->semi_major > 0 ? p->semi_major : 6378137,
                  p->semi_major > 0 ? p->flattening : 1 / 298.257223563);
    return m;
}

size_t fc_test_dbscan_oracle(size_t n, const double *x, const double *y, const uint32_t *group,
                             const fc_dbscan_params *p, int32_t *cluster, uint8_t *role)
{
    metric m = metric_of(x, y, p);
    const double threshold = p->weight ? p->min_weight : (double)p->min_pts;
    uint8_t *core = calloc(n + 1, 1);
    size_t *comp = malloc((n + 1) * sizeof *comp), *comp_first = malloc((n + 1) * sizeof *comp_first);
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (size_t j = 0; j < n; j++)
            if (near(&m, group, i, j))
                sum += p->weight ? p->weight[j] : 1.0;
        core[i] = sum >= threshold;
    }
    size_t n_comp = core_components(&m, n, group, core, comp, comp_first);
    /* id of component k = number of components that sort before it by
     * (group, first point) */
    int32_t *id = malloc((n_comp + 1) * sizeof *id);
    for (size_t k = 0; k < n_comp; k++) {
        size_t before = 0;
        uint32_t gk = group ? group[comp_first[k]] : 0;
        for (size_t j = 0; j < n_comp; j++) {
            uint32_t gj = group ? group[comp_first[j]] : 0;
            before += gj < gk || (gj == gk && comp_first[j] < comp_first[k]);
        }
        id[k] = (int32_t)before;
    }
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        size_t bj = core[i] ? i : SIZE_MAX;
        for (size_t j = 0; j < n && !core[i]; j++) {
            if (!core[j] || !near(&m, group, i, j))
                continue;
            double d = distance(&m, i, j);
            if (d < best) { /* j ascending: ties keep the first */
                best = d;
                bj = j;
            }
        }
        cluster[i] = bj == SIZE_MAX ? -1 : id[comp[bj]];
        role[i] = core[i] ? FC_ROLE_CORE : bj == SIZE_MAX ? FC_ROLE_NOISE : FC_ROLE_BORDER;
    }
    free(core), free(comp), free(comp_first), free(id);
    return n_comp;
}

/* ---- the command-line tool ----------------------------------------------- */

const char *bin, *src;
char dir[256], firms[512], out_text[65536], err_text[65536];

void cli_setup(void)
{
    bin = getenv("FIRMCLUST_BIN");
    src = getenv("FIRMCLUST_SOURCE_DIR");
    ck_assert_msg(bin && src, "FIRMCLUST_BIN and FIRMCLUST_SOURCE_DIR must be set (ctest sets them)");
    fc_test_mkdtemp(dir, sizeof dir);
    snprintf(firms, sizeof firms, "%s/fixtures/kz/firms.gpkg", src);
    GDALAllRegister();
}

void cli_teardown(void) { fc_test_rmtree(dir); }

void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

int run(const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > stdout.txt 2> stderr.txt < /dev/null", dir,
             bin, args);
    int status = system(cmd);
    char path[512];
    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    slurp(path, out_text, sizeof out_text);
    unlink(path);
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    slurp(path, err_text, sizeof err_text);
    unlink(path);
    ck_assert_msg(WIFEXITED(status), "firmclust %s did not exit normally", args);
    return WEXITSTATUS(status);
}

const char *in_dir(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

const char *listing(void)
{
    static char buf[4096];
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            strncat(buf, names[i]->d_name, sizeof buf - strlen(buf) - 2);
            strcat(buf, " ");
        }
        free(names[i]);
    }
    free(names);
    return buf;
}

void write_text(const char *name, const char *text)
{
    FILE *f = fopen(in_dir(name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

GDALDatasetH open_vector(const char *path)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    ck_assert_msg(ds != NULL, "cannot open %s", path);
    return ds;
}

OGRLayerH layer(GDALDatasetH ds, const char *name)
{
    OGRLayerH l = name ? GDALDatasetGetLayerByName(ds, name) : GDALDatasetGetLayer(ds, 0);
    ck_assert_msg(l != NULL, "no layer %s", name ? name : "0");
    return l;
}

GIntBig count(const char *path, const char *layer_name)
{
    GDALDatasetH ds = open_vector(path);
    GIntBig n = OGR_L_GetFeatureCount(layer(ds, layer_name), TRUE);
    GDALClose(ds);
    return n;
}

int epsg_of(OGRLayerH l)
{
    OGRSpatialReferenceH s = OGR_L_GetSpatialRef(l);
    ck_assert_ptr_nonnull(s);
    OSRAutoIdentifyEPSG(s);
    const char *code = OSRGetAuthorityCode(s, NULL);
    return code ? atoi(code) : 0;
}

/* Copies `bytes` bytes (all when 0) of a file. */
void copy_file(const char *from, const char *to, long bytes)
{
    char cmd[1400];
    if (bytes > 0)
        snprintf(cmd, sizeof cmd, "head -c %ld '%s' > '%s'", bytes, from, in_dir(to));
    else
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, in_dir(to));
    ck_assert_int_eq(system(cmd), 0);
}

bool same_bytes(const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

void fc_test_colocation_oracle(size_t n, const double *x, const double *y, const uint32_t *sector,
                               size_t n_sectors, const fc_dbscan_params *p, double *share,
                               size_t *n_with, uint32_t *totals, double *u_sums)
{
    metric m = metric_of(x, y, p);
    size_t *count = calloc(n_sectors, sizeof *count);
    uint32_t *total = calloc(n + 1, sizeof *total);
    memset(share, 0, n_sectors * n_sectors * sizeof *share);
    memset(n_with, 0, n_sectors * sizeof *n_with);
    for (size_t i = 0; i < n; i++) {
        memset(count, 0, n_sectors * sizeof *count);
        for (size_t j = 0; j < n; j++)
            if (j != i && near(&m, NULL, i, j)) {
                count[sector[j]]++;
                total[i]++;
            }
        if (totals)
            totals[i] = total[i];
        if (total[i] == 0)
            continue;
        n_with[sector[i]]++;
        for (size_t b = 0; b < n_sectors; b++)
            share[sector[i] * n_sectors + b] += (double)count[b] / (double)total[i];
    }
    for (size_t i = 0; u_sums && i < n; i++) { /* the sum over N(i) of 1 / |N(j)| */
        u_sums[i] = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i && near(&m, NULL, i, j))
                u_sums[i] += 1.0 / total[j];
    }
    free(total);
    free(count);
}
