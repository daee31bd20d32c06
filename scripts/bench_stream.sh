# shellcheck shell=bash
# Sourced by scripts/bench.sh and scripts/bench_peers.sh: the stream their
# command-line figures are measured on, so that both use it byte for byte.
#
# bench_stream CAPTURES OUT: the three long nordbo captures repeated 12 times
# (14,067,948 bytes, 245,472 frames) into OUT.
bench_stream() {
	local nordbo=$1/nordbo
	for _ in $(seq 12); do
		cat "$nordbo/han-data-MA304H3E-2017-01-20_1202-1608.bin" "$nordbo/han-data-MA304T4-2017-01-23_0835-1258.bin" \
			"$nordbo/han-data-MA304T3-2017-01-23_1303-1557.bin"
	done >"$2"
}
