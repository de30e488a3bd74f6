# firmclust render: draws a firmclust output as a map with QGIS's own
# renderer, so the map shows the styles the output carries, with the regions'
# names, a legend, a scale bar, a north arrow and a source line. Run by
# `firmclust render` as:
#   python3 render.py OUTPUT PICTURE [key=value ...]
# with keys format (png, pdf or svg), regions, title, source, dpi, extent
# (xmin,ymin,xmax,ymax in longitude/latitude) and region (a region's name).
# The tool has checked them; PICTURE is a temporary name it moves into place.
import datetime
import os
import sys

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform,
                       QgsFillSymbol, QgsLayoutExporter, QgsLayoutItemLabel, QgsLayoutItemLegend,
                       QgsLayoutItemMap, QgsLayoutItemPicture, QgsLayoutItemScaleBar,
                       QgsLayoutPoint, QgsLayoutSize, QgsLayoutUtils, QgsLegendRenderer,
                       QgsPalLayerSettings, QgsPrintLayout,
                       QgsProject, QgsRectangle, QgsTextBufferSettings, QgsTextFormat,
                       QgsUnitTypes, QgsVectorLayer, QgsVectorLayerSimpleLabeling)
from qgis.PyQt.QtCore import QRectF
from qgis.PyQt.QtGui import QColor, QFont

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


def add_layout_items(layout, item, width, map_width, map_height, title, source_line):
    """Title, scale bar, north arrow and source line around the map item."""
    label = QgsLayoutItemLabel(layout)
    label.setText(title)
    label.setFont(QFont("Sans", 16))
    label.attemptSetSceneRect(QRectF(4, 2, width - 8, 10))
    layout.addLayoutItem(label)
    scale = QgsLayoutItemScaleBar(layout)
    scale.setStyle("Single Box")
    scale.setLinkedMap(item)
    scale.setUnits(QgsUnitTypes.DistanceKilometers)
    scale.setUnitLabel("km")
    scale.setNumberOfSegments(2)
    scale.setNumberOfSegmentsLeft(0)
    scale.applyDefaultSize(QgsUnitTypes.DistanceKilometers)
    scale.setBackgroundEnabled(True)
    scale.attemptMove(QgsLayoutPoint(7, 14 + map_height - 14, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(scale)
    arrow = QgsLayoutItemPicture(layout)
    arrow.setPicturePath(":/images/north_arrows/layout_default_north_arrow.svg")
    arrow.setLinkedMap(item)
    arrow.attemptSetSceneRect(QRectF(4 + map_width - 14, 17, 10, 12))
    layout.addLayoutItem(arrow)
    source = QgsLayoutItemLabel(layout)
    source.setText(source_line)
    source.setFont(QFont("Sans", 7))
    source.setFontColor(QColor(90, 90, 90))
    source.attemptSetSceneRect(QRectF(4, 14 + map_height + 1.5, width - 8, 5))
    layout.addLayoutItem(source)


def export(layout, picture, fmt, dpi):
    exporter = QgsLayoutExporter(layout)
    if fmt == "pdf":
        settings = QgsLayoutExporter.PdfExportSettings()
        settings.dpi = dpi
        return exporter.exportToPdf(picture, settings)
    if fmt == "svg":
        settings = QgsLayoutExporter.SvgExportSettings()
        settings.dpi = dpi
        return exporter.exportToSvg(picture, settings)
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = dpi
    return exporter.exportToImage(picture, settings)


def main(output, picture, options):
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
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

    view_wgs84, problem = view_extent(options, regions, firms, project)
    if problem:
        sys.stderr.write(problem + "\n")
        return BAD_INPUT
    # A conic fitted to what is shown, as firmclust measures in.
    lat0, lat1 = view_wgs84.yMinimum(), view_wgs84.yMaximum()
    crs = QgsCoordinateReferenceSystem.fromProj(
        f"+proj=eqdc +lat_1={lat0 + (lat1 - lat0) / 6} +lat_2={lat1 - (lat1 - lat0) / 6} "
        f"+lon_0={view_wgs84.center().x()} +datum=WGS84 +units=m +no_defs")
    view = QgsCoordinateTransform(WGS84, crs, project).transformBoundingBox(view_wgs84)
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
    for i, c in enumerate(categories):  # on the map only: the style is not saved
        renderer.updateCategoryLabel(i, wrapped(c.label(), 34))
    width, height = 296.0, map_height + 24
    layout.pageCollection().page(0).setPageSize(QgsLayoutSize(width, height))
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
    width = max(width, 226 + size.width() + 4)
    height = max(map_height, size.height()) + 24
    layout.pageCollection().page(0).setPageSize(QgsLayoutSize(width, height))
    add_layout_items(layout, item, width, map_width, map_height,
                     options.get("title") or "Economic clusters", options["source"])
    result = export(layout, picture, options["format"], int(options.get("dpi") or 150))
    app.exitQgis()
    if result != QgsLayoutExporter.Success:
        sys.stderr.write(f"{picture}: QGIS could not write the map\n")
        return 1
    return 0


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
    sys.exit(main(output_arg, picture_arg, given))
