#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes a man page (roff, section 1) from a command's page of docs/, written
as GDAL writes its program pages: "# firmclust NAME", then "## Synopsis",
"## Description", "## Options", "## Examples".

    md2man.py PAGE.md OUT.1 VERSION
"""
import re
import sys


def inline(text):
    """Markdown inline marks to roff: `code` bold, links their text."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"`([^`]*)`", r"\\fB\1\\fR", text)
    text = re.sub(r"\*\*([^*]*)\*\*", r"\\fB\1\\fR", text)
    return text


def line(text):
    """A line of text that roff does not take for a request."""
    text = inline(text)
    return "\\&" + text if text.startswith((".", "'")) else text


def convert(md, version):
    lines = md.split("\n")
    title = lines[0].lstrip("# ").strip()
    name = title.replace(" ", "-")
    # NAME's line: the page's one-line summary, under its title
    summary = lines[2].strip().rstrip(".") if len(lines) > 2 else title
    lines = lines[:1] + lines[3:]
    out = [f'.TH {name.upper()} 1 "" "firmclust {version}" "firmclust manual"',
           ".SH NAME", f"{name} \\- {inline(summary[:1].lower() + summary[1:])}"]
    code = False
    for raw in lines[1:]:
        if raw.startswith("```"):
            out.append(".fi" if code else ".nf")
            code = not code
            continue
        if code:
            out.append("\\&" + raw.replace("\\", "\\e"))
            continue
        if raw.startswith("## ") or raw.startswith("### "):
            heading = raw.lstrip("# ").strip()
            out.append((".SH " if raw.startswith("## ") else ".SS ") + heading.upper()
                       if raw.startswith("## ") else ".SS " + heading)
        elif raw.startswith("| ---"):
            continue
        elif raw.startswith("| "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", raw.strip("|"))]
            if cells and cells[0] in ("option", "status", "field"):
                continue  # a table's header row
            out += [".TP", line(cells[0].replace("\\|", "|"))]
            out += [line(c.replace("\\|", "|")) for c in cells[1:] if c]
        elif raw.startswith("- "):
            out += [".IP \\(bu 2", line(raw[2:])]
        elif raw.startswith("  ") and raw.strip():
            out.append(line(raw.strip()))
        elif not raw.strip():
            out.append(".PP")
        else:
            out.append(line(raw))
    # no empty paragraphs one after another
    cleaned = []
    for o in out:
        if o == ".PP" and cleaned and cleaned[-1] in (".PP",) or (o == ".PP" and cleaned and cleaned[-1].startswith(".S")):
            continue
        cleaned.append(o)
    return "\n".join(cleaned) + "\n"


def main():
    page, target, version = sys.argv[1:4]
    with open(page, encoding="utf-8") as f:
        text = convert(f.read(), version)
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
