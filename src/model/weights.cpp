#include "model/weights.h"

#include <cstring>
#include <set>
#include <nlohmann/json.hpp>

#include "common/clip.h"
#include "common/error.h"
#include "model/onnx_model.h"

namespace vyolo::model {

namespace {

const std::map<std::string, torch::ScalarType>& dtypes() {
  static const std::map<std::string, torch::ScalarType> m = {
      {"F32", torch::kFloat},  {"F64", torch::kDouble}, {"F16", torch::kHalf}, {"BF16", torch::kBFloat16},
      {"I64", torch::kLong},   {"I32", torch::kInt},    {"I16", torch::kShort}, {"I8", torch::kChar},
      {"U8", torch::kByte},    {"BOOL", torch::kBool}};
  return m;
}

std::map<std::string, torch::Tensor> named_state(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> s;
  for (auto& p : m.named_parameters(true)) s[p.key()] = p.value();
  for (auto& b : m.named_buffers(true)) s[b.key()] = b.value();
  return s;
}

std::string shape_str(at::IntArrayRef s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

st::Tensor to_st(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU).contiguous();
  st::Tensor out;
  for (auto& [name, dt] : dtypes())
    if (dt == c.scalar_type()) out.dtype = name;
  if (out.dtype.empty()) throw RuntimeError("cannot store a tensor of dtype " + std::string(c.dtype().name()));
  out.shape.assign(c.sizes().begin(), c.sizes().end());
  out.bytes.assign(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  return out;
}

torch::Tensor from_st(const st::Tensor& t) {
  auto it = dtypes().find(t.dtype);
  if (it == dtypes().end()) throw RuntimeError("unsupported dtype " + t.dtype);
  auto out = torch::empty(t.shape, torch::TensorOptions().dtype(it->second));
  if (!t.bytes.empty()) std::memcpy(out.data_ptr(), t.bytes.data(), t.bytes.size());
  return out;
}

void add_module_tensors(st::File& f, const torch::nn::Module& m, const std::string& prefix) {
  for (auto& [name, t] : named_state(m)) f.tensors[prefix + name] = to_st(t);
}

LoadReport load_weights(YoloV8& net, const st::File& f, const std::string& origin, bool allow_class_change) {
  torch::NoGradGuard ng;
  LoadReport rep;
  auto state = named_state(*net);
  for (auto& [name, t] : f.tensors) {
    if (name.rfind("model.", 0) != 0) continue;  // optimizer / EMA state live under other prefixes
    if (!state.count(name))
      throw RuntimeError(origin + ": unexpected tensor '" + name + "' (not part of " + net->variant + ")");
  }
  for (auto& [name, dst] : state) {
    auto it = f.tensors.find(name);
    if (it == f.tensors.end()) throw RuntimeError(origin + ": missing tensor '" + name + "'");
    auto src = from_st(it->second);
    if (src.sizes() != dst.sizes()) {
      if (allow_class_change && name.rfind("model.22.cv3.", 0) == 0) {
        ++rep.reinitialised;
        continue;
      }
      throw RuntimeError(origin + ": tensor '" + name + "' has shape " + shape_str(src.sizes()) + ", the model expects " +
                         shape_str(dst.sizes()));
    }
    dst.copy_(src.to(dst.scalar_type()));
    ++rep.loaded;
  }
  return rep;
}

ModelSpec inspect_weights(const st::File& f, const std::string& origin) {
  ModelSpec s;
  s.metadata = f.metadata;
  auto meta = [&](const char* k) -> std::string {
    auto it = f.metadata.find(k);
    return it == f.metadata.end() ? "" : it->second;
  };
  auto stem = f.tensors.find("model.0.conv.weight");
  if (stem == f.tensors.end()) throw RuntimeError(origin + ": not YOLOv8 weights (no 'model.0.conv.weight' tensor)");
  if (stem->second.shape.size() != 4)
    throw RuntimeError(origin + ": not YOLOv8 weights ('model.0.conv.weight' has " +
                       std::to_string(stem->second.shape.size()) + " dimensions, a convolution weight has 4)");
  s.input_channels = static_cast<int>(stem->second.shape[1]);
  // Other tools put free text under "variant": only a known scale name counts.
  static const std::set<std::string> scales = {"yolov8n", "yolov8s", "yolov8m", "yolov8l", "yolov8x"};
  if (scales.count(meta("variant"))) {
    s.variant = meta("variant");
  } else {
    static const std::map<int64_t, std::string> by_width = {
        {16, "yolov8n"}, {32, "yolov8s"}, {48, "yolov8m"}, {64, "yolov8l"}, {80, "yolov8x"}};
    auto w = by_width.find(stem->second.shape[0]);
    if (w == by_width.end()) throw RuntimeError(origin + ": cannot infer the YOLOv8 scale from the stem width");
    s.variant = w->second;
    // l and x share depth; m differs from l in width only — the stem width decides. n and s: same.
  }
  auto cls = f.tensors.find("model.22.cv3.0.2.weight");
  if (cls != f.tensors.end() && !cls->second.shape.empty()) {
    s.num_classes = static_cast<int>(cls->second.shape[0]);
  } else if (!meta("num_classes").empty()) {
    try {
      s.num_classes = std::stoi(meta("num_classes"));
    } catch (const std::exception&) {
      throw RuntimeError(origin + ": metadata 'num_classes' is not a number ('" + clip(meta("num_classes"), 40) + "')");
    }
  }
  try {
    if (!meta("img_size").empty()) s.img_size = std::stoi(meta("img_size"));
  } catch (const std::exception&) {
    throw RuntimeError(origin + ": metadata 'img_size' is not a number ('" + clip(meta("img_size"), 40) + "')");
  }
  if (!meta("img_size").empty() && (s.img_size < 1 || s.img_size > 16384))
    throw RuntimeError(origin + ": metadata 'img_size' " + std::to_string(s.img_size) + " is outside 1..16384");
  if (!meta("names").empty()) {
    try {
      s.names = nlohmann::json::parse(meta("names")).get<std::vector<std::string>>();
    } catch (const std::exception&) {
      throw RuntimeError(origin + ": metadata 'names' is not a JSON list of strings");
    }
  }
  return s;
}

YoloV8 load_model(const std::string& path, ModelSpec* spec_out) {
  if (is_onnx_path(path))
    throw RuntimeError(path + ": an exported ONNX graph holds no trainable network; this needs the .safetensors "
                       "checkpoint it was exported from (ONNX models run with `vyolo predict`)");
  auto f = st::read(path);
  auto spec = inspect_weights(f, path);
  if (spec.num_classes <= 0) throw RuntimeError(path + ": no classification head tensors (model.22.cv3.*)");
  YoloV8 net(spec.variant, spec.num_classes, spec.input_channels);
  load_weights(net, f, path);
  if (spec.names.empty())
    for (int i = 0; i < spec.num_classes; ++i) spec.names.push_back(spec.num_classes == 1 ? "fracture" : std::to_string(i));
  if (spec_out) *spec_out = spec;
  return net;
}

}  // namespace vyolo::model
