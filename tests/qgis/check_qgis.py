# SPDX-License-Identifier: MIT
"""Opens every output format of firmclust in real QGIS, headless, and checks
what a GIS specialist sees: valid layers with the expected feature counts and
CRS, the default style loaded (renderer and categories matching the sectors),
and Kazakh names read back identical. Then renders the map picture.

Run by ctest as: python3 check_qgis.py FIRMCLUST_BIN SOURCE_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsExpression, QgsExpressionContext,  # noqa: E402
                       QgsExpressionContextUtils, QgsPalLayerSettings, QgsVectorLayer)
from qgis.PyQt.QtGui import QImage  # noqa: E402

BIN, SRC = sys.argv[1], sys.argv[2]
FIRMS = os.path.join(SRC, "fixtures/kz/firms.gpkg")
OBLASTS = os.path.join(SRC, "fixtures/kz/kaz_admbnda_adm1_2024.shp")
INSTITUTIONS = os.path.join(SRC, "fixtures/kz/institutions.gpkg")
ARGS = ["--sector-field", "oked", "--sector-digits", "2", "--eps", "2000", "--min-pts", "10",
        "--weight-field", "employees", "--regions", OBLASTS, "--permutations", "19",
        "--institutions", INSTITUTIONS, "--institution-field", "type", "-q"]
FORMATS = [  # (name, -f, output, layer uri pattern, holds a CRS)
    ("GeoPackage", None, "out.gpkg", "{out}|layername={layer}", True),
    ("Shapefile", "ESRI Shapefile", "shp", "{out}/{layer}.shp", True),
    ("GeoJSON", "GeoJSON", "geojson", "{out}/{layer}.geojson", True),
    ("FlatGeobuf", "FlatGeobuf", "fgb", "{out}/{layer}.fgb", True),
    ("CSV", "CSV", "csv", "{out}/{layer}.csv", True),  # its .csvt and .prj say WKT, EPSG:4326
]

passed, failed = 0, 0


def label_texts(clusters, settings):
    """Whether every cluster's label is its sector's name up to the first
    comma and its firms: "Retail trade (444)" for "Retail trade, except of
    motor vehicles and motorcycles"."""
    expr = QgsExpression(settings.fieldName)
    context = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(clusters))
    wrong = []
    for f in clusters.getFeatures():
        context.setFeature(f)
        want = f"{f['sect_name'].split(',')[0]} ({f['n_firms']})"
        got = expr.evaluate(context)
        if got != want:
            wrong.append(f"{got!r} != {want!r}")
    if wrong or expr.hasEvalError():
        print("   ", expr.evalErrorString(), wrong[:3])
    return not wrong and not expr.hasEvalError()


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def layer(uri, name):
    l = QgsVectorLayer(uri, name, "ogr")
    return l


def values(l, field, key="firm_id"):
    # keys as text: a CSV reads every field as text
    return {str(f[key]): f[field] for f in l.getFeatures()}


def table_firms(pdf, page):
    """The "firms" column of the atlas table on a page of the PDF, top down,
    from the words pdftotext finds (the PDF keeps text as text); None
    without a table."""
    tsv = subprocess.run(["pdftotext", "-tsv", "-f", str(page), "-l", str(page), pdf, "-"],
                         capture_output=True, text=True).stdout
    words = []  # (left, top, width, text)
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) == 12 and cells[0] == "5":
            words.append((float(cells[6]), float(cells[7]), float(cells[8]), cells[11]))
    employees = [w for w in words if w[3] == "employees"]
    heading = [w for w in words if w[3] in ("firms", "\ufb01rms")  # maybe a ligature
               and employees and abs(w[1] - employees[0][1]) < 2]
    if not heading:
        return None
    left, top, width, _ = heading[0]
    column = [w for w in words if w[1] > top + 1 and abs(w[0] - left) < width and w[3].isdigit()]
    return [int(w[3]) for w in sorted(column, key=lambda w: w[1])]


def checks(work):
    try:
        source = layer(FIRMS, "input")
        check("input opens", source.isValid())
        kazakh_names = values(source, "name")
        kazakh_cities = values(source, "city")
        reference = None
        for fmt, driver, out, pattern, has_crs in FORMATS:
            path = os.path.join(work, out)
            cmd = [BIN, "cluster", FIRMS, path] + ARGS + (["-f", driver] if driver else [])
            run = subprocess.run(cmd, capture_output=True, text=True)
            check(f"{fmt}: firmclust exits 0", run.returncode == 0, run.stderr)
            layers = {n: layer(pattern.format(out=path, layer=n), n)
                      for n in ("clusters", "firms", "regions", "institutions")}
            for n, l in layers.items():
                check(f"{fmt} {n}: valid", l.isValid())
            counts = {n: l.featureCount() for n, l in layers.items()}
            if reference is None:
                reference = counts
                check("firms: every input firm", counts["firms"] == source.featureCount())
                check("regions: 20 oblasts x sectors", counts["regions"] % 20 == 0 and counts["regions"] > 0)
                check("clusters: some", counts["clusters"] > 20)
            check(f"{fmt}: feature counts", counts == reference, f"{counts} != {reference}")
            for n, l in layers.items():
                if has_crs:
                    check(f"{fmt} {n}: CRS", l.crs().authid() == "EPSG:4326", l.crs().authid())
                else:  # a CSV holds no CRS
                    check(f"{fmt} {n}: no CRS", not l.crs().isValid())
            # the default style
            clusters = layers["clusters"]
            r = clusters.renderer()
            check(f"{fmt} clusters: categorised", r.type() == "categorizedSymbol", r.type())
            if r.type() == "categorizedSymbol":
                sectors = sorted({f["sector"] for f in clusters.getFeatures()})
                categories = sorted(c.value() for c in r.categories())
                check(f"{fmt} clusters: a category per sector", categories == sectors,
                      f"{categories} != {sectors}")
                check(f"{fmt} clusters: categorised by sector", r.classAttribute() == "sector")
            # the schema's titles are the fields' aliases (issue 27)
            if "reg_share" in clusters.fields().names():
                alias = clusters.attributeAlias(clusters.fields().indexOf("reg_share"))
                check(f"{fmt} clusters: reg_share's alias", alias == "share in region", alias)
            check(f"{fmt} clusters: labels", clusters.labelsEnabled())
            if clusters.labelsEnabled():  # the largest clusters are labelled first
                settings = QgsPalLayerSettings(clusters.labeling().settings())  # a copy
                priority = settings.dataDefinedProperties().property(QgsPalLayerSettings.Priority)
                check(f"{fmt} clusters: label priority by firms",
                      '"n_firms"' in priority.expressionString(), priority.expressionString())
                check(f"{fmt} clusters: labels wrap at 20 characters",
                      settings.autoWrapLength == 20, settings.autoWrapLength)
                check(f"{fmt} clusters: labels 'name (firms)'", label_texts(clusters, settings), "")
            check(f"{fmt} firms: rule-based", layers["firms"].renderer().type() == "RuleRenderer",
                  layers["firms"].renderer().type())
            check(f"{fmt} institutions: a star each",
                  layers["institutions"].renderer().type() == "singleSymbol"
                  and layers["institutions"].labelsEnabled())
            # the co-location table: in the dataset, or a CSV beside single-layer formats
            table = (pattern.format(out=path, layer="colocation") if driver is None
                     else os.path.join(path, "colocation.csv"))
            colocation = layer(table, "colocation")
            check(f"{fmt} colocation: 24 x 24 pairs (the sample's divisions)",
                  colocation.isValid() and colocation.featureCount() == 24 * 24,
                  str(colocation.featureCount()))
            check(f"{fmt} regions: graduated by LQ",
                  layers["regions"].renderer().type() == "graduatedSymbol"
                  and layers["regions"].renderer().classAttribute() == "lq")
            # Kazakh text, every firm
            firms = layers["firms"]
            names = values(firms, "name")
            cities = values(firms, "city")
            check(f"{fmt} firms: Kazakh names identical", names == kazakh_names)
            check(f"{fmt} firms: Kazakh cities identical", cities == kazakh_cities)
            oblasts = {f["region"] for f in firms.getFeatures()} - {None}
            check(f"{fmt} firms: oblast names", "Astana (city)" in oblasts and len(oblasts) >= 19,
                  str(sorted(map(str, oblasts))[:5]))
        # related-sector clusters: --groups auto writes the groups it derived as a
        # table (groups.csv beside single-layer formats), and the clusters of the
        # groups load with the clusters' style, a category per group
        grouped = (("GeoPackage", None, "groups.gpkg", "{out}|layername={layer}"),
                   ("Shapefile", "ESRI Shapefile", "groups_shp", "{out}/{layer}.shp"))
        for fmt, driver, out, pattern in grouped:
            path = os.path.join(work, out)
            run = subprocess.run([BIN, "cluster", FIRMS, path, "--sector-field", "oked",
                                  "--sector-digits", "2", "--eps", "2000", "--min-pts", "10",
                                  "--permutations", "9", "--groups", "auto", "-q"]
                                 + (["-f", driver] if driver else []),
                                 capture_output=True, text=True)
            check(f"{fmt} --groups auto exits 0", run.returncode == 0, run.stderr)
            table = (pattern.format(out=path, layer="groups") if driver is None
                     else os.path.join(path, "groups.csv"))
            groups = layer(table, "groups")
            rows = {(f["group"], f["code"]) for f in groups.getFeatures()}
            check(f"{fmt} groups: the four planted groups, a row per sector", groups.isValid()
                  and {g for g, _ in rows} == {"06+09+71", "13+14", "24+25", "62+63"}
                  and len(rows) == 9
                  and {"group", "code", "name"} <= {f.name() for f in groups.fields()},
                  f"{sorted(rows)} {[f.name() for f in groups.fields()]}")
            clusters = layer(pattern.format(out=path, layer="clusters"), "clusters")
            r = clusters.renderer()
            ids = sorted({f["sector"] for f in clusters.getFeatures()})
            check(f"{fmt} group clusters: a category per group, with their sectors",
                  clusters.isValid() and r.type() == "categorizedSymbol"
                  and sorted(c.value() for c in r.categories()) == ids and len(ids) >= 3
                  and all(f["n_sectors"] >= 2 and f["top_sects"] and f["diversity"] > 1
                          for f in clusters.getFeatures()), str(ids))
        # the map picture
        png = os.path.join(work, "map.png")
        run = subprocess.run([BIN, "render", os.path.join(work, "out.gpkg"), png, "--regions", OBLASTS],
                             capture_output=True, text=True)
        check("render exits 0", run.returncode == 0, run.stderr)
        ok = os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        check("render writes a PNG", ok)
        # a PDF zoomed to a region, an SVG of a box of longitude/latitude
        out = os.path.join(work, "out.gpkg")
        pdf, svg = os.path.join(work, "almaty.pdf"), os.path.join(work, "south.svg")
        run = subprocess.run([BIN, "render", out, pdf, "--regions", OBLASTS, "--region",
                              "almaty (city)", "--title", "Almaty", "--source", "test"],
                             capture_output=True, text=True)
        check("render --region to PDF exits 0", run.returncode == 0, run.stderr)
        data = open(pdf, "rb").read() if os.path.exists(pdf) else b""
        # the page tree's count (a page object may be written twice: QGIS updates
        # the file to add georeferencing)
        pages = max((int(c) for c in re.findall(rb"/Count (\d+)", data)), default=0)
        check("render writes a PDF of one page", data.startswith(b"%PDF-") and pages == 1,
              f"{data[:8]!r}, {pages} pages")
        run = subprocess.run([BIN, "render", out, svg, "--regions", OBLASTS, "--extent",
                              "68,40,82,46", "--dpi", "96"], capture_output=True, text=True)
        check("render --extent to SVG exits 0", run.returncode == 0, run.stderr)
        text = open(svg, encoding="utf-8").read() if os.path.exists(svg) else ""
        check("render writes an SVG", "<svg" in text and "</svg>" in text)
        run = subprocess.run([BIN, "render", out, os.path.join(work, "none.png"), "--regions",
                              OBLASTS, "--region", "Atlantis"], capture_output=True, text=True)
        check("render --region of no region fails and names the regions",
              run.returncode == 1 and "no region named 'Atlantis'" in run.stderr
              and "Almaty (city)" in run.stderr, run.stderr)
        degenerate_renders(out)
        # the atlas: a cover, then a page per region with clusters, none blank
        atlas = os.path.join(work, "atlas.pdf")
        run = subprocess.run([BIN, "render", out, atlas, "--atlas", "--regions", OBLASTS],
                             capture_output=True, text=True)
        check("render --atlas exits 0", run.returncode == 0, run.stderr)
        gpkg = QgsVectorLayer(f"{out}|layername=clusters", "c", "ogr")
        regions_with_clusters = {f["region"] for f in gpkg.getFeatures()} - {None}
        info = subprocess.run(["pdfinfo", atlas], capture_output=True, text=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1)) if "Pages:" in info else 0
        check("atlas: a cover and a page per region with clusters",
              pages == 1 + len(regions_with_clusters) and pages > 5,
              f"{pages} pages, {len(regions_with_clusters)} regions")
        # each page's table, read back from the PDF's text: most firms first
        tables = [table_firms(atlas, page) for page in range(2, pages + 1)]
        rows = sum(len(t or []) for t in tables)
        check("atlas: every page's table lists its clusters, most firms first",
              all(t and t == sorted(t, reverse=True) for t in tables)
              and rows == len([f for f in gpkg.getFeatures() if f["region"]]),
              f"{tables}")
        for page in (1, 2, pages):
            drawn = subprocess.run(["pdftoppm", "-r", "20", "-gray", "-f", str(page), "-l",
                                    str(page), atlas], capture_output=True).stdout
            # a PGM: the header's three lines, then a byte per pixel
            pixels = drawn.split(b"\n", 3)[3] if drawn.count(b"\n") >= 3 else b""
            inked = sum(1 for v in pixels if v < 200)
            check(f"atlas page {page} is not blank", pixels and inked > len(pixels) // 50,
                  f"{inked} of {len(pixels)} pixels")
        # the co-location heat map: red and blue cells, from the GeoPackage and from
        # the directory of Shapefiles (its colocation.csv)
        for source, name in ((out, "heat.png"), (os.path.join(work, "shp"), "heat_shp.png")):
            heat = os.path.join(work, name)
            run = subprocess.run([BIN, "render", source, heat, "--colocation", "--dpi", "60"],
                                 capture_output=True, text=True)
            check(f"render --colocation ({name}) exits 0", run.returncode == 0, run.stderr)
            image = QImage(heat)
            colours = [image.pixelColor(x, y) for x in range(0, image.width(), 3)
                       for y in range(0, image.height(), 3)] if not image.isNull() else []
            red = sum(1 for c in colours if c.red() > 150 and c.blue() < 80)
            blue = sum(1 for c in colours if c.blue() > 140 and c.red() < 80)
            check(f"{name}: red and blue cells", red > 20 and blue > 20, f"{red} red, {blue} blue")
        # the k-distance curves of firmclust suggest --json
        suggest = subprocess.run([BIN, "suggest", FIRMS, "--sector-field", "oked",
                                  "--sector-digits", "2", "--min-pts", "10", "--json"],
                                 capture_output=True, text=True)
        check("suggest --json exits 0", suggest.returncode == 0, suggest.stderr)
        with open(os.path.join(work, "suggest.json"), "w", encoding="utf-8") as f:
            f.write(suggest.stdout)
        curves = os.path.join(work, "curves.svg")
        run = subprocess.run([BIN, "render", os.path.join(work, "suggest.json"), curves, "--curves"],
                             capture_output=True, text=True)
        check("render --curves exits 0", run.returncode == 0, run.stderr)
        text = open(curves, encoding="utf-8").read() if os.path.exists(curves) else ""
        check("render --curves draws 20 curves", text.count("<path") >= 20 and "</svg>" in text,
              f"{text.count('<path')} paths")
        check("render leaves no temporary", sorted(os.listdir(work)) ==
              sorted([f for _, _, f, _, _ in FORMATS] +
                     ["map.png", "almaty.pdf", "south.svg", "atlas.pdf", "heat.png",
                      "heat_shp.png", "suggest.json", "curves.svg", "groups.gpkg",
                      "groups_shp"]),
              str(os.listdir(work)))
    except Exception:
        traceback.print_exc()
        check("no exception", False)


def degenerate_renders(out):
    """Issue 26, case 9: one firm, or all at one place, crashed render
    (ZeroDivisionError); the whole world drew a '0-60 km' scale bar; an extent
    with nothing in it a blank map without a word."""
    work = tempfile.mkdtemp(prefix="firmclust-degenerate-")
    try:
        with open(os.path.join(work, "one.csv"), "w") as f:
            f.write("lon,lat,oked\n71.43,51.128,62\n")
        with open(os.path.join(work, "same.csv"), "w") as f:
            f.write("lon,lat,oked\n" + "71.43,51.128,62\n" * 10)
        for name, min_pts in (("one", "1"), ("same", "3")):
            gpkg = os.path.join(work, name + ".gpkg")
            run = subprocess.run([BIN, "cluster", os.path.join(work, name + ".csv"), gpkg,
                                  "--s-srs", "EPSG:4326", "--eps", "100", "--min-pts", min_pts,
                                  "--permutations", "0", "-q"], capture_output=True, text=True)
            check(f"cluster {name}.csv exits 0", run.returncode == 0, run.stderr)
            png = os.path.join(work, name + ".png")
            run = subprocess.run([BIN, "render", gpkg, png, "--dpi", "60"], capture_output=True,
                                 text=True)
            check(f"render of {name} place draws a map", run.returncode == 0
                  and os.path.exists(png), run.stderr)
        run = subprocess.run([BIN, "render", out, os.path.join(work, "world.svg"), "--extent",
                              "-180,-90,180,90"], capture_output=True, text=True)
        text = open(os.path.join(work, "world.svg"), encoding="utf-8").read() \
            if run.returncode == 0 else ""
        check("render of the world: no scale bar, and says why", run.returncode == 0
              and "without a scale bar" in run.stderr and " km<" not in text, run.stderr)
        run = subprocess.run([BIN, "render", out, os.path.join(work, "empty.png"), "--extent",
                              "10,10,11,11", "--dpi", "60"], capture_output=True, text=True)
        check("render of an extent without firms warns", run.returncode == 0
              and "no firm of" in run.stderr and "lies in the map's extent" in run.stderr,
              run.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    app = QgsApplication([], False)
    app.initQgis()
    work = tempfile.mkdtemp(prefix="firmclust-qgis-")
    checks(work)  # its layers are gone when it returns
    shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    # QGIS can crash while tearing down at exit; the verdict is printed
    os._exit(1 if failed else 0)


if __name__ == "__main__":
    main()
