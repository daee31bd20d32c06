#!/bin/bash
# Short libFuzzer run of fuzz_decoder for CI: usage smoke.sh BUILD_DIR [SECONDS]
#
# Fuzzes a scratch copy of the seed corpus for SECONDS (default 60) with
# -max_total_time, so the committed corpus never changes. If BUILD_DIR has no
# fuzz_decoder yet it is configured there first (clang, KM_FUZZ=ON). A crash,
# leak, timeout or failed check leaves the input in BUILD_DIR/fuzz-artifacts/,
# prints it in hex and exits 1; copy it to tests/fuzz/crashers/ to keep it.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 BUILD_DIR [SECONDS]" >&2
	exit 64
fi
build=$1
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
bin=$build/tests/fuzz/fuzz_decoder

if [ ! -x "$bin" ]; then
	cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DKM_FUZZ=ON -DKM_BUILD_BENCH=OFF >/dev/null
	cmake --build "$build" --target fuzz_decoder -j"$(nproc)" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$here"/corpus/* "$work/corpus/"
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

status=0
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$work/corpus" >"$work/log" 2>&1 || status=$?
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
	"$work/log" || true
if [ "$status" -ne 0 ]; then
	tail -n 40 "$work/log"
	for f in "$artifacts"/*; do
		[ -f "$f" ] || continue
		echo "== $f"
		od -A d -t x1 "$f" | head -n 40
	done
	echo "fuzz smoke: FAILED (exit $status); reproducer(s) in $artifacts" >&2
	exit 1
fi
echo "fuzz smoke: ${seconds}s without a finding"
