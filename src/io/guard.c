/* SPDX-License-Identifier: MIT */
/* Nothing lost: which paths a run may write. A run never writes over what it
 * reads (compared as the system sees files: after links, "..", and hard
 * links), never writes two outputs to one place, never replaces a device,
 * pipe or link, and with --overwrite replaces only what firmclust itself
 * wrote: a cluster output (its clusters layer), a directory of nothing but
 * firmclust's layers and styles, its JSON summary, a synth dataset. */
#define _GNU_SOURCE
#include "io/io.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

/* What a path names once links and ".." are resolved: the path itself when
 * it exists, else its existing directory and its name. NULL for what is not
 * a local file (a "PG:" connection, a /vsi path) or a directory that does
 * not exist. The caller frees it. */
static char *resolved(const char *path)
{
    if (!path || !*path || strncmp(path, "/vsi", 4) == 0)
        return NULL;
    char *full = realpath(path, NULL);
    if (full)
        return full;
    char *dir = fc_strdup(*CPLGetPath(path) ? CPLGetPath(path) : ".");
    char *name = fc_strdup(CPLGetFilename(path));
    char *real_dir = dir ? realpath(dir, NULL) : NULL;
    size_t len = real_dir && name ? strlen(real_dir) + strlen(name) + 2 : 0;
    full = len ? malloc(len) : NULL;
    if (full)
        snprintf(full, len, "%s/%s", real_dir, name);
    free(dir), free(name), free(real_dir);
    return full;
}

/* Whether a and b are one file (the same inode: a hard link, a symbolic
 * link or another spelling of the path) or one path. */
bool fc_same_place(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ra = resolved(a), *rb = resolved(b);
    bool same = ra && rb && strcmp(ra, rb) == 0;
    free(ra), free(rb);
    return same;
}

/* Whether `inner` lies inside the directory `outer` (at any depth). */
static bool inside(const char *inner, const char *outer)
{
    char *ri = resolved(inner), *ro = resolved(outer);
    size_t lo = ro ? strlen(ro) : 0;
    bool in = ri && ro && strncmp(ri, ro, lo) == 0 && (ri[lo] == '/' || strcmp(ro, "/") == 0);
    free(ri), free(ro);
    return in;
}

int fc_check_paths(fc_context *ctx, size_t n_reads, const char *const *reads, size_t n_writes,
                   const char *const *writes)
{
    if (!ctx)
        return FC_EINVAL;
    for (size_t w = 0; w < n_writes; w++) {
        if (!writes[w] || strcmp(writes[w], "-") == 0)
            continue; /* standard output */
        for (size_t r = 0; r < n_reads; r++) {
            if (!reads[r] || strcmp(reads[r], "-") == 0)
                continue;
            if (fc_same_place(reads[r], writes[w]))
                return fc_error(ctx, FC_EINVAL, "%s: the output would replace the input %s",
                                writes[w], reads[r]);
            if (inside(reads[r], writes[w]))
                return fc_error(ctx, FC_EINVAL,
                                "%s: the output would replace the directory that holds the "
                                "input %s",
                                writes[w], reads[r]);
        }
        for (size_t v = 0; v < w; v++) {
            if (!writes[v] || strcmp(writes[v], "-") == 0)
                continue;
            if (fc_same_place(writes[v], writes[w]))
                return fc_error(ctx, FC_EINVAL, "%s and %s are one file: two outputs cannot "
                                                "share it",
                                writes[v], writes[w]);
            if (inside(writes[v], writes[w]) || inside(writes[w], writes[v]))
                return fc_error(ctx, FC_EINVAL, "%s and %s: one output would lie inside the "
                                                "other",
                                writes[v], writes[w]);
        }
    }
    return FC_OK;
}

/* ---- what --overwrite may replace --------------------------------------- */

/* The layers firmclust writes in a directory output: each a file named
 * LAYER.EXT, with its sidecars. */
static const char *const our_layers[] = {"clusters", "firms", "regions", "institutions",
                                         "colocation", "groups", NULL};
static const char *const sidecars[] = {"qml", "shx", "dbf", "prj", "cpg", "qix", "csv", "csvt",
                                       NULL};

static bool in_list(const char *s, size_t len, const char *const *list)
{
    for (const char *const *l = list; *l; l++)
        if (strlen(*l) == len && strncasecmp(s, *l, len) == 0)
            return true;
    return false;
}

/* Whether `name` is a file firmclust writes in a directory output of
 * extension `ext`: LAYER.EXT or LAYER.SIDECAR. */
static bool our_file(const char *name, const char *ext)
{
    const char *dot = strchr(name, '.');
    if (!dot || !in_list(name, (size_t)(dot - name), our_layers))
        return false;
    const char *e = dot + 1;
    return strcasecmp(e, ext) == 0 || in_list(e, strlen(e), sidecars);
}

/* A directory may be replaced when it holds only firmclust's files; the
 * first other name goes to *stranger. */
static bool our_directory(const char *path, const char *ext, char *stranger, size_t size)
{
    char **names = VSIReadDir(path);
    bool ours = true;
    for (char **n = names; n && *n && ours; n++) {
        if (strcmp(*n, ".") == 0 || strcmp(*n, "..") == 0)
            continue;
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", path, *n);
        struct stat st;
        ours = lstat(full, &st) == 0 && S_ISREG(st.st_mode) && our_file(*n, ext);
        if (!ours)
            snprintf(stranger, size, "%s", *n);
    }
    CSLDestroy(names);
    return ours;
}

/* Whether the dataset at path opens with `driver` and (unless name is
 * NULL) holds layer `name`. */
static bool dataset_with_layer(const char *path, GDALDriverH driver, const char *name)
{
    const char *const drivers[] = {GDALGetDriverShortName(driver), NULL};
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, NULL, NULL);
    bool has = ds && (!name || GDALDatasetGetLayerByName(ds, name) != NULL);
    if (ds)
        GDALClose(ds);
    CPLPopErrorHandler();
    return has;
}

/* A JSON summary of firmclust's: it starts as json_body() starts it. */
static bool our_json(const char *path)
{
    static const char head[] = "{\n  \"firmclust\": ";
    char buf[sizeof head] = "";
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(buf, 1, sizeof head - 1, f) : 0;
    if (f)
        fclose(f);
    return got == sizeof head - 1 && memcmp(buf, head, got) == 0;
}

static const char *file_kind(mode_t mode)
{
    return S_ISCHR(mode)    ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISFIFO(mode) ? "a named pipe"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

int fc_output_check_target(fc_context *ctx, const char *path, const fc_output *out, int kind,
                           bool overwrite)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return FC_OK; /* nothing there */
    if (S_ISLNK(st.st_mode))
        return fc_error(ctx, FC_EINVAL,
                        "%s is a symbolic link; firmclust does not replace links: give the path "
                        "it points to%s",
                        path, kind == FC_OUT_FILE ? " (or - for standard output)" : "");
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return fc_error(ctx, FC_EINVAL, "%s is %s; firmclust writes only files%s", path,
                        file_kind(st.st_mode),
                        kind == FC_OUT_FILE ? " (give - to write to standard output)" : "");
    if (!overwrite)
        return fc_error(ctx, FC_EEXIST, "%s exists; use --overwrite to replace it", path);
    char stranger[1024] = "";
    const char *what = NULL;
    if (kind == FC_OUT_FILE) {
        if (!S_ISREG(st.st_mode) || !our_json(path))
            what = "a JSON summary firmclust wrote";
    } else if (out->is_directory) {
        if (!S_ISDIR(st.st_mode))
            what = "a directory of firmclust's layers";
        else if (!our_directory(path, out->ext, stranger, sizeof stranger))
            return fc_error(ctx, FC_EEXIST,
                            "%s: --overwrite replaces only a directory of firmclust's layers "
                            "and styles, and this one also holds %s; remove or move it yourself",
                            path, stranger);
    } else if (!S_ISREG(st.st_mode) ||
               !dataset_with_layer(path, out->driver,
                                   kind == FC_OUT_LAYERS ? "clusters" : NULL)) {
        what = kind == FC_OUT_LAYERS ? "an output of firmclust cluster (with a clusters layer)"
                                     : "a dataset of its output's format";
    }
    if (what)
        return fc_error(ctx, FC_EEXIST,
                        "%s exists and is not %s; --overwrite replaces only what firmclust wrote: "
                        "remove or move it yourself",
                        path, what);
    return FC_OK;
}
