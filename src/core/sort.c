/* SPDX-License-Identifier: MIT */
/* Sorting helpers the core shares: qsort's comparisons, and an LSD radix
 * sort of 64-bit keys (the grid, the co-location sweep and the null runs
 * number points in space with it). */
#include "core/core.h"

#include <string.h>

void fc_radix_sort_u64(uint64_t *key, uint64_t *tmp, size_t n, int from_bit)
{
    enum { BITS = 11, DIGITS = 1 << BITS };
    size_t count[DIGITS]; /* 16 kB: on any thread's stack */
    for (int shift = from_bit; shift < 64; shift += BITS) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[key[i] >> shift & (DIGITS - 1)]++;
        if (n == 0 || count[key[0] >> shift & (DIGITS - 1)] == n)
            continue;
        for (size_t d = 0, at = 0; d < DIGITS; d++) {
            const size_t c = count[d];
            count[d] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[key[i] >> shift & (DIGITS - 1)]++] = key[i];
        memcpy(key, tmp, n * sizeof *key);
    }
}

int fc_compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int fc_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
