/* SPDX-License-Identifier: MIT */
/* The working CRS: distances are measured in metres in a projected CRS.
 * A projected input CRS is used as it is (its linear unit converted to
 * metres); a geographic one is replaced by an equidistant conic fitted to
 * the data's extent, with PROJ (through OGR's coordinate transformation)
 * doing the reprojection. */
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <geodesic.h>

OGRSpatialReferenceH fc_srs_clone_gis_order(OGRSpatialReferenceH srs)
{
    OGRSpatialReferenceH c = OSRClone(srs);
    if (c)
        OSRSetAxisMappingStrategy(c, OAMS_TRADITIONAL_GIS_ORDER);
    return c;
}

static void describe(OGRSpatialReferenceH srs, char *buf, size_t size)
{
    char *proj4 = NULL;
    if (OSRExportToProj4(srs, &proj4) == OGRERR_NONE && proj4)
        snprintf(buf, size, "%s", proj4);
    else
        snprintf(buf, size, "%s", OSRGetName(srs) ? OSRGetName(srs) : "unnamed CRS");
    CPLFree(proj4);
}

/* An equidistant conic fitted to a longitude/latitude extent, in geog's
 * datum: standard parallels at 1/6 and 5/6 of the latitude range (the
 * classic rule for conics), centred on the data. Errors then stay within a
 * few tenths of a percent across a country the size of Kazakhstan. */
static int local_conic(fc_context *ctx, OGRSpatialReferenceH geog, double xmin, double ymin,
                       double xmax, double ymax, fc_working_crs *out)
{
    const double lat0 = (ymin + ymax) / 2;
    double lon0 = (xmin + xmax) / 2; /* xmax may pass 180 (antimeridian) */
    if (lon0 > 180)
        lon0 -= 360;
    const double lat1 = ymin + (ymax - ymin) / 6, lat2 = ymax - (ymax - ymin) / 6;
    OGRSpatialReferenceH w = fc_srs_clone_gis_order(geog);
    if (!w)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    OGRErr err = OSRSetProjCS(w, "firmclust local equidistant projection");
    if (err == OGRERR_NONE) {
        /* A conic needs lat1 != -lat2: data centred on the equator gets an
         * azimuthal equidistant projection instead. */
        if (fabs(lat1 + lat2) > 1e-6)
            err = OSRSetEC(w, lat1, lat2, lat0, lon0, 0, 0);
        else
            err = OSRSetAE(w, lat0, lon0, 0, 0);
    }
    if (err == OGRERR_NONE)
        err = OSRSetLinearUnits(w, SRS_UL_METER, 1.0);
    if (err != OGRERR_NONE) {
        OSRRelease(w);
        return fc_error_gdal(ctx, FC_ECRS, "cannot build a local projection for the extent "
                                           "(%g %g, %g %g)", xmin, ymin, xmax, ymax);
    }
    out->srs = w;
    out->to_metres = 1.0;
    out->reprojected = true;
    describe(w, out->description, sizeof out->description);
    fc_message(ctx, FC_MSG_DEBUG, "working CRS: %s", out->description);
    return FC_OK;
}

/* How far distances measured in src's plane (times to_metres) stray from
 * true ones over the extent: the largest relative error, over a 7 x 7 grid
 * of the extent, of 1 km geodesics in four directions (geod_direct) measured
 * in the plane. Numerically rather than with proj_factors(), which gives no
 * scale for CRSs in feet. The extent's longitudes and latitudes come out
 * too. A negative result: not measurable (no geographic CRS). */
static double plane_distortion(OGRSpatialReferenceH src, double to_metres, double xmin,
                               double ymin, double xmax, double ymax, double ll[4])
{
    OGRSpatialReferenceH geog = OSRCloneGeogCS(src);
    if (!geog)
        return -1;
    OSRSetAxisMappingStrategy(geog, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH to_ll = OCTNewCoordinateTransformation(src, geog);
    OGRCoordinateTransformationH to_plane = OCTNewCoordinateTransformation(geog, src);
    double inv_f = OSRGetInvFlattening(geog, NULL);
    struct geod_geodesic g;
    geod_init(&g, OSRGetSemiMajor(geog, NULL), inv_f > 0 ? 1 / inv_f : 0);
    double worst = to_ll && to_plane ? 0 : -1;
    ll[0] = ll[1] = INFINITY;
    ll[2] = ll[3] = -INFINITY;
    enum { STEPS = 7 };
    for (int i = 0; i < STEPS && worst >= 0; i++)
        for (int j = 0; j < STEPS; j++) {
            double x = xmin + (xmax - xmin) * i / (STEPS - 1), y = ymin + (ymax - ymin) * j / (STEPS - 1);
            double lon = x, lat = y;
            if (!OCTTransform(to_ll, 1, &lon, &lat, NULL) || !isfinite(lon) || !isfinite(lat))
                continue;
            ll[0] = fmin(ll[0], lon), ll[1] = fmin(ll[1], lat);
            ll[2] = fmax(ll[2], lon), ll[3] = fmax(ll[3], lat);
            for (int azi = 0; azi < 180; azi += 45) {
                double lat2, lon2;
                geod_direct(&g, lat, lon, azi, 1000, &lat2, &lon2, NULL);
                double x2 = lon2, y2 = lat2;
                if (!OCTTransform(to_plane, 1, &x2, &y2, NULL) || !isfinite(x2) || !isfinite(y2))
                    continue;
                double err = fabs(hypot(x2 - x, y2 - y) * to_metres / 1000 - 1);
                if (err > worst)
                    worst = err;
            }
        }
    if (to_ll)
        OCTDestroyCoordinateTransformation(to_ll);
    if (to_plane)
        OCTDestroyCoordinateTransformation(to_plane);
    OSRRelease(geog);
    return worst;
}

int fc_working_crs_choose(fc_context *ctx, OGRSpatialReferenceH src, double xmin,
                          double ymin, double xmax, double ymax, int distance,
                          fc_working_crs *out)
{
    memset(out, 0, sizeof *out);
    if (!src)
        return fc_error(ctx, FC_ECRS, "the input has no CRS");
    if (OSRIsProjected(src)) {
        const double to_metres = OSRGetLinearUnits(src, NULL);
        if (!(to_metres > 0))
            return fc_error(ctx, FC_ECRS, "the input CRS %s has no usable linear unit",
                            OSRGetName(src));
        double ll[4];
        out->distortion = plane_distortion(src, to_metres, xmin, ymin, xmax, ymax, ll);
        if (out->distortion > FC_PLANE_TOLERANCE && distance != FC_DIST_PLANAR &&
            ll[0] <= ll[2]) {
            /* Its plane is no place to measure in: Web Mercator's unit is
             * 0.67 m at 48 degrees north. Measure as for longitude/latitude. */
            OGRSpatialReferenceH geog = OSRCloneGeogCS(src);
            int status = geog ? local_conic(ctx, geog, ll[0], ll[1], ll[2], ll[3], out)
                              : fc_error_gdal(ctx, FC_ECRS, "the input CRS has no geographic CRS");
            if (geog)
                OSRRelease(geog);
            out->distorted = true;
            return status;
        }
        out->srs = fc_srs_clone_gis_order(src);
        out->to_metres = to_metres;
        snprintf(out->description, sizeof out->description, "%s (input CRS, %g m per unit)",
                 OSRGetName(src), out->to_metres);
        fc_message(ctx, FC_MSG_DEBUG, "working CRS: %s", out->description);
        if (out->distortion > FC_PLANE_TOLERANCE)
            fc_message(ctx, FC_MSG_WARNING,
                       "distances in the plane of %s are up to %.2g%% off over the data (more "
                       "than %g%%); they are measured there because --distance planar says so",
                       OSRGetName(src), 100 * out->distortion, 100 * FC_PLANE_TOLERANCE);
        return out->srs ? FC_OK : fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    if (!OSRIsGeographic(src))
        return fc_error(ctx, FC_ECRS, "the input CRS %s is neither projected nor geographic",
                        OSRGetName(src));
    return local_conic(ctx, src, xmin, ymin, xmax, ymax, out);
}

void fc_working_crs_free(fc_working_crs *w)
{
    if (w->srs)
        OSRRelease(w->srs);
    memset(w, 0, sizeof *w);
}

int fc_transform_points(fc_context *ctx, OGRSpatialReferenceH src, OGRSpatialReferenceH dst,
                        size_t n, double *x, double *y)
{
    CPLErrorReset();
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src, dst);
    if (!ct)
        return fc_error_gdal(ctx, FC_ECRS, "cannot transform from %s to %s", OSRGetName(src),
                             OSRGetName(dst));
    enum { CHUNK = 65536 };
    int ok[CHUNK];
    int status = FC_OK;
    for (size_t start = 0; start < n && status == FC_OK; start += CHUNK) {
        int m = (int)(n - start < CHUNK ? n - start : CHUNK);
        OCTTransformEx(ct, m, x + start, y + start, NULL, ok);
        for (int i = 0; i < m; i++)
            if (!ok[i] || !isfinite(x[start + i]) || !isfinite(y[start + i])) {
                status = fc_error(ctx, FC_ECRS, "point %zu cannot be transformed from %s to %s",
                                  start + (size_t)i, OSRGetName(src), OSRGetName(dst));
                break;
            }
    }
    OCTDestroyCoordinateTransformation(ct);
    return status;
}

void fc_longitude_window(const double *lon, size_t n, double *west, double *east)
{
    /* Mark the whole degrees that hold points; the window is the circle
     * less its longest empty stretch. */
    bool used[360] = {false};
    for (size_t i = 0; i < n; i++) {
        double l = fmod(lon[i] + 180.0, 360.0);
        if (l < 0)
            l += 360.0;
        used[(int)l % 360] = true;
    }
    int best_start = -1, best_len = 0;
    for (int start = 0; start < 360; start++) {
        if (used[start] || !used[(start + 359) % 360])
            continue; /* empty runs start after a used degree */
        int len = 0;
        while (len < 360 && !used[(start + len) % 360])
            len++;
        if (len > best_len) {
            best_len = len;
            best_start = start;
        }
    }
    if (best_start < 0) { /* every degree used: the whole circle */
        *west = -180;
        *east = 180;
        return;
    }
    /* The points lie in the degrees from the end of the gap round to its
     * start: refine to the actual extremes within them. */
    double w0 = best_start + best_len - 180.0; /* first used degree's west edge */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double rel = fmod(lon[i] - w0, 360.0);
        if (rel < 0)
            rel += 360.0;
        lo = fmin(lo, rel);
        hi = fmax(hi, rel);
    }
    *west = w0 + lo;
    *east = w0 + hi;
    if (*west >= 180) {
        *west -= 360;
        *east -= 360;
    }
}

static double ring_area(const struct geod_geodesic *g, OGRGeometryH ring)
{
    struct geod_polygon p;
    geod_polygon_init(&p, 0);
    int n = OGR_G_GetPointCount(ring);
    for (int i = 0; i + 1 < n; i++) /* the closing point repeats the first */
        geod_polygon_addpoint(g, &p, OGR_G_GetY(ring, i), OGR_G_GetX(ring, i));
    double area = 0;
    geod_polygon_compute(g, &p, 0, 1, &area, NULL);
    return fabs(area);
}

double fc_ellipsoidal_area(OGRGeometryH lonlat, double a, double f)
{
    struct geod_geodesic g;
    geod_init(&g, a, f);
    double total = 0;
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(lonlat));
    if (t == wkbMultiPolygon) {
        for (int i = 0; i < OGR_G_GetGeometryCount(lonlat); i++)
            total += fc_ellipsoidal_area(OGR_G_GetGeometryRef(lonlat, i), a, f);
    } else if (t == wkbPolygon) {
        for (int r = 0; r < OGR_G_GetGeometryCount(lonlat); r++) /* outer ring, then holes */
            total += (r == 0 ? 1 : -1) * ring_area(&g, OGR_G_GetGeometryRef(lonlat, r));
    }
    return total;
}

OGRSpatialReferenceH fc_srs_from_user(fc_context *ctx, const char *def, const char *option)
{
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    CPLErrorReset();
    if (!srs || OSRSetFromUserInput(srs, def) != OGRERR_NONE) {
        if (srs)
            OSRRelease(srs);
        fc_error_gdal(ctx, FC_ECRS, "%s: cannot understand the CRS '%s'", option, def);
        return NULL;
    }
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    return srs;
}
