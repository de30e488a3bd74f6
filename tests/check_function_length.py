#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every function in src/ stays under 100 lines (issue 12): a long function
is cut along the pipeline's own stages instead. A function here starts with
a line that is only "{" after its signature, and ends with the next line
that is only "}" (the project's clang-format style). And every file of src/
stays under 900 lines (issue 27).

    python3 check_function_length.py SOURCE_DIR
"""
import pathlib
import re
import sys

LIMIT = 100
FILE_LIMIT = 900


def functions(path):
    lines = path.read_text(encoding="utf-8").split("\n")
    start = None
    for i, line in enumerate(lines):
        if line == "{" and i > 0:
            name = None
            for back in range(i - 1, max(i - 8, -1), -1):  # the signature's first line
                if lines[back] and not lines[back][0].isspace():
                    m = re.search(r"(\w+)\(", lines[back])
                    name = m.group(1) if m else None
                    break
            start = (i, name)
        elif line == "}" and start:
            yield start[1], start[0], i - start[0] + 1
            start = None


def main():
    root = pathlib.Path(sys.argv[1])
    long_ones = []
    count = 0
    for path in sorted(root.glob("src/**/*.c")):
        for name, line, length in functions(path):
            count += 1
            if length >= LIMIT:
                long_ones.append(f"{path.relative_to(root)}:{line + 1}: {name} has {length} lines")
    # and no file of the library or the tool of FILE_LIMIT lines or more (issue 27)
    big_files = []
    for path in sorted(list(root.glob("src/**/*.c")) + list(root.glob("src/**/*.h"))):
        with open(path, encoding="utf-8") as f:
            n_lines = sum(1 for _ in f)
        if n_lines >= FILE_LIMIT:
            big_files.append(f"{path.relative_to(root)}: {n_lines} lines")
    for message in long_ones + big_files:
        print(message)
    print(f"function length: {count} functions, {len(long_ones)} of {LIMIT} lines or more; "
          f"{len(big_files)} files of {FILE_LIMIT} lines or more")
    return 1 if long_ones or big_files or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
