#!/usr/bin/env bash
# Configures and builds into ./build (Release, Ninja). Extra arguments go to cmake (e.g. -DTorch_DIR=...).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build build -j "${VYOLO_JOBS:-$(nproc)}"
