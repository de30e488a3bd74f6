/* SPDX-License-Identifier: MIT */
/* The earth as PROJ knows it: the floor below the numerical core. The
 * core's exact geodesic distances are PROJ's geod_inverse (Karney's
 * algorithm), and its earth-centred coordinates PROJ's cart projection;
 * this header is all that the core sees of them, so that no file of
 * src/core/ includes a PROJ header. */
#ifndef FC_EARTH_H
#define FC_EARTH_H

#include <stdbool.h>
#include <stddef.h>

/* An ellipsoid, ready for geodesics. */
typedef struct fc_earth {
    double a, f; /* semi-major axis (metres) and flattening */
    /* PROJ's struct geod_geodesic (51 doubles in PROJ 9), as fc_earth_init()
     * makes it; earth.c checks that it fits */
    double geodesic[64];
} fc_earth;

/* The ellipsoid of semi-major axis a and flattening f. */
void fc_earth_init(fc_earth *e, double a, double f);
/* The geodesic distance in metres between two points given as latitude and
 * longitude in degrees: PROJ's geod_inverse, exactly as called. */
double fc_earth_distance(const fc_earth *e, double lat1, double lon1, double lat2, double lon2);
/* Earth-centred 3D coordinates (metres) of points [begin, end) of
 * longitude and latitude in degrees on the ellipsoid (a, f), by PROJ's cart
 * projection in a PROJ context of the call's own (so that threads may each
 * convert a block); false when PROJ cannot. */
bool fc_earth_centred_block(double a, double f, const double *lon, const double *lat,
                            size_t begin, size_t end, double *x, double *y, double *z);

#endif
