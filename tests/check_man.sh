#!/bin/sh
# SPDX-License-Identifier: MIT
# The man pages made from docs/firmclust-*.md: one a command, each read back
# with `man -l` (NAME, SYNOPSIS, DESCRIPTION and OPTIONS there, the synopsis
# naming the command), and without a warning from groff.
set -u
build=${1:?usage: check_man.sh BUILD_DIR}
failed=0
for command in cluster suggest render info synth; do
    page="$build/man/firmclust-$command.1"
    if [ ! -f "$page" ]; then
        echo "FAIL: $page is missing"
        failed=$((failed + 1))
        continue
    fi
    text=$(MANPAGER=cat MANWIDTH=80 man -l "$page" 2>&1)
    for section in NAME SYNOPSIS DESCRIPTION OPTIONS; do
        if ! printf '%s\n' "$text" | grep -q "^$section"; then
            echo "FAIL: firmclust-$command.1 has no $section"
            failed=$((failed + 1))
        fi
    done
    if ! printf '%s\n' "$text" | grep -q "firmclust $command"; then
        echo "FAIL: firmclust-$command.1 does not name firmclust $command"
        failed=$((failed + 1))
    fi
    warnings=$(preconv "$page" | groff -man -ww -z -Tutf8 2>&1)
    if [ -n "$warnings" ]; then
        echo "FAIL: firmclust-$command.1: $warnings"
        failed=$((failed + 1))
    fi
done
echo "man pages: $failed failed"
[ "$failed" = 0 ]
