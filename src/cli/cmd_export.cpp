// `vyolo export weights=W format=onnx [imgsz=] [batch=] [dynamic=] [opset=] [simplify=]`: W.onnx beside W (or out=),
// checked by ONNX's checker and shape inference and run through OpenCV DNN against LibTorch before it is written.
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "common/error.h"
#include "export/onnx_export.h"
#include "model/onnx_model.h"
#include "ops/device.h"

namespace fs = std::filesystem;

namespace vyolo::cli {

int cmd_export(const CommandContext& ctx) {
  const auto a = read_args<ExportArgs>(ctx.cfg);
  if (a.weights.empty()) throw UsageError("export needs weights=PATH (a .safetensors checkpoint)");
  if (a.format != "onnx")
    throw UsageError("format=" + a.format + " is not supported; vyolo exports format=onnx (OpenCV DNN, ONNX Runtime, "
                     "TensorRT and OpenVINO all read ONNX)");
  if (model::is_onnx_path(a.weights)) throw UsageError(a.weights + " is already an ONNX model");
  if (!fs::exists(a.weights)) throw UsageError("weights file not found: " + a.weights);
  if (a.opset < 12 || a.opset > 17)
    throw UsageError("opset=" + std::to_string(a.opset) + ": ONNX export writes opsets 12 to 17 (12 for OpenCV DNN)");
  if (a.batch < 1) throw UsageError("batch must be at least 1, got " + std::to_string(a.batch));
  if (a.imgsz && *a.imgsz < 1) throw UsageError("imgsz must be positive, got " + std::to_string(*a.imgsz));
  if (!a.out.empty() && !model::is_onnx_path(a.out)) throw UsageError("out=" + a.out + ": the file must end in .onnx");
  ops::init_threads(ctx.cfg.training.threads);  // the check runs both networks: every core, as predict does
  exporter::OnnxOptions opt;
  opt.imgsz = a.imgsz.value_or(0);
  opt.batch = a.batch;
  opt.dynamic = a.dynamic;
  opt.opset = a.opset;
  opt.simplify = a.simplify;
  const auto r = exporter::export_onnx(a.weights, a.out, opt, a.overwrite);
  char line[512];
  std::snprintf(line, sizeof line,
                "ONNX: opset %d, input images %s, output output0 %s, %.1f MB; ONNX checker and shape inference "
                "passed; OpenCV DNN matches LibTorch to %.1e (relative)\n",
                a.opset, r.input_shape.c_str(), r.output_shape.c_str(), r.bytes / 1e6, r.opencv_error);
  std::cout << line << "Export complete: " << r.path << "\nPredict: vyolo predict weights=" << r.path
            << " source=...\n";
  return 0;
}

}  // namespace vyolo::cli
