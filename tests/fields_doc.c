/* SPDX-License-Identifier: MIT */
/* Prints docs/fields.md, the output's field reference, from the layers'
 * schemas (src/io/schema.c): the `fields_doc` test compares the page with
 * what this prints, so that the docs and the schema cannot disagree.
 *   fields_doc > docs/fields.md */
#include "io/io.h"

#include <stdio.h>

static const char *type_name(OGRFieldType t)
{
    return t == OFTInteger ? "integer" : t == OFTReal ? "real" : t == OFTString ? "text" : "?";
}

static void layer(const char *name, const char *what, const fc_field *schema)
{
    printf("\n## %s\n\n%s\n\n| field | type | title | description |\n| --- | --- | --- | --- |\n",
           name, what);
    for (const fc_field *d = schema; d->name; d++)
        printf("| `%s` | %s | %s | %s |\n", d->name, type_name(d->type), d->title,
               d->description);
}

int main(void)
{
    printf("# Output fields\n\n"
           "Generated from the layers' schemas (`src/io/schema.c`) by `tests/fields_doc.c`; a\n"
           "test fails when this page and the schema disagree. In a GeoPackage each field's\n"
           "title and description are also in the table `gpkg_data_columns`.\n\n"
           "Fields that say \"with\" an option are there only when the run had it.\n");
    layer("clusters", "One (multi)polygon per cluster.", fc_cluster_schema());
    layer("regions", "With `--regions`: one (multi)polygon per region and sector.",
          fc_region_schema());
    layer("institutions", "With `--institutions`: one point per institution.",
          fc_institution_schema());
    layer("colocation",
          "With two sectors or more: a table, one row per ordered pair of sectors (in a "
          "directory output, `colocation.csv`).",
          fc_colocation_schema());
    return 0;
}
