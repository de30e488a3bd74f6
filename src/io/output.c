/* SPDX-License-Identifier: MIT */
/* Atomic output: everything is written under a temporary name beside the
 * output and renamed into place once complete (fc_output_commit), so a
 * failed or killed run never leaves half an output and never damages an
 * existing one. Also: choosing the driver, reading back what was written,
 * and saying why a write failed. */
#define _GNU_SOURCE /* renameat2 */
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

/* ---- choosing the driver ------------------------------------------------ */

static bool can_create_vector(GDALDriverH d)
{
    return GDALGetMetadataItem(d, GDAL_DCAP_VECTOR, NULL) &&
           GDALGetMetadataItem(d, GDAL_DCAP_CREATE, NULL);
}

/* The first creatable vector driver that lists `ext` among its extensions. */
static GDALDriverH driver_for_extension(const char *ext)
{
    for (int i = 0; i < GDALGetDriverCount(); i++) {
        GDALDriverH d = GDALGetDriver(i);
        if (!can_create_vector(d))
            continue;
        const char *exts = GDALGetMetadataItem(d, GDAL_DMD_EXTENSIONS, NULL);
        if (!exts)
            exts = GDALGetMetadataItem(d, GDAL_DMD_EXTENSION, NULL);
        if (!exts)
            continue;
        char **list = CSLTokenizeString(exts);
        bool match = false;
        for (char **e = list; e && *e && !match; e++)
            match = strcasecmp(*e, ext) == 0;
        CSLDestroy(list);
        if (match)
            return d;
    }
    return NULL;
}

/* The driver's file extension: its main one, else the longest it lists
 * ("geojson" rather than "json"). */
static void driver_extension(GDALDriverH d, char *ext, size_t size)
{
    const char *main_ext = GDALGetMetadataItem(d, GDAL_DMD_EXTENSION, NULL);
    if (main_ext && *main_ext) {
        snprintf(ext, size, "%s", main_ext);
        return;
    }
    const char *exts = GDALGetMetadataItem(d, GDAL_DMD_EXTENSIONS, NULL);
    char **list = exts ? CSLTokenizeString(exts) : NULL;
    snprintf(ext, size, "dat");
    for (char **e = list; e && *e; e++)
        if (strlen(*e) > strlen(ext) || strcmp(ext, "dat") == 0)
            snprintf(ext, size, "%s", *e);
    CSLDestroy(list);
}

static int remove_tree(const char *path)
{
    VSIStatBufL st;
    if (VSIStatL(path, &st) != 0)
        return 0;
    if (VSI_ISDIR(st.st_mode))
        return VSIRmdirRecursive(path);
    return VSIUnlink(path);
}

/* Whether name is a temporary of a run of ours writing to the output whose
 * name (or name without extension) is `base`: ".BASE.PID.tmp" and what
 * follows (an extension, "-journal", ".PID.old"). *pid gets its PID. */
static bool temporary_of(const char *name, const char *base, long *pid)
{
    size_t len = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, len) != 0 || name[1 + len] != '.')
        return false;
    char *end;
    *pid = strtol(name + 2 + len, &end, 10);
    return end != name + 2 + len && *pid > 0 && strncmp(end, ".tmp", 4) == 0;
}

/* Removes the temporaries that killed runs (SIGKILL, a power cut) left
 * beside the output: those of processes that no longer exist. */
static void remove_stale_temporaries(const char *path)
{
    char *dir = fc_strdup(*CPLGetPath(path) ? CPLGetPath(path) : ".");
    char *name = fc_strdup(CPLGetFilename(path)), *base = fc_strdup(CPLGetBasename(path));
    char **names = dir ? VSIReadDir(dir) : NULL;
    for (char **n = names; n && *n && name && base; n++) {
        long pid;
        if ((temporary_of(*n, name, &pid) || temporary_of(*n, base, &pid)) && pid != getpid() &&
            kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char stale[4200];
            snprintf(stale, sizeof stale, "%s/%s", dir, *n);
            remove_tree(stale);
        }
    }
    CSLDestroy(names);
    free(dir), free(name), free(base);
}

int fc_output_prepare(fc_context *ctx, const char *path, const char *format, bool overwrite,
                      int kind, fc_output *out)
{
    memset(out, 0, sizeof *out);
    const bool one_dataset = kind != FC_OUT_LAYERS;
    if (kind == FC_OUT_FILE) {
        /* not a GDAL dataset: no driver */
    } else if (format) {
        out->driver = GDALGetDriverByName(format);
        if (!out->driver || !can_create_vector(out->driver))
            return fc_error(ctx, FC_EINVAL,
                            "'%s' is not a GDAL vector driver that can write (see --formats)",
                            format);
    } else {
        const char *ext = CPLGetExtension(path);
        out->driver = GDALGetDriverByName("GPKG");
        if (*ext && !(out->driver = driver_for_extension(ext)))
            return fc_error(ctx, FC_EINVAL,
                            "%s: no GDAL driver writes '.%s' files; name the format with -f", path,
                            ext);
    }
    if (!out->driver && kind != FC_OUT_FILE)
        return fc_error(ctx, FC_EINVAL, "the GeoPackage driver is missing from this GDAL");
    out->one_dataset = one_dataset;
    out->is_directory =
        !one_dataset && !GDALGetMetadataItem(out->driver, GDAL_DCAP_MULTIPLE_VECTOR_LAYERS, NULL);
    if (out->driver)
        driver_extension(out->driver, out->ext, sizeof out->ext);

    int status = fc_output_check_target(ctx, path, out, kind, overwrite);
    if (status != FC_OK)
        return status;
    /* one message for every format when the directory is missing (GDAL's
     * would be SQLite's "sqlite3_open failed" for a GeoPackage) */
    const char *parent = *CPLGetPath(path) ? CPLGetPath(path) : ".";
    VSIStatBufL dir_st;
    const bool found = VSIStatL(parent, &dir_st) == 0;
    if (!found || !VSI_ISDIR(dir_st.st_mode))
        return fc_error(ctx, FC_EIO, "%s: cannot write in %s: %s", path, parent,
                        found ? "Not a directory" : "No such file or directory");

    /* A hidden name in the same directory, so that the final rename stays
     * on one file system. A file keeps its extension, at the end only, for
     * drivers that look at it: /vsizip/ (XLSX, ODS) takes a path to hold a
     * zip at the first ".xlsx" in it. */
    const bool file = !out->is_directory && !one_dataset;
    char *dir = fc_strdup(CPLGetPath(path));
    char *base = fc_strdup(file ? CPLGetBasename(path) : CPLGetFilename(path));
    out->final_path = fc_strdup(path);
    if (!dir || !base || !out->final_path) {
        free(dir), free(base);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    size_t len = strlen(dir) + strlen(base) + 64;
    out->tmp_path = malloc(len);
    if (out->tmp_path) {
        const char *ext = CPLGetExtension(path);
        snprintf(out->tmp_path, len, "%s%s.%s.%ld.tmp%s%s", dir, *dir ? "/" : "", base,
                 (long)getpid(), (*ext && file) ? "." : "", file ? ext : "");
    }
    free(dir);
    free(base);
    if (!out->tmp_path)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    /* Stale temporaries of killed runs are removed (of one with our pid,
     * replaced). */
    remove_stale_temporaries(path);
    remove_tree(out->tmp_path);
    if ((out->is_directory || one_dataset) && VSIMkdir(out->tmp_path, 0755) != 0)
        return fc_error(ctx, FC_EIO, "%s: cannot write in %s: %s", path,
                        *CPLGetPath(path) ? CPLGetPath(path) : ".", strerror(errno));
    return FC_OK;
}

GDALDatasetH fc_output_create(fc_context *ctx, fc_output *out, const char *name)
{
    char path[4096];
    if (out->one_dataset)
        snprintf(path, sizeof path, "%s/%s", out->tmp_path, CPLGetFilename(out->final_path));
    else if (name)
        snprintf(path, sizeof path, "%s/%s.%s", out->tmp_path, name, out->ext);
    else
        snprintf(path, sizeof path, "%s", out->tmp_path);
    CPLErrorReset();
    GDALDatasetH ds = GDALCreate(out->driver, path, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds)
        fc_error_gdal(ctx, FC_EIO, "%s: cannot create", out->final_path);
    return ds;
}

GDALDatasetH fc_output_create_csv(fc_context *ctx, fc_output *out, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.csv", out->tmp_path, name);
    GDALDriverH csv = GDALGetDriverByName("CSV");
    CPLErrorReset();
    GDALDatasetH ds = csv ? GDALCreate(csv, path, 0, 0, 0, GDT_Unknown, NULL) : NULL;
    if (!ds)
        fc_error_gdal(ctx, FC_EIO, "%s/%s.csv: cannot create", out->final_path, name);
    return ds;
}

/* One dataset written in a temporary directory (it may be several files,
 * as a Shapefile is): each file is moved beside the final path. */
static int commit_files(fc_context *ctx, fc_output *out, bool overwrite)
{
    char **names = VSIReadDir(out->tmp_path);
    const char *dir = CPLGetPath(out->final_path);
    char from[4200], to[4200];
    int status = FC_OK;
    for (char **n = names; n && *n && status == FC_OK; n++) {
        if (strcmp(*n, ".") == 0 || strcmp(*n, "..") == 0)
            continue;
        snprintf(to, sizeof to, "%s%s%s", dir, *dir ? "/" : "", *n);
        VSIStatBufL st;
        if (!overwrite && VSIStatL(to, &st) == 0)
            status = fc_error(ctx, FC_EEXIST, "%s exists; use --overwrite to replace it", to);
    }
    for (char **n = names; n && *n && status == FC_OK; n++) {
        if (strcmp(*n, ".") == 0 || strcmp(*n, "..") == 0)
            continue;
        snprintf(from, sizeof from, "%s/%s", out->tmp_path, *n);
        snprintf(to, sizeof to, "%s%s%s", dir, *dir ? "/" : "", *n);
        if (rename(from, to) != 0)
            status = fc_error(ctx, FC_EIO, "%s: cannot move into place: %s", to, strerror(errno));
    }
    CSLDestroy(names);
    return status;
}

int fc_output_commit(fc_context *ctx, fc_output *out, bool overwrite)
{
    if (out->one_dataset)
        return commit_files(ctx, out, overwrite);
    if (!overwrite) {
        if (renameat2(AT_FDCWD, out->tmp_path, AT_FDCWD, out->final_path, RENAME_NOREPLACE) != 0)
            return fc_error(ctx, errno == EEXIST ? FC_EEXIST : FC_EIO, "%s: cannot move into place: %s",
                            out->final_path, strerror(errno));
        return FC_OK;
    }
    /* The new output and the old one change places in one step
     * (RENAME_EXCHANGE), so that the path always holds a whole output; the
     * old one, now under the temporary name, is then removed. */
    VSIStatBufL st;
    if (VSIStatL(out->final_path, &st) == 0) {
        if (renameat2(AT_FDCWD, out->tmp_path, AT_FDCWD, out->final_path, RENAME_EXCHANGE) == 0) {
            remove_tree(out->tmp_path);
            return FC_OK;
        }
        if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
            return fc_error(ctx, FC_EIO, "%s: cannot move into place: %s", out->final_path,
                            strerror(errno));
    }
    /* No old output, or a file system without RENAME_EXCHANGE: rename()
     * replaces a file atomically; a directory (or a file where a directory
     * goes) is first moved aside, then removed. A kill between the two
     * renames leaves the old output aside (NAME.PID.old), and the path
     * empty; the next run writing there removes it. */
    bool swap = VSIStatL(out->final_path, &st) == 0 &&
                (VSI_ISDIR(st.st_mode) || out->is_directory);
    char aside[4200];
    snprintf(aside, sizeof aside, "%s.%ld.old", out->tmp_path, (long)getpid());
    if (swap && rename(out->final_path, aside) != 0)
        return fc_error(ctx, FC_EIO, "%s: cannot move the old output aside: %s", out->final_path,
                        strerror(errno));
    if (rename(out->tmp_path, out->final_path) != 0) {
        int e = errno;
        if (swap)
            rename(aside, out->final_path);
        return fc_error(ctx, FC_EIO, "%s: cannot move into place: %s", out->final_path,
                        strerror(e));
    }
    if (swap)
        remove_tree(aside);
    return FC_OK;
}

/* Why writing may have failed, when the system can tell: a full file system,
 * or the file size limit (ulimit -f) reached by one of the files, or, for an
 * I/O error (msg) under such a limit, that it may have been: SQLite rolls a
 * failed commit back, and the file is short of the limit again. "" when
 * none. */
static void why_short(const fc_output *out, const char *msg, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *dir = *CPLGetPath(out->final_path) ? CPLGetPath(out->final_path) : ".";
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0 && (double)fs.f_bavail * (double)fs.f_frsize < 65536) {
        snprintf(buf, size, "no space left on device (%.0f bytes free where %s is)",
                 (double)fs.f_bavail * (double)fs.f_frsize, out->final_path);
        return;
    }
    struct rlimit limit;
    if (getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return;
    char **names = out->is_directory || out->one_dataset ? VSIReadDir(out->tmp_path) : NULL;
    bool reached = false;
    VSIStatBufL st;
    if (!out->is_directory && !out->one_dataset)
        reached = VSIStatL(out->tmp_path, &st) == 0 &&
                  (double)st.st_size + 65536 >= (double)limit.rlim_cur;
    for (char **n = names; n && *n && !reached; n++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", out->tmp_path, *n);
        reached = VSIStatL(path, &st) == 0 && (double)st.st_size + 65536 >= (double)limit.rlim_cur;
    }
    CSLDestroy(names);
    if (reached)
        snprintf(buf, size, "file too large: the file size limit (ulimit -f) of %.0f bytes was "
                            "reached", (double)limit.rlim_cur);
    else if (strstr(msg, "I/O error"))
        snprintf(buf, size, "the file size limit (ulimit -f) of %.0f bytes may have been "
                            "reached", (double)limit.rlim_cur);
}

void fc_output_explain(fc_context *ctx, const fc_output *out)
{
    if (!out->tmp_path || !out->final_path)
        return;
    /* the output the user asked for, not the hidden temporary (messages
     * hold paths as firmclust gave them to GDAL) */
    char msg[sizeof ctx->errmsg] = "";
    const char *m = ctx->errmsg, *at;
    const size_t tlen = strlen(out->tmp_path);
    while ((at = strstr(m, out->tmp_path)) != NULL) {
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, "%.*s%s", (int)(at - m), m, out->final_path);
        m = at + tlen;
    }
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof msg - len, "%s", m);
    char cause[256];
    why_short(out, msg, cause, sizeof cause);
    if (*cause && !strstr(msg, cause)) {
        len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, " (%s)", cause);
    }
    snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", msg);
}

/* Every layer of a non-SQLite output read back: GDAL's text drivers
 * (GeoJSON, CSV) do not report a failed write, and a full disk would
 * otherwise leave a cut file that looks like an output. */
int fc_output_verify(fc_context *ctx, const fc_output *out, const char *const *layers,
                     const GIntBig *expected, int n_layers)
{
    const char *drv = out->driver ? GDALGetDriverShortName(out->driver) : "";
    if (strcmp(drv, "GPKG") == 0 || strcmp(drv, "SQLite") == 0)
        return FC_OK; /* SQLite reports its own write errors */
    int status = FC_OK;
    for (int k = 0; k < n_layers && status == FC_OK; k++) {
        if (!layers[k])
            continue;
        char path[4200];
        if (out->is_directory)
            snprintf(path, sizeof path, "%s/%s.%s", out->tmp_path, layers[k], out->ext);
        else
            snprintf(path, sizeof path, "%s", out->tmp_path);
        CPLErrorReset();
        CPLPushErrorHandler(CPLQuietErrorHandler);
        const char *const drivers[] = {drv, NULL};
        GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, NULL, NULL);
        OGRLayerH l = !ds ? NULL
                      : out->is_directory ? GDALDatasetGetLayer(ds, 0)
                                          : GDALDatasetGetLayerByName(ds, layers[k]);
        GIntBig got = l ? OGR_L_GetFeatureCount(l, TRUE) : -1;
        bool failed = CPLGetLastErrorType() == CE_Failure;
        if (ds)
            GDALClose(ds);
        CPLPopErrorHandler();
        if (got != expected[k] || failed) {
            char shown[4200];
            if (out->is_directory)
                snprintf(shown, sizeof shown, "%s/%s.%s", out->final_path, layers[k], out->ext);
            else
                snprintf(shown, sizeof shown, "%s", out->final_path);
            status = fc_error(ctx, FC_EIO,
                              "%s: writing layer %s failed: %lld of its %lld features read back",
                              shown, layers[k], got < 0 ? 0LL : (long long)got,
                              (long long)expected[k]);
        }
    }
    return status;
}

void fc_output_abort(fc_output *out)
{
    if (out->tmp_path) {
        remove_tree(out->tmp_path);
        /* SQLite journals of an interrupted GeoPackage */
        char side[4200];
        snprintf(side, sizeof side, "%s-journal", out->tmp_path);
        VSIUnlink(side);
        snprintf(side, sizeof side, "%s-wal", out->tmp_path);
        VSIUnlink(side);
    }
    free(out->tmp_path);
    free(out->final_path);
    memset(out, 0, sizeof *out);
}

