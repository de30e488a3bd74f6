/* SPDX-License-Identifier: MIT */
/* Related-sector clusters (--groups FILE): sectors grouped by code prefix,
 * clustered together.
 *
 * A groups table has fields `group`, `code` (a code prefix; dots and blanks
 * not counted) and optionally `name`. Each sector belongs to the group of
 * the longest prefix of its code in the table, or to none. For the run, the
 * groups then stand where the sectors stood: DBSCAN, region statistics and
 * the significance test label each firm with its group, so that any firm of
 * a group counts as a neighbour of any other, and the null model shuffles
 * group labels among the firms of a region. Firms in no group are one more
 * label, "-", that is never clustered (their role is "ungrouped"). The
 * firms' own sectors are kept here, for the co-location quotients and for
 * what each cluster is made of (n_sectors, top_sects, diversity). */
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct group_row {
    char key[64]; /* the code prefix, normalised */
    uint32_t group;
    GIntBig fid;
} group_row;

static int compare_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A text field of the table without the blanks around it (a spreadsheet
 * cell's " ict" is the group "ict"), into buf. */
static const char *trimmed_field(OGRFeatureH feat, int i, char *buf, size_t size)
{
    const char *v = i >= 0 ? OGR_F_GetFieldAsString(feat, i) : "";
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strlen(v);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r'))
        len--;
    snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), v);
    return buf;
}

/* The distinct group ids of the table, sorted, into g->codes. */
static int collect_groups(fc_context *ctx, const char *path, OGRLayerH l, int group_i,
                          fc_groups *g)
{
    size_t cap = 16;
    g->codes = malloc(cap * sizeof *g->codes);
    OGRFeatureH feat;
    OGR_L_ResetReading(l);
    char buf[512];
    while (g->codes && (feat = OGR_L_GetNextFeature(l))) {
        const char *id = trimmed_field(feat, group_i, buf, sizeof buf);
        bool known = !*id;
        for (size_t k = 0; k < g->n && !known; k++)
            known = strcmp(g->codes[k], id) == 0;
        if (!known && g->n == cap) {
            char **more = realloc(g->codes, (cap *= 2) * sizeof *more);
            if (!more) {
                OGR_F_Destroy(feat);
                return fc_error(ctx, FC_ENOMEM, "out of memory");
            }
            g->codes = more;
        }
        if (!known && !(g->codes[g->n++] = fc_strdup(id))) {
            OGR_F_Destroy(feat);
            return fc_error(ctx, FC_ENOMEM, "out of memory");
        }
        OGR_F_Destroy(feat);
    }
    if (!g->codes)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    if (g->n == 0)
        return fc_error(ctx, FC_EDATA, "%s: the groups table has no group", path);
    qsort(g->codes, g->n, sizeof *g->codes, compare_text);
    return FC_OK;
}

static uint32_t group_index(const fc_groups *g, const char *id)
{
    char *const *at = bsearch(&id, g->codes, g->n, sizeof *g->codes, compare_text);
    return (uint32_t)(at - g->codes);
}

/* Every row's prefix and group; the first name given for each group. A
 * prefix in two groups is refused: the groups must be a partition. */
static int read_rows(fc_context *ctx, const char *path, OGRLayerH l, const int field[3],
                     fc_groups *g, group_row **rows_out, size_t *n_rows)
{
    const GIntBig n_features = OGR_L_GetFeatureCount(l, TRUE);
    group_row *rows = calloc(n_features > 0 ? (size_t)n_features : 1, sizeof *rows);
    g->names = calloc(g->n, sizeof *g->names);
    if (!rows || !g->names) {
        free(rows);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    *rows_out = rows;
    *n_rows = 0;
    OGRFeatureH feat;
    int status = FC_OK;
    OGR_L_ResetReading(l);
    while (status == FC_OK && *n_rows < (size_t)n_features && (feat = OGR_L_GetNextFeature(l))) {
        group_row *r = &rows[*n_rows];
        char id_buf[512], name_buf[512];
        const char *id = trimmed_field(feat, field[0], id_buf, sizeof id_buf);
        fc_normal_code(OGR_F_GetFieldAsString(feat, field[1]), r->key, sizeof r->key);
        r->fid = OGR_F_GetFID(feat);
        if (!*id || !*r->key) {
            status = fc_error(ctx, FC_EDATA, "%s: feature " CPL_FRMT_GIB " has no %s", path,
                              r->fid, *id ? "code" : "group");
        } else {
            r->group = group_index(g, id);
            const char *name = trimmed_field(feat, field[2], name_buf, sizeof name_buf);
            if (*name && !g->names[r->group] && !(g->names[r->group] = fc_strdup(name)))
                status = fc_error(ctx, FC_ENOMEM, "out of memory");
            for (size_t k = 0; k < *n_rows && status == FC_OK; k++)
                if (strcmp(rows[k].key, r->key) == 0 && rows[k].group != r->group)
                    status = fc_error(ctx, FC_EDATA,
                                      "%s: code %s is in group %s (feature " CPL_FRMT_GIB
                                      ") and in group %s (feature " CPL_FRMT_GIB
                                      "); groups must not share a code",
                                      path, r->key, g->codes[rows[k].group], rows[k].fid,
                                      g->codes[r->group], r->fid);
            ++*n_rows;
        }
        OGR_F_Destroy(feat);
    }
    return status;
}

/* Each sector's group: that of the longest prefix of its code. */
static void assign_sectors(const fc_firms *f, const group_row *rows, size_t n_rows, fc_groups *g)
{
    for (uint32_t s = 0; s < f->n_sectors; s++) {
        char key[64];
        fc_normal_code(f->sector_codes[s], key, sizeof key);
        size_t best = 0;
        g->of_sector[s] = FC_NO_GROUP;
        for (size_t k = 0; k < n_rows; k++) {
            size_t len = strlen(rows[k].key);
            if (len > best && strncmp(key, rows[k].key, len) == 0) {
                best = len;
                g->of_sector[s] = rows[k].group;
            }
        }
    }
}

/* Says which sectors are in no group, and how many firms that leaves out. */
static void say_ungrouped(fc_context *ctx, const char *path, const fc_firms *f,
                          const fc_groups *g)
{
    char list[512] = "";
    size_t n_sectors = 0, n_firms = 0, used = 0;
    for (size_t i = 0; i < f->n; i++)
        n_firms += g->of_sector[f->sector[i]] == FC_NO_GROUP;
    for (uint32_t s = 0; s < f->n_sectors; s++)
        if (g->of_sector[s] == FC_NO_GROUP) {
            n_sectors++;
            if (used + 16 < sizeof list)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                         used ? ", " : "", f->sector_codes[s]);
        }
    if (n_sectors)
        fc_message(ctx, FC_MSG_INFO,
                   "%zu firm%s of %zu sector%s %s in no group of %s and %s not clustered: %s%s",
                   n_firms, n_firms == 1 ? "" : "s", n_sectors, n_sectors == 1 ? "" : "s",
                   n_firms == 1 ? "is" : "are", path, n_firms == 1 ? "is" : "are", list,
                   used + 16 >= sizeof list ? " ..." : "");
}

int fc_groups_read(fc_context *ctx, const char *path, const fc_firms *f, fc_groups *g)
{
    memset(g, 0, sizeof *g);
    GDALDatasetH ds = fc_table_open(ctx, path);
    if (!ds)
        return fc_errcode(ctx);
    OGRLayerH l = GDALDatasetGetLayerCount(ds) > 0 ? GDALDatasetGetLayer(ds, 0) : NULL;
    OGRFeatureDefnH defn = l ? OGR_L_GetLayerDefn(l) : NULL;
    const int field[3] = {defn ? OGR_FD_GetFieldIndex(defn, "group") : -1,
                          defn ? fc_table_text_field(ctx, path, l, "code") : -1,
                          defn ? OGR_FD_GetFieldIndex(defn, "name") : -1};
    group_row *rows = NULL;
    size_t n_rows = 0;
    int status = FC_OK;
    if (field[1] == -2)
        status = fc_errcode(ctx);
    else if (field[0] < 0 || field[1] < 0)
        status = fc_error(ctx, FC_EDATA, "%s: a groups table needs fields 'group' and 'code' "
                                         "(and may have 'name')", path);
    if (status == FC_OK)
        status = collect_groups(ctx, path, l, field[0], g);
    if (status == FC_OK)
        status = read_rows(ctx, path, l, field, g, &rows, &n_rows);
    if (status == FC_OK && !(g->of_sector = malloc((f->n_sectors + 1) * sizeof *g->of_sector)))
        status = fc_error(ctx, FC_ENOMEM, "out of memory");
    if (status == FC_OK) {
        assign_sectors(f, rows, n_rows, g);
        say_ungrouped(ctx, path, f, g);
    }
    free(rows);
    GDALClose(ds);
    if (status != FC_OK)
        fc_groups_free(g);
    return status;
}

int fc_groups_relabel(fc_context *ctx, fc_groups *g, fc_firms *f)
{
    uint32_t *label = malloc((f->n ? f->n : 1) * sizeof *label);
    const size_t n_labels = g->n + 1; /* the groups, and "-" for firms in none */
    char **codes = calloc(n_labels, sizeof *codes), **names = calloc(n_labels, sizeof *names);
    if (!label || !codes || !names) {
        free(label), free(codes), free(names);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    bool ungrouped = false;
    for (size_t i = 0; i < f->n; i++) {
        uint32_t k = g->of_sector[f->sector[i]];
        label[i] = k == FC_NO_GROUP ? (uint32_t)g->n : k;
        ungrouped |= k == FC_NO_GROUP;
    }
    bool ok = true;
    for (size_t k = 0; k < g->n && ok; k++)
        ok = (codes[k] = fc_strdup(g->codes[k])) && (!g->names[k] ||
                                                      (names[k] = fc_strdup(g->names[k])));
    if (ok && ungrouped)
        ok = (codes[g->n] = fc_strdup("-")) && (names[g->n] = fc_strdup("in no group"));
    if (!ok) {
        free(label);
        fc_sector_names_free(codes, (uint32_t)n_labels);
        fc_sector_names_free(names, (uint32_t)n_labels);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    /* the firms' own sectors stay here until fc_groups_restore() */
    g->sector = f->sector;
    g->sector_codes = f->sector_codes;
    g->sector_names = f->sector_names;
    g->n_sectors = f->n_sectors;
    f->sector = label;
    f->sector_codes = codes;
    f->sector_names = names;
    f->n_sectors = (uint32_t)(ungrouped ? n_labels : g->n);
    g->relabelled = true;
    return FC_OK;
}

void fc_groups_restore(fc_groups *g, fc_firms *f)
{
    if (!g->relabelled)
        return;
    free(f->sector);
    fc_sector_names_free(f->sector_codes, f->n_sectors);
    fc_sector_names_free(f->sector_names, f->n_sectors);
    f->sector = g->sector;
    f->sector_codes = g->sector_codes;
    f->sector_names = g->sector_names;
    f->n_sectors = g->n_sectors;
    g->relabelled = false;
}

/* The distinct sectors among some firms (with role given: their core firms
 * only); count is scratch, n_sectors long, zero before and after. */
static size_t distinct_sectors(const fc_groups *g, const size_t *members, size_t m,
                               const uint8_t *role, uint32_t *count)
{
    size_t distinct = 0;
    for (size_t k = 0; k < m; k++)
        if (!role || role[members[k]] == FC_ROLE_CORE)
            distinct += count[g->sector[members[k]]]++ == 0;
    for (size_t k = 0; k < m; k++)
        count[g->sector[members[k]]] = 0;
    return distinct;
}

/* The firms of each cluster, as offsets start[c] into members. */
static int members_of(size_t n, const int32_t *cid, size_t n_clusters, size_t **start,
                      size_t **members)
{
    *start = calloc(n_clusters + 1, sizeof **start);
    *members = malloc((n ? n : 1) * sizeof **members);
    if (!*start || !*members)
        return FC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (cid[i] >= 0)
            (*start)[cid[i] + 1]++;
    for (size_t c = 0; c < n_clusters; c++)
        (*start)[c + 1] += (*start)[c];
    size_t *next = malloc((n_clusters + 1) * sizeof *next);
    if (!next)
        return FC_ENOMEM;
    memcpy(next, *start, (n_clusters + 1) * sizeof *next);
    for (size_t i = 0; i < n; i++)
        if (cid[i] >= 0)
            (*members)[next[cid[i]]++] = i;
    free(next);
    return FC_OK;
}

int fc_groups_filter(fc_context *ctx, const fc_groups *g, const fc_firms *f, size_t min_sectors,
                     int32_t *cid, uint8_t *role, size_t *n_clusters)
{
    size_t *start = NULL, *members = NULL;
    uint32_t *count = calloc(g->n_sectors + 1, sizeof *count);
    int32_t *new_id = malloc((*n_clusters + 1) * sizeof *new_id);
    if (!count || !new_id || members_of(f->n, cid, *n_clusters, &start, &members) != FC_OK) {
        free(start), free(members), free(count), free(new_id);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    int32_t kept = 0;
    for (size_t c = 0; c < *n_clusters; c++) {
        const size_t m = start[c + 1] - start[c], *mc = members + start[c];
        const bool grouped = m > 0 && f->sector[mc[0]] < g->n;
        new_id[c] = grouped && distinct_sectors(g, mc, m, role, count) >= min_sectors ? kept++
                                                                                       : -1;
    }
    for (size_t i = 0; i < f->n; i++) {
        if (f->sector[i] >= g->n) { /* in no group */
            cid[i] = -1;
            role[i] = FC_ROLE_UNGROUPED;
        } else if (cid[i] >= 0 && (cid[i] = new_id[cid[i]]) < 0) {
            role[i] = FC_ROLE_NOISE;
        }
    }
    *n_clusters = (size_t)kept;
    free(start), free(members), free(count), free(new_id);
    return FC_OK;
}

/* "06:41%,09:30%,49:12%": the TOP_SECTORS largest sectors of a cluster by
 * firms, ties in code order. */
#define TOP_SECTORS 3
static char *top_sectors(const fc_groups *g, const uint32_t *count, size_t m)
{
    uint32_t top[TOP_SECTORS];
    int n_top = 0;
    for (uint32_t s = 0; s < g->n_sectors; s++) {
        if (!count[s] || (n_top == TOP_SECTORS && count[s] <= count[top[TOP_SECTORS - 1]]))
            continue;
        int k = n_top < TOP_SECTORS ? n_top++ : TOP_SECTORS - 1;
        for (; k > 0 && count[top[k - 1]] < count[s]; k--)
            top[k] = top[k - 1];
        top[k] = s;
    }
    char text[256] = "";
    size_t used = 0;
    for (int k = 0; k < n_top && used < sizeof text; k++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%s:%.0f%%", k ? "," : "",
                                 g->sector_codes[top[k]], 100.0 * count[top[k]] / (double)m);
    return fc_strdup(text);
}

int fc_groups_describe(fc_context *ctx, const fc_groups *g, const fc_firms *f,
                       const int32_t *cid, fc_cluster_table *t)
{
    const size_t n = t->n;
    size_t *start = NULL, *members = NULL;
    uint32_t *count = calloc(g->n_sectors + 1, sizeof *count);
    t->n_sectors = calloc(n + 1, sizeof *t->n_sectors);
    t->top_sectors = calloc(n + 1, sizeof *t->top_sectors);
    t->diversity = calloc(n + 1, sizeof *t->diversity);
    int status = count && t->n_sectors && t->top_sectors && t->diversity &&
                         members_of(f->n, cid, n, &start, &members) == FC_OK
                     ? FC_OK
                     : fc_error(ctx, FC_ENOMEM, "out of memory");
    for (size_t c = 0; c < n && status == FC_OK; c++) {
        const size_t m = start[c + 1] - start[c], *mc = members + start[c];
        for (size_t k = 0; k < m; k++)
            count[g->sector[mc[k]]]++;
        double entropy = 0;
        for (uint32_t s = 0; s < g->n_sectors; s++)
            if (count[s]) {
                const double p = count[s] / (double)m;
                entropy -= p * log(p);
                t->n_sectors[c]++;
            }
        t->diversity[c] = exp(entropy);
        if (!(t->top_sectors[c] = top_sectors(g, count, m)))
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
        for (size_t k = 0; k < m; k++)
            count[g->sector[mc[k]]] = 0;
    }
    free(start), free(members), free(count);
    return status;
}

/* ---- groups from the data's co-location (--groups auto) ----------------- */

/* Sectors a and b are linked when CLQ both ways exceeds `link` and both
 * pairs have q <= 0.05; their link strength is the smaller CLQ, 0 for pairs
 * not linked. */
static double link_strength(const fc_colocation *c, size_t a, size_t b, double link)
{
    const size_t S = c->n_sectors;
    const double ab = c->clq[a * S + b], ba = c->clq[b * S + a];
    const double v = ab < ba ? ab : ba;
    const bool significant = c->q_value && c->q_value[a * S + b] <= 0.05 &&
                             c->q_value[b * S + a] <= 0.05;
    return a != b && significant && v > link ? v : 0; /* NaN compares false */
}

/* Average linkage: while two groups' mean link strength over all their
 * pairs of sectors (unlinked pairs counting 0) exceeds `link`, the two with
 * the highest mean merge; ties go to the pair whose first sectors come
 * first. group[s] receives each sector's group: the smallest sector in it. */
static int average_linkage(fc_context *ctx, const fc_colocation *c, double link, size_t *group)
{
    const size_t S = c->n_sectors;
    double *sum = malloc(S * S * sizeof *sum);
    size_t *size = malloc(S * sizeof *size);
    if (!sum || !size) {
        free(sum), free(size);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    for (size_t a = 0; a < S; a++) {
        group[a] = a;
        size[a] = 1;
        for (size_t b = 0; b < S; b++)
            sum[a * S + b] = link_strength(c, a, b, link);
    }
    for (;;) {
        size_t best_p = S, best_q = S;
        double best = link;
        for (size_t p = 0; p < S; p++) {
            if (group[p] != p) /* p is not a group's first sector */
                continue;
            for (size_t q = p + 1; q < S; q++) {
                double mean = group[q] == q ? sum[p * S + q] / (double)(size[p] * size[q]) : 0;
                if (mean > best) {
                    best = mean;
                    best_p = p;
                    best_q = q;
                }
            }
        }
        if (best_p == S)
            break;
        for (size_t x = 0; x < S; x++) { /* q joins p */
            sum[best_p * S + x] += sum[best_q * S + x];
            sum[x * S + best_p] = sum[best_p * S + x];
            group[x] = group[x] == best_q ? best_p : group[x];
        }
        size[best_p] += size[best_q];
    }
    free(sum), free(size);
    return FC_OK;
}

/* "06+09+19": a group's id from its sectors' codes (its name, where they
 * are named: theirs, joined by " / "). */
static char *joined(const fc_firms *f, const size_t *group, size_t first, bool names)
{
    size_t len = 1;
    for (uint32_t s = 0; s < f->n_sectors; s++)
        if (group[s] == first)
            len += strlen(names ? f->sector_names[s] ? f->sector_names[s] : f->sector_codes[s]
                                : f->sector_codes[s]) + 3;
    char *text = malloc(len);
    if (!text)
        return NULL;
    text[0] = '\0';
    for (uint32_t s = 0; s < f->n_sectors; s++)
        if (group[s] == first) {
            if (text[0])
                strcat(text, names ? " / " : "+");
            strcat(text, names && f->sector_names[s] ? f->sector_names[s] : f->sector_codes[s]);
        }
    return text;
}

int fc_groups_auto(fc_context *ctx, const struct fc_colocation *c, const fc_firms *f, double link,
                   fc_groups *g)
{
    memset(g, 0, sizeof *g);
    const size_t S = f->n_sectors;
    size_t *group = malloc((S + 1) * sizeof *group), *size = calloc(S + 1, sizeof *size);
    uint32_t *index = malloc((S + 1) * sizeof *index); /* per first sector: its group */
    g->of_sector = malloc((S + 1) * sizeof *g->of_sector);
    g->codes = calloc(S + 1, sizeof *g->codes);
    g->names = calloc(S + 1, sizeof *g->names);
    int status = group && size && index && g->of_sector && g->codes && g->names
                     ? average_linkage(ctx, c, link, group)
                     : fc_error(ctx, FC_ENOMEM, "out of memory");
    for (size_t s = 0; s < S && status == FC_OK; s++)
        size[group[s]]++;
    /* groups of two sectors or more, in the order of their first sector,
     * which is the smallest: their ids ("06+09") sort as the sectors do */
    for (size_t s = 0; s < S && status == FC_OK; s++) {
        g->of_sector[s] = FC_NO_GROUP;
        if (size[group[s]] < 2)
            continue;
        if (group[s] == s) {
            g->codes[g->n] = joined(f, group, s, false);
            g->names[g->n] = f->sector_names ? joined(f, group, s, true) : NULL;
            if (!g->codes[g->n] || (f->sector_names && !g->names[g->n]))
                status = fc_error(ctx, FC_ENOMEM, "out of memory");
            index[s] = (uint32_t)g->n++;
        }
        g->of_sector[s] = index[group[s]];
    }
    free(group), free(size), free(index);
    if (status == FC_OK && g->n == 0)
        status = fc_error(ctx, FC_EDATA,
                          "--groups auto: no two sectors locate together (CLQ above %g both ways "
                          "with q <= 0.05); lower --link-clq, or give --groups FILE",
                          link);
    if (status != FC_OK)
        fc_groups_free(g);
    return status;
}

int fc_write_groups(fc_context *ctx, GDALDatasetH ds, const fc_groups *g)
{
    OGRLayerH l = fc_layer_create(ctx, ds, "groups", NULL, wkbNone, false);
    if (!l)
        return FC_EIO;
    int status;
    if ((status = fc_field_add(ctx, l, "group", OFTString, 0)) ||
        (status = fc_field_add(ctx, l, "code", OFTString, 0)) ||
        (status = fc_field_add(ctx, l, "name", OFTString, 0)))
        return status;
    /* one row per sector in a group, as a groups file lists them */
    for (uint32_t s = 0; s < g->n_sectors && status == FC_OK; s++) {
        const uint32_t k = g->of_sector[s];
        if (k == FC_NO_GROUP)
            continue;
        OGRFeatureH feat = OGR_F_Create(OGR_L_GetLayerDefn(l));
        OGR_F_SetFieldString(feat, 0, g->codes[k]);
        OGR_F_SetFieldString(feat, 1, g->sector_codes[s]);
        if (g->names[k])
            OGR_F_SetFieldString(feat, 2, g->names[k]);
        if (OGR_L_CreateFeature(l, feat) != OGRERR_NONE)
            status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write group %s",
                                   GDALGetDescription(ds), g->codes[k]);
        OGR_F_Destroy(feat);
    }
    return status;
}

void fc_groups_free(fc_groups *g)
{
    fc_sector_names_free(g->codes, (uint32_t)g->n);
    fc_sector_names_free(g->names, (uint32_t)g->n);
    free(g->of_sector);
    g->codes = g->names = NULL;
    g->of_sector = NULL;
}
