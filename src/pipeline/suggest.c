/* SPDX-License-Identifier: MIT */
/* Choosing eps (`firmclust suggest`): for each sector, the distance from
 * each firm to its min-pts-th nearest firm of the sector, itself counted
 * first (the eps at which it would be core), measured as the clustering
 * measures; the quantiles of those distances, and the knee of their sorted
 * curve (Kneedle, on the logarithms: the distances span metres to hundreds
 * of kilometres) as the suggested eps: below it most firms are in dense
 * places, above it the distances run away into the countryside. */
#include "pipeline/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURVE_POINTS 100 /* the sorted curve, sampled evenly, in the JSON */

static const double quantile_at[] = {0.10, 0.25, 0.50, 0.75, 0.90};
#define N_QUANTILES (sizeof quantile_at / sizeof quantile_at[0])

static const char *metres(double m, char *buf, size_t size)
{
    if (m >= 1000)
        snprintf(buf, size, "%.1f km", m / 1000);
    else
        snprintf(buf, size, "%.0f m", m);
    return buf;
}

static void print_table(FILE *out, const fc_measured *m, const fc_sector_curve *c, size_t k)
{
    const fc_firms *f = m->firms;
    fprintf(out, "k-distances: from each firm to its %zu%s nearest firm of its sector, itself "
                 "counted (--min-pts %zu); distances %s\n",
            k, k == 1 ? "st" : k == 2 ? "nd" : k == 3 ? "rd" : "th", k, m->distance);
    fprintf(out, "%-8s %8s %9s %9s %9s %9s %9s %12s%s\n", "sector", "firms", "10%", "25%",
            "median", "75%", "90%", "suggested", f->sector_names ? "  name" : "");
    char buf[6][32];
    for (uint32_t s = 0; s < f->n_sectors; s++) {
        fprintf(out, "%-8s %8zu", f->sector_codes[s], c[s].firms);
        if (c[s].n == 0) {
            fprintf(out, "  fewer than %zu firms%*s", k, 44, "");
        } else {
            for (size_t q = 0; q < N_QUANTILES; q++)
                fprintf(out, " %9s", metres(fc_curve_quantile(&c[s], quantile_at[q]), buf[q], 32));
            fprintf(out, " %12s", metres(c[s].knee, buf[5], 32));
        }
        if (f->sector_names)
            fprintf(out, "  %s", f->sector_names[s] ? f->sector_names[s] : "-");
        fputc('\n', out);
    }
    fprintf(out, "suggested: the knee of each sector's sorted k-distances (Kneedle, on their "
                 "logarithms)\n");
}

static void print_json(FILE *out, const fc_measured *m, const fc_sector_curve *c, size_t k)
{
    const fc_firms *f = m->firms;
    fprintf(out, "{\n  \"input\": ");
    fc_json_string(out, m->input);
    fprintf(out, ",\n  \"min_pts\": %zu,\n  \"distance\": ", k);
    fc_json_string(out, m->distance);
    fprintf(out, ",\n  \"sectors\": [");
    for (uint32_t s = 0; s < f->n_sectors; s++) {
        fprintf(out, "%s\n    {\"sector\": ", s ? "," : "");
        fc_json_string(out, f->sector_codes[s]);
        if (f->sector_names && f->sector_names[s]) {
            fprintf(out, ", \"name\": ");
            fc_json_string(out, f->sector_names[s]);
        }
        fprintf(out, ", \"firms\": %zu", c[s].firms);
        if (c[s].n > 0) {
            fprintf(out, ", \"quantiles_m\": {");
            for (size_t q = 0; q < N_QUANTILES; q++)
                fprintf(out, "%s\"%g\": %.6g", q ? ", " : "", quantile_at[q],
                        fc_curve_quantile(&c[s], quantile_at[q]));
            fprintf(out, "}, \"suggested_eps_m\": %.6g, \"curve_m\": [", c[s].knee);
            const size_t points = c[s].n < CURVE_POINTS ? c[s].n : CURVE_POINTS;
            for (size_t p = 0; p < points; p++)
                fprintf(out, "%s%.6g", p ? ", " : "",
                        c[s].d[points > 1 ? p * (c[s].n - 1) / (points - 1) : 0]);
            fprintf(out, "]");
        }
        fprintf(out, "}");
    }
    fprintf(out, "\n  ]\n}\n");
}

int fc_suggest(fc_context *ctx, const char *input, const fc_options *opts, int json, char **text)
{
    if (!ctx)
        return FC_EINVAL;
    *text = NULL;
    if (!input || !opts)
        return fc_error(ctx, FC_EINVAL, "fc_suggest needs an input and options");
    fc_measured m;
    int status = fc_measure_firms(ctx, input, opts, &m);
    if (status != FC_OK)
        return status;
    const size_t k = opts->min_pts;
    fc_sector_curve *c = calloc(m.firms->n_sectors + 1, sizeof *c);
    status = c ? fc_sector_curves(ctx, m.firms->n, m.x, m.y, m.firms->sector, m.firms->n_sectors,
                               (const char *const *)m.firms->sector_codes, m.params, m.to_metres,
                               k, c)
               : fc_error(ctx, FC_ENOMEM, "out of memory");
    size_t size = 0;
    FILE *out = status == FC_OK ? open_memstream(text, &size) : NULL;
    if (status == FC_OK && !out)
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    if (out) {
        if (json)
            print_json(out, &m, c, k);
        else
            print_table(out, &m, c, k);
        if (fclose(out) != 0)
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    for (uint32_t s = 0; c && s < m.firms->n_sectors; s++)
        free(c[s].d);
    free(c);
    fc_measured_free(&m);
    if (status != FC_OK) {
        free(*text);
        *text = NULL;
    }
    return status;
}
