#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every function the public header exports (FC_API) says, in the comment
right above it, what errors it can give ("Errors:"), who owns and frees
what ("Ownership:") and whether it may be called from several threads at
once ("Threads:"), as SQLite's and GEOS's headers do.

    check_api_docs.py SOURCE_DIR
"""
import os
import re
import sys

TAGS = ("Errors:", "Ownership:", "Threads:")


def main():
    with open(os.path.join(sys.argv[1], "include", "firmclust.h"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    missing, count = [], 0
    for i, line in enumerate(lines):
        m = re.match(r"^FC_API .*?[ *](fc_[a-z_0-9]+)\(", line)
        if not m:
            continue
        count += 1
        comment = []
        j = i - 1
        if j >= 0 and lines[j].rstrip().endswith("*/"):
            while j >= 0:
                comment.insert(0, lines[j])
                if "/*" in lines[j]:
                    break
                j -= 1
        text = "\n".join(comment)
        lacks = [t for t in TAGS if t not in text]
        if lacks:
            missing.append(f"{m.group(1)}: no {', '.join(lacks)}")
    for m in missing:
        print("FAIL: " + m)
    print(f"{count} FC_API functions, {len(missing)} without errors, ownership and threads")
    return 1 if missing or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
