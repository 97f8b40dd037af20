#!/usr/bin/env bash
# Augmentation parity beside Ultralytics (a measurement, not a test): the mean training loss of one fixed, trained
# model over the augmented training batches of a few epochs, from vyolo's loader (build/aug_loss) and from
# Ultralytics' training dataset (same model, same v8DetectionLoss, BatchNorm on running statistics), per seed.
# Equal means within seed noise: both pipelines make equally hard samples. With --no-augment both give letterboxed
# images only, which must agree far more closely.
#
#   bench/aug_parity.sh --data-yaml Y --weights W --ultralytics /tmp/ul-ref [--seeds "0 1 2"] [--epochs 3]
#                       [--imgsz 320] [--no-augment]
#
# Y: an Ultralytics data.yaml (e.g. OUT/data/data.yaml written by bench/learn_realdata.sh); W: yolov8 weights as
# safetensors with Ultralytics' tensor names (e.g. ../shared/parity/realdata/yolov8n_spine_ul.safetensors).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
YAML=""; WEIGHTS=""; UL=""; SEEDS="0 1 2"; EPOCHS=3; IMGSZ=320; AUG=1
while [ $# -gt 0 ]; do
  case "$1" in
    --data-yaml) YAML=$2; shift 2;; --weights) WEIGHTS=$2; shift 2;; --ultralytics) UL=$2; shift 2;;
    --seeds) SEEDS=$2; shift 2;; --epochs) EPOCHS=$2; shift 2;; --imgsz) IMGSZ=$2; shift 2;;
    --no-augment) AUG=0; shift;;
    *) echo "aug_parity: unknown argument $1" >&2; exit 2;;
  esac
done
[ -f "$YAML" ] && [ -f "$WEIGHTS" ] && [ -f "$UL/env.sh" ] ||
  { echo "aug_parity: needs --data-yaml FILE --weights FILE --ultralytics DIR (with env.sh)" >&2; exit 2; }
BIN=${AUG_LOSS:-$HERE/build/aug_loss}
[ -x "$BIN" ] || { echo "aug_parity: $BIN not built (bash tools/build.sh)" >&2; exit 1; }
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
for s in $SEEDS; do
  echo "== vyolo seed $s"
  "$BIN" "$YAML" "$WEIGHTS" seed="$s" epochs="$EPOCHS" imgsz="$IMGSZ" augment="$AUG"
  echo "== ultralytics seed $s"
  ( . "$UL/env.sh" && python3 - "$YAML" "$WEIGHTS" "$s" "$EPOCHS" "$IMGSZ" "$AUG" <<'PY' 2>/dev/null
import json, random, struct, sys
import numpy as np, torch
from ultralytics.cfg import get_cfg
from ultralytics.data import build_yolo_dataset
from ultralytics.data.utils import check_det_dataset
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils import DEFAULT_CFG
from ultralytics.utils.torch_utils import init_seeds
yaml, weights, seed, epochs, imgsz, aug = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5]), sys.argv[6] == "1"
torch.set_num_threads(2)
init_seeds(seed)
raw = open(weights, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
dtypes = {"F32": np.float32, "I64": np.int64}
sd = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                                        dtype=dtypes[v["dtype"]]).reshape(v["shape"]).copy())
      for k, v in header.items() if k != "__metadata__"}
nc = sd["model.22.cv3.0.2.weight"].shape[0]
variant = header.get("__metadata__", {}).get("variant", "yolov8n")
model = DetectionModel(variant + ".yaml", nc=nc, verbose=False)
model.load_state_dict(sd, strict=False)
model.args = get_cfg(DEFAULT_CFG)
model.train()
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.eval()
cfg = get_cfg(DEFAULT_CFG, dict(imgsz=imgsz, cache="ram", data=yaml))
data = check_det_dataset(yaml)
ds = build_yolo_dataset(cfg, data["train"], 16, data, mode="train" if aug else "val", rect=False, stride=32)
print("epoch\tbox\tcls\tdfl\tboxes_per_image")
with torch.no_grad():
    for e in range(epochs):
        order = list(range(len(ds)))
        random.shuffle(order)
        total, nb, boxes = torch.zeros(3), 0, 0
        for k in range(0, len(order), 16):
            batch = ds.collate_fn([ds[i] for i in order[k:k + 16]])
            batch["img"] = batch["img"].float() / 255
            total += model.loss(batch)[1]
            nb += 1
            boxes += len(batch["cls"])
        total /= nb
        print(f"{e + 1}\t{total[0]:.4f}\t{total[1]:.4f}\t{total[2]:.4f}\t{boxes / len(order):.2f}")
PY
  )
done
