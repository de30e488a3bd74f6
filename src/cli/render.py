# firmclust render: draws a firmclust output as a map picture with QGIS's own
# renderer, so the picture shows the styles the output carries. Run by
# `firmclust render` as: python3 render.py OUTPUT PNG [REGIONS] [TITLE]
import os
import sys

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform,
                       QgsFillSymbol, QgsLayoutExporter, QgsLayoutItemLabel, QgsLayoutItemLegend,
                       QgsLayoutItemMap, QgsLayoutPoint, QgsLayoutSize, QgsPrintLayout, QgsProject,
                       QgsRectangle, QgsUnitTypes, QgsVectorLayer)
from qgis.PyQt.QtCore import QRectF
from qgis.PyQt.QtGui import QColor, QFont


def layer(output, name):
    """A layer of a GeoPackage output, or a file of a directory output."""
    if os.path.isdir(output):
        for f in sorted(os.listdir(output)):
            if os.path.splitext(f)[0] == name and not f.endswith(".qml") and \
                    os.path.splitext(f)[1] in (".shp", ".gpkg", ".geojson", ".fgb", ".csv"):
                return QgsVectorLayer(os.path.join(output, f), name, "ogr")
        return None
    return QgsVectorLayer(f"{output}|layername={name}", name, "ogr")


def main(output, png, regions_path, title):
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    clusters, firms = layer(output, "clusters"), layer(output, "firms")
    if not clusters or not clusters.isValid() or not firms or not firms.isValid():
        sys.stderr.write(f"{output}: no clusters and firms layers to draw\n")
        return 1
    layers = [clusters, firms]
    if regions_path:
        regions = QgsVectorLayer(regions_path, "regions", "ogr")
        if not regions.isValid():
            sys.stderr.write(f"{regions_path}: cannot open the regions\n")
            return 1
        regions.setRenderer(regions.renderer().clone())
        regions.renderer().setSymbol(QgsFillSymbol.createSimple(
            {"color": "244,242,236,255", "outline_color": "120,120,120,255", "outline_width": "0.25"}))
        layers.append(regions)
    for l in layers:
        project.addMapLayer(l)

    # A conic fitted to the data, as firmclust measures in, unless projected.
    extent = (layers[2] if regions_path else firms).extent()
    source = layers[2].crs() if regions_path else firms.crs()
    crs = source
    if source.isGeographic():
        lat0, lat1 = extent.yMinimum(), extent.yMaximum()
        crs = QgsCoordinateReferenceSystem.fromProj(
            f"+proj=eqdc +lat_1={lat0 + (lat1 - lat0) / 6} +lat_2={lat1 - (lat1 - lat0) / 6} "
            f"+lon_0={extent.center().x()} +datum=WGS84 +units=m +no_defs")
    view = QgsCoordinateTransform(source, crs, project).transformBoundingBox(extent)
    view.scale(1.04)

    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    map_width = 218.0
    map_height = max(60.0, map_width * view.height() / view.width())
    # the legend lists every sector: two columns, and a page tall enough
    renderer = clusters.renderer()
    entries = len(renderer.categories()) if hasattr(renderer, "categories") else 5
    columns = 2 if entries > 8 else 1
    legend_height = 40 + 6.2 * ((entries + columns - 1) // columns)
    width, height = 296.0, max(map_height, legend_height) + 18
    layout.pageCollection().page(0).setPageSize(QgsLayoutSize(width, height))
    item = QgsLayoutItemMap(layout)
    item.attemptSetSceneRect(QRectF(4, 14, map_width, map_height))
    item.setCrs(crs)
    item.setLayers(layers)
    item.setExtent(view)
    item.setFrameEnabled(True)
    layout.addLayoutItem(item)
    label = QgsLayoutItemLabel(layout)
    label.setText(title)
    label.setFont(QFont("Sans", 16))
    label.attemptSetSceneRect(QRectF(4, 2, width - 8, 10))
    layout.addLayoutItem(label)
    legend = QgsLayoutItemLegend(layout)
    legend.setTitle("Legend")
    legend.setColumnCount(columns)
    legend.setLinkedMap(item)
    legend.attemptMove(QgsLayoutPoint(226, 14, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(legend)
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = 150
    result = QgsLayoutExporter(layout).exportToImage(png, settings)
    app.exitQgis()
    if result != QgsLayoutExporter.Success:
        sys.stderr.write(f"{png}: QGIS could not write the picture\n")
        return 1
    return 0


if __name__ == "__main__":
    args = sys.argv[1:] + [""] * 4
    sys.exit(main(args[0], args[1], args[2], args[3] or "Economic clusters"))
