/* SPDX-License-Identifier: MIT */
/* The earth as PROJ knows it (see earth.h): the only file below src/io/
 * that includes a PROJ header. */
#include "geo/earth.h"

#include <geodesic.h>
#include <proj.h>
#include <stdio.h>

_Static_assert(sizeof(struct geod_geodesic) <= sizeof(((fc_earth *)0)->geodesic),
               "PROJ's struct geod_geodesic grew: make fc_earth's room larger");

void fc_earth_init(fc_earth *e, double a, double f)
{
    e->a = a;
    e->f = f;
    geod_init((struct geod_geodesic *)e->geodesic, a, f);
}

double fc_earth_distance(const fc_earth *e, double lat1, double lon1, double lat2, double lon2)
{
    double s12;
    geod_inverse((const struct geod_geodesic *)e->geodesic, lat1, lon1, lat2, lon2, &s12, NULL,
                 NULL);
    return s12;
}

bool fc_earth_centred_block(double a, double f, const double *lon, const double *lat,
                            size_t begin, size_t end, double *x, double *y, double *z)
{
    char def[128];
    if (f == 0)
        snprintf(def, sizeof def, "+proj=cart +R=%.17g", a);
    else
        snprintf(def, sizeof def, "+proj=cart +a=%.17g +rf=%.17g", a, 1 / f);
    PJ_CONTEXT *pc = proj_context_create();
    PJ *cart = pc ? proj_create(pc, def) : NULL;
    size_t n = end - begin, done = 0;
    if (cart) {
        for (size_t i = begin; i < end; i++) {
            x[i] = proj_torad(lon[i]);
            y[i] = proj_torad(lat[i]);
            z[i] = 0;
        }
        done = proj_trans_generic(cart, PJ_FWD, x + begin, sizeof(double), n, y + begin,
                                  sizeof(double), n, z + begin, sizeof(double), n, NULL, 0, 0);
    }
    proj_destroy(cart);
    proj_context_destroy(pc);
    return done == n;
}
