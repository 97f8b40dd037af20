#!/usr/bin/env bash
# Configures and builds into ./build (Release, Ninja). Extra arguments go to cmake (e.g. -DTorch_DIR=...).
# VYOLO_TARGET=vyolo builds just the command (no tests, no benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build build -j "${VYOLO_JOBS:-$(nproc)}" ${VYOLO_TARGET:+--target "$VYOLO_TARGET"}
