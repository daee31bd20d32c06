#!/usr/bin/env bash
# Installs the Debian packages kaifa-meter needs (Debian 12 or later,
# Raspberry Pi OS included), as root or through sudo. Safe to run again.
#
#   scripts/deps.sh            what a build needs: compiler, cmake, pkg-config,
#                              the lib*-dev packages, python3 (the tests' driver)
#   scripts/deps.sh --test     also every program the tests run (scripts/test.sh,
#                              .ci/run): PostgreSQL server, mosquitto, socat,
#                              clang and its runtimes (libFuzzer), valgrind,
#                              systemd, dpkg-dev, man-db, ...
#   scripts/deps.sh --demo     also what scripts/demo.sh runs: mosquitto,
#                              mosquitto-clients, socat
#   scripts/deps.sh --bench    also what scripts/bench.sh measures with: the
#                              demo's programs, time, bc, valgrind (callgrind)
#                              and strace
#   scripts/deps.sh --print [--test|--demo|--bench]
#                              list the packages instead of installing them
set -euo pipefail

# To build: `cmake -S . -B build && cmake --build build` with the default
# options (tests and benchmark included, so cmocka and python3 too).
BUILD=(
  build-essential cmake pkg-config python3
  libserialport-dev libmosquitto-dev libsystemd-dev libjson-c-dev libinih-dev
  libpq-dev libssl-dev libcmocka-dev
)
# The programs scripts/demo.sh (tests/integration/daemon/demo.sh) starts.
DEMO=(mosquitto mosquitto-clients socat)
# Every program a test starts, by the package that has it:
#   mosquitto (mosquitto, mosquitto_passwd), mosquitto-clients (mosquitto_sub,
#   mosquitto_pub), socat (ptys as serial ports), postgresql (initdb, pg_ctl,
#   postgres, psql), openssl (test certificates), clang + libclang-rt-dev
#   (the libFuzzer target; gcc's ASan/UBSan runtimes come with gcc),
#   valgrind, systemd (systemd-analyze, systemctl), dpkg-dev and file (cpack's
#   .deb and its library dependencies, dpkg-deb), man-db (man -l), procps
#   (ps, kill), util-linux (unshare, setpriv, runuser), mount.
# scripts/bench.sh: /usr/bin/time and bc (the CLI lines), callgrind_control
# and strace (instructions and system calls per frame of the daemon).
BENCH=("${DEMO[@]}" time bc valgrind strace)
TEST=(
  "${DEMO[@]}" postgresql openssl
  clang libclang-rt-dev valgrind
  systemd dpkg-dev file man-db procps util-linux mount
)

want=("${BUILD[@]}")
print=0
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${TEST[@]}") ;;
    --demo) want+=("${DEMO[@]}") ;;
    --bench) want+=("${BENCH[@]}") ;;
    --print) print=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "deps.sh: unknown argument '$arg' (try --help)" >&2; exit 64 ;;
  esac
done
# Each package once, in the order given.
mapfile -t want < <(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')

if [ "$print" = 1 ]; then
  printf '%s\n' "${want[@]}"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: run as root, or install sudo" >&2; exit 77; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# Nothing to do when every package is installed already (no network needed).
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps.sh: all ${#want[@]} packages are installed"
  exit 0
fi
echo "deps.sh: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
