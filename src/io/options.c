/* SPDX-License-Identifier: MIT */
/* Options of the clustering job: one table gives each option's name, its
 * kind, its range or choices and its help text, so that fc_options_set(),
 * the command line, its --help and configuration files all read from the
 * same place. A new option is one line in the table. */
#include "io/io.h"

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Kinds of option, by how the value is checked and where it is stored. */
enum opt_kind {
    OPT_STRING, /* char *, any text */
    OPT_CRS,    /* char *, a CRS GDAL understands */
    OPT_SQL,    /* char *, one SQL expression */
    OPT_FLAG,   /* bool */
    OPT_CHOICE, /* int, one of `choices` */
    OPT_INT,    /* int, a whole number in [min, max] */
    OPT_SIZE,   /* size_t, a whole number in [min, max] */
    OPT_UINT64, /* uint64_t, a whole number in [min, max] */
    OPT_DOUBLE  /* double, a finite number in [min, max] (min excluded when min_open) */
};

typedef struct opt_choice {
    const char *name;
    int value;
} opt_choice;

typedef struct opt_def {
    const char *name;
    int kind;
    size_t offset;
    const char *metavar;
    const char *help;
    double min, max;              /* numbers: the range */
    bool min_open;                /* numbers: min itself not allowed */
    const char *unit;             /* numbers: said after the range, or NULL */
    const opt_choice *choices;    /* OPT_CHOICE: names in the order the error lists them */
} opt_def;

#define OFF(f) offsetof(struct fc_options, f)
#define NO_MAX INFINITY

static const opt_choice hull_choices[] = {
    {"convex", FC_HULL_CONVEX}, {"concave", FC_HULL_CONCAVE}, {"buffer", FC_HULL_BUFFER}, {NULL, 0}};
static const opt_choice lang_choices[] = {
    {"en", FC_LANG_EN}, {"ru", FC_LANG_RU}, {"kk", FC_LANG_KK}, {NULL, 0}};
static const opt_choice method_choices[] = {
    {"dbscan", FC_METHOD_DBSCAN}, {"hdbscan", FC_METHOD_HDBSCAN}, {NULL, 0}};
static const opt_choice selection_choices[] = {
    {"eom", FC_SELECT_EOM}, {"leaf", FC_SELECT_LEAF}, {NULL, 0}};
static const opt_choice on_off[] = {{"on", 1}, {"off", 0}, {NULL, 0}};
static const opt_choice distance_choices[] = {
    {"geodesic", FC_DIST_GEODESIC}, {"planar", FC_DIST_PLANAR}, {"auto", FC_DIST_AUTO}, {NULL, 0}};

/* Options that are not numbers leave the range fields zero. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const opt_def option_table[] = {
    {"layer", OPT_STRING, OFF(layer), "NAME",
     "input layer (default: the only layer, or the first point layer)"},
    {"where", OPT_SQL, OFF(where), "SQL",
     "attribute filter, as ogr2ogr -where: \"employees > 0\""},
    {"sector-field", OPT_STRING, OFF(sector_field), "NAME",
     "field holding the sector code, e.g. oked, read as text;\n"
     "without it, all firms form one group"},
    {"sector-digits", OPT_INT, OFF(sector_digits), "N",
     "group sectors by the first N digits of the code, dots and other\n"
     "characters not counted (2 = OKED division: 62.01 -> 62; default:\n"
     "the whole code)",
     .min = 1, .max = 64},
    {"sector-width", OPT_INT, OFF(sector_width), "N",
     "a sector field of whole numbers lost its leading zeros: pad codes\n"
     "with zeros to N digits (5 for OKED: 1110 -> 01110)",
     .min = 1, .max = 64},
    {"method", OPT_CHOICE, OFF(method), "dbscan|hdbscan",
     "dbscan (default): clusters where min-pts firms lie within eps;\n"
     "hdbscan: HDBSCAN*, clusters of whatever density stand out most\n"
     "from the hierarchy of all densities (no eps needed)",
     .choices = method_choices},
    {"eps", OPT_DOUBLE, OFF(eps), "METRES|auto",
     "neighbourhood radius in metres, whatever the CRS (required with\n"
     "dbscan; auto: each sector its own, the eps firmclust suggest\n"
     "suggests; with hdbscan it only sets the band of co-location,\n"
     "institutions and polygon buffers, by default the median core\n"
     "distance of the clustered firms)",
     .min = 0, .max = NO_MAX, .min_open = true, .unit = "metres"},
    {"min-pts", OPT_SIZE, OFF(min_pts), "N",
     "a firm is core when at least N firms of its sector, itself\n"
     "included, lie within eps (default 5)",
     .min = 1, .max = NO_MAX},
    {"min-cluster-size", OPT_SIZE, OFF(min_cluster_size), "N",
     "with --method hdbscan: the fewest firms a cluster may have\n"
     "(default: --min-pts)",
     .min = 2, .max = NO_MAX},
    {"min-samples", OPT_SIZE, OFF(min_samples), "N",
     "with --method hdbscan: a firm's core distance is the distance to\n"
     "its N-th nearest firm of its sector, itself counted first (default:\n"
     "--min-cluster-size)",
     .min = 1, .max = NO_MAX},
    {"cluster-selection", OPT_CHOICE, OFF(cluster_selection), "eom|leaf",
     "with --method hdbscan: eom (default), the clusters of most excess of\n"
     "mass, none inside another; leaf, the leaves of the condensed tree\n"
     "(smaller, denser clusters)",
     .choices = selection_choices},
    {"sector-names", OPT_STRING, OFF(sector_names), "FILE",
     "a table (CSV or any OGR table) of sector codes and what they mean:\n"
     "fields code, name, and optionally name_ru, name_kk (default: NACE\n"
     "Rev. 2 division names, built in, when --sector-digits is 2 and every\n"
     "code is a division)"},
    {"lang", OPT_CHOICE, OFF(lang), "en|ru|kk",
     "language of the sector names: the name, name_ru or name_kk column,\n"
     "falling back to name where it is empty (default en)",
     .choices = lang_choices},
    {"weight-field", OPT_STRING, OFF(weight_field), "NAME",
     "numeric field with each firm's weight, e.g. employees;\n"
     "summed per cluster"},
    {"min-weight", OPT_DOUBLE, OFF(min_weight), "W",
     "with --weight-field: a firm is core when the summed weight\n"
     "within eps, itself included, reaches W (replaces --min-pts)",
     .min = 0, .max = NO_MAX},
    {"distance", OPT_CHOICE, OFF(distance), "geodesic|planar|auto",
     "geodesic: exact distances on the ellipsoid; planar: in the projected\n"
     "CRS or, for longitude/latitude, in a local equidistant projection;\n"
     "auto (default): geodesic for longitude/latitude input and for a\n"
     "projected CRS more than 0.1% off over the data (Web Mercator), else\n"
     "planar",
     .choices = distance_choices},
    {"hull", OPT_CHOICE, OFF(hull), "convex|concave|buffer",
     "cluster polygon: concave hull (default), convex hull, or the\n"
     "union of eps/2 buffers around the firms",
     .choices = hull_choices},
    {"concavity", OPT_DOUBLE, OFF(concavity), "R",
     "concave hull edge-length ratio, 0 (most concave) to 1 (convex);\n"
     "default 0.3",
     .min = 0, .max = 1},
    {"regions", OPT_STRING, OFF(regions), "FILE",
     "region polygons (oblasts, rayons...) in any format and CRS: each firm\n"
     "gets its region, and a 'regions' layer gets location quotients"},
    {"region-field", OPT_STRING, OFF(region_field), "NAME",
     "field naming each region (default: a guess, said in the summary)"},
    {"region-layer", OPT_STRING, OFF(region_layer), "NAME",
     "layer of --regions (default: the first polygon layer)"},
    {"groups", OPT_STRING, OFF(groups), "FILE|auto",
     "related-sector clusters: a table (CSV or any OGR table) of fields\n"
     "group, code (a code prefix) and optional name; each sector joins the\n"
     "group of its longest prefix, and firms of a group cluster together\n"
     "(firms in no group are not clustered); auto: groups of the sectors\n"
     "that locate together, written as a 'groups' table"},
    {"link-clq", OPT_DOUBLE, OFF(link_clq), "X",
     "with --groups auto: sectors are linked when their co-location\n"
     "quotient exceeds X both ways, with q <= 0.05 (default 2)",
     .min = 1, .max = NO_MAX},
    {"min-sectors", OPT_SIZE, OFF(min_sectors), "K",
     "with --groups: a cluster whose core firms are of fewer than K\n"
     "sectors is dropped (default 2)",
     .min = 1, .max = NO_MAX},
    {"institutions", OPT_STRING, OFF(institutions), "FILE",
     "points of universities, research institutes, technoparks, agencies\n"
     "(any format and CRS): each cluster counts those within eps of its\n"
     "firms, and an 'institutions' layer gets each one's nearest cluster"},
    {"institution-field", OPT_STRING, OFF(institution_field), "NAME",
     "with --institutions: the field holding each one's type"},
    {"colocation", OPT_CHOICE, OFF(colocation), "on|off",
     "the co-location quotient of every pair of sectors, written as a\n"
     "'colocation' table (a colocation.csv beside single-layer formats);\n"
     "default on when there are two sectors or more",
     .choices = on_off},
    {"permutations", OPT_INT, OFF(permutations), "N",
     "Monte Carlo runs for the clusters' p-values (default 999; 0: none)",
     .min = 0, .max = 1000000},
    {"seed", OPT_UINT64, OFF(seed), "S", "seed of the Monte Carlo runs (default 1)",
     .min = 0, .max = NO_MAX},
    {"threads", OPT_INT, OFF(threads), "N", "threads to use (default: all cores)",
     .min = 1, .max = FC_MAX_THREADS},
    {"json", OPT_STRING, OFF(json), "FILE|-",
     "also write the summary as JSON to FILE; - writes it to standard\n"
     "output instead of the summary, once the output is in place"},
    {"s-srs", OPT_CRS, OFF(s_srs), "CRS",
     "CRS of the input, when it has none or a wrong one: EPSG:4326,\n"
     "a WKT or PROJ string, or a .prj file"},
    {"t-srs", OPT_CRS, OFF(t_srs), "CRS", "CRS of the output (default: the input's)"},
    {"format", OPT_STRING, OFF(format), "NAME",
     "GDAL driver of the output (default: from the extension, else GPKG)"},
    {"overwrite", OPT_FLAG, OFF(overwrite), NULL, "replace an existing output"},
    {"encoding", OPT_STRING, OFF(encoding), "NAME",
     "code page of an input Shapefile whose .dbf does not say it, or says\n"
     "it wrong: CP1251, CP866, RK1048 (Kazakh), ISO-8859-5... (output: UTF-8)"},
    {"centroids", OPT_FLAG, OFF(centroids), NULL,
     "cluster the centroids of lines and polygons (refused without it)"},
};
#pragma GCC diagnostic pop

#define N_OPTIONS (sizeof option_table / sizeof option_table[0])

fc_options *fc_options_new(void)
{
    fc_options *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->min_pts = 5;
    o->cluster_selection = -1;
    o->min_weight = -1;
    o->hull = FC_HULL_CONCAVE;
    o->concavity = 0.3;
    o->permutations = 999;
    o->colocation = -1; /* on, not asked for: nothing to say when there is one sector */
    o->link_clq = 0; /* not given: 2 */
    o->seed = 1;
    return o;
}

static bool is_text(const opt_def *d)
{
    return d->kind == OPT_STRING || d->kind == OPT_CRS || d->kind == OPT_SQL;
}

fc_options *fc_options_destroy(fc_options *o)
{
    if (!o)
        return NULL;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (is_text(&option_table[i]))
            free(*(char **)((char *)o + option_table[i].offset));
    free(o);
    return NULL;
}

static const opt_def *find_option(const char *name)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(option_table[i].name, name) == 0)
            return &option_table[i];
    return NULL;
}

int fc_options_threads(const fc_options *o)
{
    return fc_threads_or_cores(o ? o->threads : 0);
}

int fc_option_takes_value(const char *name)
{
    const opt_def *d = name ? find_option(name) : NULL;
    return d ? d->kind != OPT_FLAG : -1;
}

/* Whether an SQL expression holds a ';' outside its quoted strings and
 * identifiers. */
static bool has_statement_end(const char *sql)
{
    char quote = 0;
    for (const char *c = sql; *c; c++) {
        if (quote) {
            if (*c == quote)
                quote = 0; /* a doubled quote closes and reopens: the same */
        } else if (*c == '\'' || *c == '"') {
            quote = *c;
        } else if (*c == ';') {
            return true;
        }
    }
    return false;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    while (*s == ' ' || *s == '\t') /* blanks around a number, as a config file may leave */
        s++;
    if (strpbrk(s, "xXpP")) /* C's hexadecimal numbers are not what a user means */
        return 0;
    double v = strtod(s, &end);
    while (end != s && (*end == ' ' || *end == '\t'))
        end++;
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

static int parse_long(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (end != s && (*end == ' ' || *end == '\t'))
        end++;
    if (end == s || *end != '\0' || errno == ERANGE)
        return 0;
    *out = v;
    return 1;
}

/* The text of an option: CRS and SQL checked before any work, so that a
 * bad one is a usage error. */
static int set_text(fc_context *ctx, const opt_def *d, char **field, const char *value)
{
    if (d->kind == OPT_CRS) {
        OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
        OGRErr err = srs ? OSRSetFromUserInput(srs, value) : OGRERR_NOT_ENOUGH_MEMORY;
        if (srs)
            OSRRelease(srs);
        if (err != OGRERR_NONE)
            return fc_error_gdal(ctx, FC_EINVAL, "--%s: cannot understand the CRS '%s'", d->name,
                                 value);
    }
    if (d->kind == OPT_SQL && has_statement_end(value))
        /* GeoPackage would run a second statement, or read nothing
         * through the Arrow stream, while other drivers refuse it */
        return fc_error(ctx, FC_EINVAL,
                        "--%s takes one SQL expression, as ogr2ogr -where does: ';' ends "
                        "a statement and is not allowed outside quotes in '%s'",
                        d->name, value);
    char *copy = fc_strdup(value);
    if (!copy)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    free(*field);
    *field = copy;
    return FC_OK;
}

static int set_flag(fc_context *ctx, const opt_def *d, bool *field, const char *value)
{
    if (!value || strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
        strcmp(value, "1") == 0)
        *field = true;
    else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
             strcmp(value, "0") == 0)
        *field = false;
    else
        return fc_error(ctx, FC_EINVAL, "option --%s takes yes or no, not '%s'", d->name, value);
    return FC_OK;
}

/* "option --hull takes convex, concave or buffer, not 'round'" */
static int set_choice(fc_context *ctx, const opt_def *d, int *field, const char *value)
{
    char names[256] = "";
    size_t len = 0;
    for (const opt_choice *c = d->choices; c->name; c++) {
        if (strcmp(value, c->name) == 0) {
            *field = c->value;
            return FC_OK;
        }
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
                                c == d->choices ? "" : c[1].name ? ", " : " or ", c->name);
        if (len >= sizeof names)
            len = sizeof names - 1;
    }
    return fc_error(ctx, FC_EINVAL, "option --%s takes %s, not '%s'", d->name, names, value);
}

/* A number in the option's range, or the error saying the range. */
static int check_range(fc_context *ctx, const opt_def *d, double v, const char *value)
{
    if ((d->min_open ? v > d->min : v >= d->min) && v <= d->max)
        return FC_OK;
    /* out of range, below or above: the message gives the ends there are */
    const char *unit = d->unit ? " " : "", *unit_name = d->unit ? d->unit : "";
    if (isfinite(d->max))
        return fc_error(ctx, FC_EINVAL, "option --%s must be between %.15g and %.15g%s%s, not %s",
                        d->name, d->min, d->max, unit, unit_name, value);
    if (d->min_open)
        return fc_error(ctx, FC_EINVAL, "option --%s must be greater than %.15g%s%s, not %s",
                        d->name, d->min, unit, unit_name, value);
    if (d->min == 0)
        return fc_error(ctx, FC_EINVAL, "option --%s must be 0 or more, not %s", d->name, value);
    return fc_error(ctx, FC_EINVAL, "option --%s must be at least %.15g%s%s, not %s", d->name,
                    d->min, unit, unit_name, value);
}

static int set_number(fc_context *ctx, const opt_def *d, void *field, const char *value)
{
    double dv;
    long long lv = 0;
    if (d->kind == OPT_DOUBLE) {
        if (!parse_double(value, &dv))
            return fc_error(ctx, FC_EINVAL, "option --%s takes a number, not '%s'", d->name, value);
    } else {
        if (!parse_long(value, &lv))
            return fc_error(ctx, FC_EINVAL, "option --%s takes a whole number, not '%s'", d->name,
                            value);
        dv = (double)lv;
    }
    int status = check_range(ctx, d, dv, value);
    if (status != FC_OK)
        return status;
    switch (d->kind) {
    case OPT_DOUBLE: *(double *)field = dv; break;
    case OPT_INT: *(int *)field = (int)lv; break;
    case OPT_SIZE: *(size_t *)field = (size_t)lv; break;
    case OPT_UINT64: *(uint64_t *)field = (uint64_t)lv; break;
    default: return fc_error(ctx, FC_EINTERNAL, "option --%s is not a number", d->name);
    }
    return FC_OK;
}

int fc_options_set(fc_context *ctx, fc_options *o, const char *name, const char *value)
{
    const opt_def *d = name ? find_option(name) : NULL;
    if (!d)
        return fc_error(ctx, FC_EINVAL, "unknown option --%s", name ? name : "(null)");
    if (d->kind != OPT_FLAG && (!value || !*value))
        return fc_error(ctx, FC_EINVAL, "option --%s needs a value (%s)", d->name, d->metavar);
    void *field = (char *)o + d->offset;
    if (strcmp(d->name, "eps") == 0) /* a number, or auto */
        o->eps_auto = strcmp(value, "auto") == 0;
    if (o->eps_auto && strcmp(d->name, "eps") == 0) {
        o->eps = 0;
        return FC_OK;
    }
    if (is_text(d))
        return set_text(ctx, d, field, value);
    if (d->kind == OPT_FLAG)
        return set_flag(ctx, d, field, value);
    if (d->kind == OPT_CHOICE)
        return set_choice(ctx, d, field, value);
    return set_number(ctx, d, field, value);
}

int fc_options_check(fc_context *ctx, const fc_options *o)
{
    if (!ctx)
        return FC_EINVAL;
    if (!o)
        return fc_error(ctx, FC_EINVAL, "no options");
    const bool hdbscan = o->method == FC_METHOD_HDBSCAN;
    if (o->eps_auto && hdbscan)
        return fc_error(ctx, FC_EINVAL, "--eps auto is for --method dbscan: HDBSCAN* needs no eps");
    if (o->eps_auto && o->groups && strcmp(o->groups, "auto") == 0)
        return fc_error(ctx, FC_EINVAL, "--groups auto needs one --eps in metres: the band "
                                        "within which sectors locate together");
    if (!(o->eps > 0) && !hdbscan && !o->eps_auto)
        return fc_error(ctx, FC_EINVAL, "--eps is required: the neighbourhood radius in metres "
                                        "(or --method hdbscan, which needs none)");
    if (!hdbscan && (o->min_cluster_size || o->min_samples || o->cluster_selection >= 0))
        return fc_error(ctx, FC_EINVAL, "--%s needs --method hdbscan",
                        o->min_cluster_size ? "min-cluster-size"
                        : o->min_samples    ? "min-samples"
                                            : "cluster-selection");
    if (hdbscan && o->min_weight >= 0)
        return fc_error(ctx, FC_EINVAL, "--min-weight is for --method dbscan: HDBSCAN* here "
                                        "counts firms, not their weight");
    if (o->eps > 0 && o->eps < FC_MIN_EPS_M) /* cells of a grid over the earth: 4 billion a side */
        return fc_error(ctx, FC_EINVAL,
                        "--eps %g m is below %g m, the smallest firmclust takes (no register "
                        "places firms closer than that): eps is in metres, whatever the CRS",
                        o->eps, FC_MIN_EPS_M);
    if (o->eps > 20037508.0)
        return fc_error(ctx, FC_EINVAL,
                        "--eps %g m is more than half the earth's circumference: is it in metres?",
                        o->eps);
    if (o->min_weight >= 0 && !o->weight_field)
        return fc_error(ctx, FC_EINVAL, "--min-weight needs --weight-field");
    if (o->institution_field && !o->institutions)
        return fc_error(ctx, FC_EINVAL, "--institution-field needs --institutions");
    if (o->groups && strcmp(o->groups, "auto") == 0 && (!o->colocation || o->permutations == 0))
        return fc_error(ctx, FC_EINVAL, "--groups auto links sectors by their co-location and its "
                                        "q-values: not with --colocation off or --permutations 0");
    if (hdbscan && !(o->eps > 0) && o->groups && strcmp(o->groups, "auto") == 0)
        return fc_error(ctx, FC_EINVAL, "--groups auto with --method hdbscan needs --eps: the "
                                        "band within which sectors locate together, measured "
                                        "before any clustering");
    if (o->groups && !o->sector_field)
        return fc_error(ctx, FC_EINVAL, "--groups needs --sector-field: a group is made of "
                                        "sector codes");
    if (o->link_clq > 0 && !(o->groups && strcmp(o->groups, "auto") == 0))
        return fc_error(ctx, FC_EINVAL, "--link-clq links sectors into groups: it needs "
                                        "--groups auto");
    if (o->min_sectors && !o->groups)
        return fc_error(ctx, FC_EINVAL, "--min-sectors needs --groups");
    if ((o->region_field || o->region_layer) && !o->regions)
        return fc_error(ctx, FC_EINVAL, "%s names part of --regions, which is not given",
                        o->region_field ? "--region-field" : "--region-layer");
    return FC_OK;
}

static char usage_text[8192];
static const char *text_ptr = usage_text;

static void build_usage(void)
{
    size_t len = 0, size = sizeof usage_text;
    for (size_t i = 0; i < N_OPTIONS && len < size; i++) {
        const opt_def *d = &option_table[i];
        len += (size_t)snprintf(usage_text + len, size - len, "  --%s%s%s\n      ", d->name,
                                d->metavar ? " " : "", d->metavar ? d->metavar : "");
        for (const char *h = d->help; *h && len < size - 8; h++)
            len += (size_t)snprintf(usage_text + len, size - len, *h == '\n' ? "\n      " : "%c", *h);
        if (len < size - 1)
            usage_text[len++] = '\n';
    }
    usage_text[len < size ? len : size - 1] = '\0';
}

/* Each option on one line, its help indented on the lines below, so that
 * the text fits in 80 columns. Built once, thread-safely. */
const char *fc_options_usage(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_usage);
    return text_ptr;
}

/* ---- configuration files ------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        s[--len] = '\0';
    return s;
}

static int push_arg(fc_context *ctx, char ***args, size_t *n, const char *a)
{
    char **grown = realloc(*args, (*n + 2) * sizeof **args);
    if (!grown)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    *args = grown;
    if (!(grown[*n] = fc_strdup(a)))
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    grown[++*n] = NULL;
    return FC_OK;
}

void fc_args_free(char **args)
{
    for (char **a = args; a && *a; a++)
        free(*a);
    free(args);
}

int fc_config_parse(fc_context *ctx, const char *name, const char *text, char ***args_out)
{
    *args_out = NULL;
    char **args = calloc(1, sizeof *args); /* a list, even an empty one */
    size_t n = 0;
    int status = FC_OK;
    char *copy = fc_strdup(text ? text : "");
    if (!args || !copy) {
        free(copy);
        fc_args_free(args);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    int line_no = 0;
    char *start = copy;
    if (strncmp(start, "\xef\xbb\xbf", 3) == 0) /* a UTF-8 byte order mark, as editors write */
        start += 3;
    for (char *line = start, *next; status == FC_OK && line; line = next) {
        line_no++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *hash = strchr(line, '#'); /* comments; a value cannot hold '#' */
        if (hash)
            *hash = '\0';
        char *l = trim(line);
        if (!*l)
            continue;
        /* "key = value", "key value", "--key value", "--key=value" or a flag */
        if (l[0] == '-' && l[1] == '-')
            l += 2;
        size_t key_len = strcspn(l, " \t=");
        char key[64];
        if (key_len == 0 || key_len >= sizeof key) {
            status = fc_error(ctx, FC_EINVAL, "%s:%d: expected 'option = value'", name, line_no);
            break;
        }
        memcpy(key, l, key_len);
        key[key_len] = '\0';
        char *value = trim(l + key_len);
        if (*value == '=')
            value = trim(value + 1);
        size_t vlen = strlen(value); /* quotes around a value are dropped */
        if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
            value[vlen - 1] = '\0';
            value++;
        }
        /* one argument, "--key=value": a flag given a value ("overwrite =
         * yes") then reads it, instead of leaving it as a file name */
        size_t size = key_len + strlen(value) + 4;
        char *arg = malloc(size);
        if (!arg) {
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
            break;
        }
        snprintf(arg, size, "--%s%s%s", key, *value ? "=" : "", value);
        status = push_arg(ctx, &args, &n, arg);
        free(arg);
    }
    free(copy);
    if (status != FC_OK) {
        fc_args_free(args);
        return status;
    }
    *args_out = args;
    return FC_OK;
}
