/* Cluster polygons with the GEOS C API. */
#include "fc_internal.h"

#include <stdlib.h>
#include <string.h>


static bool is_polygonal(GEOSContextHandle_t h, const GEOSGeometry *g)
{
    int t = GEOSGeomTypeId_r(h, g);
    return (t == GEOS_POLYGON || t == GEOS_MULTIPOLYGON) && !GEOSisEmpty_r(h, g);
}

static GEOSGeometry *multipoint(GEOSContextHandle_t h, size_t n, const double *x, const double *y)
{
    GEOSGeometry **pts = malloc((n ? n : 1) * sizeof *pts);
    if (!pts)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        GEOSCoordSequence *cs = GEOSCoordSeq_create_r(h, 1, 2);
        GEOSCoordSeq_setXY_r(h, cs, 0, x[i], y[i]);
        pts[i] = GEOSGeom_createPoint_r(h, cs);
    }
    GEOSGeometry *mp = GEOSGeom_createCollection_r(h, GEOS_MULTIPOINT, pts, (unsigned)n);
    free(pts); /* the collection owns the points */
    return mp;
}

int fc_hull(fc_context *ctx, void *geos_handle, size_t n, const double *x, const double *y,
            const fc_hull_params *params, unsigned char **wkb, size_t *wkb_size, double *area)
{
    const double buffer_radius = params->buffer_radius;
    GEOSContextHandle_t h = geos_handle;
    *wkb = NULL;
    *wkb_size = 0;
    if (n == 0)
        return fc_error(ctx, FC_EINTERNAL, "hull of no points");
    GEOSGeometry *mp = multipoint(h, n, x, y);
    if (!mp)
        return fc_error(ctx, FC_EGEOM, "cannot build a multipoint of %zu points", n);
    GEOSGeometry *g = NULL;
    switch (params->kind) {
    case FC_HULL_CONVEX: g = GEOSConvexHull_r(h, mp); break;
    case FC_HULL_CONCAVE: g = GEOSConcaveHull_r(h, mp, params->concavity, 0); break;
    default: g = GEOSBuffer_r(h, mp, buffer_radius, 8); break;
    }
    /* One point, two points or collinear points have no area: their hull is
     * a point or a line, which gets the buffer footprint instead. */
    if (g && !is_polygonal(h, g)) {
        GEOSGeometry *b = GEOSBuffer_r(h, g, buffer_radius, 8);
        GEOSGeom_destroy_r(h, g);
        g = b;
    }
    GEOSGeom_destroy_r(h, mp);
    if (g && !GEOSisValid_r(h, g)) {
        GEOSGeometry *v = GEOSMakeValid_r(h, g);
        GEOSGeom_destroy_r(h, g);
        g = v;
    }
    if (!g || !is_polygonal(h, g)) {
        if (g)
            GEOSGeom_destroy_r(h, g);
        return fc_error(ctx, FC_EGEOM, "GEOS could not build a polygon around %zu points", n);
    }
    /* Edges drawn straight here are curves in another CRS: extra vertices
     * keep the polygon's shape when it is reprojected. */
    if (params->densify > 0) {
        GEOSGeometry *d = GEOSDensify_r(h, g, params->densify);
        if (d) {
            GEOSGeom_destroy_r(h, g);
            g = d;
        }
    }
    GEOSArea_r(h, g, area);
    GEOSWKBWriter *w = GEOSWKBWriter_create_r(h);
    unsigned char *buf = GEOSWKBWriter_write_r(h, w, g, wkb_size);
    GEOSWKBWriter_destroy_r(h, w);
    GEOSGeom_destroy_r(h, g);
    if (!buf)
        return fc_error(ctx, FC_EGEOM, "cannot encode a cluster polygon as WKB");
    *wkb = malloc(*wkb_size);
    if (*wkb)
        memcpy(*wkb, buf, *wkb_size);
    GEOSFree_r(h, buf);
    return *wkb ? FC_OK : fc_error(ctx, FC_ENOMEM, "out of memory");
}
