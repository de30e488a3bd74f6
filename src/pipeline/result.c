/* SPDX-License-Identifier: MIT */
/* The summary of a run: what fc_result's accessors return, and the same as
 * JSON for scripts. */
#include "pipeline/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>

#define TOP_REGIONS 3

typedef struct top_region {
    int32_t region; /* -1: none */
    double lq;
    size_t n_firms;
} top_region;

struct fc_result {
    size_t n_firms, n_skipped, n_clusters, n_clustered, n_sectors;
    char **codes;
    char **names;          /* per sector, NULL where not known; NULL without names */
    char names_source[256];
    size_t *sector_firms, *sector_clusters, *sector_clustered;
    char working_crs[512];
    char distance[640];
    char method[512];
    /* regions */
    size_t n_regions, n_outside, n_repaired;
    char **region_names;
    char *region_field;
    bool region_field_guessed;
    top_region *top;        /* [sector * TOP_REGIONS + rank] */
    int permutations;
    char significance[512];
    fc_field_names renamed;
    /* clusters */
    int32_t *cluster_sector, *cluster_region;
    size_t *cluster_firms, *cluster_core;
    double *sector_scale; /* NaN: the sector has clusters, or too few firms */
    double *cluster_area, *cluster_region_share, *cluster_p, *cluster_q;
    int *cluster_runs;
    fc_hdbscan_cluster *cluster_hdbscan; /* NULL but for HDBSCAN* */
    double *cluster_eps;                 /* --eps auto: each cluster's, metres; else NULL */
    /* co-location, by the firms' own sectors (with --groups too), [a * n_coloc
     * + b]; NULL when not measured */
    size_t n_coloc;
    char **coloc_codes;
    size_t *coloc_firms;
    double *clq;
    size_t *n_near; /* per sector: firms with a neighbour */
    double *clq_p, *clq_q; /* NULL without a significance test */
};

fc_result *fc_result_destroy(fc_result *r)
{
    if (!r)
        return NULL;
    for (size_t i = 0; r->codes && i < r->n_sectors; i++)
        free(r->codes[i]);
    fc_sector_names_free(r->names, (uint32_t)r->n_sectors);
    for (size_t i = 0; r->region_names && i < r->n_regions; i++)
        free(r->region_names[i]);
    free(r->codes);
    free(r->region_names);
    free(r->region_field);
    free(r->sector_firms);
    free(r->sector_clusters);
    free(r->sector_clustered);
    free(r->top);
    free(r->cluster_sector);
    free(r->cluster_region);
    free(r->cluster_firms);
    free(r->cluster_core);
    free(r->cluster_area);
    free(r->cluster_region_share);
    free(r->cluster_p);
    free(r->cluster_hdbscan);
    free(r->cluster_eps);
    free(r->cluster_q);
    free(r->cluster_runs);
    free(r->sector_scale);
    for (size_t i = 0; r->coloc_codes && i < r->n_coloc; i++)
        free(r->coloc_codes[i]);
    free(r->coloc_codes);
    free(r->coloc_firms);
    free(r->clq);
    free(r->n_near);
    free(r->clq_p);
    free(r->clq_q);
    fc_field_names_free(&r->renamed);
    free(r);
    return NULL;
}

size_t fc_result_n_firms(const fc_result *r) { return r->n_firms; }
size_t fc_result_n_skipped(const fc_result *r) { return r->n_skipped; }
size_t fc_result_n_clusters(const fc_result *r) { return r->n_clusters; }
size_t fc_result_n_clustered(const fc_result *r) { return r->n_clustered; }
size_t fc_result_n_sectors(const fc_result *r) { return r->n_sectors; }

const char *fc_result_sector_name(const fc_result *r, size_t i)
{
    return r && r->names && i < r->n_sectors ? r->names[i] : NULL;
}

const char *fc_result_sector_names(const fc_result *r) { return r ? r->names_source : ""; }
const char *fc_result_working_crs(const fc_result *r) { return r->working_crs; }
const char *fc_result_distance(const fc_result *r) { return r->distance; }
const char *fc_result_method(const fc_result *r) { return r->method; }
size_t fc_result_n_regions(const fc_result *r) { return r->n_regions; }
size_t fc_result_n_outside(const fc_result *r) { return r->n_outside; }
const char *fc_result_region_field(const fc_result *r, int *guessed)
{
    if (guessed)
        *guessed = r->region_field_guessed;
    return r->region_field;
}
int fc_result_permutations(const fc_result *r) { return r->permutations; }
const char *fc_result_significance(const fc_result *r) { return r->significance; }
size_t fc_result_n_renamed(const fc_result *r) { return r->renamed.n; }
int fc_result_renamed(const fc_result *r, size_t i, const char **from, const char **to)
{
    if (!r || i >= r->renamed.n)
        return FC_EINVAL;
    if (from)
        *from = r->renamed.from[i];
    if (to)
        *to = r->renamed.to[i];
    return FC_OK;
}

int fc_result_sector(const fc_result *r, size_t i, const char **code, size_t *n_firms,
                     size_t *n_clusters, size_t *n_clustered)
{
    if (!r || i >= r->n_sectors)
        return FC_EINVAL;
    if (code)
        *code = r->codes[i];
    if (n_firms)
        *n_firms = r->sector_firms[i];
    if (n_clusters)
        *n_clusters = r->sector_clusters[i];
    if (n_clustered)
        *n_clustered = r->sector_clustered[i];
    return FC_OK;
}

int fc_result_colocation(const fc_result *r, size_t a, size_t b, double *clq, size_t *n_a_near,
                         double *q_value)
{
    if (!r || !r->clq || a >= r->n_coloc || b >= r->n_coloc)
        return FC_EINVAL;
    if (clq)
        *clq = r->clq[a * r->n_coloc + b];
    if (n_a_near)
        *n_a_near = r->n_near[a];
    if (q_value)
        *q_value = r->clq_q ? r->clq_q[a * r->n_coloc + b] : NAN;
    return FC_OK;
}

size_t fc_result_n_colocation_sectors(const fc_result *r)
{
    return r && r->clq ? r->n_coloc : 0;
}

int fc_result_colocation_sector(const fc_result *r, size_t i, const char **code, size_t *n_firms)
{
    if (!r || !r->clq || i >= r->n_coloc)
        return FC_EINVAL;
    if (code)
        *code = r->coloc_codes[i];
    if (n_firms)
        *n_firms = r->coloc_firms[i];
    return FC_OK;
}

int fc_result_top_region(const fc_result *r, size_t sector, int rank, const char **region,
                         double *lq, size_t *n_firms)
{
    if (!r || !r->top || sector >= r->n_sectors || rank < 0 || rank >= TOP_REGIONS)
        return FC_EINVAL;
    const top_region *t = &r->top[sector * TOP_REGIONS + (size_t)rank];
    if (t->region < 0)
        return FC_EINVAL;
    if (region)
        *region = r->region_names[t->region];
    if (lq)
        *lq = t->lq;
    if (n_firms)
        *n_firms = t->n_firms;
    return FC_OK;
}

static void *copy(const void *src, size_t size)
{
    void *d = malloc(size ? size : 1);
    if (d && src && size)
        memcpy(d, src, size);
    return d;
}

/* The regions with the highest location quotient in each sector. */
static void rank_regions(fc_result *r, const fc_region_stats *st)
{
    for (size_t s = 0; s < st->n_sectors; s++) {
        top_region *top = &r->top[s * TOP_REGIONS];
        for (int k = 0; k < TOP_REGIONS; k++)
            top[k] = (top_region){-1, 0, 0};
        for (size_t g = 0; g < st->n_regions; g++) {
            double lq = fc_lq(st, g, s);
            if (isnan(lq) || st->n[g * st->n_sectors + s] == 0)
                continue;
            int k = TOP_REGIONS;
            while (k > 0 && (top[k - 1].region < 0 || lq > top[k - 1].lq))
                k--;
            if (k == TOP_REGIONS)
                continue;
            memmove(&top[k + 1], &top[k], (size_t)(TOP_REGIONS - 1 - k) * sizeof *top);
            top[k] = (top_region){(int32_t)g, lq, st->n[g * st->n_sectors + s]};
        }
    }
}

int fc_result_make(fc_context *ctx, const fc_findings *fd, const char *distance,
                   const char *method, int permutations, const char *significance,
                   fc_result **out)
{
    const fc_firms *f = fd->firms;
    const fc_cluster_table *t = fd->clusters;
    fc_result *r = calloc(1, sizeof *r);
    if (!r)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    size_t m = f->n_sectors ? f->n_sectors : 1;
    r->n_sectors = f->n_sectors;
    r->codes = calloc(m, sizeof *r->codes);
    r->sector_firms = calloc(m, sizeof *r->sector_firms);
    r->sector_clusters = calloc(m, sizeof *r->sector_clusters);
    r->sector_clustered = calloc(m, sizeof *r->sector_clustered);
    r->n_clusters = t->n;
    r->cluster_sector = copy(t->sector, t->n * sizeof *t->sector);
    r->cluster_firms = copy(t->n_firms, t->n * sizeof *t->n_firms);
    r->cluster_core = copy(t->n_core, t->n * sizeof *t->n_core);
    r->cluster_area = copy(t->area_km2, t->n * sizeof *t->area_km2);
    bool ok = r->codes && r->sector_firms && r->sector_clusters && r->sector_clustered &&
              r->cluster_sector && r->cluster_firms && r->cluster_core && r->cluster_area;
    for (size_t i = 0; ok && fd->renamed && i < fd->renamed->n; i++)
        ok = fc_field_names_add(&r->renamed, fd->renamed->from[i], fd->renamed->to[i]);
    if (ok && fd->sector_scale)
        ok = (r->sector_scale = copy(fd->sector_scale, m * sizeof *r->sector_scale)) != NULL;
    if (ok && fd->hdbscan)
        ok = (r->cluster_hdbscan = copy(fd->hdbscan, t->n * sizeof *fd->hdbscan)) != NULL;
    if (ok && fd->sector_eps_m && t->n) {
        ok = (r->cluster_eps = malloc(t->n * sizeof *r->cluster_eps)) != NULL;
        for (size_t c = 0; ok && c < t->n; c++)
            r->cluster_eps[c] = fd->sector_eps_m[t->sector[c]];
    }
    if (ok && t->p_value)
        ok = (r->cluster_p = copy(t->p_value, t->n * sizeof *t->p_value)) != NULL &&
             (r->cluster_q = copy(t->q_value, t->n * sizeof *t->q_value)) != NULL &&
             (r->cluster_runs = copy(t->runs, t->n * sizeof *t->runs)) != NULL;
    if (ok && fd->colocation) {
        const size_t S = r->n_coloc = fd->colocation->n_sectors;
        ok = (r->clq = copy(fd->colocation->clq, S * S * sizeof *r->clq)) != NULL &&
             (r->n_near = copy(fd->colocation->n_with, S * sizeof *r->n_near)) != NULL &&
             (r->coloc_firms = copy(fd->colocation->n_firms, S * sizeof *r->coloc_firms)) &&
             (r->coloc_codes = calloc(S, sizeof *r->coloc_codes)) != NULL;
        for (size_t s = 0; ok && s < S; s++)
            ok = (r->coloc_codes[s] = fc_strdup(fd->colocation->codes[s])) != NULL;
        if (ok && fd->colocation->p_value)
            ok = (r->clq_p = copy(fd->colocation->p_value, S * S * sizeof *r->clq_p)) != NULL &&
                 (r->clq_q = copy(fd->colocation->q_value, S * S * sizeof *r->clq_q)) != NULL;
    }
    for (size_t s = 0; ok && s < f->n_sectors; s++)
        ok = (r->codes[s] = fc_strdup(f->sector_codes[s])) != NULL;
    if (ok && f->sector_names)
        ok = (r->names = calloc(m, sizeof *r->names)) != NULL;
    for (size_t s = 0; ok && r->names && s < f->n_sectors; s++)
        ok = !f->sector_names[s] || (r->names[s] = fc_strdup(f->sector_names[s])) != NULL;
    snprintf(r->names_source, sizeof r->names_source, "%s", f->names_source);
    if (ok && fd->regions) {
        const fc_region_stats *st = fd->stats;
        r->n_regions = st->n_regions;
        r->n_outside = st->n_outside;
        r->n_repaired = fd->regions->n_repaired;
        r->region_field_guessed = fd->regions->field_guessed;
        r->region_names = calloc(st->n_regions ? st->n_regions : 1, sizeof *r->region_names);
        r->top = malloc(m * TOP_REGIONS * sizeof *r->top);
        r->region_field = fc_strdup(fd->regions->field);
        r->cluster_region = copy(t->region, t->n * sizeof *t->region);
        r->cluster_region_share = copy(t->region_share, t->n * sizeof *t->region_share);
        ok = r->region_names && r->top && r->region_field && r->cluster_region &&
             r->cluster_region_share;
        for (size_t g = 0; ok && g < st->n_regions; g++)
            ok = (r->region_names[g] = fc_strdup(fd->regions->names[g])) != NULL;
        if (ok)
            rank_regions(r, st);
    }
    if (!ok) {
        fc_result_destroy(r);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    r->n_firms = f->n;
    r->n_skipped = f->n_skipped;
    r->permutations = t->p_value ? permutations : 0;
    snprintf(r->significance, sizeof r->significance, "%s", significance ? significance : "");
    for (size_t i = 0; i < f->n; i++) {
        r->sector_firms[f->sector[i]]++;
        if (fd->cluster_id[i] >= 0) {
            r->n_clustered++;
            r->sector_clustered[f->sector[i]]++;
        }
    }
    for (size_t c = 0; c < t->n; c++)
        r->sector_clusters[t->sector[c]]++;
    snprintf(r->working_crs, sizeof r->working_crs, "%s", fd->work->description);
    snprintf(r->distance, sizeof r->distance, "%s", distance);
    snprintf(r->method, sizeof r->method, "%s", method);
    *out = r;
    return FC_OK;
}

/* ---- JSON ---------------------------------------------------------------- */


static void json_number(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.10g", v);
    else
        fputs("null", out);
}

/* Every ordered pair of sectors, as the colocation table has them. */
static void json_colocation(FILE *out, const fc_result *r)
{
    const size_t S = r->n_coloc;
    fprintf(out, ",\n  \"colocation\": [");
    for (size_t a = 0; a < S; a++)
        for (size_t b = 0; b < S; b++) {
            fprintf(out, "%s\n    {\"sector_a\": ", a + b ? "," : "");
            fc_json_string(out, r->coloc_codes[a]);
            fprintf(out, ", \"sector_b\": ");
            fc_json_string(out, r->coloc_codes[b]);
            fprintf(out, ", \"n_a\": %zu, \"n_b\": %zu, \"n_a_near\": %zu, \"clq\": ",
                    r->coloc_firms[a], r->coloc_firms[b], r->n_near[a]);
            json_number(out, r->clq[a * S + b]);
            if (r->clq_p) {
                fprintf(out, ", \"p_value\": ");
                json_number(out, r->clq_p[a * S + b]);
                fprintf(out, ", \"q_value\": ");
                json_number(out, r->clq_q[a * S + b]);
            }
            fprintf(out, "}");
        }
    fprintf(out, "\n  ]");
}

/* The cluster_list entries. */
static void json_clusters(FILE *out, const fc_result *r)
{
    for (size_t c = 0; c < r->n_clusters; c++) {
        fprintf(out, "%s\n    {\"cluster_id\": %zu, \"sector\": ", c ? "," : "", c + 1);
        fc_json_string(out, r->codes[r->cluster_sector[c]]);
        fprintf(out, ", \"n_firms\": %zu, \"n_core\": %zu, \"area_km2\": ", r->cluster_firms[c],
                r->cluster_core[c]);
        json_number(out, r->cluster_area[c]);
        if (r->cluster_eps) {
            fprintf(out, ", \"eps_m\": ");
            json_number(out, r->cluster_eps[c]);
        }
        if (r->cluster_hdbscan) { /* an infinite stability is null */
            fprintf(out, ", \"stability\": ");
            json_number(out, r->cluster_hdbscan[c].stability);
            fprintf(out, ", \"birth_m\": ");
            json_number(out, r->cluster_hdbscan[c].birth);
            fprintf(out, ", \"death_m\": ");
            json_number(out, r->cluster_hdbscan[c].death);
        }
        if (r->cluster_region) {
            fprintf(out, ", \"region\": ");
            if (r->cluster_region[c] >= 0)
                fc_json_string(out, r->region_names[r->cluster_region[c]]);
            else
                fputs("null", out);
            fprintf(out, ", \"region_share\": ");
            json_number(out, r->cluster_region_share[c]);
        }
        if (r->cluster_p) {
            fprintf(out, ", \"p_value\": ");
            json_number(out, r->cluster_p[c]);
            fprintf(out, ", \"q_value\": ");
            json_number(out, r->cluster_q[c]);
            fprintf(out, ", \"runs\": %d", r->cluster_runs[c]);
        }
        fprintf(out, "}");
    }
}

static void json_body(FILE *out, const fc_result *r, const char *input, const char *output)
{
    fprintf(out, "{\n  \"firmclust\": ");
    fc_json_string(out, FIRMCLUST_VERSION);
    fprintf(out, ",\n  \"input\": ");
    fc_json_string(out, input);
    fprintf(out, ",\n  \"output\": ");
    fc_json_string(out, output);
    fprintf(out, ",\n  \"method\": ");
    fc_json_string(out, r->method);
    fprintf(out, ",\n  \"distance\": ");
    fc_json_string(out, r->distance);
    fprintf(out, ",\n  \"working_crs\": ");
    fc_json_string(out, r->working_crs);
    fprintf(out, ",\n  \"firms\": %zu,\n  \"skipped\": %zu,\n  \"clusters\": %zu,\n"
                 "  \"clustered\": %zu,\n  \"permutations\": %d,\n",
            r->n_firms, r->n_skipped, r->n_clusters, r->n_clustered, r->permutations);
    fprintf(out, "  \"significance\": ");
    fc_json_string(out, r->significance);
    fprintf(out, ",\n  \"renamed_fields\": [");
    for (size_t i = 0; i < r->renamed.n; i++) {
        fprintf(out, "%s{\"from\": ", i ? ", " : "");
        fc_json_string(out, r->renamed.from[i]);
        fprintf(out, ", \"to\": ");
        fc_json_string(out, r->renamed.to[i]);
        fprintf(out, "}");
    }
    fprintf(out, "],\n");
    if (r->region_field) {
        fprintf(out, "  \"regions\": {\"count\": %zu, \"field\": ", r->n_regions);
        fc_json_string(out, r->region_field);
        fprintf(out, ", \"field_guessed\": %s, \"repaired\": %zu, \"firms_outside\": %zu},\n",
                r->region_field_guessed ? "true" : "false", r->n_repaired, r->n_outside);
    }
    fprintf(out, "  \"sectors\": [");
    for (size_t s = 0; s < r->n_sectors; s++) {
        fprintf(out, "%s\n    {\"sector\": ", s ? "," : "");
        fc_json_string(out, r->codes[s]);
        if (r->names && r->names[s]) {
            fprintf(out, ", \"name\": ");
            fc_json_string(out, r->names[s]);
        }
        fprintf(out, ", \"firms\": %zu, \"clusters\": %zu, \"clustered\": %zu", r->sector_firms[s],
                r->sector_clusters[s], r->sector_clustered[s]);
        if (r->sector_scale && !isnan(r->sector_scale[s])) {
            fprintf(out, ", \"min_pts_distance_m\": ");
            json_number(out, r->sector_scale[s]);
        }
        if (r->top) {
            fprintf(out, ", \"top_regions\": [");
            for (int k = 0; k < TOP_REGIONS && r->top[s * TOP_REGIONS + k].region >= 0; k++) {
                const top_region *t = &r->top[s * TOP_REGIONS + k];
                fprintf(out, "%s{\"region\": ", k ? ", " : "");
                fc_json_string(out, r->region_names[t->region]);
                fprintf(out, ", \"lq\": ");
                json_number(out, t->lq);
                fprintf(out, ", \"firms\": %zu}", t->n_firms);
            }
            fprintf(out, "]");
        }
        fprintf(out, "}");
    }
    fprintf(out, "\n  ],\n  \"cluster_list\": [");
    json_clusters(out, r);
    fprintf(out, "\n  ]");
    if (r->clq)
        json_colocation(out, r);
    fprintf(out, "\n}\n");
}

int fc_result_write_json(fc_context *ctx, const fc_result *r, const char *path,
                         const char *input, const char *output, bool overwrite, fc_output *out)
{
    memset(out, 0, sizeof *out);
    if (strcmp(path, "-") == 0) { /* standard output, at once */
        json_body(stdout, r, input, output);
        if (fflush(stdout) != 0 || ferror(stdout))
            return fc_error(ctx, FC_EIO, "the JSON summary: cannot write to standard output");
        return FC_OK;
    }
    int status = fc_output_prepare(ctx, path, NULL, overwrite, FC_OUT_FILE, out);
    if (status != FC_OK)
        return status;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/%s", out->tmp_path, CPLGetFilename(path));
    FILE *f = fopen(tmp, "w");
    if (!f)
        return fc_error(ctx, FC_EIO, "%s: cannot write", path);
    json_body(f, r, input, output);
    if (fclose(f) != 0)
        return fc_error(ctx, FC_EIO, "%s: cannot write", path);
    return FC_OK;
}
