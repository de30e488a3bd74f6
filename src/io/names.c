/* SPDX-License-Identifier: MIT */
/* Sector names: what a code means, for the clusters layer, the styles, the
 * summary and the map. From --sector-names FILE (CSV or any OGR table with
 * `code`, `name` and optional `name_ru`, `name_kk`), or else from the built-in
 * NACE Rev. 2 table (fixtures/nace/nace_rev2.csv, compiled in) when every
 * sector is one of its divisions: OKED follows NACE Rev. 2 to that level. */
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_vsi.h>

#include "nace_rev2_csv.h"

static const char *const lang_columns[] = {"name", "name_ru", "name_kk"}; /* by FC_LANG_* */

/* A code as tables and registers write it, compared without dots and blanks
 * and with letters in capitals ("62.01" and "6201", "a" and "A"). */
void fc_normal_code(const char *code, char *out, size_t size)
{
    size_t n = 0;
    for (const char *c = code; *c && n + 1 < size; c++)
        if (*c != '.' && *c != ' ' && *c != '\t')
            out[n++] = *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
    out[n] = '\0';
}

/* The name of each sector found in the table's layer (NULL where none):
 * the column of the language, else `name`. Counts the sectors named. */
static int names_from_layer(fc_context *ctx, const char *path, OGRLayerH l, int lang,
                            const fc_firms *f, char **names, size_t *n_named)
{
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(l);
    int code_i = fc_table_text_field(ctx, path, l, "code");
    int name_i = OGR_FD_GetFieldIndex(defn, "name");
    int lang_i = OGR_FD_GetFieldIndex(defn, lang_columns[lang]);
    if (code_i == -2)
        return fc_errcode(ctx);
    if (code_i < 0 || name_i < 0)
        return fc_error(ctx, FC_EDATA, "%s: a table of sector names needs fields 'code' and "
                                       "'name' (and may have name_ru, name_kk)", path);
    char (*keys)[64] = malloc((f->n_sectors ? f->n_sectors : 1) * sizeof *keys);
    if (!keys)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    for (uint32_t s = 0; s < f->n_sectors; s++)
        fc_normal_code(f->sector_codes[s], keys[s], sizeof keys[s]);
    OGRFeatureH feat;
    int status = FC_OK;
    OGR_L_ResetReading(l);
    while (status == FC_OK && (feat = OGR_L_GetNextFeature(l))) {
        char key[64];
        fc_normal_code(OGR_F_GetFieldAsString(feat, code_i), key, sizeof key);
        const char *name = lang_i >= 0 && OGR_F_IsFieldSetAndNotNull(feat, lang_i) &&
                                   *OGR_F_GetFieldAsString(feat, lang_i)
                               ? OGR_F_GetFieldAsString(feat, lang_i)
                               : OGR_F_GetFieldAsString(feat, name_i);
        for (uint32_t s = 0; s < f->n_sectors && *key && *name; s++)
            if (!names[s] && strcmp(keys[s], key) == 0) {
                if (!(names[s] = fc_strdup(name)))
                    status = fc_error(ctx, FC_ENOMEM, "out of memory");
                ++*n_named;
            }
        OGR_F_Destroy(feat);
    }
    free(keys);
    return status;
}

static int names_from_file(fc_context *ctx, const char *path, int lang, const fc_firms *f,
                           char **names, size_t *n_named)
{
    GDALDatasetH ds = fc_table_open(ctx, path);
    if (!ds)
        return fc_errcode(ctx);
    OGRLayerH l = GDALDatasetGetLayerCount(ds) > 0 ? GDALDatasetGetLayer(ds, 0) : NULL;
    int status = l ? names_from_layer(ctx, path, l, lang, f, names, n_named)
                   : fc_error(ctx, FC_EDATA, "%s: no table of sector names in it", path);
    GDALClose(ds);
    return status;
}

/* Whether every sector's code is a NACE Rev. 2 division: two digits, 01 to
 * 99, that the built-in table holds (checked when it is read). */
static bool all_two_digit_codes(const fc_firms *f)
{
    for (uint32_t s = 0; s < f->n_sectors; s++) {
        const char *c = f->sector_codes[s];
        if (!(c[0] >= '0' && c[0] <= '9' && c[1] >= '0' && c[1] <= '9' && c[2] == '\0'))
            return false;
    }
    return f->n_sectors > 0;
}

static int names_built_in(fc_context *ctx, int lang, const fc_firms *f, char **names,
                          size_t *n_named)
{
    char path[64];
    snprintf(path, sizeof path, "/vsimem/firmclust_nace_%p.csv", (void *)names);
    VSILFILE *mem = VSIFileFromMemBuffer(path, (GByte *)nace_rev2_csv, sizeof nace_rev2_csv - 1,
                                         FALSE);
    if (!mem)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    VSIFCloseL(mem);
    int status = names_from_file(ctx, path, lang, f, names, n_named);
    VSIUnlink(path);
    return status;
}

int fc_sector_names(fc_context *ctx, const fc_options *o, fc_firms *f)
{
    f->names_source[0] = '\0';
    bool built_in = !o->sector_names && o->sector_digits == 2 && all_two_digit_codes(f);
    if (!o->sector_names && !built_in)
        return FC_OK;
    char **names = calloc(f->n_sectors ? f->n_sectors : 1, sizeof *names);
    if (!names)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    size_t n_named = 0;
    int status = built_in ? names_built_in(ctx, o->lang, f, names, &n_named)
                          : names_from_file(ctx, o->sector_names, o->lang, f, names, &n_named);
    if (status == FC_OK && built_in && n_named < f->n_sectors) {
        fc_sector_names_free(names, f->n_sectors); /* not NACE divisions after all */
        return FC_OK;
    }
    if (status != FC_OK) {
        fc_sector_names_free(names, f->n_sectors);
        return status;
    }
    f->sector_names = names;
    if (built_in)
        snprintf(f->names_source, sizeof f->names_source,
                 "sector names: NACE Rev. 2 divisions, which OKED follows (built in; "
                 "--sector-names FILE gives others)");
    else
        snprintf(f->names_source, sizeof f->names_source, "sector names: %s (%zu of %u sectors)",
                 o->sector_names, n_named, f->n_sectors);
    return FC_OK;
}
