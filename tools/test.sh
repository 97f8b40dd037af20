#!/usr/bin/env bash
# The test command: build, then run every CTest test. Tests that need ../shared skip with a message when it is absent.
# Then the sanitizer run (tools/sanitize.sh: the unit tests without LibTorch under ASan + UBSan) and the fuzz
# regression (tools/fuzz.sh: every fuzz target replays its corpus: the committed seeds, among them every crash fixed,
# and the seeds made from ../shared). Fuzzing for new inputs is random, so it is not a gate: VYOLO_FUZZ_SECONDS=N adds
# N seconds of it per target (fixed libFuzzer seed VYOLO_FUZZ_SEED, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
(cd build && ctest --output-on-failure -j 2 --timeout 1500)
bash tools/sanitize.sh
bash tools/fuzz.sh --seconds "${VYOLO_FUZZ_SECONDS:-0}" --seed "${VYOLO_FUZZ_SEED:-1}"
