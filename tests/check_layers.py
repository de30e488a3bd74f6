#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The library's floors, bottom up: src/geo (PROJ's geodesics), src/core
(arrays in, arrays out), src/io (GDAL and GEOS), src/pipeline (the run's
stages), and the tool, src/cli, over the public header alone. Fails when

- a file of src/core includes a GDAL, OGR, CPL, GEOS or PROJ header;
- a file includes the header of a floor above its own ("calls up a floor");
- a file calls a function defined on a floor above its own;
- the files of one floor call each other in a circle;
- the tool includes anything of the library but include/firmclust.h;
- one header is included by every file of the library.

    check_layers.py SOURCE_DIR
"""
import os
import re
import sys

FLOORS = ["geo", "core", "io", "pipeline"]
FORBIDDEN_IN_CORE = re.compile(r"#\s*include\s*<(gdal|ogr_|cpl_|geos|proj|geodesic)")
DEFINITION = re.compile(r"^[A-Za-z_][\w \*]*?\b(fc_\w+)\s*\([^;]*$", re.M)
CALL = re.compile(r"\b(fc_\w+)\s*\(")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def main():
    src = os.path.join(sys.argv[1], "src")
    files = {}  # path -> (floor, text)
    for floor in FLOORS:
        for name in sorted(os.listdir(os.path.join(src, floor))):
            if name.endswith((".c", ".h")):
                files[f"{floor}/{name}"] = (floor, strip_comments(read(os.path.join(src, floor, name))))
    problems = []
    rank = {f: i for i, f in enumerate(FLOORS)}
    defined = {}  # function -> file that defines it (non-static)
    for path, (floor, text) in files.items():
        if path.endswith(".c"):
            for m in DEFINITION.finditer(text):
                if not m.group(0).startswith("static"):
                    defined.setdefault(m.group(1), path)
    for path, (floor, text) in files.items():
        if floor == "core":
            for m in FORBIDDEN_IN_CORE.finditer(text):
                problems.append(f"{path} includes <{m.group(1)}...>, which the core must not")
        for inc in re.findall(r'#\s*include\s*"(\w+)/[\w.]+"', text):
            if inc in rank and rank[inc] > rank[floor]:
                problems.append(f"{path} includes a header of {inc}/, a floor above {floor}/")
    # calls up a floor, and circles among the files of a floor
    calls = {p: set() for p in files}
    for path, (floor, text) in files.items():
        if not path.endswith(".c"):
            continue
        for fn in set(CALL.findall(text)):
            where = defined.get(fn)
            if not where or where == path:
                continue
            other = files[where][0]
            if rank[other] > rank[floor]:
                problems.append(f"{path} calls {fn}() of {where}, a floor above")
            elif other == floor:
                calls[path].add(where)
    state = {}

    def visit(p, stack):
        state[p] = 1
        for q in sorted(calls[p]):
            if state.get(q) == 1:
                cycle = stack[stack.index(q):] + [q]
                problems.append("a circle of calls: " + " -> ".join(cycle))
            elif not state.get(q):
                visit(q, stack + [q])
        state[p] = 2

    for p in sorted(calls):
        if not state.get(p):
            visit(p, [p])
    # the tool: the public header only
    cli = os.path.join(src, "cli")
    for name in sorted(os.listdir(cli)):
        if name.endswith((".c", ".h")):
            for inc in re.findall(r'#\s*include\s*"([^"]+)"', read(os.path.join(cli, name))):
                if inc not in ("cli.h", "firmclust.h", "render_py.h"):
                    problems.append(f"cli/{name} includes {inc}: the tool sees only firmclust.h")
    # no header included by every file
    c_files = [t for p, (_, t) in files.items() if p.endswith(".c")]
    headers = set(re.findall(r'#\s*include\s*"([^"]+)"', "\n".join(c_files)))
    for h in sorted(headers):
        if all(re.search(r'#\s*include\s*"' + re.escape(h) + '"', t) for t in c_files):
            problems.append(f"{h} is included by every file of the library")
    for p in problems:
        print("FAIL: " + p)
    n_calls = sum(len(v) for v in calls.values())
    print(f"{len(files)} files on {len(FLOORS)} floors, {n_calls} calls between files of a floor: "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
