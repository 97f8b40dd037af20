#!/usr/bin/env bash
# Fuzzing with libFuzzer + ASan + UBSan (fuzz/, one target per reader; README "Fuzzing and sanitizers").
#
#   tools/fuzz.sh [--seconds N] [--target T]... [--jobs J] [--timeout S] [--seed N] [--no-build]
#
# Builds the targets into ./build-fuzz (clang, -DVYOLO_FUZZ=ON: no LibTorch), assembles each target's corpus (the
# committed seeds in fuzz/corpus/T, seeds made from the real files in ../shared when present, and what earlier runs
# found in build-fuzz/corpus/T), runs each target for N seconds (default 60; 0: replays the corpus only, no new
# inputs; J targets at once, default 2) and prints
# executions and crashes per target. Exits 1 when a target crashed; the input is kept as
# build-fuzz/crashes/T/crash-<sha1> (or leak-, timeout-, oom-) and its path printed. Replay one input with
#   build-fuzz/fuzz/fuzz_T <file>
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ALL_TARGETS=(override compose labels data_yaml safetensors nifti dicom stats_json label_cache)
SECONDS_EACH=60
TIMEOUT=20  # seconds one input may take; raise it when the machine is shared (a starved process times out)
JOBS=${VYOLO_JOBS:-2}
BUILD=1
SEED=""  # libFuzzer's random seed; fixed (--seed) the mutations are the same on every machine
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --target) TARGETS+=("$2"); shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target '$t' (${ALL_TARGETS[*]})" >&2; exit 2; }
done

B=$ROOT/build-fuzz
if [ "$BUILD" = 1 ]; then
  if [ ! -f "$B/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVYOLO_FUZZ=ON \
      -DVYOLO_BUILD_TESTS=OFF >/dev/null
  fi
  cmake --build "$B" -j "${VYOLO_JOBS:-2}" --target fuzz_all
fi

# Inputs larger than this are cut when loaded (real volumes and DICOM files: the header and the first KiBs).
max_len() {
  case "$1" in
    safetensors) echo 65536 ;;
    nifti|dicom) echo 16384 ;;
    label_cache) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

# Seeds from ../shared (made once into build-fuzz/seeds; never copied into the repository).
SHARED=${VYOLO_SHARED:-$ROOT/../shared}
SEEDS=$B/seeds
if [ -d "$SHARED" ] && [ ! -f "$SEEDS/.done" ]; then
  rm -rf "$SEEDS" && mkdir -p "$SEEDS"/{labels,safetensors,nifti,dicom}
  # Real YOLO label files.
  mapfile -t labs < <(find "$SHARED/data" -path '*/labels*' -name '*.txt' -size -4k 2>/dev/null | sort | head -n 400)
  [ ${#labs[@]} -gt 0 ] && cp "${labs[@]}" "$SEEDS/labels/"
  # Weights and loss fixtures: their metadata with the smallest tensors, and every tensor name.
  mapfile -t st < <(find "$SHARED" -name '*.safetensors' 2>/dev/null | sort)
  [ ${#st[@]} -gt 0 ] && "$B/fuzz/vyolo_fuzz_seeds" safetensors "$SEEDS/safetensors" "${st[@]}" || true
  # CT volumes and masks: small crops keeping their geometry; the small masks as they are (cut to max_len).
  mapfile -t nii < <(find "$SHARED/data" -name '*.nii.gz' 2>/dev/null | sort)
  [ ${#nii[@]} -gt 0 ] && "$B/fuzz/vyolo_fuzz_seeds" nifti "$SEEDS/nifti" "${nii[@]}" || true
  mapfile -t small < <(find "$SHARED/data" -name '*.nii.gz' -size -100k 2>/dev/null | sort)
  for f in "${small[@]}"; do cp "$f" "$SEEDS/nifti/real_$(basename "$f")"; done
  # DICOM series: small crops (uncompressed, JPEG 2000, RLE, a 3-slice series), and one real file.
  mapfile -t series < <(find "$SHARED/data" -type d -name 'dicom' 2>/dev/null | sort | head -n 4)
  for d in "${series[@]}"; do
    "$B/fuzz/vyolo_fuzz_seeds" dicom "$SEEDS/dicom" "$d" || true
    first=$(find "$d" -maxdepth 1 -type f | sort | head -n 1)
    [ -n "$first" ] && cp "$first" "$SEEDS/dicom/real_$(basename "$(dirname "$d")").dcm"
  done
  touch "$SEEDS/.done"
  echo "fuzz.sh: seeds from $SHARED: $(find "$SEEDS" -type f ! -name .done | wc -l) files"
elif [ ! -d "$SHARED" ]; then
  echo "fuzz.sh: ../shared not found: fuzzing from the committed seeds only (fuzz/corpus)"
fi

# Sanitizer options and leak suppressions are compiled into the targets (tools/sanitizers/); *_OPTIONS override them.
# While fuzzing, ASan's fake stacks (use-after-return) and malloc fill halve the executions per second: off here, on
# in the sanitizer test run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_stack_use_after_return=0:max_malloc_fill_size=0}
WORK=$B/fuzz-work
mkdir -p "$WORK"

# The libFuzzer dictionary of a target (fuzz/dict/), if any.
dict_of() {
  case "$1" in
    safetensors) echo "$ROOT/fuzz/dict/safetensors.dict" ;;
    stats_json|label_cache) echo "$ROOT/fuzz/dict/json.dict" ;;
    data_yaml|override|compose) echo "$ROOT/fuzz/dict/yaml.dict" ;;
  esac
}

run_one() {
  local t=$1
  local corpus=$B/corpus/$t crashes=$B/crashes/$t log=$WORK/$t.log tmp=$WORK/tmp-$t
  mkdir -p "$corpus" "$crashes" "$tmp"
  local dirs=("$corpus" "$ROOT/fuzz/corpus/$t")
  [ -d "$SEEDS/$t" ] && dirs+=("$SEEDS/$t")
  local opts=() rc=0
  [ -n "$(dict_of "$t")" ] && opts+=(-dict="$(dict_of "$t")")
  [ -n "$SEED" ] && opts+=(-seed="$SEED")
  # --seconds 0: replay the corpus only (no new inputs), the same inputs on every machine: the CI gate.
  if [ "$SECONDS_EACH" = 0 ]; then opts+=(-runs=0); else opts+=(-max_total_time="$SECONDS_EACH"); fi
  TMPDIR=$tmp "$B/fuzz/fuzz_$t" -timeout="$TIMEOUT" -rss_limit_mb=2048 \
    -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$crashes/" "${opts[@]}" "${dirs[@]}" \
    >"$log" 2>&1 || rc=$?
  rm -rf "$tmp"
  echo "$rc" >"$WORK/$t.rc"
}

start=$(date +%s)
for t in "${TARGETS[@]}"; do
  rm -f "$WORK/$t.rc" "$WORK/$t.log"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 0.5; done
  run_one "$t" &
done
wait

failed=0
printf '%-12s %8s %12s %8s %8s  %s\n' target seconds executions exec/s corpus result
for t in "${TARGETS[@]}"; do
  log=$WORK/$t.log
  rc=$(cat "$WORK/$t.rc" 2>/dev/null || echo 1)
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -n 1 | awk '{print $2}' || true)
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -n 1 | awk '{print $5}' || true)
  [ -z "$secs" ] && secs=$SECONDS_EACH
  corpus=$(find "$B/corpus/$t" -type f | wc -l || true)
  result=ok
  if [ "$rc" != 0 ]; then
    failed=1
    artifact=$(grep -o "Test unit written to [^ ]*" "$log" | tail -n 1 | awk '{print $5}' || true)
    result="CRASH (exit $rc) ${artifact:-no input saved} log $log"
  fi
  printf '%-12s %8s %12s %8s %8s  %s\n' "$t" "$secs" "${execs:-?}" \
    "$([ -n "$execs" ] && [ "$secs" -gt 0 ] && echo $((execs / secs)) || echo '?')" "$corpus" "$result"
done
echo "fuzz.sh: ${#TARGETS[@]} targets, $(( $(date +%s) - start )) s"
if [ "$failed" = 1 ]; then
  echo "fuzz.sh: crashes found; the sanitizer report is in each target's log (tail shown):" >&2
  for t in "${TARGETS[@]}"; do
    [ "$(cat "$WORK/$t.rc" 2>/dev/null || echo 1)" != 0 ] && { echo "--- $t" >&2; grep -E "ERROR|invariant|SUMMARY|runtime error|Assertion|uncaught| in vyolo::" "$WORK/$t.log" | head -n 12 >&2; }
  done
  exit 1
fi
