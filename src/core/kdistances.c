/* SPDX-License-Identifier: MIT */
/* Each sector's sorted k-distances (from each firm to its k-th nearest firm
 * of its sector, itself counted first: the eps at which it would be core),
 * their quantiles, and the knee of their curve as the suggested eps
 * (Kneedle, on their logarithms): what `firmclust suggest` prints and
 * `--eps auto` uses. */
#include "core/core.h"

#include <math.h>
#include <stdlib.h>

double fc_curve_quantile(const fc_sector_curve *c, double q)
{
    const double at = q * (double)(c->n - 1);
    const size_t i = (size_t)at;
    return i + 1 < c->n ? c->d[i] + (at - (double)i) * (c->d[i + 1] - c->d[i]) : c->d[i];
}

/* Where the knee of a sector's curve is 0 (at least k firms at one place,
 * and most of its firms so): the smallest positive k-distance, or, when
 * every one is 0, FALLBACK_EPS_M; said either way. */
#define FALLBACK_EPS_M 1.0
static double positive_knee(fc_context *ctx, const fc_sector_curve *c, const char *code, size_t k)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->d[i] > 0) {
            fc_message(ctx, FC_MSG_WARNING,
                       "sector %s: most of its firms have %zu firms at their very place, so the "
                       "knee of its k-distances is 0 m; eps %g m is suggested, its smallest "
                       "positive k-distance",
                       code, k, c->d[i]);
            return c->d[i];
        }
    fc_message(ctx, FC_MSG_WARNING,
               "sector %s: all its %zu firms stand at places of %zu firms or more, so every "
               "k-distance is 0 m; eps %g m is suggested, which makes each such place a cluster",
               code, c->firms, k, FALLBACK_EPS_M);
    return FALLBACK_EPS_M;
}

/* Each sector's k-distances, sorted, with their knee. */
int fc_sector_curves(fc_context *ctx, size_t n, const double *x, const double *y,
                         const uint32_t *sector, uint32_t n_sectors,
                         const char *const *sector_code,
                         const fc_dbscan_params *params, double to_metres, size_t k,
                         fc_sector_curve *c)
{
    double *d = malloc((n + 1) * sizeof *d);
    if (!d)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    int status = fc_kth_distances(ctx, n, x, y, sector, n_sectors, params, k, d);
    size_t *count = status == FC_OK ? calloc((size_t)n_sectors + 1, sizeof *count) : NULL;
    if (status == FC_OK && !count)
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    for (size_t i = 0; status == FC_OK && i < n; i++) {
        count[sector[i]] += !isnan(d[i]);
        c[sector[i]].firms++;
    }
    for (uint32_t s = 0; status == FC_OK && s < n_sectors; s++)
        if (count[s] && !(c[s].d = malloc(count[s] * sizeof *c[s].d)))
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
    for (size_t i = 0; status == FC_OK && i < n; i++)
        if (!isnan(d[i]))
            c[sector[i]].d[c[sector[i]].n++] = d[i] * to_metres;
    for (uint32_t s = 0; status == FC_OK && s < n_sectors; s++)
        if (c[s].n) {
            qsort(c[s].d, c[s].n, sizeof *c[s].d, fc_compare_double);
            c[s].knee = c[s].d[fc_knee(c[s].d, c[s].n, true)];
            if (c[s].knee <= 0) /* min-pts firms at one place: eps 0 would find no cluster */
                c[s].knee = positive_knee(ctx, &c[s], sector_code ? sector_code[s] : "", k);
        }
    free(d);
    free(count);
    return status;
}

int fc_suggest_eps(fc_context *ctx, size_t n, const double *x, const double *y,
                   const uint32_t *sector, uint32_t n_sectors, const char *const *sector_code,
                   const fc_dbscan_params *params, double to_metres, size_t k, double *eps_m)
{
    fc_sector_curve *c = calloc((size_t)n_sectors + 1, sizeof *c);
    int status = c ? fc_sector_curves(ctx, n, x, y, sector, n_sectors, sector_code, params,
                                   to_metres, k, c)
                   : fc_error(ctx, FC_ENOMEM, "out of memory");
    for (uint32_t s = 0; status == FC_OK && s < n_sectors; s++)
        eps_m[s] = c[s].n ? c[s].knee : NAN;
    for (uint32_t s = 0; c && s < n_sectors; s++)
        free(c[s].d);
    free(c);
    return status;
}
