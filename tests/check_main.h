/* SPDX-License-Identifier: MIT */
/* The main() every Check test program shares: runs one suite, exits
 * non-zero when any test failed. */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#ifdef FC_CORE_H
/* The random cases' numbers: splitmix64, the same on every machine; a test
 * sets rng_state to its seed. */
static uint64_t rng_state __attribute__((unused));
static inline uint64_t next_u64(void) { return fc_splitmix64(&rng_state); }
static inline double uniform(void) { return (double)(next_u64() >> 11) * 0x1.0p-53; }
#endif

/* The one time budget of the test suite. Every test case is made by
 * fc_tcase(), which gives each of its test functions FC_TEST_BUDGET seconds
 * (no test relies on Check's default of 4 s). The slowest function takes
 * about a tenth of it on a release build of an idle 2-core machine, so a busy
 * machine has room. Check multiplies it by the environment's
 * CK_TIMEOUT_MULTIPLIER, which tests/CMakeLists.txt sets from the build:
 * 1 for release, 5 under AddressSanitizer and UndefinedBehaviorSanitizer,
 * 10 under ThreadSanitizer or valgrind. */
#define FC_TEST_BUDGET 120

static inline TCase *fc_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, FC_TEST_BUDGET);
    return tc;
}

#define FC_CHECK_MAIN(make_suite)                                   \
    int main(void)                                                  \
    {                                                               \
        SRunner *sr = srunner_create(make_suite());                 \
        srunner_run_all(sr, CK_NORMAL);                             \
        int failed = srunner_ntests_failed(sr);                     \
        srunner_free(sr);                                           \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;           \
    }

#endif
