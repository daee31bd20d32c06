#!/usr/bin/env bash
# Runs every test of kaifa-meter: the -Werror build and all of ctest (unit,
# conformance, fuzz corpus replay, daemon/PostgreSQL/packaging integration),
# a Release -Werror build (build only: no warning at -O3 and LTO either), the unit and conformance tests again under ASan+UBSan and under valgrind,
# and a 60 s libFuzzer smoke run. Prints ctest's summary lines.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
B=${BUILD_DIR:-build-test}

echo "== build (-Werror)"
cmake -S . -B "$B/release" -DKM_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B/release" -j"$JOBS"

echo "== ctest: everything"
(cd "$B/release" && ctest --output-on-failure --timeout 300 -j1)

echo "== build Release (-Werror), build only"
cmake -S . -B "$B/release-O3" -DKM_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B/release-O3" -j"$JOBS"

echo "== ctest under AddressSanitizer + UndefinedBehaviorSanitizer (unit, conformance, fuzz replay)"
cmake -S . -B "$B/asan" -DKM_WERROR=ON -DKM_SANITIZE=ON -DKM_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$B/asan" -j"$JOBS"
(cd "$B/asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure --timeout 300 -j"$JOBS" -R '^(unit_|conformance_|cli_|fuzz_replay)')

echo "== valgrind: a CLI run over the noisy capture (the unit tests ran under valgrind in ctest)"
valgrind -q --error-exitcode=1 --leak-check=full "$B/release/src/kaifa-meter" parse-file \
        tests/data/captures/smidsrod/AIDON_V0001/6525-2-TSS721-frame-checksum-failures-on-large-frames.bin \
        --compact --stats >/dev/null 2>"$B/valgrind-cli.log" || { cat "$B/valgrind-cli.log"; exit 1; }
echo "valgrind: clean"

if [ -x tests/fuzz/smoke.sh ] && command -v clang >/dev/null; then
        echo "== libFuzzer smoke run"
        CC=clang cmake -S . -B "$B/fuzz" -DKM_FUZZ=ON -DKM_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build "$B/fuzz" -j"$JOBS" --target fuzz_decoder
        tests/fuzz/smoke.sh "$B/fuzz"
fi
echo "== all tests passed"
