#!/bin/bash
# One benchmark command: builds Release in its own directory and prints one
# table, each line "name: value unit" (see docs/benchmark.md).
#
#   scripts/bench.sh [BUILD_DIR]      (default build-bench)
#
# Figures depend on the machine and its load: the table opens with the load
# average and CPU count, and the decoder figures come with the CRC figure and
# the ratio of the same kaifa-bench run. Nothing is estimated: a figure that
# was not measured says "not measured (why)".
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-bench}
data=$here/tests/data/captures
# shellcheck source=scripts/bench_stream.sh
. "$here/scripts/bench_stream.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKM_BUILD_TESTS=OFF -DKM_BUILD_BENCH=ON >"$work/cmake.log" 2>&1 ||
	{ cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$build" -j2 --target kaifa-bench kaifa-meter pty-floor >"$work/build.log" 2>&1 ||
	{ tail -n 30 "$work/build.log" >&2; exit 1; }
bench=$build/bench/kaifa-bench
cli=$build/src/kaifa-meter

row() { printf '%s: %s\n' "$1" "$2"; }
field() { # field FILE LINE-PREFIX AWK-FIELD
	awk -v p="$2" -v f="$3" 'index($0, p) == 1 { print $f; exit }' "$1"
}

read -r load1 _ < /proc/loadavg
row machine_cpus "$(nproc) cpus"
row load_avg_1min "$load1 (at start)"

# The core, per transport: MB/s, the CRC pass and ratio of the same run,
# allocations per frame.
core() { # core NAME SIZE_MIB ARGS...
	local name=$1 size=$2
	shift 2
	if "$bench" --no-latency --size "$size" "$@" >"$work/$name.txt" 2>&1; then
		row "decode_${name}_mb_s" "$(field "$work/$name.txt" decode: 2) MB/s"
		row "crc_${name}_mb_s" "$(field "$work/$name.txt" crc16-x25: 2) MB/s"
		row "crc_ratio_${name}" "$(field "$work/$name.txt" ratio: 2 | tr -d x) x"
		local a
		a=$(awk '/^allocations:/ { for (i = 1; i <= NF; i++) if ($i == "=") { print $(i + 1); exit } }' "$work/$name.txt")
		row "allocations_per_frame_${name}" "${a:-not measured (allocations not counted in this build)} allocations"
	else
		row "decode_${name}_mb_s" "not measured (kaifa-bench failed: $(tail -n 1 "$work/$name.txt"))"
	fi
}
core hdlc 100 --transport hdlc
# Only encrypted M-Bus captures exist: framing, checksums and telegram
# reassembly are measured, not decryption or lists (no key in kaifa-bench).
core mbus 20 --transport mbus --file "$data/beyond/kaifa/ams_gh905-1_ma309_pl_mbus2_enc.bin" \
	--file "$data/beyond/kaifa/tinetz_example_ma309_at_mbus2_enc21.bin"
mapfile -t p1 < <(find "$data/beyond" "$data/amshan" -name '*dsmr*.txt' -o -name 'p1-*.txt' | sort)
p1args=()
for f in "${p1[@]}"; do p1args+=(--file "$f"); done
if [ ${#p1args[@]} -gt 0 ]; then
	core p1 20 --transport p1 "${p1args[@]}"
else
	row decode_p1_mb_s "not measured (no P1 captures found)"
fi
# The headline pair, as docs/benchmark.md has always reported it.
row crc_ratio "$(field "$work/hdlc.txt" ratio: 2 | tr -d x) x"
row allocations_per_frame "$(awk '/^allocations:/ { for (i = 1; i <= NF; i++) if ($i == "=") { print $(i + 1); exit } }' "$work/hdlc.txt") allocations"

# The command line end to end: the three long nordbo captures x 12 (14 MB),
# output to a file; input MB per wall second, best of 3, and CPU seconds.
bench_stream "$data" "$work/stream.bin"
bytes=$(stat -c %s "$work/stream.bin")
cli_run() { # cli_run NAME ARGS...
	local name=$1 best="" cpu=""
	shift
	for _ in 1 2 3; do
		local t0 t1 w
		# The previous run's output goes before the clock starts: truncating
		# 208 MB of page cache took 40-180 ms and was counted against the next run.
		rm -f "$work/out"
		t0=$(date +%s.%N)
		/usr/bin/time -o "$work/time" -f "%U %S" "$cli" parse-file "$work/stream.bin" "$@" >"$work/out" 2>/dev/null
		t1=$(date +%s.%N)
		w=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$best" ] || [ "$(echo "$w < $best" | bc -l)" = 1 ]; then
			best=$w
			cpu=$(awk '{ print $1 + $2 }' "$work/time")
		fi
	done
	local mb
	mb=$(echo "$bytes / 1000000" | bc -l)
	row "cli_${name}_mb_s" "$(printf '%.1f' "$(echo "$mb / $best" | bc -l)") MB/s (input per wall second, best of 3; $(printf '%.1f' "$mb") MB in, $(stat -c %s "$work/out") bytes out)"
	if [ "$(echo "$cpu > 0" | bc -l)" = 1 ]; then
		row "cli_${name}_cpu_mb_s" "$(printf '%.1f' "$(echo "$mb / $cpu" | bc -l)") MB/s (input per CPU second, user+sys $cpu s, same run)"
	else
		row "cli_${name}_cpu_mb_s" "not measured (CPU time below the 0.01 s resolution)"
	fi
}
if [ -x /usr/bin/time ] && command -v bc >/dev/null; then
	cli_run json --json --compact
	cli_run text
else
	row cli_json_mb_s "not measured (needs /usr/bin/time and bc)"
	row cli_text_mb_s "not measured (needs /usr/bin/time and bc)"
fi

# The daemon: one simulated day through a socat pty to a real mosquitto,
# its memory, the latency of 1000 frames, its wake-ups while the meter is
# silent, and one daemon reading 1000 meters over tcp:// (scripts/bench_daemon.py).
if cmake --build "$build" -j2 --target kaifa-meterd >"$work/build-daemon.log" 2>&1 &&
	command -v mosquitto >/dev/null && command -v socat >/dev/null && command -v python3 >/dev/null; then
	cost=()
	# instructions and system calls per frame: figures that do not move with the host
	command -v callgrind_control >/dev/null && command -v strace >/dev/null && cost=(--cost)
	python3 "$here/scripts/bench_daemon.py" --daemon "$build/kaifa-meterd" --cli "$cli" \
		--floor "$build/bench/pty-floor" "${cost[@]}" 2>"$work/daemon.err" ||
		{ row daemon_bench "failed: $(tail -n 1 "$work/daemon.err")"; }
else
	why="not measured (needs kaifa-meterd built, mosquitto, socat and python3)"
	for n in daemon_cpu_s_per_day daemon_private_kb daemon_idle_wakeups_per_min latency_p99_ms \
		daemon_floor_cpu_s_per_day daemon_instructions_per_frame daemon_syscalls_per_frame \
		fleet_meters fleet_cpu_pct fleet_start_cpu_s; do
		row "$n" "$why"
	done
fi
read -r load1 _ < /proc/loadavg
row load_avg_1min_end "$load1 (at end)"
