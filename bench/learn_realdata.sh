#!/usr/bin/env bash
# Real-data learning benchmark (not a test): trains yolov8n from scratch on an Ultralytics-layout YOLO dataset with
# Ultralytics' default settings, once per seed, and prints the per-epoch mAP50 curve, the final mAP50 / mAP50-95 and
# the seconds per epoch (train, and the rest: validation, checkpoints, logs). With --ultralytics it first runs
# Ultralytics itself (set up by ../shared/reference/ultralytics/setup.sh) on the same split and settings, seed by
# seed, so that both are measured on the same machine in the same session.
#
#   bench/learn_realdata.sh [--data DIR] [--out DIR] [--epochs 30] [--seeds "0 1 2"] [--imgsz 320] [--batch 16]
#                           [--threads 2] [--ultralytics /tmp/ul-ref] [--vyolo-args "training.bf16=true ..."]
#
# DIR holds images/, labels/ and manifest.csv (image,original_split,source_group,...); default: the developer spine
# X-ray set ../shared/data/xray_spine_vertebrae_yolo. The split is by source group (sorted, every 5th group to val),
# so that no patient is in both; the images are reached through links in OUT, and both tools keep their label caches
# there (one link per file). Output: OUT/<tool>_seed<S>/results.csv and OUT/summary.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
DATA="$HERE/../shared/data/xray_spine_vertebrae_yolo"; OUT=/tmp/vyolo-learn; EPOCHS=30; SEEDS="0 1 2"; IMGSZ=320
BATCH=16; THREADS=2; UL=""; VARGS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=$2; shift 2;; --out) OUT=$2; shift 2;; --epochs) EPOCHS=$2; shift 2;; --seeds) SEEDS=$2; shift 2;;
    --imgsz) IMGSZ=$2; shift 2;; --batch) BATCH=$2; shift 2;; --threads) THREADS=$2; shift 2;;
    --ultralytics) UL=$2; shift 2;; --vyolo-args) VARGS=$2; shift 2;;
    *) echo "learn_realdata: unknown argument $1" >&2; exit 2;;
  esac
done
VYOLO=${VYOLO:-$HERE/build/vyolo}
[ -x "$VYOLO" ] || { echo "learn_realdata: $VYOLO not built (bash tools/build.sh)" >&2; exit 1; }
[ -f "$DATA/manifest.csv" ] || { echo "learn_realdata: $DATA/manifest.csv not found" >&2; exit 1; }
DATA=$(cd "$DATA" && pwd)
mkdir -p "$OUT/data"
OUT=$(cd "$OUT" && pwd)
# One link per file in real folders: Ultralytics resolves a linked folder to its target and would write its label
# cache there (into ../shared); with real folders both tools keep their caches in OUT/data.
mkdir -p "$OUT/data/images" "$OUT/data/labels"
for f in "$DATA"/images/*; do ln -sfn "$f" "$OUT/data/images/"; done
for f in "$DATA"/labels/*; do ln -sfn "$f" "$OUT/data/labels/"; done
# Split by source group: every 5th group (sorted by name) is validation.
awk -F, 'NR > 1 { print $3 "\t" $1 }' "$DATA/manifest.csv" | LC_ALL=C sort |
  awk -F'\t' -v d="$OUT/data/images" '$1 != last { n++; last = $1 } { print ((n % 5 == 0) ? "val" : "train"), d "/" $2 }' |
  LC_ALL=C sort -k2 > "$OUT/data/split.tsv"
awk '$1 == "train" { print $2 }' "$OUT/data/split.tsv" > "$OUT/data/train.txt"
awk '$1 == "val" { print $2 }' "$OUT/data/split.tsv" > "$OUT/data/val.txt"
printf 'path: %s\ntrain: train.txt\nval: val.txt\nnames:\n  0: object\n' "$OUT/data" > "$OUT/data/data.yaml"
echo "split: $(wc -l < "$OUT/data/train.txt") train / $(wc -l < "$OUT/data/val.txt") val images"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; flags: $(grep -o -w 'avx2\|avx512f\|avx512_bf16\|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"

run_ultralytics() {  # seed
  local dir="$OUT/ultralytics_seed$1"; rm -rf "$dir"
  ( . "$UL/env.sh" && cd "$OUT" && python3 - "$OUT/data/data.yaml" "$dir" "$1" "$EPOCHS" "$IMGSZ" "$BATCH" "$THREADS" <<'PY'
import sys, time, torch
from ultralytics import YOLO
data, out, seed, epochs, imgsz, batch, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
t = {"start": {}, "train_end": {}, "fit_end": {}}
m = YOLO("yolov8n.yaml")
def start(tr): torch.set_num_threads(threads); t["start"][tr.epoch] = time.perf_counter()
def train_end(tr): t["train_end"][tr.epoch] = time.perf_counter()
def fit_end(tr): t["fit_end"][tr.epoch] = time.perf_counter()
m.add_callback("on_train_epoch_start", start)
m.add_callback("on_train_epoch_end", train_end)
m.add_callback("on_fit_epoch_end", fit_end)
m.train(data=data, imgsz=imgsz, batch=batch, epochs=epochs, workers=0, cache="ram", pretrained=False, amp=False,
        device="cpu", seed=seed, deterministic=False, project=out.rsplit("/", 1)[0], name=out.rsplit("/", 1)[1],
        exist_ok=True, verbose=False)
ep = sorted(t["fit_end"])
with open(out + "/epoch_times.tsv", "w") as f:
    for e in ep: f.write(f"{e + 1}\t{t['train_end'][e] - t['start'][e]:.3f}\t{t['fit_end'][e] - t['train_end'][e]:.3f}\n")
PY
  ) > "$OUT/ultralytics_seed$1.log" 2>&1
}

run_vyolo() {  # seed
  local dir="$OUT/vyolo_seed$1"; rm -rf "$dir"
  mkdir -p "$dir"
  "$VYOLO" train data.data_yaml="$OUT/data/data.yaml" model.variant=yolov8n \
    model.pretrained=false data.image_size="$IMGSZ" data.batch_size="$BATCH" data.cache=ram data.num_workers=2 \
    training.epochs="$EPOCHS" training.optimizer=auto training.lr0=0.01 training.momentum=0.937 \
    training.weight_decay=0.0005 training.patience=100 training.threads="$THREADS" seed="$1" \
    logging.log_dir="$dir" logging.experiment_name=run $VARGS > "$OUT/vyolo_seed$1.log" 2>&1
  cp "$dir/run/fold_0/results.csv" "$dir/results.csv"
  sed -n 's/^vyolo: epoch \([0-9]*\) time: \([0-9.]*\) s training, \([0-9.]*\) s validation, \([0-9.]*\) s.*/\1\t\2\t\3 \4/p' \
    "$OUT/vyolo_seed$1.log" | awk -F'\t' '{ split($3, r, " "); printf "%s\t%s\t%.3f\n", $1, $2, r[1] + r[2] }' \
    > "$dir/epoch_times.tsv"
}

for s in $SEEDS; do
  if [ -n "$UL" ]; then echo "ultralytics seed $s ..."; run_ultralytics "$s" || echo "  failed: see $OUT/ultralytics_seed$s.log"; fi
  echo "vyolo seed $s ..."; run_vyolo "$s" || echo "  failed: see $OUT/vyolo_seed$s.log"
done
bash "$HERE/bench/learn_summary.sh" "$OUT" $SEEDS | tee "$OUT/summary.md"
