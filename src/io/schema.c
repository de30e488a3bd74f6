/* SPDX-License-Identifier: MIT */
/* The output layers' schemas: one row a field, with its name, type, title,
 * description, when the run has it and how a cluster fills it. The writer
 * (write.c) makes the layer's fields and fills them from it; the GeoPackage
 * gets each field's title and description in gpkg_data_columns (so that
 * ogrinfo and QGIS say what reg_share means); docs/fields.md is generated
 * from it (tests/fields_doc.c, which a test compares with the page). A new
 * field is one row here, and its fill function when no helper fits. */
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- when a field is there ---------------------------------------------- */

static bool named(const fc_findings *r) { return r->firms->sector_names != NULL; }
static bool grouped(const fc_findings *r) { return r->clusters->top_sectors != NULL; }
static bool eps_auto(const fc_findings *r) { return r->sector_eps_m != NULL; }
static bool hdbscan(const fc_findings *r) { return r->hdbscan != NULL; }
static bool weighted(const fc_findings *r) { return r->clusters->weight != NULL; }
static bool weight_shared(const fc_findings *r) { return r->clusters->weight_share != NULL; }
static bool with_regions(const fc_findings *r) { return r->regions != NULL; }
static bool tested(const fc_findings *r) { return r->clusters->p_value != NULL; }
static bool with_institutions(const fc_findings *r) { return r->clusters->n_inst != NULL; }
static bool typed_institutions(const fc_findings *r)
{
    return r->clusters->n_inst && r->institutions->has_types;
}

/* ---- how a cluster fills it ---------------------------------------------- */

/* a double, NULL where it is NaN (undefined) */
static void set_nullable(OGRFeatureH f, int k, double v)
{
    if (isnan(v))
        OGR_F_SetFieldNull(f, k);
    else
        OGR_F_SetFieldDouble(f, k, v);
}

#define FILL(name) static void name(OGRFeatureH f, int k, const fc_findings *r, size_t i)
#define T (r->clusters)

FILL(fill_id) { OGR_F_SetFieldInteger(f, k, (int)(i + 1)); }
FILL(fill_sector) { OGR_F_SetFieldString(f, k, r->firms->sector_codes[T->sector[i]]); }
FILL(fill_sect_name)
{
    if (r->firms->sector_names[T->sector[i]])
        OGR_F_SetFieldString(f, k, r->firms->sector_names[T->sector[i]]);
}
FILL(fill_n_sectors) { OGR_F_SetFieldInteger64(f, k, (GIntBig)T->n_sectors[i]); }
FILL(fill_top_sects) { OGR_F_SetFieldString(f, k, T->top_sectors[i]); }
FILL(fill_diversity) { OGR_F_SetFieldDouble(f, k, T->diversity[i]); }
FILL(fill_n_firms) { OGR_F_SetFieldInteger64(f, k, (GIntBig)T->n_firms[i]); }
FILL(fill_n_core) { OGR_F_SetFieldInteger64(f, k, (GIntBig)T->n_core[i]); }
FILL(fill_eps) { OGR_F_SetFieldDouble(f, k, r->sector_eps_m[T->sector[i]]); }
/* an infinite stability (firms at one spot) is NULL */
FILL(fill_stability)
{
    set_nullable(f, k, isinf(r->hdbscan[i].stability) ? NAN : r->hdbscan[i].stability);
}
FILL(fill_birth) { OGR_F_SetFieldDouble(f, k, r->hdbscan[i].birth); }
FILL(fill_death) { OGR_F_SetFieldDouble(f, k, r->hdbscan[i].death); }
FILL(fill_weight) { OGR_F_SetFieldDouble(f, k, T->weight[i]); }
FILL(fill_area) { OGR_F_SetFieldDouble(f, k, T->area_km2[i]); }
FILL(fill_density)
{
    set_nullable(f, k, T->area_km2[i] > 0 ? (double)T->n_firms[i] / T->area_km2[i] : NAN);
}
FILL(fill_sect_share) { set_nullable(f, k, T->sector_share[i]); }
FILL(fill_wgt_share) { set_nullable(f, k, T->weight_share[i]); }
FILL(fill_region)
{
    if (T->region[i] >= 0)
        OGR_F_SetFieldString(f, k, r->regions->names[T->region[i]]);
}
FILL(fill_reg_share) { set_nullable(f, k, T->region_share[i]); }
FILL(fill_n_regions) { OGR_F_SetFieldInteger64(f, k, (GIntBig)T->n_regions[i]); }
FILL(fill_region_lq) { set_nullable(f, k, T->region_lq[i]); }
FILL(fill_p_value) { OGR_F_SetFieldDouble(f, k, T->p_value[i]); }
FILL(fill_q_value) { OGR_F_SetFieldDouble(f, k, T->q_value[i]); }
FILL(fill_runs) { OGR_F_SetFieldInteger(f, k, T->runs[i]); }
FILL(fill_n_inst) { OGR_F_SetFieldInteger64(f, k, (GIntBig)T->n_inst[i]); }
FILL(fill_inst_types) { OGR_F_SetFieldString(f, k, T->inst_types[i]); }

#undef T
#undef FILL

/* ---- the clusters layer --------------------------------------------------- */

static const fc_field cluster_fields[] = {
    {"cluster_id", OFTInteger, "cluster",
     "1, 2, ... in sector-code order, and within a sector in the order of each cluster's first "
     "core firm in the input",
     NULL, fill_id},
    {"sector", OFTString, "sector", "the sector code (after --sector-digits), or the group's id "
                                    "with --groups", NULL, fill_sector},
    {"sect_name", OFTString, "sector name",
     "what the code means (--sector-names, or the built-in NACE Rev. 2 divisions)", named,
     fill_sect_name},
    {"n_sectors", OFTInteger, "sectors", "with --groups: the sectors among the cluster's firms",
     grouped, fill_n_sectors},
    {"top_sects", OFTString, "largest sectors",
     "with --groups: the three largest sectors with their shares of the firms (06:41%,09:30%)",
     grouped, fill_top_sects},
    {"diversity", OFTReal, "diversity",
     "with --groups: the effective number of sectors, exp of the Shannon entropy of their shares",
     grouped, fill_diversity},
    {"n_firms", OFTInteger, "firms", "firms in the cluster, core and border", NULL, fill_n_firms},
    {"n_core", OFTInteger, "core firms", "the cluster's core firms", NULL, fill_n_core},
    {"eps", OFTReal, "eps (m)", "with --eps auto: the eps the cluster's sector was clustered with, "
                                "in metres", eps_auto, fill_eps},
    {"stability", OFTReal, "stability",
     "with --method hdbscan: the sum over its firms of (1 / distance at which a firm leaves - "
     "1 / distance at which the cluster appears), per metre; NULL where firms at one spot make "
     "it infinite",
     hdbscan, fill_stability},
    {"birth_m", OFTReal, "appears at (m)",
     "with --method hdbscan: the distance at which the cluster appears, in metres", hdbscan,
     fill_birth},
    {"death_m", OFTReal, "splits at (m)",
     "with --method hdbscan: the distance at which it splits or its last firms fall away, in "
     "metres",
     hdbscan, fill_death},
    {"weight", OFTReal, "weight", "with --weight-field: the summed weight of its firms", weighted,
     fill_weight},
    {"area_km2", OFTReal, "area (km²)",
     "area of the polygon in km²: on the ellipsoid where distances are geodesic, else in the "
     "projected plane",
     NULL, fill_area},
    {"density", OFTReal, "firms per km²", "n_firms / area_km2", NULL, fill_density},
    {"sect_share", OFTReal, "share of sector",
     "the cluster's share of its sector's firms (of every firm read)", NULL, fill_sect_share},
    {"wgt_share", OFTReal, "share of sector's weight",
     "with --weight-field: the cluster's share of its sector's weight", weight_shared,
     fill_wgt_share},
    {"region", OFTString, "region", "with --regions: the region holding most of its firms",
     with_regions, fill_region},
    {"reg_share", OFTReal, "share in region",
     "with --regions: the share of its firms in that region", with_regions, fill_reg_share},
    {"n_regions", OFTInteger, "regions", "with --regions: the regions its firms lie in",
     with_regions, fill_n_regions},
    {"region_lq", OFTReal, "region's LQ",
     "with --regions: that region's location quotient in the cluster's sector", with_regions,
     fill_region_lq},
    {"p_value", OFTReal, "p-value",
     "the Monte Carlo p-value: how often a cluster of its sector at least as large arose with "
     "the sectors shuffled (unless --permutations 0 or one sector)",
     tested, fill_p_value},
    {"q_value", OFTReal, "q-value", "the Benjamini-Hochberg q-value over all clusters of the run",
     tested, fill_q_value},
    {"runs", OFTInteger, "runs", "the Monte Carlo runs the p-value rests on", tested, fill_runs},
    {"n_inst", OFTInteger, "institutions",
     "with --institutions: the institutions within eps of any of its firms", with_institutions,
     fill_n_inst},
    {"inst_types", OFTString, "institutions by type",
     "with --institutions and --institution-field: their count by type, most frequent first "
     "(university:2,technopark:1; ',' ':' '%' in a type percent-encoded)",
     typed_institutions, fill_inst_types},
    {NULL, OFTInteger, NULL, NULL, NULL, NULL},
};

const fc_field *fc_cluster_schema(void) { return cluster_fields; }

/* ---- the regions layer: one row a region and sector (row = region *
 * sectors + sector) ------------------------------------------------------- */

static bool region_weights(const fc_findings *r) { return r->stats->w != NULL; }

#define FILL(name) static void name(OGRFeatureH f, int k, const fc_findings *r, size_t i)
#define ST (r->stats)
#define G (i / ST->n_sectors)
#define S (i % ST->n_sectors)

FILL(fill_region_name) { OGR_F_SetFieldString(f, k, r->regions->names[G]); }
FILL(fill_region_sector) { OGR_F_SetFieldString(f, k, r->firms->sector_codes[S]); }
FILL(fill_region_sect_name)
{
    if (r->firms->sector_names[S]) /* so that a filter by sector reads its name */
        OGR_F_SetFieldString(f, k, r->firms->sector_names[S]);
}
FILL(fill_region_n) { OGR_F_SetFieldInteger64(f, k, (GIntBig)ST->n[i]); }
FILL(fill_region_w) { OGR_F_SetFieldDouble(f, k, ST->w[i]); }
FILL(fill_region_share)
{
    set_nullable(f, k, ST->n_region[G] ? (double)ST->n[i] / (double)ST->n_region[G] : NAN);
}
FILL(fill_region_lq_firms) { set_nullable(f, k, fc_lq(ST, G, S)); }
FILL(fill_region_lq_weight) { set_nullable(f, k, fc_lq_weight(ST, G, S)); }

#undef S
#undef G
#undef ST

static const fc_field region_fields[] = {
    {"region", OFTString, "region", "the region's name (--region-field)", NULL, fill_region_name},
    {"sector", OFTString, "sector", "the sector code (after --sector-digits)", NULL,
     fill_region_sector},
    {"sect_name", OFTString, "sector name", "what the code means", named, fill_region_sect_name},
    {"n_firms", OFTInteger, "firms", "the sector's firms in the region", NULL, fill_region_n},
    {"weight", OFTReal, "weight", "with --weight-field: their summed weight", region_weights,
     fill_region_w},
    {"share", OFTReal, "share of region", "the sector's share of the region's firms", NULL,
     fill_region_share},
    {"lq", OFTReal, "location quotient",
     "location quotient by firms: (the sector's firms in the region / the region's firms) / "
     "(the sector's firms / all firms in a region); NULL where undefined",
     NULL, fill_region_lq_firms},
    {"lq_weight", OFTReal, "location quotient by weight",
     "with --weight-field: the same quotient by weight", region_weights, fill_region_lq_weight},
    {NULL, OFTInteger, NULL, NULL, NULL, NULL},
};

const fc_field *fc_region_schema(void) { return region_fields; }

/* ---- the colocation table: one row an ordered pair (row = a * sectors + b) */

static bool coloc_named(const fc_findings *r) { return r->colocation->names != NULL; }
static bool coloc_tested(const fc_findings *r) { return r->colocation->p_value != NULL; }

#define C (r->colocation)
#define A (i / C->n_sectors)
#define B (i % C->n_sectors)

FILL(fill_sector_a) { OGR_F_SetFieldString(f, k, C->codes[A]); }
FILL(fill_sector_b) { OGR_F_SetFieldString(f, k, C->codes[B]); }
FILL(fill_name_a)
{
    if (C->names[A])
        OGR_F_SetFieldString(f, k, C->names[A]);
}
FILL(fill_name_b)
{
    if (C->names[B])
        OGR_F_SetFieldString(f, k, C->names[B]);
}
FILL(fill_n_a) { OGR_F_SetFieldInteger64(f, k, (GIntBig)C->n_firms[A]); }
FILL(fill_n_b) { OGR_F_SetFieldInteger64(f, k, (GIntBig)C->n_firms[B]); }
FILL(fill_n_a_near) { OGR_F_SetFieldInteger64(f, k, (GIntBig)C->n_with[A]); }
FILL(fill_clq) { set_nullable(f, k, C->clq[i]); }
FILL(fill_coloc_p) { set_nullable(f, k, C->p_value[i]); }
FILL(fill_coloc_q) { set_nullable(f, k, C->q_value[i]); }

#undef B
#undef A
#undef C

static const fc_field colocation_fields[] = {
    {"sector_a", OFTString, "sector A", "the first sector of the pair", NULL, fill_sector_a},
    {"sector_b", OFTString, "sector B", "the second sector of the pair", NULL, fill_sector_b},
    {"name_a", OFTString, "name of A", "what sector A's code means", coloc_named, fill_name_a},
    {"name_b", OFTString, "name of B", "what sector B's code means", coloc_named, fill_name_b},
    {"n_a", OFTInteger, "firms of A", "sector A's firms", NULL, fill_n_a},
    {"n_b", OFTInteger, "firms of B", "sector B's firms", NULL, fill_n_b},
    {"n_a_near", OFTInteger, "firms of A with neighbours",
     "firms of A with at least one firm within eps", NULL, fill_n_a_near},
    {"clq", OFTReal, "co-location quotient",
     "CLQ(A -> B), Leslie and Kronenfeld's: how much more often B's firms are among the "
     "neighbours of A's firms than B's share of all firms; NULL where undefined",
     NULL, fill_clq},
    {"p_value", OFTReal, "p-value",
     "one-sided p-value of the CLQ under the null model (sectors shuffled), where tested",
     coloc_tested, fill_coloc_p},
    {"q_value", OFTReal, "q-value", "Benjamini-Hochberg q-value over the pairs with a p-value",
     coloc_tested, fill_coloc_q},
    {NULL, OFTInteger, NULL, NULL, NULL, NULL},
};

const fc_field *fc_colocation_schema(void) { return colocation_fields; }

/* ---- the institutions layer: one row an institution ------------------------ */

static bool inst_named(const fc_findings *r) { return r->institutions->has_names; }
static bool inst_typed(const fc_findings *r) { return r->institutions->has_types; }

#define IN (r->institutions)

FILL(fill_inst_id) { OGR_F_SetFieldInteger64(f, k, (GIntBig)(i + 1)); }
FILL(fill_inst_name)
{
    if (IN->names[i])
        OGR_F_SetFieldString(f, k, IN->names[i]);
}
FILL(fill_inst_type)
{
    if (IN->type[i] >= 0)
        OGR_F_SetFieldString(f, k, IN->types[IN->type[i]]);
}
FILL(fill_inst_nearest)
{
    if (IN->nearest[i] >= 0)
        OGR_F_SetFieldInteger(f, k, IN->nearest[i] + 1);
}
FILL(fill_inst_dist) { set_nullable(f, k, IN->distance_m[i]); }

#undef IN
#undef FILL

static const fc_field institution_fields[] = {
    {"inst_id", OFTInteger, "institution", "1, 2, ... in the order of the institutions' file",
     NULL, fill_inst_id},
    {"name", OFTString, "name", "its name, where the file has a 'name' field", inst_named,
     fill_inst_name},
    {"type", OFTString, "type", "its type (--institution-field)", inst_typed, fill_inst_type},
    {"nearest", OFTInteger, "nearest cluster",
     "the cluster_id of its nearest clustered firm, within 10 eps; NULL: none", NULL,
     fill_inst_nearest},
    {"dist_m", OFTReal, "distance (m)", "the distance to that firm, in metres", NULL,
     fill_inst_dist},
    {NULL, OFTInteger, NULL, NULL, NULL, NULL},
};

const fc_field *fc_institution_schema(void) { return institution_fields; }

/* ---- what a schema gives ------------------------------------------------- */

int fc_field_add(fc_context *ctx, OGRLayerH l, const char *name, OGRFieldType type, int width)
{
    OGRFieldDefnH f = OGR_Fld_Create(name, type);
    if (width)
        OGR_Fld_SetWidth(f, width);
    OGRErr err = OGR_L_CreateField(l, f, TRUE);
    OGR_Fld_Destroy(f);
    if (err != OGRERR_NONE)
        return fc_error_gdal(ctx, FC_EIO, "cannot create field %s in layer %s", name,
                             OGR_L_GetName(l));
    return FC_OK;
}


int fc_schema_add_fields(fc_context *ctx, OGRLayerH l, const fc_field *schema,
                         const fc_findings *r)
{
    int status = FC_OK;
    for (const fc_field *d = schema; d->name && status == FC_OK; d++)
        if (!d->present || d->present(r))
            status = fc_field_add(ctx, l, d->name, d->type, 0);
    return status;
}

void fc_schema_fill(OGRFeatureH f, const fc_field *schema, const fc_findings *r, size_t i)
{
    int k = 0;
    for (const fc_field *d = schema; d->name; d++)
        if (!d->present || d->present(r))
            d->fill(f, k++, r, i);
}

/* The GeoPackage Schema extension's table (GeoPackage 1.3, F.2), and its
 * registration, as GDAL writes them. */
static const char *const data_columns_sql[] = {
    "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT "
    "NOT NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
    "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE "
    "(table_name, name))",
    "CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, "
    "constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, max "
    "NUMERIC, max_is_inclusive BOOLEAN, description TEXT, CONSTRAINT gdcc_ntv UNIQUE "
    "(constraint_name, constraint_type, value))",
    "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
    "SELECT 'gpkg_data_columns', NULL, 'gpkg_schema', "
    "'http://www.geopackage.org/spec/#extension_schema', 'read-write' WHERE NOT EXISTS (SELECT 1 "
    "FROM gpkg_extensions WHERE table_name = 'gpkg_data_columns')",
    "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
    "SELECT 'gpkg_data_column_constraints', NULL, 'gpkg_schema', "
    "'http://www.geopackage.org/spec/#extension_schema', 'read-write' WHERE NOT EXISTS (SELECT 1 "
    "FROM gpkg_extensions WHERE table_name = 'gpkg_data_column_constraints')",
    NULL};

int fc_schema_describe(fc_context *ctx, GDALDatasetH ds, const char *layer, const fc_field *schema,
                       const fc_findings *r)
{
    if (strcmp(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "GPKG") != 0)
        return FC_OK; /* only a GeoPackage has the table */
    int status = FC_OK;
    for (const char *const *q = data_columns_sql; *q && status == FC_OK; q++)
        status = fc_sql_run(ctx, ds, *q, NULL, "describe the fields");
    char sql[2048], a[128], b[256], c[1024];
    for (const fc_field *d = schema; d->name && status == FC_OK; d++) {
        if (d->present && !d->present(r))
            continue;
        snprintf(sql, sizeof sql,
                 "INSERT INTO gpkg_data_columns (table_name, column_name, name, title, "
                 "description) VALUES ('%s', '%s', %s, %s, %s)",
                 layer, d->name, fc_sql_text(d->title, a, sizeof a), fc_sql_text(d->title, b, sizeof b),
                 fc_sql_text(d->description, c, sizeof c));
        status = fc_sql_run(ctx, ds, sql, NULL, "describe the fields");
    }
    return status;
}
