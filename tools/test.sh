#!/usr/bin/env bash
# The test command: build, then run every CTest test. Tests that need ../shared skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
cd build
ctest --output-on-failure -j 2 --timeout 1500
