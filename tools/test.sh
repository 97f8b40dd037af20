#!/usr/bin/env bash
# The test command: build, then run every CTest test. Tests that need ../shared skip with a message when it is absent.
# Then the sanitizer run (tools/sanitize.sh: the unit tests without LibTorch under ASan + UBSan) and the fuzz
# regression (tools/fuzz.sh: every fuzz target on its corpus for VYOLO_FUZZ_SECONDS, default 10 s each, with a fixed
# libFuzzer seed so that every machine starts with the same mutations).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
(cd build && ctest --output-on-failure -j 2 --timeout 1500)
bash tools/sanitize.sh
bash tools/fuzz.sh --seconds "${VYOLO_FUZZ_SECONDS:-10}" --seed "${VYOLO_FUZZ_SEED:-1}"
