# SPDX-License-Identifier: MIT
# firmclust render: draws a firmclust output as a map with QGIS's own
# renderer, so the map shows the styles the output carries, with the regions'
# names, a legend, a scale bar, a north arrow and a source line. Run by
# `firmclust render` as:
#   python3 render.py OUTPUT PICTURE [key=value ...]
# with keys format (png, pdf or svg), regions, title, source, dpi, extent
# (xmin,ymin,xmax,ymax in longitude/latitude), region (a region's name),
# atlas, colocation (a heat map of the colocation table instead of a map) and
# curves (OUTPUT is the JSON of `firmclust suggest`: its k-distance curves).
# The tool has checked them; PICTURE is a temporary name it moves into place.
import collections
import datetime
import json
import math
import os
import sys

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform,
                       QgsFeature, QgsLayoutFrame, QgsLayoutItemAttributeTable, QgsLayoutObject,
                       QgsLayoutTableColumn, QgsProperty, QgsSymbolLayer,
                       QgsFillSymbol, QgsLayoutExporter, QgsLayoutItemLabel, QgsLayoutItemLegend,
                       QgsLayoutItemMap, QgsLayoutItemPicture, QgsLayoutItemScaleBar,
                       QgsLayoutPoint, QgsLayoutSize, QgsLayoutUtils, QgsLegendRenderer,
                       QgsPalLayerSettings, QgsPrintLayout, QgsScaleBarSettings,
                       QgsProject, QgsRectangle, QgsRenderContext, QgsTextBufferSettings,
                       QgsTextFormat, QgsUnitTypes, QgsVectorLayer, QgsVectorLayerSimpleLabeling,
                       QgsLayoutItemShape, QgsLayoutItemPolyline, QgsLineSymbol)
from qgis.PyQt.QtCore import QPointF, QRectF
from qgis.PyQt.QtGui import QColor, QFont, QPolygonF

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")
# exit status for what the user gave (the message is the last line on stderr)
BAD_INPUT = 3
# fields that name a region, most wanted first (the bundled oblasts: ADM1_EN)
NAME_FIELDS = ("ADM1_EN", "ADM2_EN", "name_en", "NAME_EN", "name", "NAME", "Name", "ADM1_RU",
               "ADM1_KK")


def layer(output, name):
    """A layer of a GeoPackage output, or a file of a directory output."""
    if os.path.isdir(output):
        for f in sorted(os.listdir(output)):
            if os.path.splitext(f)[0] == name and not f.endswith(".qml") and \
                    os.path.splitext(f)[1] in (".shp", ".gpkg", ".geojson", ".fgb", ".csv"):
                return QgsVectorLayer(os.path.join(output, f), name, "ogr")
        return None
    return QgsVectorLayer(f"{output}|layername={name}", name, "ogr")


WRAP = "\u2028"  # where a legend label breaks: a character no name holds


def wrapped(label, width):
    """The label with WRAP between words, so that no line is much over width."""
    lines, line = [], ""
    for word in label.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return WRAP.join(lines + [line])


def wrap_category_labels(clusters):
    """Long sector names over several lines of the legend (its wrap string
    set to WRAP), before the legend is made; on the map only: the style in
    the output is not saved again."""
    renderer = clusters.renderer()
    for i, c in enumerate(renderer.categories() if hasattr(renderer, "categories") else []):
        renderer.updateCategoryLabel(i, wrapped(c.label(), 34))


# over more degrees than these a map's scale varies too much for a conic and
# a scale bar: it gets a plate carree and no bar
WIDE_LONGITUDE, WIDE_LATITUDE = 60.0, 40.0
# the least a view shows, in metres, where the firms stand at one place
LEAST_VIEW_M = 2000.0


def is_wide(extent):
    return extent.width() > WIDE_LONGITUDE or extent.height() > WIDE_LATITUDE


def view_crs(extent):
    """The map's CRS: the fitted conic, or for a continent or the world a plate
    carree (a conic fitted to the whole world degenerates)."""
    if is_wide(extent):
        return QgsCoordinateReferenceSystem.fromProj(
            f"+proj=eqc +lon_0={extent.center().x()} +datum=WGS84 +units=m +no_defs")
    return fitted_conic(extent)


def at_least(view, metres):
    """view (in metres) grown about its centre to at least metres a side: a
    cluster of one firm, or of firms at one place, has an extent of nothing."""
    if view.width() >= metres and view.height() >= metres:
        return view
    c = view.center()
    half_w, half_h = max(view.width(), metres) / 2, max(view.height(), metres) / 2
    return QgsRectangle(c.x() - half_w, c.y() - half_h, c.x() + half_w, c.y() + half_h)


def firms_inside(firms, view_wgs84, project):
    """Whether any firm lies in the view."""
    to_layer = QgsCoordinateTransform(WGS84, firms.crs(), project)
    box = to_layer.transformBoundingBox(view_wgs84)
    return any(True for _ in firms.getFeatures(box))


def fitted_conic(extent):
    """An equidistant conic fitted to a longitude/latitude extent, as firmclust
    measures in."""
    lat0, lat1 = extent.yMinimum(), extent.yMaximum()
    return QgsCoordinateReferenceSystem.fromProj(
        f"+proj=eqdc +lat_1={lat0 + (lat1 - lat0) / 6} +lat_2={lat1 - (lat1 - lat0) / 6} "
        f"+lon_0={extent.center().x()} +datum=WGS84 +units=m +no_defs")


def name_field(regions):
    """The field that names the regions: a known one, else the first text field."""
    names = [f.name() for f in regions.fields()]
    for wanted in NAME_FIELDS:
        if wanted in names:
            return wanted
    for f in regions.fields():
        if f.type() == 10:  # QVariant.String
            return f.name()
    return None


def style_regions(regions, field):
    """Pale fill, grey outline, and each region's name in grey italics, placed
    where cluster labels (of higher priority) leave room."""
    regions.setRenderer(regions.renderer().clone())
    regions.renderer().setSymbol(QgsFillSymbol.createSimple(
        {"color": "244,242,236,255", "outline_color": "120,120,120,255", "outline_width": "0.25"}))
    if not field:
        return
    settings = QgsPalLayerSettings()
    settings.fieldName = field
    settings.placement = QgsPalLayerSettings.OverPoint
    settings.priority = 1
    text = QgsTextFormat()
    font = QFont("Sans", 7)
    font.setItalic(True)
    text.setFont(font)
    text.setSize(7)
    text.setColor(QColor(110, 110, 110))
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(0.6)
    buffer.setColor(QColor(244, 242, 236))
    text.setBuffer(buffer)
    settings.setFormat(text)
    regions.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    regions.setLabelsEnabled(True)


def find_region(regions, wanted):
    """The feature of the region called `wanted` (any text field, any case)."""
    wanted = wanted.casefold()
    text_fields = [f.name() for f in regions.fields() if f.type() == 10]
    for feature in regions.getFeatures():
        for name in text_fields:
            value = feature[name]
            if isinstance(value, str) and value.casefold() == wanted:
                return feature
    return None


def view_extent(options, regions, firms, project):
    """What to show, in longitude/latitude: --extent, --region, or all."""
    if options.get("extent"):
        xmin, ymin, xmax, ymax = (float(v) for v in options["extent"].split(","))
        return QgsRectangle(xmin, ymin, xmax, ymax), None
    whole = regions if regions else firms
    source = whole.crs()
    extent = whole.extent()
    if options.get("region"):
        feature = find_region(regions, options["region"])
        if feature is None:
            field = name_field(regions)
            known = sorted({str(f[field]) for f in regions.getFeatures()}) if field else []
            return None, (f"{options['regions']}: no region named '{options['region']}'"
                          f" (regions: {', '.join(known[:30])})")
        extent = feature.geometry().boundingBox()
    to_wgs84 = QgsCoordinateTransform(source, WGS84, project)
    return to_wgs84.transformBoundingBox(extent), None


def add_layout_items(layout, item, width, map_width, map_height, title, source_line,
                     title_too=True, source_y=None, scale_bar=True):
    """Title, scale bar, north arrow and source line around the map item."""
    if title_too:
        label = QgsLayoutItemLabel(layout)
        label.setText(title)
        label.setFont(QFont("Sans", 16))
        label.attemptSetSceneRect(QRectF(4, 2, width - 8, 10))
        layout.addLayoutItem(label)
    if scale_bar:
        add_scale_bar(layout, item, map_height)
    add_arrow_and_source(layout, item, width, map_width, map_height, source_line, source_y)


def add_scale_bar(layout, item, map_height):
    scale = QgsLayoutItemScaleBar(layout)
    scale.setStyle("Single Box")
    scale.setLinkedMap(item)
    scale.setUnits(QgsUnitTypes.DistanceKilometers)
    scale.setUnitLabel("km")
    scale.setNumberOfSegments(2)
    scale.setNumberOfSegmentsLeft(0)
    # segments sized to the map at each page (an atlas changes the scale)
    scale.setSegmentSizeMode(QgsScaleBarSettings.SegmentSizeFitWidth)
    scale.setMinimumBarWidth(25)
    scale.setMaximumBarWidth(45)
    scale.setBackgroundEnabled(True)
    scale.attemptMove(QgsLayoutPoint(7, 14 + map_height - 14, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(scale)


def add_arrow_and_source(layout, item, width, map_width, map_height, source_line, source_y):
    arrow = QgsLayoutItemPicture(layout)
    arrow.setPicturePath(":/images/north_arrows/layout_default_north_arrow.svg")
    arrow.setLinkedMap(item)
    arrow.attemptSetSceneRect(QRectF(4 + map_width - 14, 17, 10, 12))
    layout.addLayoutItem(arrow)
    source = QgsLayoutItemLabel(layout)
    source.setText(source_line)
    source.setFont(QFont("Sans", 7))
    source.setFontColor(QColor(90, 90, 90))
    source_y = 14 + map_height + 1.5 if source_y is None else source_y
    source.attemptSetSceneRect(QRectF(4, source_y, width - 8, 5))
    layout.addLayoutItem(source)


def pdf_settings(dpi):
    """PDF with text as text, not outlines: names and tables can be searched
    and copied."""
    settings = QgsLayoutExporter.PdfExportSettings()
    settings.dpi = dpi
    settings.textRenderFormat = QgsRenderContext.TextFormatAlwaysText
    return settings


def export(layout, picture, fmt, dpi):
    exporter = QgsLayoutExporter(layout)
    if fmt == "pdf":
        return exporter.exportToPdf(picture, pdf_settings(dpi))
    if fmt == "svg":
        settings = QgsLayoutExporter.SvgExportSettings()
        settings.dpi = dpi
        return exporter.exportToSvg(picture, settings)
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = dpi
    return exporter.exportToImage(picture, settings)


def export_or_say(layout, picture, options, what):
    """Exports the layout in the asked format: 0, or 1 with a message saying
    what could not be written."""
    result = export(layout, picture, options["format"], int(options.get("dpi") or 150))
    if result != QgsLayoutExporter.Success:
        sys.stderr.write(f"{picture}: QGIS could not write the {what}\n")
        return 1
    return 0


def main(output, picture, options):
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    if options.get("colocation"):
        return heat_map(output, picture, options, project)
    if options.get("curves"):
        return k_distance_curves(output, picture, options, project)
    clusters, firms = layer(output, "clusters"), layer(output, "firms")
    if not clusters or not clusters.isValid() or not firms or not firms.isValid():
        sys.stderr.write(f"{output}: no clusters and firms layers to draw\n")
        return BAD_INPUT
    layers = [clusters, firms]
    regions = None
    if options.get("regions"):
        regions = QgsVectorLayer(options["regions"], "regions", "ogr")
        if not regions.isValid():
            sys.stderr.write(f"{options['regions']}: cannot open the regions\n")
            return BAD_INPUT
        style_regions(regions, name_field(regions))
        layers.append(regions)
    for l in layers:
        project.addMapLayer(l)
    if options.get("atlas"):
        return atlas(options, clusters, firms, regions, project, picture)

    view_wgs84, problem = view_extent(options, regions, firms, project)
    if problem:
        sys.stderr.write(problem + "\n")
        return BAD_INPUT
    if not firms_inside(firms, view_wgs84, project):
        e = QgsCoordinateTransform(firms.crs(), WGS84, project).transformBoundingBox(
            firms.extent())
        sys.stderr.write(f"Warning: no firm of {output} lies in the map's extent; they lie within "
                         f"{e.xMinimum():.4f},{e.yMinimum():.4f},{e.xMaximum():.4f},"
                         f"{e.yMaximum():.4f} (W,S,E,N)\n")
    wide = is_wide(view_wgs84)
    if wide:
        sys.stderr.write(f"Warning: the map spans {view_wgs84.width():.0f} by "
                         f"{view_wgs84.height():.0f} degrees, where the scale varies: it is drawn "
                         f"in longitude and latitude (plate carree), without a scale bar\n")
    crs = view_crs(view_wgs84)
    view = QgsCoordinateTransform(WGS84, crs, project).transformBoundingBox(view_wgs84)
    view = at_least(view, LEAST_VIEW_M)
    view.scale(1.04)

    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    map_width = 218.0
    map_height = max(60.0, map_width * view.height() / view.width())
    # the legend lists every sector: in two columns when their labels are
    # short (codes), one when they are names, wrapped; the page grows to hold it
    renderer = clusters.renderer()
    categories = renderer.categories() if hasattr(renderer, "categories") else []
    entries = len(categories) or 5
    named = any(len(c.label()) > 12 for c in categories)
    columns = 2 if entries > 8 and not named else 1
    wrap_category_labels(clusters)

    item = QgsLayoutItemMap(layout)
    item.attemptSetSceneRect(QRectF(4, 14, map_width, map_height))
    item.setCrs(crs)
    item.setLayers(layers)
    item.setExtent(view)
    item.setFrameEnabled(True)
    layout.addLayoutItem(item)
    legend = QgsLayoutItemLegend(layout)
    legend.setTitle("Legend")
    legend.setColumnCount(columns)
    legend.setWrapString(WRAP)
    legend.setLinkedMap(item)
    legend.attemptMove(QgsLayoutPoint(226, 14, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(legend)
    size = QgsLegendRenderer(legend.model(), legend.legendSettings()).minimumSize(
        QgsLayoutUtils.createRenderContextForLayout(layout, None))
    width = max(296.0, 226 + size.width() + 4)
    height = max(map_height, size.height()) + 24
    layout.pageCollection().page(0).setPageSize(QgsLayoutSize(width, height))
    add_layout_items(layout, item, width, map_width, map_height,
                     options.get("title") or "Economic clusters", options["source"],
                     scale_bar=not wide)
    status = export_or_say(layout, picture, options, "map")
    app.exitQgis()
    return status


# ---- the atlas: a cover, then one page per region with clusters ------------

# (field, heading, the expression that shows it)
ATLAS_COLUMNS = [("sector", "sector", '"sector"'), ("sect_name", "name", '"sect_name"'),
                 ("n_firms", "firms", '"n_firms"'), ("weight", "employees", '"weight"'),
                 ("area_km2", "km²", 'format_number("area_km2", 1)'),
                 ("region_lq", "LQ", 'format_number("region_lq", 2)'),
                 ("p_value", "p", 'format_number("p_value", 3)'),
                 ("q_value", "q", 'format_number("q_value", 3)')]


def atlas_coverage(regions, field, clusters, project):
    """A memory layer of the regions that hold a cluster, by name, after a
    first feature for the cover (the whole extent, named "")."""
    with_clusters = collections.Counter(f["region"] for f in clusters.getFeatures()
                                        if f["region"] is not None)
    coverage = QgsVectorLayer(f"MultiPolygon?crs={regions.crs().authid() or 'EPSG:4326'}"
                              "&field=name:string&field=clusters:integer", "pages", "memory")
    cover = QgsFeature(coverage.fields())
    whole = None
    pages = []
    for f in regions.getFeatures():
        geom = f.geometry()
        whole = geom if whole is None else whole.combine(geom)
        if f[field] in with_clusters:
            page = QgsFeature(coverage.fields())
            page.setGeometry(geom)
            page.setAttributes([f[field], with_clusters[f[field]]])
            pages.append(page)
    pages.sort(key=lambda p: p["name"])
    cover.setGeometry(whole)
    cover.setAttributes(["", len(pages)])
    coverage.dataProvider().addFeatures([cover] + pages)
    project.addMapLayer(coverage, False)
    return coverage, pages


def grey_neighbours(regions, field):
    """The page's region pale, the others grey."""
    symbol = regions.renderer().symbol()
    expression = (f"if(\"{field}\" = @atlas_pagename or @atlas_pagename = '', "
                  "'244,242,236,255', '214,214,214,255')")
    symbol.symbolLayer(0).setDataDefinedProperty(QgsSymbolLayer.PropertyFillColor,
                                                 QgsProperty.fromExpression(expression))


def only_on(item, cover):
    """Shows an item on the cover only, or on every page but the cover."""
    item.dataDefinedProperties().setProperty(
        QgsLayoutObject.ExcludeFromExports,
        QgsProperty.fromExpression("@atlas_featurenumber > 1" if cover
                                   else "@atlas_featurenumber = 1"))


def largest_first(clusters, project):
    """The clusters' attributes in a memory layer, most firms first (ties in
    the layer's order): the atlas table lists its rows in this order.
    QgsLayoutItemAttributeTable's own sorting corrupted the heap in QGIS 3.22."""
    rows = QgsVectorLayer("None", "clusters by size", "memory")
    rows.dataProvider().addAttributes(clusters.fields().toList())
    rows.updateFields()
    features = sorted(clusters.getFeatures(), key=lambda f: -(f["n_firms"] or 0))
    copies = []
    for f in features:
        copy = QgsFeature(rows.fields())
        copy.setAttributes(f.attributes())
        copies.append(copy)
    rows.dataProvider().addFeatures(copies)
    project.addMapLayer(rows, False)
    return rows


def clusters_table(layout, clusters, y, height):
    """The page's clusters, most firms first: sector, name, firms, employees,
    area, LQ, p and q."""
    table = QgsLayoutItemAttributeTable.create(layout)
    layout.addMultiFrame(table)  # the layout owns it
    table.setVectorLayer(largest_first(clusters, layout.project()))
    names = [f.name() for f in clusters.fields()]
    columns = []
    for field, heading, expression in ATLAS_COLUMNS:
        if field in names:
            column = QgsLayoutTableColumn(heading)
            column.setAttribute(expression)
            columns.append(column)
    table.setColumns(columns)
    table.setFilterFeatures(True)
    table.setFeatureFilter("\"region\" = @atlas_pagename")
    table.setMaximumNumberOfFeatures(40)
    content, header = QgsTextFormat(), QgsTextFormat()
    content.setFont(QFont("Sans"))
    content.setSize(7)
    header.setFont(QFont("Sans", 7, QFont.Bold))
    header.setSize(7)
    table.setContentTextFormat(content)
    table.setHeaderTextFormat(header)
    frame = QgsLayoutFrame(layout, table)
    frame.attemptSetSceneRect(QRectF(4, y, 289, height))
    table.addFrame(frame)
    table.setCellMargin(0.5)  # once it has a frame: QGIS 3.22 lays it out at once
    only_on(frame, cover=False)
    return frame


def atlas(options, clusters, firms, regions, project, picture):
    field = name_field(regions)
    if "region" not in [f.name() for f in clusters.fields()]:
        sys.stderr.write(f"{options['output']}: its clusters have no region: run firmclust "
                         "cluster with --regions to make an atlas\n")
        return BAD_INPUT
    coverage, pages = atlas_coverage(regions, field, clusters, project)
    if not pages:
        sys.stderr.write(f"{options['output']}: no cluster lies in a region of "
                         f"{options['regions']}\n")
        return BAD_INPUT
    grey_neighbours(regions, field)
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()  # A4 landscape
    layout.atlas().setCoverageLayer(coverage)
    layout.atlas().setPageNameExpression("\"name\"")
    layout.atlas().setEnabled(True)
    item = QgsLayoutItemMap(layout)
    item.attemptSetSceneRect(QRectF(4, 14, 200, 110))
    whole = QgsCoordinateTransform(regions.crs(), WGS84, project).transformBoundingBox(
        regions.extent())
    item.setCrs(fitted_conic(whole))
    item.setLayers([clusters, firms, regions])
    item.setFrameEnabled(True)
    item.setAtlasDriven(True)
    item.setAtlasScalingMode(QgsLayoutItemMap.Auto)
    item.setAtlasMargin(0.08)
    layout.addLayoutItem(item)
    title = options.get("title") or "Economic clusters"
    label = QgsLayoutItemLabel(layout)
    label.setText(f"[% if(@atlas_featurenumber = 1, '{title.replace(chr(39), chr(39) * 2)}', "
                  f"@atlas_pagename || ': ' || \"clusters\" || ' clusters') %]")
    label.setFont(QFont("Sans", 14))
    label.attemptSetSceneRect(QRectF(4, 2, 289, 10))
    layout.addLayoutItem(label)
    contents = QgsLayoutItemLabel(layout)
    contents.setText("Regions with clusters, one page each:\n" +
                     "\n".join(f"{i + 2}. {p['name']}: {p['clusters']} clusters"
                               for i, p in enumerate(pages)))
    contents.setFont(QFont("Sans", 8))
    contents.attemptSetSceneRect(QRectF(4, 127, 200, 74))
    only_on(contents, cover=True)
    layout.addLayoutItem(contents)
    clusters_table(layout, clusters, 127, 74)
    wrap_category_labels(clusters)
    legend = QgsLayoutItemLegend(layout)
    legend.setTitle("Legend")
    legend.setLinkedMap(item)
    legend.setLegendFilterByMapEnabled(True)  # the sectors on the page
    legend.setWrapString(WRAP)
    legend.attemptMove(QgsLayoutPoint(208, 14, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(legend)
    add_layout_items(layout, item, 297, 200, 110, "", options["source"], title_too=False,
                     source_y=203)
    result, error = QgsLayoutExporter.exportToPdf(layout.atlas(), picture,
                                                  pdf_settings(int(options.get("dpi") or 150)))
    if result != QgsLayoutExporter.Success:
        sys.stderr.write(f"{picture}: QGIS could not write the atlas: {error}\n")
        return 1
    return 0


# ---- the heat map of co-location quotients ---------------------------------

def seriation(codes, clq):
    """The codes in the leaf order of an average-linkage tree on the symmetric
    similarity log(CLQ(a->b)) + log(CLQ(b->a)), so that sectors that locate
    together sit together; ties to the groups whose first codes come first."""
    def sim(a, b):
        return sum(math.log(max(clq.get((x, y)) or 0.0, 0.05)) for x, y in ((a, b), (b, a)))
    groups = [[c] for c in codes]
    while len(groups) > 1:
        best = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                mean = sum(sim(a, b) for a in groups[i] for b in groups[j]) / (
                    len(groups[i]) * len(groups[j]))
                if best is None or mean > best[0]:
                    best = (mean, i, j)
        _, i, j = best
        groups[i] = groups[i] + groups[j]
        del groups[j]
    return groups[0]


def ramp(value):
    """Blue below 1, white at 1, red above, on log2(CLQ) from -3 to 3; grey
    where the quotient is undefined."""
    if value is None:
        return QColor(220, 220, 220)
    t = max(-3.0, min(3.0, math.log2(max(value, 1e-9)))) / 3
    low, high = (33, 102, 172), (178, 24, 43)
    end = high if t > 0 else low
    return QColor(*(round(255 + (e - 255) * abs(t)) for e in end))


def add_box(layout, x, y, w, h, colour, outline="255,255,255,255"):
    shape = QgsLayoutItemShape(layout)
    shape.setShapeType(QgsLayoutItemShape.Rectangle)
    shape.setSymbol(QgsFillSymbol.createSimple({
        "color": f"{colour.red()},{colour.green()},{colour.blue()},255",
        "outline_color": outline, "outline_width": "0.1"}))
    shape.attemptSetSceneRect(QRectF(x, y, w, h))
    layout.addLayoutItem(shape)


def add_text(layout, text, x, y, w, h, size, centred=False):
    label = QgsLayoutItemLabel(layout)
    label.setText(text)
    font = QFont("Sans")
    font.setPointSizeF(size)
    label.setFont(font)
    label.setHAlign(0x0004 if centred else 0x0001)  # Qt.AlignHCenter, Qt.AlignLeft
    label.setVAlign(0x0080)  # Qt.AlignVCenter
    label.attemptSetSceneRect(QRectF(x, y, w, h))
    layout.addLayoutItem(label)


def heat_map(output, picture, options, project):
    """The colocation table as a matrix: row A, column B, coloured by CLQ(A->B),
    a dot where q <= 0.05, sectors ordered so that related ones sit together."""
    table = layer(output, "colocation")
    if not table or not table.isValid():
        sys.stderr.write(f"{output}: no colocation table to draw (a run with two sectors or "
                         "more, without --colocation off)\n")
        return BAD_INPUT
    names = table.fields().indexOf("name_a") >= 0
    has_q = table.fields().indexOf("q_value") >= 0
    clq, q, name = {}, {}, {}
    for f in table.getFeatures():
        a, b = str(f["sector_a"]), str(f["sector_b"])
        clq[(a, b)] = None if f["clq"] in (None, "") else float(f["clq"])
        q[(a, b)] = None if not has_q or f["q_value"] in (None, "") else float(f["q_value"])
        if names and f["name_a"]:
            name[a] = str(f["name_a"])
    codes = seriation(sorted({a for a, _ in clq}), clq)
    n = len(codes)
    cell = max(2.0, min(7.0, 180.0 / n))
    left, top = 62.0 if names else 14.0, 24.0
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    font = max(3.0, min(7.0, cell * 1.1))
    for i, a in enumerate(codes):
        label = (f"{a} {name[a]}" if len(name[a]) <= 34 else f"{a} {name[a][:33]}…") \
            if a in name else a
        add_text(layout, label, 4, top + i * cell, left - 5, cell, font)
        add_text(layout, a, left + i * cell, top - cell - 1, cell, cell, font, True)
        for j, b in enumerate(codes):
            add_box(layout, left + j * cell, top + i * cell, cell, cell, ramp(clq.get((a, b))))
            if q.get((a, b)) is not None and q[(a, b)] <= 0.05:
                add_text(layout, "•", left + j * cell, top + i * cell, cell, cell, font, True)
    # the colour scale and what the dots mean
    key_x, key_y = left + n * cell + 8, top
    add_text(layout, "CLQ(row → column)", key_x, key_y - 6, 50, 5, 8)
    for k, value in enumerate((8, 4, 2, 1, 0.5, 0.25, 0.125)):
        add_box(layout, key_x, key_y + k * 6, 8, 6, ramp(value), "120,120,120,255")
        add_text(layout, "≥ 8" if value == 8 else "≤ 1/8" if value == 0.125 else
                 (f"1/{round(1 / value)}" if value < 1 else str(value)),
                 key_x + 10, key_y + k * 6, 20, 6, 7)
    add_box(layout, key_x, key_y + 44, 8, 6, ramp(None), "120,120,120,255")
    add_text(layout, "undefined", key_x + 10, key_y + 44, 30, 6, 7)
    if has_q:
        add_text(layout, "•  q ≤ 0.05", key_x, key_y + 52, 40, 6, 8)
    width = key_x + 45
    height = max(top + n * cell, key_y + 60) + 12
    layout.pageCollection().page(0).setPageSize(QgsLayoutSize(width, height))
    add_text(layout, options.get("title") or "Which sectors locate together", 4, 2, width - 8, 10,
             16)
    add_text(layout, options["source"], 4, height - 8, width - 8, 5, 7)
    return export_or_say(layout, picture, options, "heat map")


# ---- the k-distance curves of `firmclust suggest --json` ------------------

CURVE_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
                 (57, 59, 121), (99, 121, 57), (140, 109, 49), (123, 65, 115), (107, 110, 207),
                 (0, 128, 128), (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150),
                 (197, 176, 213), (196, 156, 148), (247, 182, 210), (219, 219, 141)]


def add_line(layout, points, colour, width):
    line = QgsLayoutItemPolyline(QPolygonF([QPointF(x, y) for x, y in points]), layout)
    line.setSymbol(QgsLineSymbol.createSimple({
        "line_color": f"{colour[0]},{colour[1]},{colour[2]},255", "line_width": str(width)}))
    layout.addLayoutItem(line)


def k_distance_curves(output, picture, options, project):
    """Each sector's sorted k-distances against the share of its firms, on a
    logarithmic scale of metres, its knee (the suggested eps) marked: R's
    kNNdistplot, one curve per sector."""
    try:
        with open(output, encoding="utf-8") as f:
            data = json.load(f)
        sectors = [s for s in data["sectors"] if s.get("curve_m")]
    except (OSError, ValueError, KeyError, TypeError):
        sys.stderr.write(f"{output}: not the JSON of firmclust suggest --json\n")
        return BAD_INPUT
    sectors = sorted(sectors, key=lambda s: -s["firms"])[:len(CURVE_COLOURS)]
    values = [v for s in sectors for v in s["curve_m"] if v > 0]
    if not values:
        sys.stderr.write(f"{output}: no k-distances to draw\n")
        return BAD_INPUT
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    left, top, width, height = 24.0, 16.0, 190.0, 120.0
    def at(share, metres):
        y = (math.log10(max(metres, low)) - math.log10(low)) / (math.log10(high) - math.log10(low))
        return left + share * width, top + height - y * height
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    grey = (170, 170, 170)
    decade = low
    while decade <= high * 1.0001:  # the scale of metres, a line a decade
        _, y = at(0, decade)
        add_line(layout, [(left, y), (left + width, y)], (225, 225, 225), 0.15)
        label = f"{decade / 1000:g} km" if decade >= 1000 else f"{decade:g} m"
        add_text(layout, label, 2, y - 2.5, left - 4, 5, 7)
        decade *= 10
    for k in range(5):
        x, _ = at(k / 4, low)
        add_text(layout, f"{k * 25}%", x - 6, top + height + 1, 12, 5, 7, True)
    add_line(layout, [(left, top), (left, top + height), (left + width, top + height)], grey, 0.3)
    add_text(layout, "firms of the sector, by their k-distance", left, top + height + 6, width,
             5, 8, True)
    for n, s in enumerate(sectors):
        colour = CURVE_COLOURS[n]
        curve = s["curve_m"]
        points = [at(i / max(1, len(curve) - 1), v) for i, v in enumerate(curve)]
        add_line(layout, points, colour, 0.4)
        knee = s["suggested_eps_m"]
        i = min(range(len(curve)), key=lambda k: abs(curve[k] - knee))
        x, y = at(i / max(1, len(curve) - 1), knee)
        add_box(layout, x - 1.2, y - 1.2, 2.4, 2.4, QColor(*colour), "30,30,30,255")
        add_box(layout, left + width + 6, top + n * 5, 4, 3.5, QColor(*colour), "255,255,255,255")
        add_text(layout, f"{s['sector']}  {knee / 1000:.1f} km" if knee >= 1000 else
                 f"{s['sector']}  {knee:.0f} m", left + width + 12, top + n * 5 - 0.7, 40, 5, 7)
    add_text(layout, "sector, suggested eps", left + width + 6, top - 6, 50, 5, 8)
    page_width, page_height = left + width + 55, max(top + height + 18, top + len(sectors) * 5 + 8)
    layout.pageCollection().page(0).setPageSize(QgsLayoutSize(page_width, page_height))
    k = data.get("min_pts", "k")
    add_text(layout, options.get("title") or f"Distance to the {k}th nearest firm of the sector",
             4, 2, page_width - 8, 10, 14)
    add_text(layout, options["source"], 4, page_height - 6, page_width - 8, 5, 7)
    return export_or_say(layout, picture, options, "curves")


def source_line(output, options):
    """Data, boundaries and the day the map was drawn, unless --source says."""
    if options.get("source"):
        return options["source"]
    parts = [f"Data: {os.path.basename(os.path.normpath(output))}"]
    if options.get("regions"):
        parts.append(f"boundaries: {os.path.basename(options['regions'])}")
    parts.append(f"drawn by firmclust on {datetime.date.today().isoformat()}")
    return "; ".join(parts)


if __name__ == "__main__":
    output_arg, picture_arg = sys.argv[1], sys.argv[2]
    given = dict(a.split("=", 1) for a in sys.argv[3:])
    given["source"] = source_line(output_arg, given)
    given["output"] = output_arg
    sys.exit(main(output_arg, picture_arg, given))
