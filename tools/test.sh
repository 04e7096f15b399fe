#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tools/test.sh - install dependencies, build, and run Sluice's whole test suite.
#
# Phases, each in its own build directory (PREFIX defaults to "build"):
#   1. PREFIX        default build (debugoptimized, -Werror), meson test (all suites)
#   2. PREFIX-asan   -Db_sanitize=address,undefined, meson test (all suites)
#   3. PREFIX-fuzz   clang, -Dfuzz=libfuzzer + ASan/UBSan; every libFuzzer target defined in
#                    tests/fuzz/meson.build runs for FUZZ_SECONDS over a copy of its corpus;
#                    then the rest of the tree is built with clang (-Werror) as a check
# Every phase runs even if an earlier one failed; the script prints each phase's meson test
# summary and exits non-zero if any phase failed.
#
# Environment: SLUICE_BUILD_PREFIX (build dir prefix, default "build"), FUZZ_SECONDS (default
# 30), SLUICE_SKIP_INSTALL=1 (do not run tools/install-deps.sh), SLUICE_PHASES (default
# "default asan fuzz"). Safe to run again: existing build directories are reconfigured.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
prefix=${SLUICE_BUILD_PREFIX:-build}
fuzz_seconds=${FUZZ_SECONDS:-30}
phases=${SLUICE_PHASES:-default asan fuzz}
logdir="$root/$prefix-logs"
mkdir -p "$logdir"

if [ "${SLUICE_SKIP_INSTALL:-0}" != 1 ]; then
	tools/install-deps.sh
fi

failed=()
summary=()

# meson_setup DIR ARGS...: configure DIR, or reconfigure it when it already is a build dir.
meson_setup() {
	local dir=$1
	shift
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$dir" "$@" || meson setup --wipe "$dir" "$@"
	else
		meson setup "$dir" "$@"
	fi
}

# build_and_test NAME DIR [meson setup args...]: configure, build, meson test; record result.
build_and_test() {
	local name=$1 dir=$2
	shift 2
	echo "=== [$name] configure and build $dir"
	if ! meson_setup "$dir" "$@" || ! ninja -C "$dir"; then
		failed+=("$name: build")
		summary+=("[$name] BUILD FAILED")
		return 0
	fi
	echo "=== [$name] meson test -C $dir"
	local log="$logdir/$name-test.log" rc
	set +e
	meson test -C "$dir" --print-errorlogs 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	local lines
	lines=$(grep -E '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): ' "$log" |
		sed -E 's/ +$//; s/: +/: /' | paste -sd ',' - | sed 's/,/, /g' || true)
	summary+=("[$name] meson test: ${lines:-no summary} (exit $rc)")
	local skipped
	skipped=$(grep -E '^ *[0-9]+/[0-9]+ .* SKIP ' "$log" |
		sed -E 's/^ *[0-9]+\/[0-9]+ +//; s/ +SKIP.*//' | paste -sd ',' - | sed 's/,/, /g' || true)
	if [ -n "$skipped" ]; then
		summary+=("[$name] skipped (each says why in $log): $skipped")
	fi
	if [ "$rc" -ne 0 ]; then
		failed+=("$name: tests")
	fi
}

# The fuzz targets: executables defined in tests/fuzz/meson.build, as "name<TAB>path" lines.
fuzz_targets() {
	meson introspect --targets "$1" | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and "tests/fuzz/" in t["defined_in"].replace("\\", "/"):
        print(t["name"] + "\t" + t["filename"][0])'
}

# The checked-in seed corpus of a fuzz target, or nothing.
fuzz_corpus() {
	local name=$1 short=${1#fuzz_} d
	for d in tests/fuzz/corpus/"$name" tests/fuzz/corpus/"$short" tests/fuzz/"$name"_corpus \
		tests/fuzz/"$short"_corpus tests/fuzz/corpus-"$short" tests/fuzz/"$name"; do
		if [ -d "$d" ]; then
			echo "$d"
			return 0
		fi
	done
}

fuzz_phase() {
	local dir="$prefix-fuzz"
	echo "=== [fuzz] configure $dir (clang, libFuzzer, ASan/UBSan)"
	if ! CC=clang meson_setup "$dir" -Dfuzz=libfuzzer -Db_sanitize=address,undefined \
		-Db_lundef=false; then
		failed+=("fuzz: configure")
		summary+=("[fuzz] CONFIGURE FAILED")
		return 0
	fi
	local targets n=0 nfail=0 name path corpus work rel=()
	targets=$(fuzz_targets "$dir")
	while IFS=$'\t' read -r name path; do
		[ -n "$name" ] && rel+=("$(realpath --relative-to="$dir" "$path")")
	done <<<"$targets"
	if [ "${#rel[@]}" -eq 0 ]; then
		summary+=("[fuzz] no libFuzzer targets defined in tests/fuzz/meson.build: nothing run")
	elif ! ninja -C "$dir" "${rel[@]}"; then
		failed+=("fuzz: build of the fuzz targets")
		summary+=("[fuzz] BUILD OF THE FUZZ TARGETS FAILED")
	else
		while IFS=$'\t' read -r name path; do
			n=$((n + 1))
			corpus=$(fuzz_corpus "$name")
			work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz-$name.XXXXXX")
			echo "=== [fuzz] $name for ${fuzz_seconds}s, seeds: ${corpus:-none}"
			# New inputs go to the scratch directory (first argument), never into the corpus.
			if (cd "$dir" && "$path" -max_total_time="$fuzz_seconds" -timeout=10 \
				-rss_limit_mb=2048 -print_final_stats=1 \
				-artifact_prefix="$root/$dir/$name-" "$work" ${corpus:+"$root/$corpus"}) \
				>"$logdir/fuzz-$name.log" 2>&1 </dev/null; then
				echo "    $name: ok ($(grep -E '^stat::number_of_executed_units' \
					"$logdir/fuzz-$name.log" | awk '{print $2}') runs)"
			else
				nfail=$((nfail + 1))
				failed+=("fuzz: $name")
				echo "    $name: FAILED; last lines of $logdir/fuzz-$name.log:"
				tail -n 40 "$logdir/fuzz-$name.log" | sed 's/^/    /'
			fi
			rm -rf "$work"
		done <<<"$targets"
		summary+=("[fuzz] $n target(s), ${fuzz_seconds}s each: $((n - nfail)) ok, $nfail failed")
	fi
	# The rest of the tree must build with clang too (its warnings differ from gcc's).
	echo "=== [fuzz] build the whole tree with clang"
	if ninja -C "$dir"; then
		summary+=("[clang] the whole tree builds with clang -Werror")
	else
		failed+=("clang: build")
		summary+=("[clang] BUILD FAILED (see the compiler errors above)")
	fi
}

for phase in $phases; do
	t_phase=$(date +%s)
	case "$phase" in
	default) build_and_test default "$prefix" ;;
	asan) build_and_test asan "$prefix-asan" -Db_sanitize=address,undefined -Db_lundef=false ;;
	fuzz) fuzz_phase ;;
	*)
		echo "unknown phase $phase" >&2
		exit 2
		;;
	esac
	summary+=("        ($phase phase: $(($(date +%s) - t_phase)) s)")
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
	echo "FAILED: ${failed[*]}"
	exit 1
fi
echo "all phases passed"
