#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the build into a temporary prefix and builds a small C program
# against it twice, with pkg-config and with CMake's find_package; runs
# both, and the installed tool. Also checks that the shared library exports
# exactly the functions the header marks FC_API.
#   sh check_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
pc=$(find "$prefix" -name firmclust.pc)
lib=$(dirname "$(dirname "$pc")")
echo "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

# 1. pkg-config
PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs firmclust >"$tmp/flags"
# shellcheck disable=SC2046
cc -o "$tmp/consumer_pc" "$src/tests/install/consumer.c" $(cat "$tmp/flags") -Wl,-rpath,"$lib"
"$tmp/consumer_pc"

# 2. find_package(firmclust) and firmclust::firmclust
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_RPATH="$lib" >"$tmp/configure.log"
cmake --build "$tmp/consumer" >"$tmp/build.log"
"$tmp/consumer/consumer"

# 3. the installed tool finds its library where it was installed
"$prefix/bin/firmclust" --version

# 3b. its man pages, one a command, readable with man -l
for command in cluster suggest render info synth; do
    page=$(find "$prefix" -path "*man1/firmclust-$command.1")
    [ -n "$page" ] || { echo "no man page firmclust-$command.1 installed"; exit 1; }
    MANPAGER=cat man -l "$page" | grep -q "^SYNOPSIS" || { echo "$page: no SYNOPSIS"; exit 1; }
done

# 4. the ABI: the shared library's exported functions are the header's
so=$(find "$lib" -name 'libfirmclust.so.*' -type f | head -1)
if [ -n "$so" ]; then
    nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sort >"$tmp/exported"
    sed -n 's/^FC_API .*[ *]\(fc_[a-z_0-9]*\)(.*/\1/p' "$src/include/firmclust.h" | sort >"$tmp/declared"
    if ! cmp -s "$tmp/exported" "$tmp/declared"; then
        echo "exported (<) and declared FC_API (>) differ:" >&2
        diff "$tmp/exported" "$tmp/declared" >&2 || true
        exit 1
    fi
    soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
    echo "$(basename "$so"): SONAME $soname, $(wc -l <"$tmp/exported") functions exported, all FC_API"
fi
echo "install: 4 passed, 0 failed"
