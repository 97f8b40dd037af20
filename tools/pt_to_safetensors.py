#!/usr/bin/env python3
"""Convert an Ultralytics YOLOv8 checkpoint (.pt) into the safetensors file vyolo loads.

Run it where Ultralytics is installed (it is needed to unpickle the checkpoint):
    python3 tools/pt_to_safetensors.py yolov8n.pt yolov8n.safetensors

Tensor names stay Ultralytics' state_dict names (model.N....); metadata records variant, num_classes, names,
input_channels and img_size so that `vyolo predict weights=...` needs no further options.
"""
import json
import re
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    import os
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pt_to_safetensors.py IN.pt OUT.safetensors")
    ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
    model = (ckpt.get("ema") or ckpt["model"]) if isinstance(ckpt, dict) else ckpt
    model = model.float()
    sd = model.state_dict()
    yaml_file = str(getattr(model, "yaml", {}).get("yaml_file", "")) if hasattr(model, "yaml") else ""
    m = re.search(r"yolov8([nsmlx])", yaml_file) or re.search(r"yolov8([nsmlx])", sys.argv[1])
    names = getattr(model, "names", {})
    names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    args = ckpt.get("train_args", {}) if isinstance(ckpt, dict) else {}
    meta = {
        "format": "vyolo-weights",
        "num_classes": int(sd["model.22.cv3.0.2.weight"].shape[0]),
        "names": json.dumps(names),
        "input_channels": int(sd["model.0.conv.weight"].shape[1]),
        "source": sys.argv[1],
    }
    if m:
        meta["variant"] = "yolov8" + m.group(1)
    if args.get("imgsz"):
        meta["img_size"] = int(args["imgsz"] if not isinstance(args["imgsz"], (list, tuple)) else max(args["imgsz"]))
    write_safetensors(sys.argv[2], sd, meta)
    print(f"wrote {sys.argv[2]}: {len(sd)} tensors, {meta}")


if __name__ == "__main__":
    main()
