#!/usr/bin/env bash
# The main job, end to end on built-in data: synthetic spine CT phantom → YOLO slice dataset → patient folds →
# train yolov8n on fold 0 (its operating point chosen on the fold's validation CT studies) → validate → predict on a
# validation CT volume with its vertebra mask → evaluate on unseen phantoms at the operating point (report.html).
# Outputs go to $OUT (default ${TMPDIR:-/tmp}/vyolo-demo: never into the source tree). EPOCHS (default 30) trades time for accuracy; ~10-15 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
VYOLO_TARGET=vyolo bash tools/build.sh  # the command only: tests and benchmarks are not needed here
V=$PWD/build/vyolo
OUT=${OUT:-${TMPDIR:-/tmp}/vyolo-demo}
EPOCHS=${EPOCHS:-30}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# The job runs in its own project folder, as a user would: `vyolo split` writes ./conf/split there, and ./conf joins
# the config search path of the commands that follow (the built-in tree supplies everything else).
cd "$OUT"

echo "== 1/7 synthetic phantom (10 patients, and 4 unseen ones for the end) =="
$V synth out="$OUT/phantom" cases=10 seed=42
$V synth out="$OUT/unseen" cases=4 seed=7
echo "== 2/7 prepare: CT → 256 px HU slices + YOLO labels =="
$V prepare source="$OUT/phantom" out="$OUT/dataset" max_negatives=3
echo "== 3/7 split: patient-level folds =="
$V split data="$OUT/dataset" folds=5 seed=42
echo "== 4/7 train yolov8n on fold 0 ($EPOCHS epochs) =="
$V train split=fold_0 data.data_dir="$OUT/dataset" training.epochs="$EPOCHS" training.patience=50 \
  data.num_workers=1 logging.log_dir="$OUT/train" logging.experiment_name=demo
RUN="$OUT/train/demo/fold_0"
echo "== 5/7 validate the best checkpoint =="
$V val weights="$RUN/weights/best.safetensors" data.data_dir="$OUT/dataset" project="$OUT" name=val exist_ok=true
echo "== 6/7 predict on a validation patient's CT volume =="
# fold_0's validation patients (the split file quotes them)
VAL=$(sed -n '/^val_patients:/,$ s/^  - //p' "$OUT/conf/split/fold_0.yaml" | tr -d "\"'" | paste -sd, -)
CASE=${VAL##*,}
$V predict weights="$RUN/weights/best.safetensors" source="$OUT/phantom/$CASE/ct.nii.gz" \
  mask="$OUT/phantom/$CASE/vertebrae.nii.gz" project="$OUT" name=predict exist_ok=true
echo "== 7/7 vertebra- and patient-level evaluation on 4 unseen phantoms, at the operating point =="
$V evaluate weights="$RUN/weights/best.safetensors" source="$OUT/unseen" out="$OUT/evaluate"

echo
sed -n '/^### vertebra level/,/^### patient level/p' "$OUT/evaluate/sweep.md" | sed '$d'
echo "Done. Training run: $RUN (results.csv, weights/, plots/, tensorboard/)"
echo "Validation: $OUT/val   Findings: $OUT/predict/findings.json, report.html"
echo "Evaluation on unseen phantoms: $OUT/evaluate (report.html, metrics.json, sweep.md)"
