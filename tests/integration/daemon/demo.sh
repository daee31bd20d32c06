#!/usr/bin/env bash
# kaifa-meterd demo: a local mosquitto on a free port, a socat pty pair
# standing in for the meter's serial port, kaifa-meterd reading the pty, and
# a bundled capture of a Kaifa MA304T4 (list 1, list 2 and an hourly list 3)
# replayed into it. Prints the MQTT messages as they arrive, then what the
# broker keeps retained, then stops everything it started.
#
#   tests/integration/daemon/demo.sh [--daemon PATH] [--build-dir DIR] [--all] [--check] [BUILD_DIR]
#
#   --daemon PATH    use this kaifa-meterd (default: build it with CMake)
#   --build-dir DIR  where to build (default: build)
#   --all            replay the whole capture (1475 frames) instead of the
#                    40 frames around the hourly one
#   --check          quiet; exit 1 unless the hourly energy arrives (CTest)
#
# Needs: cmake, a C compiler and the -dev packages (to build), mosquitto,
# mosquitto-clients, socat, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
capture="$top/tests/data/captures/smidsrod/KFM_001/MA304T4-3-ok.bin"
daemon=""
build_dir="$top/build"
all=0
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --daemon) daemon="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --all) all=1; shift ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "demo.sh: unknown argument $1" >&2; exit 64 ;;
    *) # a build directory, or the daemon itself
      if [ -d "$1" ]; then build_dir=$(cd "$1" && pwd); else daemon="$1"; fi
      shift ;;
  esac
done

say() { if [ "$check" = 0 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; fi; }
for p in mosquitto mosquitto_sub socat python3; do
  command -v "$p" >/dev/null || { echo "demo.sh: $p is missing (apt-get install mosquitto mosquitto-clients socat python3)" >&2; exit 69; }
done

if [ -z "$daemon" ] && [ -x "$build_dir/kaifa-meterd" ]; then
  daemon="$build_dir/kaifa-meterd"
  cmake --build "$build_dir" --target kaifa-meterd >/dev/null  # up to date
elif [ -z "$daemon" ]; then
  say "Building kaifa-meterd in $build_dir"
  cmake -S "$top" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" --target kaifa-meterd -j "$(nproc)" >/dev/null
  daemon="$build_dir/kaifa-meterd"
fi

work=$(mktemp -d /tmp/kaifa-meterd-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
socat pty,raw,echo=0,link="$work/meter" pty,raw,echo=0,link="$work/feeder" 2>"$work/socat.log" &
pids+=($!)
for _ in $(seq 50); do
  [ -e "$work/meter" ] && python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
  sleep 0.1
done

cat >"$work/kaifa-meter.conf" <<EOF
[serial]
port = $work/meter

[mqtt]
host = 127.0.0.1
port = $port
client_id = kaifa-meterd-demo

[log]
level = info
EOF
say "Broker on 127.0.0.1:$port, meter on $work/meter; config:"
[ "$check" = 0 ] && sed 's/^/    /' "$work/kaifa-meter.conf"

"$daemon" -c "$work/kaifa-meter.conf" 2>"$work/daemon.log" &
dpid=$!
pids+=($dpid)
mosquitto_sub -h 127.0.0.1 -p "$port" -v -t 'kaifa/#' -t 'homeassistant/#' >"$work/live.log" 2>/dev/null &
pids+=($!)
sleep 0.5

say "Replaying $(basename "$capture") into the pty"
python3 - "$capture" "$work/feeder" "$all" <<'EOF'
import os, sys, time
data = open(sys.argv[1], "rb").read()
frames, i = [], 0
while i + 3 < len(data):  # cut the capture into HDLC frames by their length field
    if data[i] == 0x7E and data[i + 1] & 0xF0 == 0xA0:
        end = i + 1 + (((data[i + 1] & 7) << 8) | data[i + 2])
        if end < len(data) and data[end] == 0x7E:
            frames.append(data[i:end + 1]); i = end + 1; continue
    i += 1
part = frames if sys.argv[3] == "1" else frames[1245:1275]   # list 1, list 2 and the hourly list 3
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_NOCTTY)
for f in part:
    os.write(fd, f); time.sleep(0.002 if sys.argv[3] == "1" else 0.02)
os.close(fd)
print("    %d of %d frames written" % (len(part), len(frames)))
EOF
sleep 1.5

if [ "$check" = 0 ]; then
  say "Messages as they arrived (mosquitto_sub -v; state documents left out, discovery configs shortened)"
  grep -v '/state ' "$work/live.log" | sed -E 's/^(homeassistant\/[^ ]+) (.{60}).*/\1 \2.../' >"$work/shown.log" || true
  head -n 40 "$work/shown.log"
  echo "    ..."
  echo "    the hourly list 3 frame:"
  grep -E '/(meter_timestamp|energy_[a-z_]+) ' "$work/shown.log" | grep -v '^homeassistant' | sort -u | sed 's/^/    /'
  echo "    ($(wc -l <"$work/live.log") messages in all)"
  say "Retained on the broker now (what Home Assistant or a new subscriber sees)"
  mosquitto_sub -h 127.0.0.1 -p "$port" -v -t 'kaifa/#' --retained-only -W 1 2>/dev/null | grep -v '/state ' || true
  echo "    + $(mosquitto_sub -h 127.0.0.1 -p "$port" -v -t 'homeassistant/#' --retained-only -W 1 2>/dev/null | wc -l) Home Assistant discovery configs"
  say "Daemon log"
  sed 's/^/    /' "$work/daemon.log"
fi

kill -TERM "$dpid"
wait "$dpid" && rc=0 || rc=$?
offline=$(mosquitto_sub -h 127.0.0.1 -p "$port" -t 'kaifa/+/status' --retained-only -W 1 2>/dev/null || true)
say "kaifa-meterd stopped (exit $rc); status is now: $offline"

if [ "$check" = 1 ]; then
  ok=1
  grep -q '^kaifa/6970631400000233/energy_active_cum_import 801.652$' "$work/live.log" || { echo "no hourly energy"; ok=0; }
  grep -q '^homeassistant/sensor/kaifa_6970631400000233/energy_active_cum_import/config {' "$work/live.log" || { echo "no discovery"; ok=0; }
  [ "$rc" = 0 ] && [ "$offline" = offline ] || { echo "bad stop: rc=$rc status=$offline"; ok=0; }
  if [ "$ok" = 1 ]; then echo "demo: 3 passed, 0 failed"; else cat "$work/daemon.log"; echo "demo: failed"; exit 1; fi
fi
