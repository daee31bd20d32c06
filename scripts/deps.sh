#!/usr/bin/env bash
# Installs the Debian packages kaifa-meter needs to build, test and demo.
# Run as root (or through sudo) on Debian 12 or later.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates openssl python3 \
  libserialport-dev libmosquitto-dev libsystemd-dev libjson-c-dev libinih-dev \
  libpq-dev libssl-dev libcmocka-dev \
  mosquitto mosquitto-clients socat postgresql \
  clang libclang-rt-14-dev valgrind \
  systemd dpkg-dev file man-db procps util-linux
