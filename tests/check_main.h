/* The main() every Check test program shares: runs one suite, exits
 * non-zero when any test failed. */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

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
