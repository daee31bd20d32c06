#!/usr/bin/env bash
# Runs every test of kaifa-meter: the -Werror build and all of ctest (unit,
# conformance, fuzz corpus replay, daemon/PostgreSQL/packaging integration),
# a Release -Werror build of what is shipped (build only: no warning at -O3
# and LTO either), the unit, conformance and CLI tests again under
# ASan+UBSan, a CLI run under valgrind (the unit tests ran under valgrind in
# ctest) and a 30 s libFuzzer smoke run of each fuzz target. Prints ctest's summary lines and
# the time each stage started.
#
# Speed (CI must stay well under 15 minutes on a loaded 2-core machine):
# - the integration tests mostly wait on sockets, timers and child
#   processes, and each brings its own resources (temporary directories,
#   socat ptys, mosquitto on a free port, PostgreSQL on a private unix
#   socket), so ctest runs CTEST_JOBS of them at a time (default: twice the
#   cores); the packaging tests install the package on the machine and run
#   alone (RUN_SERIAL);
# - while they wait, the builds of the later stages (Release, sanitizers,
#   libFuzzer) run in the background, at the lowest priority (nice 19) so
#   that they take only the CPU the tests leave: the tests' timing never
#   competes with the compiler;
# - the sanitizer build compiles only the programs its tests run, the
#   Release build only what is shipped (the tests' own code was built with
#   -Werror in the first build).
#
# Environment: BUILD_DIR (default build-test), CTEST_JOBS, KM_CTEST_ARGS
# (more ctest arguments for the first run, e.g. "-LE packaging").
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
CTEST_JOBS=${CTEST_JOBS:-$((2 * JOBS))}
B=${BUILD_DIR:-build-test}
ASAN_TESTS=(-L '^(unit|conformance|cli|fuzz)$')
FUZZ=0
if [ -x tests/fuzz/smoke.sh ] && command -v clang >/dev/null; then
        FUZZ=1
fi
SECONDS=0

# A process's children, grandchildren, ...
descendants() {
        local p
        for p in $(ps -o pid= --ppid "$1"); do
                echo "$p"
                descendants "$p"
        done
}

stage() {
        printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"
}

# The targets whose programs the tests selected by ctest arguments "$@" run:
# every path into the build directory on their command lines (ctest says
# "Could not find executable" for the ones not built yet).
test_targets() {
        local dir
        dir=$(cd "$1" && pwd)
        shift
        (cd "$dir" && ctest -N -V "$@" 2>&1) |
                sed -n -e 's/^[0-9]*: Test command: //p' -e 's/^Could not find executable //p' |
                tr -d '"' | tr ' ' '\n' | grep "^$dir/" | xargs -r -n1 basename | sort -u
}

# The builds the later stages need, one after the other, at the lowest
# priority (see above).
later_builds() {
        renice -n 19 -p "$BASHPID" >/dev/null
        stage "build Release (-Werror) of what is shipped"
        cmake -S . -B "$B/release-O3" -DKM_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
                -DKM_BUILD_TESTS=OFF -DKM_BUILD_BENCH=OFF >/dev/null
        cmake --build "$B/release-O3" -j"$JOBS"

        stage "build with AddressSanitizer + UndefinedBehaviorSanitizer (the programs of its tests)"
        cmake -S . -B "$B/asan" -DKM_WERROR=ON -DKM_SANITIZE=ON -DKM_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
        local targets
        mapfile -t targets < <(test_targets "$B/asan" "${ASAN_TESTS[@]}")
        [ ${#targets[@]} -gt 0 ] || { echo "no test programs found for the ASan run" >&2; return 1; }
        cmake --build "$B/asan" -j"$JOBS" --target "${targets[@]}"

        if [ "$FUZZ" = 1 ]; then
                stage "build the libFuzzer targets"
                CC=clang cmake -S . -B "$B/fuzz" -DKM_FUZZ=ON -DKM_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
                cmake --build "$B/fuzz" -j"$JOBS" --target fuzz_decoder fuzz_security fuzz_p1 fuzz_mbus fuzz_raw fuzz_axdr fuzz_config
        fi
        stage "builds done"
}

stage "build (-Werror, RelWithDebInfo)"
cmake -S . -B "$B/release" -DKM_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B/release" -j"$JOBS"

stage "ctest: everything, $CTEST_JOBS at a time (the packaging tests alone); the later builds beside it ($B/builds.log)"
later_builds >"$B/builds.log" 2>&1 &
builds=$!
ctest_status=0
# shellcheck disable=SC2086 # KM_CTEST_ARGS is a list of arguments
(cd "$B/release" && ctest --output-on-failure --timeout 300 -j"$CTEST_JOBS" ${KM_CTEST_ARGS:-}) || ctest_status=$?
# The tests are done: the builds may have the CPU at normal priority again
# (only root may lower a nice value; elsewhere they keep it, and on a
# machine of its own that makes no difference).
# shellcheck disable=SC2046 # one pid per word
renice -n 0 -p "$builds" $(descendants "$builds") >/dev/null 2>&1 || true
build_status=0
wait "$builds" || build_status=$?
grep '^== ' "$B/builds.log"
if [ "$build_status" -ne 0 ]; then
        tail -n 60 "$B/builds.log"
        echo "a build failed (the whole log: $B/builds.log)" >&2
fi
[ "$ctest_status" -eq 0 ] && [ "$build_status" -eq 0 ] || exit 1

stage "ctest under AddressSanitizer + UndefinedBehaviorSanitizer (unit, conformance, CLI, fuzz replay)"
(cd "$B/asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure --timeout 300 -j"$CTEST_JOBS" "${ASAN_TESTS[@]}")

stage "valgrind: a CLI run over the noisy capture"
valgrind -q --error-exitcode=1 --leak-check=full "$B/release/src/kaifa-meter" parse-file \
        tests/data/captures/smidsrod/AIDON_V0001/6525-2-TSS721-frame-checksum-failures-on-large-frames.bin \
        --compact --stats >/dev/null 2>"$B/valgrind-cli.log" || { cat "$B/valgrind-cli.log"; exit 1; }
echo "valgrind: clean"

if [ "$FUZZ" = 1 ]; then
        stage "libFuzzer smoke run"
        tests/fuzz/smoke.sh "$B/fuzz" "${KM_FUZZ_SMOKE_SECONDS:-30}" # each target; the long runs are in docs/fuzzing.md
fi
stage "all tests passed"
