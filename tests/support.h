/* SPDX-License-Identifier: MIT */
/* What the test programs share (tests/support.c): temporary directories,
 * fixture writers, the one brute-force DBSCAN oracle, and running the built
 * tool. */
#ifndef FC_TEST_SUPPORT_H
#define FC_TEST_SUPPORT_H

#include "firmclust.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

/* ---- temporary directories ----------------------------------------------- */

/* Makes a new directory /tmp/firmclust-test-XXXXXX into dir (size >= 32). */
void fc_test_mkdtemp(char *dir, size_t size);
/* Removes the directory and all in it. */
void fc_test_rmtree(const char *dir);

/* ---- fixtures ------------------------------------------------------------ */

/* An EPSG CRS in GIS axis order; the caller releases it. */
OGRSpatialReferenceH fc_test_epsg(int code);
/* A GeoPackage (or a Shapefile, by extension) of points, layer "points":
 * `wkt` and an `oked` text field per feature; NULL WKT for a feature
 * without geometry, "NAN" for a point with NaN coordinates, NULL oked for
 * a null code. */
void fc_test_write_points(const char *path, int epsg, size_t n, const char *const *wkt,
                          const char *const *oked);
/* A GeoPackage of polygons, layer "regions", with a "name" field. */
void fc_test_write_polygons(const char *path, int epsg, size_t n, const char *const *names,
                            const char *const *wkt);

/* ---- the oracle ------------------------------------------------------------ */

/* DBSCAN by definition, O(n^2), with the distance of p->distance: planar
 * (dx*dx + dy*dy <= eps*eps) or geodesic (PROJ's geod_inverse on p's
 * ellipsoid, WGS84 when a and f are 0, the smaller index first as the
 * library calls it). The documented numbering and tie rules: clusters by
 * (group, smallest core index); a border point takes the cluster of its
 * nearest core point, ties to the core point first in the input. Returns
 * the number of clusters. */
size_t fc_test_dbscan_oracle(size_t n, const double *x, const double *y, const uint32_t *group,
                             const fc_dbscan_params *p, int32_t *cluster, uint8_t *role);

/* The co-location quotients' sums by definition, O(n^2), with the same
 * distance as the DBSCAN oracle: share[a * n_sectors + b] is the sum over
 * firms i of a with neighbours of the share of b among them, n_with[a] the
 * firms of a with a neighbour; totals[i] (may be NULL) is |N(i)|, and
 * u_sums[i] (may be NULL) the sum over j in N(i) of 1 / |N(j)|. */
void fc_test_colocation_oracle(size_t n, const double *x, const double *y, const uint32_t *sector,
                               size_t n_sectors, const fc_dbscan_params *p, double *share,
                               size_t *n_with, uint32_t *totals, double *u_sums);

/* ---- the command-line tool ----------------------------------------------- */

/* Set by cli_setup(): the tool, the source tree, a fresh directory, the
 * bundled sample; run() keeps the last run's stdout and stderr. */
extern const char *bin, *src;
extern char dir[256], firms[512], out_text[65536], err_text[65536];

/* A checked fixture: cli_setup() makes the directory, cli_teardown()
 * removes it. */
void cli_setup(void);
void cli_teardown(void);
/* Runs `firmclust ARGS` (printf-style) in dir; returns its exit code. */
int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A file's text into buf (at most size - 1 bytes). */
void slurp(const char *path, char *buf, size_t size);
/* dir/name (one of four rotating buffers). */
const char *in_dir(const char *name);
/* Names in dir, sorted, each followed by a space. */
const char *listing(void);
/* Writes text to dir/name. */
void write_text(const char *name, const char *text);
GDALDatasetH open_vector(const char *path);
OGRLayerH layer(GDALDatasetH ds, const char *name);
GIntBig count(const char *path, const char *layer_name);
int epsg_of(OGRLayerH l);
bool same_bytes(const char *a, const char *b);
/* Copies `bytes` bytes (all when 0) of a file to dir/to. */
void copy_file(const char *from, const char *to, long bytes);

/* The bundled sample's OKED divisions (fixtures/kz/firms.gpkg): 20 of
 * synth's sectors and 4 related ones it plants (14, 25, 63, 71). */
#define SAMPLE_DIVISIONS 24
#define MAIN_JOB                                                                                   \
    "cluster '%s' %s --sector-field oked --sector-digits 2 --eps 2000 --min-pts 10 "                \
    "--permutations 0"

#endif
