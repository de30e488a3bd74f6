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

int main(void)
{
    printf("# Output fields\n\n"
           "Generated from the layers' schemas (`src/io/schema.c`) by `tests/fields_doc.c`; a\n"
           "test fails when this page and the schema disagree. In a GeoPackage each field's\n"
           "title and description are also in the table `gpkg_data_columns`.\n\n"
           "## clusters\n\n"
           "One (multi)polygon per cluster; fields that say \"with\" an option are there only\n"
           "when the run had it.\n\n"
           "| field | type | title | description |\n| --- | --- | --- | --- |\n");
    for (const fc_field *d = fc_cluster_schema(); d->name; d++)
        printf("| `%s` | %s | %s | %s |\n", d->name, type_name(d->type), d->title,
               d->description);
    return 0;
}
