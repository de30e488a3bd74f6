/* SPDX-License-Identifier: MIT */
/* Fuzz target over what users write: configuration files, option values
 * (CRS strings among them) and sector codes. The first byte picks the
 * parser; the rest is its input. Built for libFuzzer with
 * -DFIRMCLUST_FUZZ=ON (clang); replay.c runs the committed corpus through
 * it in every test run. */
#include "pipeline/pipeline.h"

#include <stdlib.h>
#include <string.h>

static const char *const option_names[] = {
    "layer", "where", "sector-field", "sector-digits", "eps", "min-pts", "weight-field",
    "min-weight", "distance", "hull", "concavity", "regions", "region-field", "region-layer",
    "permutations", "seed", "threads", "json", "s-srs", "t-srs", "format", "overwrite",
    "centroids", "no-such-option"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 4096)
        return 0;
    static bool registered;
    if (!registered) {
        GDALAllRegister();
        CPLSetErrorHandler(CPLQuietErrorHandler);
        registered = true;
    }
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0'; /* NUL-terminated; an embedded NUL ends it early */
    fc_context *ctx = fc_context_new();
    switch (data[0] % 3) {
    case 0: {
        char **args = NULL;
        if (fc_config_parse(ctx, "fuzz.conf", text, &args) == FC_OK) {
            fc_options *o = fc_options_new();
            for (char **a = args; *a; a++) { /* then apply them, as the tool does */
                if (strncmp(*a, "--", 2) != 0)
                    continue; /* a value whose option was unknown */
                const char *name = *a + 2;
                int takes = fc_option_takes_value(name);
                const char *value = takes == 1 && a[1] ? *++a : NULL;
                fc_options_set(ctx, o, name, value);
            }
            fc_options_destroy(o);
        }
        fc_args_free(args);
        break;
    }
    case 1: {
        fc_options *o = fc_options_new();
        size_t n = sizeof option_names / sizeof option_names[0];
        fc_options_set(ctx, o, option_names[data[0] / 3 % n], text);
        fc_options_destroy(o);
        break;
    }
    default:
        fc_truncate_code(text, data[0] / 3 % 8);
        break;
    }
    fc_context_destroy(ctx);
    free(text);
    return 0;
}
