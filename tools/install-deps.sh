#!/usr/bin/env bash
# Installs every Debian package vertebrae-yolo needs to build, test and benchmark. Idempotent.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git
  python3                           # tools/malformed_inputs.py (a CTest; standard library only)
  libtorch-dev                      # LibTorch 1.13 (CPU)
  libgloo-dev                       # headers of the Gloo backend of LibTorch's c10d (distributed training)
  libopenblas0-openmp               # fast BLAS for LibTorch (Debian's default libblas3 is the reference one)
  libopencv-dev                     # image IO, resize, drawing; DNN runs exported ONNX models
  libonnx-dev                       # ONNX export: protobuf types, checker, shape inference
  libyaml-cpp-dev                   # config composition
  libgdcm-dev libgdcm-tools         # DICOM (incl. JPEG-2000 via OpenJPEG)
  libnifti2-dev                     # NIfTI-1/2 (.nii, .nii.gz)
  libdeflate-dev                    # fast deflate for the dataset's PNGs
  zlib1g-dev
  libprotobuf-dev protobuf-compiler # TensorBoard and W&B records
  nlohmann-json3-dev                # JSON (safetensors headers, reports)
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev          # libFuzzer + ASan/UBSan runtimes for tools/fuzz.sh (GCC's libasan does the rest)
  chromium                          # headless browser: the HtmlReport.Chromium* tests open report.html in it
)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#PKGS[@]} packages present"
