/* The main() every Check test program shares: runs one suite, exits
 * non-zero when any test failed. */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#ifdef FC_INTERNAL_H
/* The random cases' numbers: splitmix64, the same on every machine; a test
 * sets rng_state to its seed. */
static uint64_t rng_state __attribute__((unused));
static inline uint64_t next_u64(void) { return fc_splitmix64(&rng_state); }
static inline double uniform(void) { return (double)(next_u64() >> 11) * 0x1.0p-53; }
#endif

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
