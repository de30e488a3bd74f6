/* SPDX-License-Identifier: MIT */
/* fc_hull: every cluster gets a valid polygon, degenerate ones included. */
#include "pipeline/pipeline.h"
#include "check_main.h"

#include <math.h>
#include <string.h>


static fc_context *ctx;
static GEOSContextHandle_t h;

static void setup(void)
{
    ctx = fc_context_new();
    h = GEOS_init_r();
}

static void teardown(void)
{
    GEOS_finish_r(h);
    ctx = fc_context_destroy(ctx);
}

/* Builds the hull, checks it is a valid (multi)polygon, returns its type
 * and area. */
static int hull(size_t n, const double *x, const double *y, int kind, double concavity,
                double radius, double *area)
{
    unsigned char *wkb;
    size_t size;
    fc_hull_params params = {kind, concavity, radius, 0};
    ck_assert_int_eq(fc_hull(ctx, h, n, x, y, &params, &wkb, &size, area), FC_OK);
    GEOSWKBReader *r = GEOSWKBReader_create_r(h);
    GEOSGeometry *g = GEOSWKBReader_read_r(h, r, wkb, size);
    GEOSWKBReader_destroy_r(h, r);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(GEOSisValid_r(h, g), 1);
    int type = GEOSGeomTypeId_r(h, g);
    ck_assert(type == GEOS_POLYGON || type == GEOS_MULTIPOLYGON);
    double garea;
    GEOSArea_r(h, g, &garea);
    ck_assert_double_eq_tol(garea, *area, 1e-9);
    /* Every input point lies in the footprint or on its border. */
    for (size_t i = 0; i < n; i++) {
        GEOSGeometry *p = GEOSGeom_createPointFromXY_r(h, x[i], y[i]);
        double d;
        GEOSDistance_r(h, g, p, &d);
        ck_assert_msg(d < 1e-9, "point %zu is %g from its hull", i, d);
        GEOSGeom_destroy_r(h, p);
    }
    GEOSGeom_destroy_r(h, g);
    free(wkb);
    return type;
}

/* Area of a circle drawn with 8 segments per quarter, as GEOS buffers. */
static double buffered_circle(double r) { return 16 * r * r * sin(2 * M_PI / 32); }

START_TEST(square_convex_and_concave)
{
    /* Unit square corners and its centre: area 1 whatever the hull. */
    double x[] = {0, 1, 1, 0, 0.5}, y[] = {0, 0, 1, 1, 0.5}, a;
    ck_assert_int_eq(hull(5, x, y, FC_HULL_CONVEX, 0, 1, &a), GEOS_POLYGON);
    ck_assert_double_eq_tol(a, 1.0, 1e-12);
    ck_assert_int_eq(hull(5, x, y, FC_HULL_CONCAVE, 1.0, 1, &a), GEOS_POLYGON);
    ck_assert_double_eq_tol(a, 1.0, 1e-12);
}
END_TEST

START_TEST(concave_hull_follows_an_l_shape)
{
    /* Lattice points filling an L: the bar 0..4 x 0..1 and the bar
     * 0..1 x 1..4. The convex hull cuts the corner, (0,0) (4,0) (4,1)
     * (1,4) (0,4): area 16 - 4.5; the most concave hull is the L: 4 + 3. */
    double x[32], y[32], convex, concave;
    size_t n = 0;
    for (int i = 0; i <= 4; i++)
        for (int j = 0; j <= 4; j++)
            if (j <= 1 || i <= 1) {
                x[n] = i;
                y[n++] = j;
            }
    hull(n, x, y, FC_HULL_CONVEX, 0, 1, &convex);
    hull(n, x, y, FC_HULL_CONCAVE, 0.0, 1, &concave);
    ck_assert_double_eq_tol(convex, 11.5, 1e-12);
    ck_assert_double_eq_tol(concave, 7.0, 1e-12);
}
END_TEST

START_TEST(one_point_gets_a_disc)
{
    double x[] = {5}, y[] = {7}, a;
    for (int kind = FC_HULL_CONCAVE; kind <= FC_HULL_BUFFER; kind++) {
        ck_assert_int_eq(hull(1, x, y, kind, 0.3, 2, &a), GEOS_POLYGON);
        ck_assert_double_eq_tol(a, buffered_circle(2), 1e-9);
    }
}
END_TEST

START_TEST(two_points_and_collinear_points_get_a_polygon)
{
    double x[] = {0, 10, 4, 7}, y[] = {0, 0, 0, 0}, a;
    for (int kind = FC_HULL_CONCAVE; kind <= FC_HULL_CONVEX; kind++) {
        ck_assert_int_eq(hull(2, x, y, kind, 0.3, 1, &a), GEOS_POLYGON);
        /* a 10 x 2 rectangle with two half discs */
        ck_assert_double_eq_tol(a, 20 + buffered_circle(1), 1e-9);
        ck_assert_int_eq(hull(4, x, y, kind, 0.3, 1, &a), GEOS_POLYGON);
        ck_assert_double_eq_tol(a, 20 + buffered_circle(1), 1e-9);
    }
    /* duplicates of one point are one point */
    double dx[] = {3, 3, 3}, dy[] = {3, 3, 3};
    ck_assert_int_eq(hull(3, dx, dy, FC_HULL_CONCAVE, 0.3, 1, &a), GEOS_POLYGON);
    ck_assert_double_eq_tol(a, buffered_circle(1), 1e-9);
}
END_TEST

START_TEST(buffer_of_far_points_is_a_multipolygon)
{
    double x[] = {0, 100}, y[] = {0, 0}, a;
    ck_assert_int_eq(hull(2, x, y, FC_HULL_BUFFER, 0, 1, &a), GEOS_MULTIPOLYGON);
    ck_assert_double_eq_tol(a, 2 * buffered_circle(1), 1e-9);
}
END_TEST

START_TEST(densify_adds_vertices_not_area)
{
    double x[] = {0, 100, 100, 0}, y[] = {0, 0, 100, 100}, a;
    fc_hull_params params = {FC_HULL_CONVEX, 0, 1, 10};
    unsigned char *wkb;
    size_t size;
    ck_assert_int_eq(fc_hull(ctx, h, 4, x, y, &params, &wkb, &size, &a), FC_OK);
    ck_assert_double_eq_tol(a, 10000, 1e-9);
    GEOSWKBReader *r = GEOSWKBReader_create_r(h);
    GEOSGeometry *g = GEOSWKBReader_read_r(h, r, wkb, size);
    ck_assert_int_eq(GEOSGetNumCoordinates_r(h, g), 41); /* 4 sides of 10 pieces, closed */
    GEOSGeom_destroy_r(h, g);
    GEOSWKBReader_destroy_r(h, r);
    free(wkb);
}
END_TEST

START_TEST(random_clouds_always_valid)
{
    uint64_t s = 42;
    double x[64], y[64], a;
    for (int t = 0; t < 300; t++) {
        size_t n = 1 + t % 64;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            x[i] = (double)(s >> 40 & 0xFF); /* a coarse lattice: duplicates, collinear runs */
            y[i] = (double)(s >> 20 & 0x0F);
        }
        hull(n, x, y, t % 3, (t % 11) / 10.0, 0.5, &a);
        ck_assert_double_gt(a, 0);
    }
}
END_TEST

/* GEOS 3.11.1's concave hull crashes on some nearly collinear points
 * (libgeos/geos#719, #946, shapely#1971): those inputs verbatim, and random
 * ones of the same kind (points on a line, off it by 1e-9 to 1e-1 of its
 * length; streets: points on a few lines and a few elsewhere). Every one
 * gets a valid polygon; a crash fails the test. */
START_TEST(concave_hull_of_nearly_collinear_points)
{
    static const double known[][8][2] = {
        {{584245.72096874, 7549593.72686167}, {584251.71398371, 7549594.01629478},
         {584242.72446125, 7549593.58214511}, {584230.73978847, 7549592.9760418},
         {584233.73581213, 7549593.13045099}, {584236.7318358, 7549593.28486019},
         {584239.72795377, 7549593.43742855}, {584227.74314188, 7549592.83423486}},
        {{1139294.6389832512941211, 8201313.5346954688429832},
         {1139360.8549531854223460, 8201271.1898052766919136},
         {1139497.5995843114797026, 8201199.9955425458028913},
         {1139567.7837303513661027, 8201163.3485335074365139},
         {1139635.3942210066597909, 8201119.9025274068117142}},
        {{175682.210293, 505233.365178}, {175682.210295, 505233.365177},
         {175684.375108, 505254.524644}, {175684.375109, 505254.524642},
         {175683.226468, 505243.284373}}};
    const size_t known_n[] = {8, 5, 5};
    double x[200], y[200], a;
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < known_n[k]; i++)
            x[i] = known[k][i][0], y[i] = known[k][i][1];
        for (int c = 0; c <= 10; c += 5)
            hull(known_n[k], x, y, FC_HULL_CONCAVE, c / 10.0, 50, &a);
    }
    rng_state = 946;
    for (int t = 0; t < 600; t++) {
        size_t n = 3 + next_u64() % 150;
        double angle = 6.283185307179586 * uniform(), off = pow(10, -9 + 8 * uniform());
        double length = 10 + 1000 * uniform(), ox = 1e6 * uniform(), oy = 5e6 * uniform();
        for (size_t i = 0; i < n; i++) {
            double along = length * uniform(), across = off * length * (uniform() - 0.5);
            if (t % 2) { /* streets: three lines, and one firm in ten anywhere */
                int line = (int)(next_u64() % 3);
                double a2 = angle + line * 1.1;
                across = uniform() < 0.1 ? length * (uniform() - 0.5) : off * (uniform() - 0.5);
                x[i] = ox + along * cos(a2) - across * sin(a2);
                y[i] = oy + along * sin(a2) + across * cos(a2);
            } else {
                x[i] = ox + along * cos(angle) - across * sin(angle);
                y[i] = oy + along * sin(angle) + across * cos(angle);
            }
        }
        hull(n, x, y, FC_HULL_CONCAVE, (t % 11) / 10.0, length / 20, &a);
        ck_assert_double_gt(a, 0);
    }
}
END_TEST

/* The union of eps/2 discs leaves out the firms whose disc adds nothing,
 * coverers of dense cells included: the result must be the same set as
 * GEOS's buffer of all the points, over random sets of every kind (dense
 * and packed blobs where most are left out, lattices with duplicates,
 * lines, sparse scatter, far-off coordinates). */
START_TEST(union_of_discs_matches_the_buffer_of_all_points)
{
    static double x[400], y[400];
    rng_state = 711;
    for (int t = 0; t < 72; t++) {
        size_t n = 1 + next_u64() % 400; /* GEOS's own buffer is the slow oracle */
        double r = 0.5 + 100 * uniform(), ox = t % 4 == 0 ? 7e5 : 0, oy = t % 4 == 0 ? 5.6e6 : 0;
        for (size_t i = 0; i < n; i++) {
            double u = uniform(), v = uniform();
            switch (t % 6) {
            case 0: x[i] = u * 10 * r, y[i] = v * 10 * r; break;        /* dense */
            case 5: x[i] = u * 4 * r, y[i] = v * 3 * r; break;          /* packed: most coverers go */
            case 1: x[i] = floor(u * 6) * r / 3, y[i] = floor(v * 6) * r / 3; break; /* lattice */
            case 2: x[i] = u * 50 * r, y[i] = 0.3 * x[i]; break;         /* a line */
            case 3: x[i] = u * 400 * r, y[i] = v * 400 * r; break;       /* sparse */
            default: x[i] = sqrt(u) * 8 * r * cos(6.283185307179586 * v);
                     y[i] = sqrt(u) * 8 * r * sin(6.283185307179586 * v); break;
            }
            x[i] += ox;
            y[i] += oy;
        }
        double a;
        unsigned char *wkb;
        size_t size;
        fc_hull_params params = {FC_HULL_BUFFER, 0, r, 0};
        ck_assert_int_eq(fc_hull(ctx, h, n, x, y, &params, &wkb, &size, &a), FC_OK);
        GEOSWKBReader *rd = GEOSWKBReader_create_r(h);
        GEOSGeometry *ours = GEOSWKBReader_read_r(h, rd, wkb, size);
        GEOSWKBReader_destroy_r(h, rd);
        free(wkb);
        GEOSGeometry **pts = malloc(n * sizeof *pts);
        for (size_t i = 0; i < n; i++)
            pts[i] = GEOSGeom_createPointFromXY_r(h, x[i], y[i]);
        GEOSGeometry *mp = GEOSGeom_createCollection_r(h, GEOS_MULTIPOINT, pts, (unsigned)n);
        free(pts);
        GEOSGeometry *all = GEOSBuffer_r(h, mp, r, 8);
        GEOSGeometry *diff = GEOSSymDifference_r(h, ours, all);
        double da, aa;
        GEOSArea_r(h, diff, &da);
        GEOSArea_r(h, all, &aa);
        ck_assert_int_eq(GEOSisValid_r(h, ours), 1);
        ck_assert_msg(da <= 1e-9 * aa, "case %d (%zu points): the unions differ by %g of %g", t, n,
                      da, aa);
        ck_assert_double_eq_tol(a, aa, 1e-9 * aa);
        GEOSGeom_destroy_r(h, diff);
        GEOSGeom_destroy_r(h, all);
        GEOSGeom_destroy_r(h, mp);
        GEOSGeom_destroy_r(h, ours);
    }
}
END_TEST

/* Point sets of several shapes: uniform squares and discs, blobs, coarse
 * lattices (duplicates, collinear runs on the hull), thin slanted strips
 * and far-off coordinates. */
static size_t random_set(int t, double *x, double *y, size_t max)
{
    size_t n = 16 + (size_t)(uniform() * (double)(max - 16));
    const double ox = t % 7 == 0 ? 5e6 : 0, oy = t % 7 == 0 ? -3e6 : 0;
    for (size_t i = 0; i < n; i++) {
        double u = uniform(), v = uniform();
        switch (t % 5) {
        case 0: x[i] = u * 100, y[i] = v * 100; break;
        case 1: x[i] = sqrt(u) * cos(6.283185307179586 * v), y[i] = sqrt(u) * sin(6.283185307179586 * v); break;
        case 2: x[i] = floor(u * 9), y[i] = floor(v * 5); break;
        case 3: x[i] = u * 50, y[i] = 0.5 * x[i] + v * 1e-3; break;
        default: x[i] = (u + v) * 10, y[i] = (u - v) * 3 + floor(v * 4); break;
        }
        x[i] += ox;
        y[i] += oy;
    }
    return n;
}

START_TEST(convex_hull_same_without_interior_points)
{
    enum { MAX = 3000 };
    static double x[MAX], y[MAX], fx[MAX], fy[MAX];
    fc_hull_params params = {FC_HULL_CONVEX, 0, 0.5, 0};
    size_t dropped = 0;
    rng_state = 23;
    for (int t = 0; t < 400; t++) {
        size_t n = random_set(t, x, y, MAX);
        memcpy(fx, x, n * sizeof *x);
        memcpy(fy, y, n * sizeof *y);
        size_t kept = fc_hull_drop_interior(n, fx, fy);
        ck_assert_uint_le(kept, n);
        dropped += n - kept;
        unsigned char *all, *few;
        size_t all_size, few_size;
        double all_area, few_area;
        ck_assert_int_eq(fc_hull(ctx, h, n, x, y, &params, &all, &all_size, &all_area), FC_OK);
        ck_assert_int_eq(fc_hull(ctx, h, kept, fx, fy, &params, &few, &few_size, &few_area), FC_OK);
        ck_assert_msg(all_size == few_size && memcmp(all, few, all_size) == 0,
                      "case %d (shape %d, %zu points, %zu kept): another hull", t, t % 5, n, kept);
        free(all);
        free(few);
    }
    ck_assert_uint_gt(dropped, 100000); /* the filter did filter */
}
END_TEST

static Suite *hull_suite(void)
{
    Suite *s = suite_create("hull");
    TCase *tc = fc_tcase("hull");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, square_convex_and_concave);
    tcase_add_test(tc, concave_hull_follows_an_l_shape);
    tcase_add_test(tc, one_point_gets_a_disc);
    tcase_add_test(tc, two_points_and_collinear_points_get_a_polygon);
    tcase_add_test(tc, buffer_of_far_points_is_a_multipolygon);
    tcase_add_test(tc, densify_adds_vertices_not_area);
    tcase_add_test(tc, random_clouds_always_valid);
    tcase_add_test(tc, concave_hull_of_nearly_collinear_points);
    tcase_add_test(tc, union_of_discs_matches_the_buffer_of_all_points);
    tcase_add_test(tc, convex_hull_same_without_interior_points);
    suite_add_tcase(s, tc);
    return s;
}

FC_CHECK_MAIN(hull_suite)
