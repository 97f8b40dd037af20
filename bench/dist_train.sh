#!/usr/bin/env bash
# Data-parallel benchmark (not a test): yolov8n at 256 px, batch 16, on the synthetic phantom's prepared slices
# (made in OUT when absent), trained
#   (a) as 1 process x 2 threads  and  (b) as 2 ranks x 1 thread (training.nproc=2, Gloo on 127.0.0.1),
# then two folds with `vyolo cv` (c) one after the other (2 threads) and (d) at once (cv.parallel=2, 1 thread each).
# Prints training images/s and ms/image (training time only, from each epoch's time line; validation runs on rank 0
# alone), the wall time, and the final mAP50 / mAP50-95, with the CPU model and flags.
#
#   bench/dist_train.sh [--out DIR] [--epochs 10] [--cv-epochs 3]
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=/tmp/vyolo-dist-bench; EPOCHS=10; CV_EPOCHS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2;; --epochs) EPOCHS=$2; shift 2;; --cv-epochs) CV_EPOCHS=$2; shift 2;;
    *) echo "dist_train: unknown argument $1" >&2; exit 2;;
  esac
done
V=${VYOLO:-$HERE/build/vyolo}
[ -x "$V" ] || { echo "dist_train: $V not built (bash tools/build.sh)" >&2; exit 1; }
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); cd "$OUT"
if [ ! -f dataset/data.yaml ]; then
  "$V" synth out="$OUT/phantom" cases=10 seed=42 > /dev/null
  "$V" prepare source="$OUT/phantom" out="$OUT/dataset" max_negatives=3 > /dev/null
  "$V" split data="$OUT/dataset" folds=5 seed=42 overwrite=true > /dev/null
fi
COMMON=(data.data_dir="$OUT/dataset" data.batch_size=16 data.num_workers=1 logging.logger=none training.patience=0
        logging.log_dir="$OUT/runs" seed=0)

# Seconds of training per epoch (median) and the images of one epoch, from a run's console log and results.csv.
summarise() {  # name log run_dir wall_s
  local name=$1 log=$2 run=$3 wall=$4
  python3 - "$name" "$log" "$run" "$wall" <<'PY'
import re, sys, csv, statistics
name, log, run, wall = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
text = open(log).read()
train_s = [float(x) for x in re.findall(r"epoch \d+ time: ([\d.]+) s training", text)]
n = int(re.search(r"train: (\d+) images", text).group(1)) if re.search(r"train: (\d+) images", text) else None
rows = list(csv.DictReader(open(run + "/results.csv")))
last = rows[-1]
med = statistics.median(train_s)
ips = n / med if n else float("nan")
print(f"| {name} | {len(rows)} | {med:.2f} | {ips:.1f} | {1000 / ips:.1f} | {wall:.0f} | "
      f"{float(last['metrics/mAP50(B)']):.3f} | {float(last['metrics/mAP50-95(B)']):.3f} |")
PY
}

run_train() {  # name overrides...
  local name=$1; shift
  local t0=$(date +%s.%N)
  "$V" train split=fold_0 training.epochs="$EPOCHS" logging.experiment_name="$name" "${COMMON[@]}" "$@" > "$OUT/$name.log" 2>&1
  local t1=$(date +%s.%N)
  summarise "$name" "$OUT/$name.log" "$OUT/runs/$name/fold_0" "$(echo "$t1 - $t0" | bc)"
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
     "flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o 'avx2\|avx512f\|avx512_bf16\|amx_tile' | sort -u | xargs)"
echo
echo "| run | epochs | train s/epoch (median) | images/s | ms/image | wall s | mAP50 | mAP50-95 |"
echo "|---|---|---|---|---|---|---|---|"
run_train one_process_2_threads training.threads=2
run_train two_ranks_1_thread training.nproc=2 training.threads=2

cv_run() {  # name parallel threads
  local t0=$(date +%s.%N)
  "$V" cv folds=[0,1] studies=none cv.parallel="$2" training.threads="$3" training.epochs="$CV_EPOCHS" \
    logging.experiment_name="$1" "${COMMON[@]}" > "$OUT/$1.log" 2>&1
  local t1=$(date +%s.%N)
  local wall=$(echo "$t1 - $t0" | bc)
  python3 - "$1" "$OUT/runs/$1" "$wall" "$CV_EPOCHS" "$OUT/$1.log" <<'PY'
import sys, re, csv
name, d, wall, epochs, log = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
text = open(log).read()
imgs = sum(int(x) for x in re.findall(r"train: (\d+) images", text))
m = [l for l in open(d + "/cv_summary.csv") if l.startswith("mean")][0].strip().split(",")
print(f"| {name} | {wall:.0f} | {imgs * epochs / wall:.1f} | {1000 * wall / (imgs * epochs):.1f} | {m[1]} | {m[2]} |")
PY
}
echo
echo "| cv, 2 folds x $CV_EPOCHS epochs | wall s | images/s (wall) | ms/image (wall) | mean mAP50 | mean mAP50-95 |"
echo "|---|---|---|---|---|---|"
cv_run cv_sequential 1 2
cv_run cv_parallel_2 2 2
