/* SPDX-License-Identifier: MIT */
/* A GeoPackage spatial index for the firms, packed in bulk.
 *
 * SQLite builds its R*-tree one insertion at a time, some 15 us a point:
 * 15 of the 18 s it took to write a million firms. Here GDAL creates the
 * index while the table is still empty (the R-tree table, its triggers, the
 * gpkg_extensions row), the insert trigger is set aside while the features
 * are written, and the tree is then packed (Sort-Tile-Recursive: full nodes
 * of nearby boxes) and written straight into the R-tree's own tables, in
 * the layout SQLite's rtree module reads (ext/rtree/rtree.c): a node is a
 * 2-byte depth (root only) and a 2-byte cell count, then cells of an 8-byte
 * id and a float32 min and max per axis, all big-endian, boxes rounded
 * outwards to float32. The nodes travel through a scratch SQLite file
 * beside the output, written by GDAL with bound blobs and copied over with
 * one INSERT ... SELECT: as hex literals in SQL they would take SQLite some
 * 15 ns a byte to parse (8 s for the 10 million firms' 490 MB of hex). The
 * feature-to-leaf and node-to-parent rows go as JSON arrays. The trigger is
 * put back at the end, so later edits in QGIS keep the index up to date.
 * SQLite's rtreecheck() validates the result in the tests.
 */
#include "io/io.h"

#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODE_SIZE 1228 /* SQLite's for 2D with 4 KiB pages: 51 cells */
#define CELL_SIZE 24   /* 8-byte id, 4 float32 */
#define NODE_CELLS ((NODE_SIZE - 4) / CELL_SIZE)
#define SQL_FLUSH (1 << 20) /* bytes of SQL per statement */

typedef struct rt_entry {
    int64_t id;   /* leaves: the feature's position in fid[]; nodes: index in their level */
    float box[4]; /* min x, max x, min y, max y */
} rt_entry;

typedef struct rt_level {
    rt_entry *entries; /* children of this level's nodes, node by node */
    size_t n;          /* entries */
} rt_level;

struct fc_rtree {
    GDALDatasetH ds;
    char table[256];        /* rtree_<layer>_<geometry column> */
    char *insert_trigger;   /* its SQL, to put back */
    rt_entry *e;
    int64_t *fid;           /* feature ids, in the order added */
    size_t n, cap;
};

/* A float32 no greater (down) or no less (up) than v, as SQLite rounds. */
static float round_down(double v)
{
    float f = (float)v;
    return (double)f > v ? nextafterf(f, -INFINITY) : f;
}

static float round_up(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

int fc_sql_run(fc_context *ctx, GDALDatasetH ds, const char *sql, char **value, const char *doing)
{
    CPLErrorReset();
    OGRLayerH res = GDALDatasetExecuteSQL(ds, sql, NULL, NULL);
    if (res && value) {
        OGRFeatureH f = OGR_L_GetNextFeature(res);
        *value = f && OGR_F_IsFieldSetAndNotNull(f, 0) ? fc_strdup(OGR_F_GetFieldAsString(f, 0))
                                                        : NULL;
        if (f)
            OGR_F_Destroy(f);
    }
    if (res)
        GDALDatasetReleaseResultSet(ds, res);
    if (CPLGetLastErrorType() >= CE_Failure)
        return fc_error_gdal(ctx, FC_EIO, "%s: cannot %s", GDALGetDescription(ds), doing);
    return FC_OK;
}

const char *fc_sql_text(const char *s, char *buf, size_t size)
{
    size_t used = 0;
    buf[used++] = '\'';
    for (; *s && used + 3 < size; s++) {
        if (*s == '\'')
            buf[used++] = '\'';
        buf[used++] = *s;
    }
    buf[used++] = '\'';
    buf[used] = '\0';
    return buf;
}

/* Runs one statement of the index's building. */
static int run_sql(fc_context *ctx, GDALDatasetH ds, const char *sql, char **value)
{
    return fc_sql_run(ctx, ds, sql, value, "build the spatial index");
}

char **fc_rtree_layer_options(GDALDatasetH ds, char **options)
{
    if (strcmp(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "GPKG") == 0)
        options = CSLSetNameValue(options, "SPATIAL_INDEX", "NO"); /* fc_rtree makes it */
    return options;
}

int fc_rtree_begin(fc_context *ctx, GDALDatasetH ds, OGRLayerH layer, fc_rtree **out)
{
    *out = NULL;
    if (strcmp(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "GPKG") != 0)
        return FC_OK;
    fc_rtree *t = calloc(1, sizeof *t);
    if (!t)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    t->ds = ds;
    const char *name = OGR_L_GetName(layer), *geom = OGR_L_GetGeometryColumn(layer);
    /* Our own layer and column names: no quotes to escape. */
    snprintf(t->table, sizeof t->table, "rtree_%s_%s", name, geom);
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT CreateSpatialIndex('%s', '%s')", name, geom);
    int status = run_sql(ctx, ds, sql, NULL);
    if (status == FC_OK) {
        snprintf(sql, sizeof sql,
                 "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = '%s_insert'",
                 t->table);
        status = run_sql(ctx, ds, sql, &t->insert_trigger);
    }
    if (status == FC_OK && !t->insert_trigger)
        status = fc_error(ctx, FC_EIO, "%s: GDAL made no insert trigger for %s",
                          GDALGetDescription(ds), t->table);
    if (status == FC_OK) {
        snprintf(sql, sizeof sql, "DROP TRIGGER \"%s_insert\"", t->table);
        status = run_sql(ctx, ds, sql, NULL);
    }
    if (status != FC_OK)
        return fc_rtree_free(t), status;
    *out = t;
    return FC_OK;
}

int fc_rtree_add(fc_context *ctx, fc_rtree *t, int64_t fid, OGRGeometryH g)
{
    if (!t || !g || OGR_G_IsEmpty(g))
        return FC_OK; /* as the trigger: no entry for NULL or empty */
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4096;
        rt_entry *more = realloc(t->e, cap * sizeof *more);
        if (more)
            t->e = more;
        int64_t *more_fid = more ? realloc(t->fid, cap * sizeof *more_fid) : NULL;
        if (!more_fid)
            return fc_error(ctx, FC_ENOMEM, "out of memory for the spatial index");
        t->fid = more_fid;
        t->cap = cap;
    }
    OGREnvelope env;
    OGR_G_GetEnvelope(g, &env);
    t->fid[t->n] = fid;
    t->e[t->n] = (rt_entry){(int64_t)t->n, {round_down(env.MinX), round_up(env.MaxX),
                                            round_down(env.MinY), round_up(env.MaxY)}};
    t->n++;
    return FC_OK;
}

/* ---- packing ------------------------------------------------------------ */

/* The centre of an entry along an axis (0: x, 1: y) as an unsigned key
 * that sorts as the float does. */
static inline uint32_t centre_key(const rt_entry *e, int axis)
{
    float c = e->box[2 * axis] + e->box[2 * axis + 1];
    uint32_t u;
    memcpy(&u, &c, sizeof u);
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

/* Stable LSD radix sort of entries by centre along an axis, 11 bits a pass. */
static void sort_by_centre(rt_entry *e, rt_entry *tmp, size_t n, int axis)
{
    rt_entry *from = e, *to = tmp;
    for (int shift = 0; shift < 32; shift += 11) {
        size_t count[2049] = {0};
        for (size_t i = 0; i < n; i++)
            count[((centre_key(&from[i], axis) >> shift) & 2047) + 1]++;
        for (int b = 0; b < 2048; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            to[count[(centre_key(&from[i], axis) >> shift) & 2047]++] = from[i];
        rt_entry *t = from;
        from = to;
        to = t;
    }
    if (from != e) /* three passes: the result is in tmp */
        memcpy(e, from, n * sizeof *e);
}

/* Orders entries so that each run of NODE_CELLS is one node of nearby
 * boxes: vertical slabs of whole nodes, each sorted by y. */
static bool sort_tile(rt_entry *e, size_t n)
{
    rt_entry *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp)
        return false;
    const size_t nodes = (n + NODE_CELLS - 1) / NODE_CELLS;
    const size_t slabs = (size_t)ceil(sqrt((double)nodes));
    const size_t slab = ((nodes + slabs - 1) / slabs) * NODE_CELLS;
    sort_by_centre(e, tmp, n, 0);
    for (size_t s = 0; s < n; s += slab)
        sort_by_centre(e + s, tmp, n - s < slab ? n - s : slab, 1);
    free(tmp);
    return true;
}

/* The entries of the next level up: one per node of this one. */
static rt_entry *parents(const rt_entry *e, size_t n, size_t *n_out)
{
    const size_t nodes = (n + NODE_CELLS - 1) / NODE_CELLS;
    rt_entry *p = malloc(nodes * sizeof *p);
    for (size_t j = 0; p && j < nodes; j++) {
        p[j] = (rt_entry){(int64_t)j, {INFINITY, -INFINITY, INFINITY, -INFINITY}};
        for (size_t i = j * NODE_CELLS; i < n && i < (j + 1) * NODE_CELLS; i++) {
            p[j].box[0] = fminf(p[j].box[0], e[i].box[0]);
            p[j].box[1] = fmaxf(p[j].box[1], e[i].box[1]);
            p[j].box[2] = fminf(p[j].box[2], e[i].box[2]);
            p[j].box[3] = fmaxf(p[j].box[3], e[i].box[3]);
        }
    }
    *n_out = nodes;
    return p;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct sql_buffer {
    char *s;
    size_t len, cap;
    bool failed;
} sql_buffer;

static void put(sql_buffer *b, const char *text, size_t len)
{
    if (b->failed)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *more = realloc(b->s, cap);
        if (!more) {
            b->failed = true;
            return;
        }
        b->s = more;
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, len);
    b->len += len;
    b->s[b->len] = '\0';
}

static void put_be(unsigned char *at, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        at[i] = (unsigned char)(v & 0xFF);
}

/* SQL statements built up to ~1 MiB, then run. */
typedef struct sql_writer {
    fc_context *ctx;
    GDALDatasetH ds;
    sql_buffer sql;
    int status;
} sql_writer;

static void flush(sql_writer *w)
{
    if (w->sql.len > 0 && w->status == FC_OK) {
        if (w->sql.failed)
            w->status = fc_error(w->ctx, FC_ENOMEM, "out of memory for the spatial index");
        else
            w->status = run_sql(w->ctx, w->ds, w->sql.s, NULL);
    }
    w->sql.len = 0;
}

/* Node `nodeno` as a row of the scratch node table. Cells' ids are
 * feature ids (fid given, leaves) or node numbers (child_base + index). */
static int add_node(fc_context *ctx, OGRLayerH nodes, long long nodeno, int depth,
                    const rt_entry *cells, size_t n, const int64_t *fid, size_t child_base)
{
    unsigned char node[NODE_SIZE] = {0};
    put_be(node, (uint64_t)depth, 2);
    put_be(node + 2, n, 2);
    for (size_t i = 0; i < n; i++) {
        unsigned char *cell = node + 4 + i * CELL_SIZE;
        int64_t id = fid ? fid[cells[i].id] : (int64_t)child_base + cells[i].id;
        put_be(cell, (uint64_t)id, 8);
        for (int k = 0; k < 4; k++) {
            uint32_t bits;
            memcpy(&bits, &cells[i].box[k], 4);
            put_be(cell + 8 + 4 * k, bits, 4);
        }
    }
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(nodes));
    OGR_F_SetFieldInteger64(f, 0, nodeno);
    OGR_F_SetFieldBinary(f, 1, NODE_SIZE, node);
    OGRErr err = OGR_L_CreateFeature(nodes, f);
    OGR_F_Destroy(f);
    if (err != OGRERR_NONE)
        return fc_error_gdal(ctx, FC_EIO, "cannot write the spatial index's scratch file");
    return FC_OK;
}

/* The scratch file of nodes, for `ds`: a plain SQLite database. */
static GDALDatasetH create_scratch(fc_context *ctx, const char *path, OGRLayerH *nodes)
{
    GDALDriverH drv = GDALGetDriverByName("SQLite");
    GDALDatasetH ds = drv ? GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL) : NULL;
    *nodes = ds ? GDALDatasetCreateLayer(ds, "nodes", NULL, wkbNone, NULL) : NULL;
    OGRFieldDefnH no = OGR_Fld_Create("nodeno", OFTInteger64), data = OGR_Fld_Create("data", OFTBinary);
    bool ok = *nodes && OGR_L_CreateField(*nodes, no, TRUE) == OGRERR_NONE &&
              OGR_L_CreateField(*nodes, data, TRUE) == OGRERR_NONE &&
              GDALDatasetStartTransaction(ds, FALSE) == OGRERR_NONE;
    OGR_Fld_Destroy(no);
    OGR_Fld_Destroy(data);
    if (!ok) {
        fc_error_gdal(ctx, FC_EIO, "%s: cannot create the spatial index's scratch file", path);
        if (ds)
            GDALClose(ds);
        VSIUnlink(path);
        return NULL;
    }
    return ds;
}

/* Rows (key, value[i]) of table(key_column, value_column) for keys
 * key[i], in runs of consecutive keys, each sent as one JSON array: SQLite
 * reads those far faster than a VALUES list. key NULL: key_first + i. */
static void add_mapping(sql_writer *w, const char *table, const char *key_column,
                        const char *value_column, const int64_t *key, long long key_first,
                        const size_t *value, size_t n)
{
    for (size_t i = 0; i < n && w->status == FC_OK;) {
        const long long first = key ? (long long)key[i] : key_first + (long long)i;
        char text[512];
        int len = snprintf(text, sizeof text,
                           "INSERT INTO \"%s\"(%s, %s) SELECT key + %lld, value FROM json_each('[",
                           table, key_column, value_column, first);
        put(&w->sql, text, (size_t)len);
        size_t j = i;
        do {
            len = snprintf(text, sizeof text, j > i ? ",%zu" : "%zu", value[j]);
            put(&w->sql, text, (size_t)len);
            j++;
        } while (j < n && w->sql.len < SQL_FLUSH && (!key || key[j] == key[j - 1] + 1));
        put(&w->sql, "]')", 3);
        flush(w);
        i = j;
    }
}


/* The tree's levels, bottom up, until one node (the root) holds them all,
 * and the number of each level's first node: the root is 1, then level by
 * level down to the leaves. The levels' entries are the caller's to free,
 * whatever happens. */
static int pack_levels(fc_context *ctx, fc_rtree *t, rt_level levels[32], int *n_levels,
                       size_t base[33])
{
    int status = FC_OK;
    rt_entry *e = t->e;
    size_t n = t->n;
    t->e = NULL;
    *n_levels = 0;
    while (n > 0 && status == FC_OK) {
        levels[(*n_levels)++] = (rt_level){e, n};
        if (!sort_tile(e, n))
            status = fc_error(ctx, FC_ENOMEM, "out of memory for the spatial index");
        else if (n <= NODE_CELLS)
            break;
        else if (!(e = parents(e, n, &n)))
            status = fc_error(ctx, FC_ENOMEM, "out of memory for the spatial index");
    }
    if (*n_levels == 0)
        free(e); /* no entries */
    size_t next = 1;
    for (int k = *n_levels - 1; k >= 0; k--) {
        base[k] = next;
        next += (levels[k].n + NODE_CELLS - 1) / NODE_CELLS;
    }
    return status;
}

/* Every node, level by level, into a scratch SQLite database `scratch`
 * beside the output (written there in one transaction, much faster than
 * through the GeoPackage's own connection). */
static int write_nodes(fc_context *ctx, const fc_rtree *t, const rt_level *levels, int n_levels,
                       const size_t *base, const char *scratch)
{
    OGRLayerH nodes = NULL;
    GDALDatasetH sds = create_scratch(ctx, scratch, &nodes);
    if (!sds)
        return FC_EIO;
    int status = FC_OK;
    for (int k = 0; k < n_levels && status == FC_OK; k++) {
        const rt_level *lv = &levels[k];
        for (size_t j = 0; j * NODE_CELLS < lv->n && status == FC_OK; j++) {
            const rt_entry *cells = lv->entries + j * NODE_CELLS;
            const size_t count =
                lv->n - j * NODE_CELLS < NODE_CELLS ? lv->n - j * NODE_CELLS : NODE_CELLS;
            status = add_node(ctx, nodes, (long long)(base[k] + j), k == n_levels - 1 ? k : 0,
                              cells, count, k == 0 ? t->fid : NULL, k > 0 ? base[k - 1] : 0);
        }
    }
    if (status == FC_OK && GDALDatasetCommitTransaction(sds) != OGRERR_NONE)
        status = fc_error_gdal(ctx, FC_EIO, "%s: cannot write", scratch);
    GDALClose(sds);
    return status;
}

/* The scratch database's nodes into the GeoPackage's node table, in a
 * transaction of the GeoPackage left open (*in_tx) for the rows that
 * follow. ATTACH works only outside a transaction. */
static int copy_nodes(fc_context *ctx, const fc_rtree *t, const char *scratch, bool *attached,
                      bool *in_tx)
{
    char quoted[4200], sql[8600];
    snprintf(sql, sizeof sql, "ATTACH DATABASE %s AS fc_scratch",
             fc_sql_text(scratch, quoted, sizeof quoted));
    int status = run_sql(ctx, t->ds, sql, NULL);
    *attached = status == FC_OK;
    if (status != FC_OK)
        return status;
    *in_tx = GDALDatasetStartTransaction(t->ds, FALSE) == OGRERR_NONE;
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO \"%s_node\"(nodeno, data) "
             "SELECT nodeno, data FROM fc_scratch.nodes",
             t->table);
    return run_sql(ctx, t->ds, sql, NULL);
}

/* The rows that say which leaf holds each feature (_rowid) and which node
 * holds each node but the root (_parent). */
static int write_holders(fc_context *ctx, const fc_rtree *t, const rt_level *levels,
                         int n_levels, const size_t *base)
{
    size_t *holder = malloc((t->n ? t->n : 1) * sizeof *holder);
    if (!holder)
        return fc_error(ctx, FC_ENOMEM, "out of memory for the spatial index");
    sql_writer w = {ctx, t->ds, {0}, FC_OK};
    for (int k = 0; k < n_levels && w.status == FC_OK; k++) {
        char name[300];
        const rt_level *lv = &levels[k];
        for (size_t i = 0; i < lv->n; i++)
            holder[lv->entries[i].id] = base[k] + i / NODE_CELLS;
        if (k == 0) { /* feature -> leaf */
            snprintf(name, sizeof name, "%s_rowid", t->table);
            add_mapping(&w, name, "rowid", "nodeno", t->fid, 0, holder, lv->n);
        } else { /* node of the level below -> its parent */
            snprintf(name, sizeof name, "%s_parent", t->table);
            add_mapping(&w, name, "nodeno", "parentnode", NULL, (long long)base[k - 1], holder,
                        lv->n);
        }
    }
    free(w.sql.s);
    free(holder);
    return w.status;
}

int fc_rtree_end(fc_context *ctx, fc_rtree *t)
{
    if (!t)
        return FC_OK;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const size_t n_entries = t->n;
    rt_level levels[32];
    size_t base[33];
    int n_levels;
    int status = pack_levels(ctx, t, levels, &n_levels, base);
    const double packed = fc_seconds_since(&t0);
    char scratch[2048];
    snprintf(scratch, sizeof scratch, "%s.rtree", GDALGetDescription(t->ds));
    const bool scratch_used = status == FC_OK && n_levels > 0;
    if (scratch_used)
        status = write_nodes(ctx, t, levels, n_levels, base, scratch);
    const double nodes_written = fc_seconds_since(&t0);
    bool attached = false, in_tx = false;
    if (status == FC_OK && scratch_used)
        status = copy_nodes(ctx, t, scratch, &attached, &in_tx);
    else if (status == FC_OK)
        in_tx = GDALDatasetStartTransaction(t->ds, FALSE) == OGRERR_NONE;
    const double nodes_copied = fc_seconds_since(&t0);
    if (status == FC_OK)
        status = write_holders(ctx, t, levels, n_levels, base);
    for (int k = 0; k < n_levels; k++)
        free(levels[k].entries);
    if (status == FC_OK)
        status = run_sql(ctx, t->ds, t->insert_trigger, NULL);
    if (in_tx && status == FC_OK && GDALDatasetCommitTransaction(t->ds) != OGRERR_NONE)
        status = fc_error_gdal(ctx, FC_EIO, "%s: cannot commit", GDALGetDescription(t->ds));
    else if (in_tx && status != FC_OK)
        GDALDatasetRollbackTransaction(t->ds);
    if (attached) {
        int detached = run_sql(ctx, t->ds, "DETACH DATABASE fc_scratch", NULL);
        status = status == FC_OK ? detached : status;
    }
    if (scratch_used)
        VSIUnlink(scratch);
    fc_rtree_free(t);
    fc_message(ctx, FC_MSG_DEBUG,
               "spatial index of %zu firms: %.3f s (packing %.3f, nodes %.3f, copying them %.3f, "
               "leaf and parent rows %.3f)",
               n_entries, fc_seconds_since(&t0), packed, nodes_written - packed,
               nodes_copied - nodes_written, fc_seconds_since(&t0) - nodes_copied);
    return status;
}

void fc_rtree_free(fc_rtree *t)
{
    if (!t)
        return;
    free(t->insert_trigger);
    free(t->e);
    free(t->fid);
    free(t);
}
