#!/usr/bin/env bash
# Quick start: installs the Debian packages it needs (scripts/deps.sh --demo:
# the build packages plus mosquitto, mosquitto-clients and socat), builds
# kaifa-meter in build/, and runs the main job: kaifa-meterd reading a real
# Kaifa capture replayed through a pty (a simulated meter) and publishing to
# a private mosquitto broker on a free loopback port, with the values shown
# as they arrive. Stops everything it started when done.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh --demo
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
DEMO=tests/integration/daemon/demo.sh
if [ -x "$DEMO" ] && [ -x build/kaifa-meterd ]; then
        exec "$DEMO" build
fi
echo "(kaifa-meterd is not built; decoding the bundled capture instead)"
exec build/src/kaifa-meter parse-file tests/data/captures/smidsrod/KFM_001/MA304T4-3-ok.bin --stats
