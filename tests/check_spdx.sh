#!/bin/sh
# SPDX-License-Identifier: MIT
# Every source file (C, headers, Python, shell, CMake) says its licence in
# its first lines, and the LICENSE is there: fails naming the files that do not.
set -u
src=${1:?usage: check_spdx.sh SOURCE_DIR}
cd "$src" || exit 1
[ -f LICENSE ] || { echo "LICENSE is missing"; exit 1; }
missing=$(find src include tests cmake CMakeLists.txt .ci -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.py' -o -name '*.sh' -o -name '*.cmake' \
       -o -name '*.in' -o -name 'CMakeLists.txt' -o -name run \) \
    ! -path '*/corpus/*' | sort | while read -r f; do
        head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT' || echo "$f"
    done)
if [ -n "$missing" ]; then
    echo "no SPDX-License-Identifier line in:"
    echo "$missing"
    exit 1
fi
echo "every source file has its SPDX line"
