#!/bin/bash
# Short libFuzzer runs for CI: usage smoke.sh BUILD_DIR [SECONDS] [TARGET...]
#
# Fuzzes a scratch copy of each target's seed corpus for SECONDS (default 60)
# with -max_total_time, so the committed corpora never change. TARGETs are
# decoder (corpus/), security (corpus-security/), p1, mbus, raw, axdr,
# config (corpus_<target>/); default all of
# them, one after the other. If BUILD_DIR lacks a target it is configured and
# built there first (clang, KM_FUZZ=ON). A crash, leak, timeout or failed
# check leaves the input in BUILD_DIR/fuzz-artifacts/<target>/, prints it in
# hex and makes the script exit 1 (after the other targets ran); copy it to
# tests/fuzz/crashers/ (crashers_p1/ for p1, crashers_config/ for config)
# to keep it.
set -euo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [SECONDS] [TARGET...]" >&2
	exit 64
fi
build=$1
seconds=${2:-60}
shift $(($# >= 2 ? 2 : 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decoder security p1 mbus raw axdr config)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/fuzz_$t
	corpus=$here/corpus_$t
	[ "$t" = decoder ] && corpus=$here/corpus
	[ "$t" = security ] && corpus=$here/corpus-security
	if [ ! -d "$corpus" ]; then
		echo "fuzz smoke: unknown target $t (no $corpus)" >&2
		exit 64
	fi
	if [ ! -x "$bin" ]; then
		cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DKM_FUZZ=ON -DKM_BUILD_BENCH=OFF >/dev/null
		cmake --build "$build" --target "fuzz_$t" -j"$(nproc)" >/dev/null
	fi
	rm -rf "$work/corpus"
	mkdir "$work/corpus"
	cp "$corpus"/* "$work/corpus/"
	artifacts=$build/fuzz-artifacts/$t
	mkdir -p "$artifacts"
	status=0
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" "$work/corpus" >"$work/log" 2>&1 || status=$?
	echo "== fuzz_$t"
	grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
		"$work/log" || true
	if [ "$status" -ne 0 ]; then
		tail -n 40 "$work/log"
		for f in "$artifacts"/*; do
			[ -f "$f" ] || continue
			echo "== $f"
			od -A d -t x1 "$f" | head -n 40
		done
		echo "fuzz smoke: fuzz_$t FAILED (exit $status); reproducer(s) in $artifacts" >&2
		failed=1
	else
		echo "fuzz smoke: fuzz_$t ${seconds}s without a finding"
	fi
done
exit $failed
