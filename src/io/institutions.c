/* SPDX-License-Identifier: MIT */
/* Associated organisations (--institutions FILE): universities, research
 * institutes, technoparks, agencies near the clusters.
 *
 * Each cluster counts the institutions within eps of any of its firms, by
 * the clustering's own distance rule (planar, or geodesic as geod_inverse
 * gives it), and each institution gets its nearest clustered firm's
 * cluster and distance, searched up to FC_INSTITUTION_RADIUS times eps. Both
 * run on the grid of grid.c over the clustered firms and the institutions
 * together, so every distance that decides is computed exactly as DBSCAN
 * computes it; a tie for the nearest goes to the firm first in the input. */
#include "io/io.h"
#include "core/grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>

/* The clustered firms and the institutions as one set of points: firms
 * first (their input index in who[]), then the institutions. */
/* The type of an institution whose type field is NULL or empty. */
#define NO_TYPE "(no type)"

typedef struct joint {
    size_t n, n_firms;
    double *x, *y;
    size_t *who;
} joint;

static int joint_make(fc_context *ctx, const fc_institutions *in, size_t n, const double *x,
                      const double *y, const int32_t *cid, joint *j)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += cid[i] >= 0;
    j->n_firms = m;
    j->n = m + in->n;
    j->x = malloc((j->n + 1) * sizeof *j->x);
    j->y = malloc((j->n + 1) * sizeof *j->y);
    j->who = malloc((j->n + 1) * sizeof *j->who);
    if (!j->x || !j->y || !j->who)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (cid[i] >= 0) {
            j->x[k] = x[i];
            j->y[k] = y[i];
            j->who[k++] = i;
        }
    for (size_t t = 0; t < in->n; t++, k++) {
        j->x[k] = in->cx[t];
        j->y[k] = in->cy[t];
        j->who[k] = t;
    }
    return FC_OK;
}

static void joint_free(joint *j)
{
    free(j->x);
    free(j->y);
    free(j->who);
}

/* Visits, for each institution (sorted position p), the clustered firms of
 * the cells near its own: fn(arg, institution, firm input index, sorted
 * position q). */
typedef void (*visit_fn)(void *arg, const grid *g, uint32_t p, uint32_t q, size_t institution,
                         size_t firm);

static void visit_near(const grid *g, const joint *j, visit_fn fn, void *arg)
{
    for (size_t c = 0; c < g->n_cells; c++) {
        bool has_institution = false;
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1] && !has_institution; p++)
            has_institution = g->order[p] >= j->n_firms;
        if (!has_institution)
            continue;
        const int nr = fc_grid_neighbour_runs(g, c, g->runs);
        for (uint32_t p = g->cell_start[c]; p < g->cell_start[c + 1]; p++) {
            if (g->order[p] < j->n_firms)
                continue;
            for (int r = 0; r < nr; r++)
                for (size_t d = g->runs[r][0]; d < g->runs[r][1]; d++)
                    for (uint32_t q = g->cell_start[d]; q < g->cell_start[d + 1]; q++)
                        if (g->order[q] < j->n_firms)
                            fn(arg, g, p, q, j->who[g->order[p]], j->who[g->order[q]]);
        }
    }
}

typedef struct near_job {
    const int32_t *cid;
    size_t *last_institution; /* per cluster: the last institution counted, + 1 */
    uint32_t *count;          /* [cluster * n_types + type] */
    size_t n_types;
    const int32_t *type;      /* per institution, -1: none */
    size_t *n_inst;
} near_job;

static void count_near(void *arg, const grid *g, uint32_t p, uint32_t q, size_t institution,
                       size_t firm)
{
    near_job *nj = arg;
    const int32_t c = nj->cid[firm];
    if (nj->last_institution[c] == institution + 1 || !within(g, p, q))
        return;
    nj->last_institution[c] = institution + 1;
    nj->n_inst[c]++;
    if (nj->type[institution] >= 0)
        nj->count[(size_t)c * nj->n_types + (size_t)nj->type[institution]]++;
}

typedef struct nearest_job {
    const int32_t *cid;
    double *key;   /* per institution: distance_key of the nearest, INFINITY: none */
    size_t *firm;  /* and that firm */
} nearest_job;

static void find_nearest(void *arg, const grid *g, uint32_t p, uint32_t q, size_t institution,
                         size_t firm)
{
    nearest_job *nj = arg;
    if (!within(g, p, q))
        return;
    const double k = distance_key(g, p, q);
    if (k < nj->key[institution] || (k == nj->key[institution] && firm < nj->firm[institution])) {
        nj->key[institution] = k;
        nj->firm[institution] = firm;
    }
}

/* A type in inst_types: ',' ':' and '%' percent-encoded, so that the list
 * parses whatever the types hold. */
static size_t put_type(char *text, size_t size, const char *type)
{
    size_t used = 0;
    for (const char *c = type; *c && used + 4 < size; c++)
        used += *c == ',' || *c == ':' || *c == '%'
                    ? (size_t)snprintf(text + used, size - used, "%%%02X", (unsigned char)*c)
                    : (size_t)snprintf(text + used, size - used, "%c", *c);
    return used;
}

/* The types in a cluster, most frequent first (ties by name),
 * "university:2,research:1"; an institution without a type counts as
 * NO_TYPE, so that the counts add up to n_inst. */
static char *types_text(const fc_institutions *in, uint32_t *count)
{
    char text[512] = "";
    size_t used = 0;
    uint32_t shown = 0, total = 0;
    for (size_t t = 0; t < in->n_types; t++)
        total += count[t];
    while (shown < total && used + 2 < sizeof text) {
        size_t best = 0;
        for (size_t t = 1; t < in->n_types; t++) /* types are sorted: ties go to the first */
            if (count[t] > count[best])
                best = t;
        if (used)
            text[used++] = ',';
        used += put_type(text + used, sizeof text - used, in->types[best]);
        used += (size_t)snprintf(text + used, sizeof text - used, ":%u", count[best]);
        shown += count[best];
        count[best] = 0; /* scratch: counted */
    }
    return fc_strdup(text);
}

static int count_per_cluster(fc_context *ctx, const grid *g, const joint *j,
                             const fc_institutions *in, const int32_t *cid, size_t n_clusters,
                             fc_cluster_table *t)
{
    const size_t n_types = in->n_types ? in->n_types : 1;
    near_job nj = {.cid = cid, .n_types = n_types, .type = in->type};
    nj.last_institution = calloc(n_clusters + 1, sizeof *nj.last_institution);
    nj.count = calloc((n_clusters + 1) * n_types, sizeof *nj.count);
    t->n_inst = nj.n_inst = calloc(n_clusters + 1, sizeof *t->n_inst);
    t->inst_types = calloc(n_clusters + 1, sizeof *t->inst_types);
    int status = FC_OK;
    if (!nj.last_institution || !nj.count || !t->n_inst || !t->inst_types)
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    if (status == FC_OK)
        visit_near(g, j, count_near, &nj);
    for (size_t c = 0; c < n_clusters && status == FC_OK; c++)
        if (!(t->inst_types[c] = types_text(in, nj.count + c * n_types)))
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
    free(nj.last_institution);
    free(nj.count);
    return status;
}

static int nearest_clusters(fc_context *ctx, const grid *g, const joint *j, fc_institutions *in,
                            const int32_t *cid, double to_metres)
{
    nearest_job nj = {.cid = cid};
    nj.key = malloc((in->n + 1) * sizeof *nj.key);
    nj.firm = malloc((in->n + 1) * sizeof *nj.firm);
    if (!nj.key || !nj.firm) {
        free(nj.key), free(nj.firm);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    for (size_t t = 0; t < in->n; t++)
        nj.key[t] = INFINITY;
    visit_near(g, j, find_nearest, &nj);
    for (size_t t = 0; t < in->n; t++) {
        const bool found = isfinite(nj.key[t]);
        in->nearest[t] = found ? cid[nj.firm[t]] : -1;
        in->distance_m[t] = !found      ? NAN
                            : g->geodesic ? nj.key[t]
                                          : sqrt(nj.key[t]) * to_metres;
    }
    free(nj.key), free(nj.firm);
    return FC_OK;
}

/* One grid over the clustered firms and the institutions, with neighbours
 * within `eps`. */
static int joint_grid(fc_context *ctx, const joint *j, const fc_dbscan_params *params, double eps,
                      grid *g)
{
    fc_dbscan_params p = *params;
    p.eps = eps;
    p.weight = NULL;
    p.min_pts = 1;
    p.threads = 1; /* institutions are few; the visits write shared counts */
    int status = fc_grid_metric(ctx, g, j->n, j->x, j->y, &p);
    if (status == FC_OK)
        status = fc_grid_build(ctx, g, j->n, j->x, j->y, NULL, &p, fc_grid_default_side(&p));
    return status;
}

int fc_institutions_measure(fc_context *ctx, fc_institutions *in, size_t n, const double *x,
                            const double *y, const int32_t *cid, size_t n_clusters,
                            const fc_dbscan_params *params, double to_metres,
                            fc_cluster_table *t)
{
    in->nearest = malloc((in->n + 1) * sizeof *in->nearest);
    in->distance_m = malloc((in->n + 1) * sizeof *in->distance_m);
    if (!in->nearest || !in->distance_m)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    for (size_t k = 0; k < in->n; k++) {
        in->nearest[k] = -1;
        in->distance_m[k] = NAN;
    }
    joint j = {0};
    int status = joint_make(ctx, in, n, x, y, cid, &j);
    if (status == FC_OK && (j.n_firms == 0 || in->n == 0)) { /* nothing near anything */
        t->n_inst = calloc(n_clusters + 1, sizeof *t->n_inst);
        t->inst_types = calloc(n_clusters + 1, sizeof *t->inst_types);
        for (size_t c = 0; c < n_clusters && t->inst_types; c++)
            t->inst_types[c] = fc_strdup("");
        joint_free(&j);
        return t->n_inst && t->inst_types ? FC_OK : fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    grid near = {0}, far = {0};
    if (status == FC_OK)
        status = joint_grid(ctx, &j, params, params->eps, &near);
    if (status == FC_OK)
        status = count_per_cluster(ctx, &near, &j, in, cid, n_clusters, t);
    fc_grid_free(&near);
    if (status == FC_OK)
        status = joint_grid(ctx, &j, params, params->eps * FC_INSTITUTION_RADIUS, &far);
    if (status == FC_OK)
        status = nearest_clusters(ctx, &far, &j, in, cid, to_metres);
    fc_grid_free(&far);
    joint_free(&j);
    return status;
}

/* ---- reading ------------------------------------------------------------ */

static int type_index(fc_institutions *in, const char *value)
{
    for (size_t k = 0; k < in->n_types; k++)
        if (strcmp(in->types[k], value) == 0)
            return (int)k;
    return -1;
}

/* The distinct types, sorted, and each institution's index among them. */
static int collect_types(fc_context *ctx, fc_institutions *in, char **raw)
{
    in->types = calloc(in->n + 1, sizeof *in->types);
    in->type = malloc((in->n + 1) * sizeof *in->type);
    if (!in->types || !in->type)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    for (size_t k = 0; k < in->n; k++)
        if (raw[k] && *raw[k] && type_index(in, raw[k]) < 0)
            if (!(in->types[in->n_types++] = fc_strdup(raw[k])))
                return fc_error(ctx, FC_ENOMEM, "out of memory");
    for (size_t a = 1; a < in->n_types; a++) /* insertion sort: few types */
        for (size_t b = a; b > 0 && strcmp(in->types[b - 1], in->types[b]) > 0; b--) {
            char *swap = in->types[b];
            in->types[b] = in->types[b - 1];
            in->types[b - 1] = swap;
        }
    for (size_t k = 0; k < in->n; k++)
        in->type[k] = raw[k] && *raw[k] ? type_index(in, raw[k]) : -1;
    return FC_OK;
}

static bool grow(fc_institutions *in, char ***raw, size_t *cap)
{
    if (in->n < *cap)
        return true;
    const size_t m = *cap ? 2 * *cap : 64;
    double *x = realloc(in->x, m * sizeof *x);
    if (x)
        in->x = x;
    double *y = realloc(in->y, m * sizeof *y);
    if (y)
        in->y = y;
    char **r = realloc(*raw, m * sizeof *r);
    if (r)
        *raw = r;
    char **names = realloc(in->names, m * sizeof *names);
    if (names)
        in->names = names;
    if (!x || !y || !r || !names)
        return false;
    *cap = m;
    return true;
}

/* Reads the points of the layer, transformed to the firms' CRS. */
static int read_points(fc_context *ctx, const char *path, OGRLayerH l, int type_i, int name_i,
                       OGRCoordinateTransformationH ct, fc_institutions *in, char ***raw)
{
    size_t cap = 0;
    OGRFeatureH f;
    int status = FC_OK;
    OGR_L_ResetReading(l);
    size_t skipped = 0;
    char fids[160] = "";
    while (status == FC_OK && (f = OGR_L_GetNextFeature(l))) {
        OGRGeometryH geom = OGR_F_GetGeometryRef(f);
        if (!geom || OGR_G_IsEmpty(geom)) { /* skipped, as a firm without one is */
            size_t len = strlen(fids);
            if (skipped++ < 10)
                snprintf(fids + len, sizeof fids - len, "%s" CPL_FRMT_GIB, len ? ", " : "",
                         OGR_F_GetFID(f));
        } else if (wkbFlatten(OGR_G_GetGeometryType(geom)) != wkbPoint) {
            status = fc_error(ctx, FC_EDATA, "%s: institution feature " CPL_FRMT_GIB
                              " is not a point", path, OGR_F_GetFID(f));
        } else if (!grow(in, raw, &cap)) {
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
        } else {
            double px = OGR_G_GetX(geom, 0), py = OGR_G_GetY(geom, 0), pz = 0;
            if (ct && !OCTTransform(ct, 1, &px, &py, &pz))
                status = fc_error(ctx, FC_ECRS, "%s: institution feature " CPL_FRMT_GIB
                                  " cannot be transformed to the firms' CRS", path,
                                  OGR_F_GetFID(f));
            in->x[in->n] = px;
            in->y[in->n] = py;
            const char *type = type_i >= 0 ? OGR_F_GetFieldAsString(f, type_i) : NULL;
            (*raw)[in->n] = !type ? NULL : fc_strdup(*type ? type : NO_TYPE);
            in->names[in->n] = name_i >= 0 ? fc_strdup(OGR_F_GetFieldAsString(f, name_i)) : NULL;
            in->n++;
        }
        OGR_F_Destroy(f);
    }
    if (status == FC_OK && skipped)
        fc_message(ctx, FC_MSG_WARNING, "%s: skipped %zu institution%s with no geometry or an "
                                        "empty one (FID %s%s)",
                   path, skipped, skipped == 1 ? "" : "s", fids, skipped > 10 ? ", ..." : "");
    return status;
}

int fc_institutions_read(fc_context *ctx, const char *path, const char *type_field,
                         const char *s_srs, OGRSpatialReferenceH firms_srs, fc_institutions *in)
{
    memset(in, 0, sizeof *in);
    GDALDatasetH ds = fc_dataset_open(ctx, path, NULL);
    if (!ds)
        return fc_errcode(ctx);
    OGRLayerH l = GDALDatasetGetLayerCount(ds) > 0 ? GDALDatasetGetLayer(ds, 0) : NULL;
    OGRFeatureDefnH defn = l ? OGR_L_GetLayerDefn(l) : NULL;
    int type_i = type_field && defn ? OGR_FD_GetFieldIndex(defn, type_field) : -1;
    int name_i = defn ? OGR_FD_GetFieldIndex(defn, "name") : -1;
    OGRSpatialReferenceH srs = l ? OGR_L_GetSpatialRef(l) : NULL, given = NULL;
    int status = FC_OK;
    if (l && !srs && s_srs && !(srs = given = fc_srs_from_user(ctx, s_srs, "--s-srs")))
        status = fc_errcode(ctx);
    if (status != FC_OK)
        ;
    else if (!l)
        status = fc_error(ctx, FC_EDATA, "%s: no layer of institutions in it", path);
    else if (type_field && type_i < 0)
        status = fc_error(ctx, FC_EDATA, "%s: no field '%s' (--institution-field)", path,
                          type_field);
    else if (!srs)
        status = fc_error(ctx, FC_ECRS, "%s: the institutions have no CRS; give the file one "
                                        "(a .prj, or a GeoPackage), or --s-srs", path);
    OGRSpatialReferenceH gis = srs ? fc_srs_clone_gis_order(srs) : NULL;
    OGRCoordinateTransformationH ct = NULL;
    if (status == FC_OK && !OSRIsSame(gis, firms_srs) &&
        !(ct = OCTNewCoordinateTransformation(gis, firms_srs)))
        status = fc_error_gdal(ctx, FC_ECRS, "%s: cannot transform the institutions to the "
                                             "firms' CRS", path);
    char **raw = NULL;
    if (status == FC_OK)
        status = read_points(ctx, path, l, type_i, name_i, ct, in, &raw);
    if (status == FC_OK)
        status = collect_types(ctx, in, raw);
    for (size_t k = 0; raw && k < in->n; k++)
        free(raw[k]);
    free(raw);
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (gis)
        OSRRelease(gis);
    if (given)
        OSRRelease(given);
    GDALClose(ds);
    in->has_types = type_field != NULL;
    in->has_names = name_i >= 0;
    return status;
}

void fc_institutions_free(fc_institutions *in)
{
    for (size_t k = 0; in->names && k < in->n; k++)
        free(in->names[k]);
    fc_sector_names_free(in->types, (uint32_t)in->n_types);
    free(in->names);
    free(in->x);
    free(in->y);
    free(in->cx);
    free(in->cy);
    free(in->type);
    free(in->nearest);
    free(in->distance_m);
    memset(in, 0, sizeof *in);
}
