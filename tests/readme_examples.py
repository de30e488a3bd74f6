#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs the examples of README.md as a new user would, in order, from a fresh
clone: every command of a ```console block (a line starting with "$ ", with
its continuation lines) must exit 0, and every line the README shows after it
must be among the lines it printed ("..." stands for lines left out).

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


def main():
    binary, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with open(os.path.join(source, "README.md"), encoding="utf-8") as f:
        cases = examples(f.read())
    if not cases:
        print("FAIL: no console examples found in README.md")
        return 1
    work = tempfile.mkdtemp(prefix="firmclust-readme-")
    failed = 0
    try:
        os.symlink(os.path.join(source, "fixtures"), os.path.join(work, "fixtures"))
        os.mkdir(os.path.join(work, "build"))
        os.symlink(binary, os.path.join(work, "build", "firmclust"))
        for command, expected in cases:
            run = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True)
            printed = {l.rstrip() for l in (run.stdout + run.stderr).splitlines()}
            missing = [e for e in expected if e not in printed]
            if run.returncode != 0 or missing:
                failed += 1
                print(f"FAIL: $ {command}\n  exit {run.returncode}")
                for m in missing:
                    print(f"  README shows, the tool did not print: {m}")
                print("  the tool printed:\n    " + "\n    ".join(sorted(printed)))
            else:
                print(f"ok: $ {command}")
    finally:
        shutil.rmtree(work)
    print(f"README examples: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
