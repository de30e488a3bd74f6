/* SPDX-License-Identifier: MIT */
/* The co-location sums by a sweep (colocation_sweep.c), for colocation.c. */
#ifndef FC_COLOCATION_SWEEP_H
#define FC_COLOCATION_SWEEP_H

#include "core/grid.h"

#ifndef __SIZEOF_INT128__
#error "the co-location sums need a 128-bit integer type (GCC or Clang on a 64-bit target)"
#endif
typedef __int128 colocation_fixed; /* 64.64 fixed point */
#define COLOCATION_FIXED_ONE ((unsigned __int128)1 << 64)

/* What the sweep gives: t (n_sectors^2) = T(A, B) in 64.64 fixed point and
 * n_with (n_sectors) = n'(A), zeroed by the caller; count (by input index,
 * NULL: not asked for) |N(i)|; u_sum (by input index, NULL: not asked for;
 * needs count) the sum over N(i) of 1 / |N(j)|, summed in 64-bit fixed
 * point with u_bits fractional bits. */
typedef struct colocation_totals {
    colocation_fixed *t;
    size_t *n_with;
    uint32_t *count;
    double *u_sum;
    int u_bits;
} colocation_totals;

/* Whether the sweep may test four points at a time where the processor
 * can (AVX2): on by default. The same bits either way; the tests turn it
 * off to check the one-at-a-time tests too. Set it before sweeping: it is
 * read, unlocked, by every sweep. */
void fc_colocation_sweep_simd(bool allowed);

/* Adds one thread's T and n' (n_sectors^2 and n_sectors) to out's. */
void fc_colocation_add_sums(colocation_totals *out, const colocation_fixed *t,
                            const size_t *n_with, size_t n_sectors);

/* The sums of n points (x, y as fc_dbscan() takes them; sector[i] <
 * n_sectors) for g's neighbour test (g from fc_grid_metric(), g->threads
 * set), the points cut into columns of width h (at most eps). FC_OK;
 * FC_ENOMEM or FC_ECRS (said in ctx); FC_EINVAL, said nowhere, when the
 * points are better left to the grid of cells (tiles too many to number,
 * latitudes beyond 80 degrees, eps beyond 100 km). */
int fc_colocation_sweep(fc_context *ctx, const grid *g, size_t n, const double *x,
                        const double *y, const uint32_t *sector, size_t n_sectors, double h,
                        colocation_totals *out);

/* The strata pass of colocation_test.c: for each point i with a neighbour,
 * visit(arg, worker, i, count, weight) gets count[t], its neighbours in
 * stratum t, and weight[t], the sum of their weights (n_strata each, valid
 * during the call; worker: 0 .. g->threads - 1, for per-thread sums).
 * Points of stratum[i] < n_strata; the sums of weights must stay below
 * 2^64. Returns as fc_colocation_sweep() does. */
typedef void (*colocation_visit)(void *arg, int worker, uint32_t i, const uint32_t *count,
                                 const uint64_t *weight);
int fc_colocation_sweep_strata(fc_context *ctx, const grid *g, size_t n, const double *x,
                               const double *y, const uint32_t *stratum, size_t n_strata,
                               const uint64_t *weight, double h, colocation_visit visit,
                               void *arg);

#endif /* FC_COLOCATION_SWEEP_H */
