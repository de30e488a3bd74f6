#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs the examples of README.md and of every page of docs/ as a new user
would, in order (README.md, then the pages in the order docs/README.md lists
them), from a fresh clone: every command of a ```console block (a line
starting with "$ ", with its continuation lines) must exit 0, and every line
the page shows after it must be among the lines it printed ("..." stands for
lines left out). Every page of docs/ must be listed in docs/README.md.

    readme_examples.py FIRMCLUST SOURCE_DIR

The commands run in an empty directory holding only fixtures/ and
build/firmclust, as in a clone after `sh cmake/setup.sh demo`.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def examples(readme):
    """(command, expected lines) of every console block, in order."""
    found = []
    for indent, body in re.findall(r"^( *)```console\n(.*?)^ *```", readme, re.S | re.M):
        lines = [l[len(indent):] if l.startswith(indent) else l for l in body.splitlines()]
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                i += 1
                continue
            command = lines[i][2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            expected = []
            i += 1
            while i < len(lines) and not lines[i].startswith("$ "):
                expected.append(lines[i].rstrip())
                i += 1
            found.append((command, [e for e in expected if e and e != "..."]))
    return found


def pages(source):
    """README.md, then docs/README.md's pages in its order; every page of docs/
    must be there."""
    with open(os.path.join(source, "docs", "README.md"), encoding="utf-8") as f:
        index = f.read()
    listed = ["README.md", "docs/README.md"]
    for link in re.findall(r"\]\(([^)#]+\.md)\)", index):
        path = os.path.normpath(os.path.join("docs", link))
        if path not in listed:
            listed.append(path)
    on_disk = {os.path.relpath(os.path.join(d, f), source)
               for d, _, files in os.walk(os.path.join(source, "docs")) for f in files
               if f.endswith(".md")}
    return listed, sorted(on_disk - set(listed))


def main():
    binary, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    listed, unlisted = pages(source)
    if unlisted:
        print("FAIL: docs/README.md does not list " + ", ".join(unlisted))
        return 1
    cases = []
    for page in listed:
        with open(os.path.join(source, page), encoding="utf-8") as f:
            cases += [(page, c, e) for c, e in examples(f.read())]
    if not cases:
        print("FAIL: no console examples found")
        return 1
    work = tempfile.mkdtemp(prefix="firmclust-readme-")
    failed = 0
    try:
        os.symlink(os.path.join(source, "fixtures"), os.path.join(work, "fixtures"))
        os.mkdir(os.path.join(work, "build"))
        os.symlink(binary, os.path.join(work, "build", "firmclust"))
        for page, command, expected in cases:
            run = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True)
            printed = {l.rstrip() for l in (run.stdout + run.stderr).splitlines()}
            missing = [e for e in expected if e not in printed]
            if run.returncode != 0 or missing:
                failed += 1
                print(f"FAIL: {page}: $ {command}\n  exit {run.returncode}")
                for m in missing:
                    print(f"  {page} shows, the tool did not print: {m}")
                print("  the tool printed:\n    " + "\n    ".join(sorted(printed)))
            else:
                print(f"ok: {page}: $ {command}")
    finally:
        shutil.rmtree(work)
    print(f"examples of {len(listed)} pages: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
