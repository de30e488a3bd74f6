/* SPDX-License-Identifier: MIT */
/* Context: errors, messages and progress. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where debug messages go besides the handler: GDAL's CPLDebug, once the
 * I/O floor has set it (fc_io_init()); the core itself knows no GDAL. */
static void (*debug_sink)(const char *message);

void fc_set_debug_sink(void (*sink)(const char *message)) { debug_sink = sink; }

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

/* (fc_context_new() is in io/errors.c: a new context also sets GDAL up, as
 * the header promises) */

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

void fc_message(fc_context *ctx, int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (level == FC_MSG_DEBUG && !ctx->held_debug && debug_sink)
        debug_sink(buf);
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

double fc_seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

int fc_struct_in(fc_context *ctx, const void *given, size_t given_size, void *out, size_t size,
                 const char *what)
{
    if (given_size == 0)
        given_size = size;
    if (given_size > size)
        return fc_error(ctx, FC_EINVAL,
                        "%s of %zu bytes, from a newer firmclust: this one knows %zu bytes of it",
                        what, given_size, size);
    memset(out, 0, size);
    memcpy(out, given, given_size);
    return FC_OK;
}
