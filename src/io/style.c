/* SPDX-License-Identifier: MIT */
/* QGIS styles (QML) made from what a run found, so that the layers open
 * styled: in a GeoPackage through the layer_styles table QGIS itself
 * writes, elsewhere as a .qml beside each file. */
#define _GNU_SOURCE /* open_memstream */
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>

/* One colour per sector on a map, none repeated: the 18 hues of Tableau 20
 * without its greys (dark ones first), then six darker tones of d3's
 * category20b. Grey is left for noise and for "other": beyond
 * PALETTE_SIZE sectors, the ones with the fewest clustered firms share one
 * grey category. The render draws with these styles, so map and data
 * agree. */
static const unsigned char palette[][3] = {
    {31, 119, 180},  {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},   {227, 119, 194}, {188, 189, 34},  {23, 190, 207},  {174, 199, 232},
    {255, 187, 120}, {152, 223, 138}, {255, 152, 150}, {197, 176, 213}, {196, 156, 148},
    {247, 182, 210}, {219, 219, 141}, {158, 218, 229}, {57, 59, 121},   {99, 121, 57},
    {140, 109, 49},  {123, 65, 115},  {107, 110, 207}, {0, 128, 128}};
static const unsigned char other_grey[3] = {170, 170, 170};
#define PALETTE_SIZE (sizeof palette / sizeof palette[0])

static void xml_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default: fputc(*s, out);
        }
    }
}

static void option(FILE *out, const char *name, const char *value)
{
    fprintf(out, "          <Option type=\"QString\" name=\"%s\" value=\"", name);
    xml_text(out, value);
    fputs("\"/>\n", out);
}

/* One data-defined property of a symbol layer, as QGIS writes it. */
static void dd_property(FILE *out, const char *name, const char *expression)
{
    fputs("         <data_defined_properties>\n          <Option type=\"Map\">\n"
          "           <Option type=\"QString\" name=\"name\" value=\"\"/>\n"
          "           <Option type=\"Map\" name=\"properties\">\n",
          out);
    fprintf(out, "            <Option type=\"Map\" name=\"%s\">\n"
                 "             <Option type=\"bool\" name=\"active\" value=\"true\"/>\n"
                 "             <Option type=\"QString\" name=\"expression\" value=\"",
            name);
    xml_text(out, expression);
    fputs("\"/>\n             <Option type=\"int\" name=\"type\" value=\"3\"/>\n"
          "            </Option>\n           </Option>\n"
          "           <Option type=\"QString\" name=\"type\" value=\"collection\"/>\n"
          "          </Option>\n         </data_defined_properties>\n",
          out);
}

/* A cluster too small to see at the map's scale (under 2 mm across on
 * paper) also gets a dot at its centre, sized by its firms. */
static void centroid_marker(FILE *out, const char *color, const char *outline)
{
    fputs("        <layer class=\"CentroidFill\" enabled=\"1\" locked=\"0\" pass=\"0\">\n"
          "         <Option type=\"Map\">\n",
          out);
    option(out, "point_on_all_parts", "0");
    option(out, "point_on_surface", "0");
    fputs("         </Option>\n", out);
    dd_property(out, "enabled", "sqrt(\"area_km2\") * 1e6 / @map_scale < 2");
    fputs("         <symbol type=\"marker\" name=\"@0@1\" alpha=\"1\" clip_to_extent=\"1\" "
          "force_rhr=\"0\">\n"
          "        <layer class=\"SimpleMarker\" enabled=\"1\" locked=\"0\" pass=\"0\">\n"
          "         <Option type=\"Map\">\n",
          out);
    option(out, "name", "circle");
    option(out, "color", color);
    option(out, "outline_color", outline);
    option(out, "outline_width", "0.3");
    option(out, "outline_width_unit", "MM");
    option(out, "size", "2");
    option(out, "size_unit", "MM");
    fputs("         </Option>\n", out);
    dd_property(out, "size", "1.5 + sqrt(\"n_firms\") / 5");
    fputs("        </layer>\n         </symbol>\n        </layer>\n", out);
}

static void fill_symbol(FILE *out, int name, const unsigned char *rgb, int alpha, bool marker)
{
    char color[32], outline[32], opaque[32];
    snprintf(color, sizeof color, "%d,%d,%d,%d", rgb[0], rgb[1], rgb[2], alpha);
    snprintf(opaque, sizeof opaque, "%d,%d,%d,230", rgb[0], rgb[1], rgb[2]);
    snprintf(outline, sizeof outline, "%d,%d,%d,255", rgb[0] * 3 / 5, rgb[1] * 3 / 5, rgb[2] * 3 / 5);
    fprintf(out, "      <symbol type=\"fill\" name=\"%d\" alpha=\"1\" clip_to_extent=\"1\" "
                 "force_rhr=\"0\">\n"
                 "        <layer class=\"SimpleFill\" enabled=\"1\" locked=\"0\" pass=\"0\">\n"
                 "         <Option type=\"Map\">\n",
            name);
    option(out, "color", color);
    option(out, "outline_color", outline);
    option(out, "outline_width", "0.4");
    option(out, "outline_width_unit", "MM");
    option(out, "outline_style", "solid");
    option(out, "style", "solid");
    fputs("         </Option>\n        </layer>\n", out);
    if (marker)
        centroid_marker(out, opaque, outline);
    fputs("      </symbol>\n", out);
}

static void header(FILE *out)
{
    fputs("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
          "<qgis version=\"3.22.0\" styleCategories=\"Symbology|Labeling\">\n",
          out);
}

/* The text of a memory stream, or NULL. (open_memstream sets *buf only
 * when the stream is flushed or closed.) */
static char *finish(FILE *out, char **buf)
{
    if (fclose(out) != 0) {
        free(*buf);
        return NULL;
    }
    return *buf;
}

/* Which sectors get a colour of their own: every sector with clusters when
 * they fit the palette, else the PALETTE_SIZE - 1 with the most clustered
 * firms (ties in code order), the others drawn as "other". colour[s]: 1
 * own colour, 2 other, 0 no cluster. Returns how many share "other", or
 * SIZE_MAX when out of memory. */
static size_t choose_coloured(const fc_firms *f, const fc_cluster_table *t, uint8_t *colour)
{
    size_t ns = f->n_sectors ? f->n_sectors : 1, n_with = 0, n_other = 0;
    size_t *clustered = calloc(ns, sizeof *clustered);
    if (!clustered)
        return SIZE_MAX;
    for (size_t c = 0; c < t->n; c++) {
        colour[t->sector[c]] = 1;
        clustered[t->sector[c]] += t->n_firms[c];
    }
    for (size_t s = 0; s < f->n_sectors; s++)
        n_with += colour[s] == 1;
    /* beyond the palette, "other" takes the last colour's place */
    if (n_with > PALETTE_SIZE)
        n_other = n_with - (PALETTE_SIZE - 1);
    for (size_t k = 0; k < n_other; k++) { /* the smallest, the later code on a tie */
        size_t smallest = SIZE_MAX;
        for (size_t s = f->n_sectors; s-- > 0;)
            if (colour[s] == 1 && (smallest == SIZE_MAX || clustered[s] < clustered[smallest]))
                smallest = s;
        colour[smallest] = 2;
    }
    free(clustered);
    return n_other;
}

static void category(FILE *out, int symbol, const char *value, const char *label)
{
    fprintf(out, "      <category render=\"true\" symbol=\"%d\" value=\"", symbol);
    xml_text(out, value);
    fputs("\" label=\"", out);
    xml_text(out, label);
    fputs("\"/>\n", out);
}

char *fc_style_clusters(const fc_firms *f, const fc_cluster_table *t)
{
    char *buf = NULL;
    size_t size = 0;
    uint8_t *colour = calloc(f->n_sectors ? f->n_sectors : 1, 1);
    FILE *out = colour ? open_memstream(&buf, &size) : NULL;
    if (!out) {
        free(colour);
        return NULL;
    }
    size_t n_other = choose_coloured(f, t, colour);
    if (n_other == SIZE_MAX) {
        fclose(out);
        free(buf);
        free(colour);
        return NULL;
    }
    header(out);
    fputs("  <renderer-v2 type=\"categorizedSymbol\" attr=\"sector\" forceraster=\"0\" "
          "symbollevels=\"0\" enableorderby=\"0\" referencescale=\"-1\">\n    <categories>\n",
          out);
    /* one category per coloured sector, in code order; then "other", whose
     * empty value QGIS matches against every other value */
    int k = 0;
    for (size_t s = 0; s < f->n_sectors; s++) {
        if (colour[s] != 1)
            continue;
        /* the legend says what the code means: "47 Retail trade, ..." */
        const char *name = f->sector_names ? f->sector_names[s] : NULL;
        char *label = name ? CPLStrdup(CPLSPrintf("%s %s", f->sector_codes[s], name)) : NULL;
        category(out, k++, f->sector_codes[s], label ? label : f->sector_codes[s]);
        CPLFree(label);
    }
    if (n_other) {
        char label[64];
        snprintf(label, sizeof label, "other (%zu sectors)", n_other);
        category(out, k, "", label);
    }
    fputs("    </categories>\n    <symbols>\n", out);
    for (int i = 0; i < k; i++)
        fill_symbol(out, i, palette[i], 110, true); /* fill 43% opaque */
    if (n_other)
        fill_symbol(out, k, other_grey, 110, true);
    fputs("    </symbols>\n  </renderer-v2>\n", out);
    /* labels: "name (firms)", the name cut at its first comma ("Retail
     * trade, except of motor vehicles ..." is "Retail trade") and wrapped
     * at 20 characters; "sector (firms)" where the sectors have no names */
    fputs("  <labeling type=\"simple\">\n    <settings calloutType=\"simple\">\n", out);
    fputs(f->sector_names
              ? "      <text-style fieldName=\"coalesce(regexp_substr(&quot;sect_name&quot;, "
                "'^[^,]+'), &quot;sector&quot;) || ' (' || &quot;n_firms&quot; || ')'\" "
              : "      <text-style fieldName=\"&quot;sector&quot; || ' (' || &quot;n_firms&quot; "
                "|| ')'\" ",
          out);
    fputs("isExpression=\"1\" fontSize=\"8\" fontSizeUnit=\"Point\" textColor=\"30,30,30,255\" "
          "textOpacity=\"1\" fontWeight=\"63\">\n"
          "        <text-buffer bufferDraw=\"1\" bufferSize=\"0.7\" bufferSizeUnits=\"MM\" "
          "bufferColor=\"255,255,255,255\" bufferOpacity=\"0.85\" bufferNoFill=\"1\"/>\n"
          "      </text-style>\n"
          "      <text-format wrapChar=\"\" autoWrapLength=\"20\" "
          "useMaxLineLengthForAutoWrap=\"1\" multilineAlign=\"1\"/>\n"
          "      <rendering drawLabels=\"1\" obstacle=\"1\" upsidedownLabels=\"0\"/>\n"
          /* the largest clusters are labelled first: where labels would
           * collide, QGIS keeps the one of higher priority */
          "      <dd_properties>\n        <Option type=\"Map\">\n"
          "          <Option type=\"QString\" name=\"name\" value=\"\"/>\n"
          "          <Option type=\"Map\" name=\"properties\">\n"
          "            <Option type=\"Map\" name=\"Priority\">\n"
          "              <Option type=\"bool\" name=\"active\" value=\"true\"/>\n"
          "              <Option type=\"QString\" name=\"expression\" "
          "value=\"min(10, 1 + 1.5 * ln(&quot;n_firms&quot;))\"/>\n"
          "              <Option type=\"int\" name=\"type\" value=\"3\"/>\n"
          "            </Option>\n          </Option>\n"
          "          <Option type=\"QString\" name=\"type\" value=\"collection\"/>\n"
          "        </Option>\n      </dd_properties>\n"
          "    </settings>\n  </labeling>\n</qgis>\n",
          out);
    free(colour);
    return finish(out, &buf);
}

/* A marker symbol's opening, up to its simple marker's options. */
static void marker_open(FILE *out, const char *name, const char *alpha)
{
    fprintf(out, "      <symbol type=\"marker\" name=\"%s\" alpha=\"%s\" clip_to_extent=\"1\" "
          "force_rhr=\"0\">\n        <layer class=\"SimpleMarker\" enabled=\"1\" locked=\"0\" "
          "pass=\"0\">\n         <Option type=\"Map\">\n", name, alpha);
}

char *fc_style_firms(void)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        return NULL;
    header(out);
    fputs("  <renderer-v2 type=\"RuleRenderer\" forceraster=\"0\" symbollevels=\"0\" "
          "enableorderby=\"0\" referencescale=\"-1\">\n"
          "    <rules key=\"root\">\n"
          "      <rule key=\"noise\" symbol=\"0\" label=\"not in a cluster\" "
          "filter=\"&quot;cluster_id&quot; IS NULL\"/>\n"
          "      <rule key=\"clustered\" symbol=\"1\" label=\"in a cluster\" "
          "filter=\"ELSE\"/>\n"
          "    </rules>\n    <symbols>\n",
          out);
    /* noise: small, grey, faint */
    marker_open(out, "0", "0.5");
    option(out, "name", "circle");
    option(out, "color", "150,150,150,255");
    option(out, "outline_style", "no");
    option(out, "size", "1");
    option(out, "size_unit", "MM");
    fputs("         </Option>\n        </layer>\n      </symbol>\n", out);
    /* clustered: a hue per cluster id, spread round the colour wheel */
    marker_open(out, "1", "1");
    option(out, "name", "circle");
    option(out, "color", "78,121,167,255");
    option(out, "outline_color", "40,40,40,255");
    option(out, "outline_width", "0.1");
    option(out, "size", "1.6");
    option(out, "size_unit", "MM");
    fputs("         </Option>\n"
          "         <data_defined_properties>\n          <Option type=\"Map\">\n"
          "           <Option type=\"QString\" name=\"name\" value=\"\"/>\n"
          "           <Option type=\"Map\" name=\"properties\">\n"
          "            <Option type=\"Map\" name=\"fillColor\">\n"
          "             <Option type=\"bool\" name=\"active\" value=\"true\"/>\n"
          "             <Option type=\"QString\" name=\"expression\" "
          "value=\"color_hsv((&quot;cluster_id&quot; * 137) % 360, 70, 85)\"/>\n"
          "             <Option type=\"int\" name=\"type\" value=\"3\"/>\n"
          "            </Option>\n           </Option>\n"
          "           <Option type=\"QString\" name=\"type\" value=\"collection\"/>\n"
          "          </Option>\n         </data_defined_properties>\n"
          "        </layer>\n      </symbol>\n    </symbols>\n  </renderer-v2>\n</qgis>\n",
          out);
    return finish(out, &buf);
}

char *fc_style_regions(void)
{
    static const struct {
        double lower, upper;
        const char *label;
        unsigned char rgb[3];
    } classes[] = {
        {0, 0.5, "under 0.5: far below the nation", {33, 102, 172}},
        {0.5, 0.8, "0.5 to 0.8", {146, 197, 222}},
        {0.8, 1.25, "0.8 to 1.25: as the nation", {247, 247, 247}},
        {1.25, 2, "1.25 to 2", {244, 165, 130}},
        {2, 1e9, "2 and over: specialised", {178, 24, 43}},
    };
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        return NULL;
    header(out);
    fputs("  <renderer-v2 type=\"graduatedSymbol\" attr=\"lq\" graduatedMethod=\"GraduatedColor\" "
          "forceraster=\"0\" symbollevels=\"0\" enableorderby=\"0\" referencescale=\"-1\">\n"
          "    <ranges>\n",
          out);
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        fprintf(out, "      <range render=\"true\" symbol=\"%zu\" lower=\"%g\" upper=\"%g\" "
                     "label=\"%s\"/>\n",
                i, classes[i].lower, classes[i].upper, classes[i].label);
    fputs("    </ranges>\n    <symbols>\n", out);
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        fill_symbol(out, (int)i, classes[i].rgb, 255, false);
    fputs("    </symbols>\n  </renderer-v2>\n</qgis>\n", out);
    return finish(out, &buf);
}

/* ---- where styles go ------------------------------------------------------ */

/* A GeoPackage's layer_styles table, as QGIS writes it, one row per layer
 * with useAsDefault, so that QGIS opens each layer styled. */
static int write_layer_styles(fc_context *ctx, GDALDatasetH ds, const char *const *layers,
                              char *const *qml, int n)
{
    OGRLayerH l = GDALDatasetCreateLayer(ds, "layer_styles", NULL, wkbNone, NULL);
    if (!l)
        return fc_error_gdal(ctx, FC_EIO, "%s: cannot create layer_styles", GDALGetDescription(ds));
    static const struct {
        const char *name;
        OGRFieldType type;
        int width;
    } fields[] = {{"f_table_catalog", OFTString, 256}, {"f_table_schema", OFTString, 256},
                  {"f_table_name", OFTString, 256},    {"f_geometry_column", OFTString, 256},
                  {"styleName", OFTString, 30},        {"styleQML", OFTString, 0},
                  {"styleSLD", OFTString, 0},          {"useAsDefault", OFTInteger, 0},
                  {"description", OFTString, 0},       {"owner", OFTString, 30},
                  {"ui", OFTString, 30},               {"update_time", OFTDateTime, 0}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(fields[i].name, fields[i].type);
        OGR_Fld_SetWidth(fd, fields[i].width);
        if (strcmp(fields[i].name, "useAsDefault") == 0)
            OGR_Fld_SetSubType(fd, OFSTBoolean);
        OGRErr err = OGR_L_CreateField(l, fd, TRUE);
        OGR_Fld_Destroy(fd);
        if (err != OGRERR_NONE)
            return fc_error_gdal(ctx, FC_EIO, "cannot create field %s of layer_styles", fields[i].name);
    }
    int status = FC_OK;
    for (int i = 0; i < n && status == FC_OK; i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
        OGR_F_SetFieldString(f, 0, "");
        OGR_F_SetFieldString(f, 1, "");
        OGR_F_SetFieldString(f, 2, layers[i]);
        OGR_F_SetFieldString(f, 3, "geom");
        OGR_F_SetFieldString(f, 4, layers[i]);
        OGR_F_SetFieldString(f, 5, qml[i]);
        OGR_F_SetFieldString(f, 6, "");
        OGR_F_SetFieldInteger(f, 7, 1);
        OGR_F_SetFieldString(f, 8, "written by firmclust " FIRMCLUST_VERSION);
        OGR_F_SetFieldString(f, 9, "");
        OGR_F_SetFieldString(f, 10, "");
        OGR_F_SetFieldDateTimeEx(f, 11, 2000, 1, 1, 0, 0, 0, 100); /* fixed: same bytes */
        if (OGR_L_CreateFeature(l, f) != OGRERR_NONE)
            status = fc_error_gdal(ctx, FC_EIO, "cannot write the style of layer %s", layers[i]);
        OGR_F_Destroy(f);
    }
    return status;
}

/* Institutions: a dark purple star each, labelled by name (or type) where
 * the labels fit. */
char *fc_style_institutions(const char *label_field)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        return NULL;
    header(out);
    fputs("  <renderer-v2 type=\"singleSymbol\" forceraster=\"0\" symbollevels=\"0\" "
          "enableorderby=\"0\" referencescale=\"-1\">\n    <symbols>\n",
          out);
    marker_open(out, "0", "1");
    option(out, "name", "star");
    option(out, "color", "106,61,154,255");
    option(out, "outline_color", "255,255,255,255");
    option(out, "outline_width", "0.3");
    option(out, "size", "4");
    option(out, "size_unit", "MM");
    fputs("         </Option>\n        </layer>\n      </symbol>\n    </symbols>\n"
          "  </renderer-v2>\n",
          out);
    if (label_field) {
        fputs("  <labeling type=\"simple\">\n    <settings calloutType=\"simple\">\n"
              "      <text-style fieldName=\"",
              out);
        xml_text(out, label_field);
        fputs("\" isExpression=\"0\" fontSize=\"7\" fontSizeUnit=\"Point\" "
              "textColor=\"106,61,154,255\" textOpacity=\"1\" fontItalic=\"1\">\n"
              "        <text-buffer bufferDraw=\"1\" bufferSize=\"0.7\" bufferSizeUnits=\"MM\" "
              "bufferColor=\"255,255,255,255\" bufferOpacity=\"0.85\" bufferNoFill=\"1\"/>\n"
              "      </text-style>\n"
              "      <placement placement=\"6\" dist=\"1.5\" distUnits=\"MM\"/>\n"
              "      <rendering drawLabels=\"1\" obstacle=\"1\" upsidedownLabels=\"0\"/>\n"
              "    </settings>\n  </labeling>\n",
              out);
    }
    fputs("</qgis>\n", out);
    return finish(out, &buf);
}

/* The style with the schema's titles as QGIS's field aliases (the "Fields"
 * style category), so that the attribute table and forms say "share in
 * region" for reg_share; qml is freed. NULL when out of memory. */
static char *with_aliases(char *qml, const fc_field *schema, const fc_findings *r)
{
    static const char old_head[] = "styleCategories=\"Symbology|Labeling\"";
    char *head = qml ? strstr(qml, old_head) : NULL, *end = qml ? strstr(qml, "</qgis>") : NULL;
    char *buf = NULL;
    size_t size = 0;
    FILE *out = head && end ? open_memstream(&buf, &size) : NULL;
    if (!out) {
        free(qml);
        return NULL;
    }
    fprintf(out, "%.*sstyleCategories=\"Symbology|Labeling|Fields\"%.*s  <aliases>\n",
            (int)(head - qml), qml, (int)(end - head - (sizeof old_head - 1)),
            head + sizeof old_head - 1);
    int k = 0;
    for (const fc_field *d = schema; d->name; d++)
        if (!d->present || d->present(r)) {
            fprintf(out, "    <alias field=\"%s\" index=\"%d\" name=\"", d->name, k++);
            xml_text(out, d->title);
            fputs("\"/>\n", out);
        }
    fprintf(out, "  </aliases>\n%s", end);
    free(qml);
    return finish(out, &buf);
}

int fc_write_styles(fc_context *ctx, const fc_output *out, GDALDatasetH ds, const fc_findings *r)
{
    const char *layers[4] = {"clusters", "firms"};
    char *qml[4] = {with_aliases(fc_style_clusters(r->firms, r->clusters), fc_cluster_schema(), r),
                    fc_style_firms()};
    int n = 2, status = FC_OK;
    if (r->regions) {
        layers[n] = "regions";
        qml[n++] = with_aliases(fc_style_regions(), fc_region_schema(), r);
    }
    if (r->institutions) {
        const fc_institutions *in = r->institutions;
        layers[n] = "institutions";
        qml[n++] = with_aliases(
            fc_style_institutions(in->has_names ? "name" : in->has_types ? "type" : NULL),
            fc_institution_schema(), r);
    }
    for (int i = 0; i < n; i++)
        if (!qml[i])
            status = fc_error(ctx, FC_ENOMEM, "out of memory writing styles");
    const char *driver = GDALGetDriverShortName(out->driver);
    if (status == FC_OK && !out->is_directory && strcmp(driver, "GPKG") == 0) {
        status = write_layer_styles(ctx, ds, layers, qml, n);
    } else if (status == FC_OK && out->is_directory) {
        for (int i = 0; i < n && status == FC_OK; i++) { /* NAME.qml beside NAME.ext */
            char path[4200];
            snprintf(path, sizeof path, "%s/%s.qml", out->tmp_path, layers[i]);
            FILE *f = fopen(path, "w");
            if (!f || fputs(qml[i], f) < 0)
                status = fc_error(ctx, FC_EIO, "%s: cannot write %s.qml", out->final_path, layers[i]);
            if (f && fclose(f) != 0 && status == FC_OK)
                status = fc_error(ctx, FC_EIO, "%s: cannot write %s.qml", out->final_path, layers[i]);
        }
    }
    for (int i = 0; i < 4; i++)
        free(qml[i]);
    return status;
}
