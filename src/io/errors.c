/* SPDX-License-Identifier: MIT */
/* GDAL's and GEOS's words in the library's: GDAL's last error appended to
 * ours, GEOS's messages kept, and GDAL set up once (its drivers, and the
 * core's debug messages sent to CPLDebug). */
#include "io/io.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>

int fc_error_gdal(fc_context *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    const char *gdal_msg = CPLGetLastErrorMsg();
    if (gdal_msg && *gdal_msg) {
        size_t len = strlen(ctx->errmsg);
        snprintf(ctx->errmsg + len, sizeof ctx->errmsg - len, ": %s", gdal_msg);
    }
    ctx->errcode = code;
    return code;
}

void fc_geos_message(const char *message, void *buffer)
{
    snprintf(buffer, FC_GEOS_MESSAGE_SIZE, "%s", message);
}

/* shown by `--debug on`, as GDAL's own debug messages are */
static void to_cpl_debug(const char *message) { CPLDebug("FIRMCLUST", "%s", message); }

static void init_once(void)
{
    if (GDALGetDriverCount() == 0)
        GDALAllRegister();
    fc_set_debug_sink(to_cpl_debug);
}

void fc_io_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
}

fc_context *fc_context_new(void)
{
    fc_io_init(); /* GDAL's drivers, if the caller has not registered them */
    fc_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->stage_hi = 1.0;
    return ctx;
}
