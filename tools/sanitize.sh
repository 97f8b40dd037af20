#!/usr/bin/env bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (README "Fuzzing and sanitizers"): configures
# ./build-asan with -DVYOLO_SANITIZE=ON -DVYOLO_TORCH=OFF, builds the test modules that do not need LibTorch
# (test_common, test_config, test_data, test_dataset, test_log, test_findings, test_eval) and runs them with CTest.
# Any sanitizer report fails its test (UBSan aborts; leaks fail at exit; suppressions: tools/sanitizers/lsan.supp).
# Extra arguments go to ctest (e.g. -R Volume).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build-asan/build.ninja ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVYOLO_SANITIZE=ON -DVYOLO_TORCH=OFF >/dev/null
fi
cmake --build build-asan -j "${VYOLO_JOBS:-$(nproc)}"
cd build-asan
ctest --output-on-failure -j 2 --timeout 1500 "$@"
