/* SPDX-License-Identifier: MIT */
/* A program that uses the installed library as anyone would: its header,
 * its library, nothing else. Clusters six points (two groups of three, 1 m
 * apart, and far from each other) and checks the result. */
#include <firmclust.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    const double x[] = {0, 1, 2, 1000, 1001, 1002}, y[] = {0, 0, 0, 0, 0, 0};
    fc_dbscan_params params = {.eps = 1.5, .min_pts = 3, .distance = FC_DISTANCE_PLANAR};
    int32_t cluster[6];
    size_t n_clusters = 0;
    fc_context *ctx = fc_context_new();
    int status = fc_dbscan(ctx, 6, x, y, NULL, &params, cluster, NULL, &n_clusters);
    if (status != FC_OK || n_clusters != 2 || cluster[0] != 0 || cluster[2] != 0 ||
        cluster[3] != 1 || cluster[5] != 1) {
        fprintf(stderr, "consumer: unexpected result: %s, %zu clusters\n", fc_err_name(status),
                n_clusters);
        return 1;
    }
    if (strcmp(fc_version(), FIRMCLUST_VERSION) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", FIRMCLUST_VERSION, fc_version());
        return 1;
    }
    ctx = fc_context_destroy(ctx);
    printf("consumer: firmclust %s, %zu clusters\n", fc_version(), n_clusters);
    return 0;
}
