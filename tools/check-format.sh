#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tools/check-format.sh - report C files whose formatting differs from .clang-format.
# Checks every tracked *.c and *.h file; prints the files that differ (and the first lines of
# the difference) and exits 1 if any does, 0 if none does or clang-format is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

cf=$(command -v clang-format || command -v clang-format-14 || true)
if [ -z "$cf" ]; then
	echo "check-format: clang-format not installed, skipped"
	exit 0
fi
bad=0
while IFS= read -r f; do
	if ! diff -q "$f" <("$cf" --style=file "$f") >/dev/null; then
		echo "check-format: $f differs from .clang-format:"
		diff -u "$f" <("$cf" --style=file "$f") | sed -n '3,12p' | sed 's/^/    /' || true
		bad=1
	fi
done < <(git ls-files '*.c' '*.h')
if [ "$bad" = 0 ]; then
	echo "check-format: all C files match .clang-format"
fi
exit "$bad"
