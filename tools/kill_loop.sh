#!/usr/bin/env bash
# Crash safety, measured (not a test; CTest CrashSafety.* is its short version with 3 chosen kills): trains yolov8n on
# the phantom's slices once without interruption, then the same run killed with SIGKILL at a random moment ROUNDS
# times, resumed after each kill (started afresh while no checkpoint exists yet), and finished. Then it compares:
# results.csv less its time column equal to the uninterrupted run's, one row per epoch, every checkpoint a complete
# safetensors file, no temp file left, and no W&B run folder but one per fresh start. Prints one line per round and a summary.
#
#   tools/kill_loop.sh [--rounds 20] [--epochs 10] [--out DIR] [--seed 1]
# Each kill comes at a random moment up to three epochs (as the reference run measured them, start-up included)
# after the start: a fresh start needs its start-up and one epoch before the first checkpoint exists.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=20; EPOCHS=10; OUT=/tmp/vyolo-kill-loop; SEED=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2;; --epochs) EPOCHS=$2; shift 2;; --out) OUT=$2; shift 2;;
    --seed) SEED=$2; shift 2;;
    *) echo "kill_loop: unknown argument $1" >&2; exit 2;;
  esac
done
V=${VYOLO:-$HERE/build/vyolo}
[ -x "$V" ] || { echo "kill_loop: $V not built (bash tools/build.sh)" >&2; exit 1; }
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); cd "$OUT"
if [ ! -f dataset/data.yaml ]; then
  "$V" synth out="$OUT/phantom" cases=6 seed=42 > /dev/null
  "$V" prepare source="$OUT/phantom" out="$OUT/dataset" max_negatives=2 > /dev/null
  "$V" split data="$OUT/dataset" folds=3 seed=42 overwrite=true > /dev/null
fi
rm -rf "$OUT/ref" "$OUT/killed"
args() {  # log dir
  echo split=fold_0 data.data_dir="$OUT/dataset" data.batch_size=16 data.num_workers=1 training.threads=1 \
    training.epochs="$EPOCHS" training.patience=0 logging=wandb logging.wandb.mode=offline \
    logging.wandb.stats_interval=0 logging.log_dir="$1" logging.experiment_name=k seed=0
}
echo "kill_loop: uninterrupted reference run ($EPOCHS epochs)"
# shellcheck disable=SC2046
T0=$(date +%s)
"$V" train $(args "$OUT/ref") > "$OUT/ref.log" 2>&1
# Tenths of a second per epoch, start-up included, as measured.
EPOCH_DS=$(( ( $(date +%s) - T0 ) * 10 / EPOCHS + 1 ))
RUN="$OUT/killed/k/fold_0"
RANDOM=$SEED
FRESH=0
for r in $(seq 1 "$ROUNDS"); do
  resume=""; [ -f "$RUN/weights/last.safetensors" ] && resume=training.resume=true
  [ -z "$resume" ] && FRESH=$((FRESH + 1))
  delay=$(( (RANDOM % (3 * EPOCH_DS)) + 5 ))  # 0.5 s .. three epochs
  # shellcheck disable=SC2046
  "$V" train $(args "$OUT/killed") $resume > "$OUT/round$r.log" 2>&1 &
  pid=$!
  sleep "$((delay / 10)).$((delay % 10))"
  if kill -9 "$pid" 2> /dev/null; then what="killed after ${delay}00 ms"; else what="had ended"; fi
  wait "$pid" 2> /dev/null || true
  epoch=$(python3 -c "import json,struct,sys;f=open(sys.argv[1],'rb');n=struct.unpack('<Q',f.read(8))[0];print(json.loads(f.read(n))['__metadata__']['epoch'])" "$RUN/weights/last.safetensors" 2> /dev/null || echo none)
  echo "round $r: $what; last checkpoint at epoch $epoch"
done
# shellcheck disable=SC2046
"$V" train $(args "$OUT/killed") training.resume=true > "$OUT/final.log" 2>&1 || {
  grep -q "nothing to resume" "$OUT/final.log" || { echo "kill_loop: final resume failed, see $OUT/final.log"; exit 1; }; }
python3 - "$OUT/ref/k/fold_0" "$RUN" "$EPOCHS" "$OUT/killed" "$FRESH" <<'PY'
import json, os, struct, sys
ref, run, epochs, root, fresh = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def rows(d):
    out = []
    for line in open(os.path.join(d, "results.csv")):
        if line.strip():
            c = line.rstrip("\n").split(",")
            out.append(c[:1] + c[2:])
    return out
a, b = rows(ref), rows(run)
ok = True
def check(cond, what):
    global ok
    print(("PASS " if cond else "FAIL ") + what)
    ok = ok and cond
check(len(b) == epochs + 1 and [r[0] for r in b[1:]] == [str(e) for e in range(1, epochs + 1)],
      f"results.csv has one row per epoch ({len(b) - 1} rows for {epochs} epochs)")
check(a == b, "results.csv (less time) equals the uninterrupted run's")
bad, n = [], 0
for f in os.listdir(os.path.join(run, "weights")):
    p = os.path.join(run, "weights", f)
    if not f.endswith(".safetensors"):
        bad.append(f); continue
    n += 1
    with open(p, "rb") as fh:
        size = os.path.getsize(p)
        hl = struct.unpack("<Q", fh.read(8))[0]
        h = json.loads(fh.read(hl))
        end = max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__")
        if 8 + hl + end != size: bad.append(f)
check(not bad, f"{n} checkpoints complete, no temp files ({bad or 'none bad'})")
runs = [d for d in os.listdir(os.path.join(root, "wandb")) if d.startswith("offline-run-")]
# A start before any checkpoint existed is a new run (nothing to resume); every resumed start continues its run.
check(len(runs) == fresh, f"W&B run folders: {len(runs)}, one per fresh start ({fresh}); resumes added none")
sys.exit(0 if ok else 1)
PY
