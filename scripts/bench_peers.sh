#!/bin/bash
# The peers on the stream of `cli_json_mb_s`: builds the same 14 MB stream as
# scripts/bench.sh (the three long nordbo captures x 12), runs each peer that
# is checked out on it with its output to a file, and prints one line per
# peer, "name: value unit" like bench.sh (see docs/benchmark.md, "Peers").
#
#   scripts/bench_peers.sh [--kaifa-meter DIR] [--ams-han-decoder DIR]
#                          [--amshan DIR] [--cli PATH] [BUILD_DIR]
#
# The peers are not part of this project and are not fetched: give the path
# of each checkout, as an option or in the environment:
#
#   KM_PEER_KAIFA_METER      endrebjorsvik/kaifa-meter (the directory holding kaifa_meter/)
#   KM_PEER_AMS_HAN_DECODER  robinsmidsrod/ams-han-decoder (holding ams_han_decoder.pl)
#   KM_PEER_AMSHAN           toreamun/amshan (holding the package directory amshan/)
#   KM_PEER_PYTHON           the python3 to run the Python peers with (default
#                            /usr/bin/python3, which sees Debian's python3-* packages)
#   KM_PEER_RUNS             runs per peer, best wall time kept (default 1: a
#                            Python peer takes a minute or more per run)
#   KM_PEER_AMSHAN_CHUNK     bytes per HdlcFrameReader.read() call (default 4096)
#
# Their dependencies, from Debian: python3-construct python3-serial
# python3-click (kaifa-meter), python3-construct (amshan), libjson-perl
# libdigest-crc-perl liburi-perl (ams-han-decoder).
#
# How each is run (none has a batch "decode this file" command of its own
# that decodes more than one frame, except ams-han-decoder):
#   ams-han-decoder  its own command: perl ams_han_decoder.pl -m KFM_001 -c STREAM > OUT
#   kaifa-meter      its own `kaifa_meter serial STREAM -o OUT` (click command,
#                    read_serial, get_frame, decode_frame, FileWriter) with
#                    pyserial's Serial replaced by the file; the end of the
#                    file ends read_serial's endless loop
#   amshan           a library: the file in KM_PEER_AMSHAN_CHUNK-byte chunks into
#                    hdlc.HdlcFrameReader.read(), each good frame's information
#                    field into autodecoder.AutoDecoder().decode_frame_content(),
#                    one JSON line per reading (json.dumps, default=str)
# The figure is input MB (10^6 bytes) per wall second, and per CPU second
# (user+sys). It is printed only when the peer wrote at least 90 % as many
# readings as `kaifa-meter parse-file` decodes from the same stream, so that
# a peer that stopped early is not reported as fast.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
kaifa_meter_dir=${KM_PEER_KAIFA_METER:-}
ams_han_decoder_dir=${KM_PEER_AMS_HAN_DECODER:-}
amshan_dir=${KM_PEER_AMSHAN:-}
cli=""
build=""
while [ $# -gt 0 ]; do
	case $1 in
	--kaifa-meter) kaifa_meter_dir=${2:?"--kaifa-meter needs a directory"}; shift 2 ;;
	--ams-han-decoder) ams_han_decoder_dir=${2:?"--ams-han-decoder needs a directory"}; shift 2 ;;
	--amshan) amshan_dir=${2:?"--amshan needs a directory"}; shift 2 ;;
	--cli) cli=${2:?"--cli needs a path"}; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	-*) echo "bench_peers.sh: unknown option $1" >&2; exit 64 ;;
	*) build=$1; shift ;;
	esac
done
build=${build:-$here/build-bench}
python=${KM_PEER_PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=python3
runs=${KM_PEER_RUNS:-1}
chunk=${KM_PEER_AMSHAN_CHUNK:-4096}
data=$here/tests/data/captures
# shellcheck source=scripts/bench_stream.sh
. "$here/scripts/bench_stream.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

row() { printf '%s: %s\n' "$1" "$2"; }

if [ -z "$cli" ]; then
	cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKM_BUILD_TESTS=OFF -DKM_BUILD_BENCH=ON >"$work/cmake.log" 2>&1 ||
		{ cat "$work/cmake.log" >&2; exit 1; }
	cmake --build "$build" -j2 --target kaifa-meter >"$work/build.log" 2>&1 ||
		{ tail -n 30 "$work/build.log" >&2; exit 1; }
	cli=$build/src/kaifa-meter
fi
for tool in /usr/bin/time bc; do
	command -v "$tool" >/dev/null || { echo "bench_peers.sh: needs $tool" >&2; exit 69; }
done

read -r load1 _ </proc/loadavg
row machine_cpus "$(nproc) cpus"
row load_avg_1min "$load1 (at start)"

# The stream of bench.sh's cli_json_mb_s and cli_text_mb_s, byte for byte.
bench_stream "$data" "$work/stream.bin"
bytes=$(stat -c %s "$work/stream.bin")
mb=$(echo "$bytes / 1000000" | bc -l)
"$cli" parse-file "$work/stream.bin" --stats >/dev/null 2>"$work/ours.txt"
ours=$(awk -F': *' '$1 == "decoded frames" { print $2 + 0; exit }' "$work/ours.txt")
row stream_frames "$ours frames (kaifa-meter parse-file; $(printf '%.1f' "$mb") MB, $bytes bytes)"

# The drivers of the two Python peers (see the header).
cat >"$work/kaifa_meter_serial_on_file.py" <<'EOF'
import sys


class EndOfStream(BaseException):
    """Not an Exception: read_serial's `except Exception` must let it through."""


class FileAsSerial:
    def __init__(self, path, *args, **kwargs):
        self._file = open(path, 'rb')

    def read(self, size=1):
        data = self._file.read(size)
        if not data:
            raise EndOfStream()
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()
        return False


checkout, stream, outfile = sys.argv[1:4]
sys.path.insert(0, checkout)
import kaifa_meter.reader  # noqa: E402
from kaifa_meter.cli import cli  # noqa: E402

kaifa_meter.reader.Serial = FileAsSerial
try:
    cli.main(['serial', stream, '-o', outfile], standalone_mode=False)
except EndOfStream:
    pass
EOF
cat >"$work/amshan_decode_file.py" <<'EOF'
import json
import sys

checkout, stream, outfile, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, checkout)
from amshan import autodecoder, hdlc  # noqa: E402

reader = hdlc.HdlcFrameReader()
decoder = autodecoder.AutoDecoder()
with open(stream, 'rb') as src, open(outfile, 'w') as out:
    while True:
        data = src.read(chunk)
        if not data:
            break
        for frame in reader.read(data):
            if not (frame.is_good_ffc and frame.is_expected_length):
                continue
            reading = decoder.decode_frame_content(frame.information)
            if reading is not None:
                out.write(json.dumps(reading, default=str) + "\n")
EOF

# peer_run NAME COUNT-FUNCTION WHAT COMMAND...: best wall time of $runs runs
# with stdout to $work/out (the Python drivers write to /dev/stdout);
# COUNT-FUNCTION counts the readings in $work/out.
peer_run() {
	local name=$1 count=$2 what=$3 best="" cpu="" frames=0 out_bytes=0
	shift 3
	for _ in $(seq "$runs"); do
		local t0 t1 w rc=0
		rm -f "$work/out"
		t0=$(date +%s.%N)
		/usr/bin/time -o "$work/time" -f "%U %S" "$@" >"$work/out" 2>"$work/err" || rc=$?
		t1=$(date +%s.%N)
		if [ "$rc" != 0 ]; then
			row "peer_${name}_mb_s" "not measured (it exited $rc: $(grep -v '^Command exited' "$work/err" | tail -n 1 | cut -c 1-160))"
			return
		fi
		w=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$best" ] || [ "$(echo "$w < $best" | bc -l)" = 1 ]; then
			best=$w
			cpu=$(awk '{ print $1 + $2 }' "$work/time")
			frames=$($count)
			out_bytes=$(stat -c %s "$work/out")
		fi
	done
	if [ "$(echo "$frames < $ours * 0.9" | bc -l)" = 1 ]; then
		row "peer_${name}_mb_s" "not measured (it wrote $frames readings where kaifa-meter decodes $ours: it stopped early or failed; $what)"
		return
	fi
	row "peer_${name}_mb_s" "$(printf '%.2f' "$(echo "$mb / $best" | bc -l)") MB/s (input per wall second, best of $runs; $what; $frames readings for kaifa-meter's $ours, $(printf '%.1f' "$best") s, $out_bytes bytes out)"
	row "peer_${name}_cpu_mb_s" "$(printf '%.2f' "$(echo "$mb / $cpu" | bc -l)") MB/s (input per CPU second, user+sys $cpu s, same run)"
}

count_kaifa_meter() { # FileWriter appends str(msg): one top-level "header =" per message
	grep -c '^    header = ' "$work/out" || true
}
count_lines() {
	wc -l <"$work/out"
}

python_has() { # python_has MODULE...
	"$python" -c "import $(
		IFS=,
		echo "$*"
	)" 2>/dev/null
}

# The Python kaifa-meter.
if [ -z "$kaifa_meter_dir" ]; then
	row peer_kaifa_meter_python_mb_s "not measured (no checkout given: --kaifa-meter DIR or KM_PEER_KAIFA_METER)"
elif [ ! -f "$kaifa_meter_dir/kaifa_meter/reader.py" ]; then
	row peer_kaifa_meter_python_mb_s "not measured ($kaifa_meter_dir/kaifa_meter/reader.py not found)"
elif ! python_has construct serial click; then
	row peer_kaifa_meter_python_mb_s "not measured ($python cannot import construct, serial and click: apt-get install python3-construct python3-serial python3-click)"
else
	peer_run kaifa_meter_python count_kaifa_meter \
		"kaifa_meter serial STREAM -o FILE, the file in place of the serial port; it checks no checksum" \
		"$python" "$work/kaifa_meter_serial_on_file.py" "$kaifa_meter_dir" "$work/stream.bin" /dev/stdout
fi

# The Perl ams-han-decoder.
if [ -z "$ams_han_decoder_dir" ]; then
	row peer_ams_han_decoder_mb_s "not measured (no checkout given: --ams-han-decoder DIR or KM_PEER_AMS_HAN_DECODER)"
elif [ ! -f "$ams_han_decoder_dir/ams_han_decoder.pl" ]; then
	row peer_ams_han_decoder_mb_s "not measured ($ams_han_decoder_dir/ams_han_decoder.pl not found)"
elif ! perl -MJSON -MDigest::CRC -MURI -e 1 2>/dev/null; then
	row peer_ams_han_decoder_mb_s "not measured (perl lacks JSON, Digest::CRC or URI: apt-get install libjson-perl libdigest-crc-perl liburi-perl)"
else
	peer_run ams_han_decoder count_lines "perl ams_han_decoder.pl -m KFM_001 -c STREAM > FILE (compact JSON with payload)" \
		perl "$ams_han_decoder_dir/ams_han_decoder.pl" -m KFM_001 -c "$work/stream.bin"
fi

# amshan.
if [ -z "$amshan_dir" ]; then
	row peer_amshan_mb_s "not measured (no checkout given: --amshan DIR or KM_PEER_AMSHAN)"
elif [ ! -f "$amshan_dir/amshan/hdlc.py" ] || [ ! -f "$amshan_dir/amshan/autodecoder.py" ]; then
	row peer_amshan_mb_s "not measured ($amshan_dir/amshan/hdlc.py or autodecoder.py not found)"
elif ! python_has construct; then
	row peer_amshan_mb_s "not measured ($python cannot import construct: apt-get install python3-construct)"
else
	peer_run amshan count_lines \
		"HdlcFrameReader.read() of $chunk-byte chunks, AutoDecoder.decode_frame_content(), one JSON line each" \
		"$python" "$work/amshan_decode_file.py" "$amshan_dir" "$work/stream.bin" /dev/stdout "$chunk"
fi

read -r load1 _ </proc/loadavg
row load_avg_1min_end "$load1 (at end)"
