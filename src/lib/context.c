/* SPDX-License-Identifier: MIT */
/* Context: errors, messages and progress. */
#include "fc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>

const char *fc_version(void) { return FIRMCLUST_VERSION; }

const char *fc_strerror(int status)
{
    switch (status) {
#define FC_STATUS_TEXT(name, value, text) \
    case FC_##name: return text;
        FC_STATUS_MAP(FC_STATUS_TEXT)
#undef FC_STATUS_TEXT
    default: return "unknown status";
    }
}

const char *fc_err_name(int status)
{
    switch (status) {
#define FC_STATUS_NAME(name, value, text) \
    case FC_##name: return "FC_" #name;
        FC_STATUS_MAP(FC_STATUS_NAME)
#undef FC_STATUS_NAME
    default: return "FC_EUNKNOWN";
    }
}

fc_context *fc_context_new(void)
{
    fc_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->stage_hi = 1.0;
    if (GDALGetDriverCount() == 0)
        GDALAllRegister();
    return ctx;
}

fc_context *fc_context_destroy(fc_context *ctx)
{
    free(ctx);
    return NULL;
}

/* A NULL context is fc_context_new() having failed: out of memory. */
const char *fc_errmsg(const fc_context *ctx) { return ctx ? ctx->errmsg : "out of memory"; }
int fc_errcode(const fc_context *ctx) { return ctx ? ctx->errcode : FC_ENOMEM; }

void fc_context_set_progress(fc_context *ctx, fc_progress_fn fn, void *arg)
{
    ctx->progress = fn;
    ctx->progress_arg = arg;
}

void fc_context_set_message_handler(fc_context *ctx, fc_message_fn fn, void *arg)
{
    ctx->message = fn;
    ctx->message_arg = arg;
}

int fc_error(fc_context *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    ctx->errcode = code;
    return code;
}

int fc_error_prefix(fc_context *ctx, const char *fmt, ...)
{
    char old[sizeof ctx->errmsg], prefix[512];
    memcpy(old, ctx->errmsg, sizeof old); /* the message is rewritten in place */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s: %s", prefix, old);
    return ctx->errcode;
}

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

void fc_message(fc_context *ctx, int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (level == FC_MSG_DEBUG && !ctx->held_debug)
        CPLDebug("FIRMCLUST", "%s", buf);
    if (ctx->message)
        ctx->message(level, buf, ctx->message_arg);
}

int fc_progress(fc_context *ctx, double complete, const char *message)
{
    double overall = ctx->stage_lo + complete * (ctx->stage_hi - ctx->stage_lo);
    ctx->last_overall = overall;
    ctx->last_message = message;
    if (ctx->progress && !ctx->progress(overall, message, ctx->progress_arg))
        return fc_error(ctx, FC_ECANCEL, "cancelled by the progress callback");
    return FC_OK;
}

int fc_progress_again(fc_context *ctx)
{
    if (ctx->progress && !ctx->progress(ctx->last_overall, ctx->last_message, ctx->progress_arg))
        return fc_error(ctx, FC_ECANCEL, "cancelled by the progress callback");
    return FC_OK;
}

int fc_progress_stage(fc_context *ctx, double lo, double hi, const char *message)
{
    ctx->stage_lo = lo;
    ctx->stage_hi = hi;
    return fc_progress(ctx, 0.0, message);
}

char *fc_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

void fc_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void fc_geos_message(const char *message, void *buffer)
{
    snprintf(buffer, FC_GEOS_MESSAGE_SIZE, "%s", message);
}

double fc_seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}
