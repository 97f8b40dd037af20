// One key table per command struct (command_args.h): name, member, help. Everything else is generic over them.
#include "config/command_args.h"

#include <cctype>
#include <cmath>
#include <variant>

#include "common/error.h"
#include "config/node.h"

namespace vyolo {
namespace {

template <class A>
using Member = std::variant<std::string A::*, std::optional<int> A::*, int A::*, double A::*, bool A::*,
                            std::vector<std::string> A::*, std::optional<double> A::*>;

template <class A>
struct Key {
  const char* name;
  Member<A> member;
  std::string help;
};

template <class A>
using Keys = std::vector<Key<A>>;

template <class A>
Keys<A> operator+(Keys<A> a, const Keys<A>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Key groups several commands share, with one help text each.
template <class A>
Keys<A> nms_keys(const char* per) {
  return {{"conf", &A::conf, "NMS confidence threshold"},
          {"iou", &A::iou, "NMS IoU threshold"},
          {"max_det", &A::max_det, std::string("detections kept per ") + per}};
}

template <class A>
Keys<A> run_folder_keys() {
  return {{"project", &A::project, "results go to project/name"},
          {"name", &A::name, "run folder name (name2, name3, ... when it exists)"},
          {"exist_ok", &A::exist_ok, "reuse project/name instead of numbering"}};
}

template <class A>
Keys<A> recipe_keys() {
  return {{"crop", &A::crop, "slice crop (vertebra|none); null = the checkpoint's recipe"},
          {"margin", &A::margin, "crop margin in voxels; null = the checkpoint's recipe"}};
}

// The clinical operating point chosen on a fold's validation studies (findings/operating_point.h, calibration.h).
template <class A>
Keys<A> operating_keys() {
  return {{"operating_point", &A::operating_point,
           "rule for the vertebra threshold on validation studies: f1|youden|sensitivity@X|specificity@X"},
          {"calibration", &A::calibration, "vertebra probabilities fitted on validation studies: none|platt|isotonic"}};
}

template <class A>
const Keys<A>& keys();

template <>
const Keys<TrainArgs>& keys() {
  using A = TrainArgs;
  static const Keys<A> k =
      Keys<A>{{"weights", &A::weights, "checkpoint to start from, as Ultralytics' model= (same as model.pretrained)"},
              {"studies", &A::studies,
               "CT studies for the operating point on the validation patients; null = those prepare read; none = skip"}} +
      operating_keys<A>();
  return k;
}

template <>
const Keys<CvArgs>& keys() {
  using A = CvArgs;
  static const Keys<A> k =
      Keys<A>{{"folds", &A::folds, "folds to train, [0,2] or [fold_0,fold_2]; null = every <config dir>/split/fold_K.yaml"},
              {"studies", &A::studies, "CT studies for vertebra-level evaluation; null = those prepare read; none = skip"},
              {"threshold", &A::threshold, "vertebra and patient score threshold of the fold reports; null = each fold's operating point"},
              {"vertebra_labels", &A::vertebra_labels, "label scheme of the masks (verse|totalseg); null = the checkpoint's"}} +
      operating_keys<A>() + nms_keys<A>("slice");
  return k;
}

template <>
const Keys<ValArgs>& keys() {
  using A = ValArgs;
  static const Keys<A> k = Keys<A>{{"weights", &A::weights, "checkpoint (.safetensors), required"}} +
                           nms_keys<A>("image") + run_folder_keys<A>();
  return k;
}

template <>
const Keys<PredictArgs>& keys() {
  using A = PredictArgs;
  static const Keys<A> k =
      Keys<A>{{"weights", &A::weights, "checkpoint; [a,b] = an ensemble (CT volumes only)"},
              {"source", &A::source, "image, folder of images, NIfTI file or DICOM series folder"},
              {"imgsz", &A::imgsz, "inference size; null = the checkpoint's training size"}} +
      nms_keys<A>("image") +
      Keys<A>{{"device", &A::device, "cpu, cuda, cuda:N or N"},
              {"save", &A::save, "write images with boxes drawn"},
              {"save_txt", &A::save_txt, "write labels/<image>.txt (class cx cy w h conf)"}} +
      run_folder_keys<A>() +
      Keys<A>{{"batch", &A::batch, "images (slices) per forward pass"},
              {"mask", &A::mask, "vertebra label volume for per-vertebra findings (CT)"},
              {"vertebra_labels", &A::vertebra_labels, "label scheme of the mask (verse|totalseg)"},
              {"threshold", &A::threshold, "vertebra and patient score threshold; null = the checkpoint's operating point, else 0.5"}} +
      recipe_keys<A>();
  return k;
}

template <>
const Keys<EvaluateArgs>& keys() {
  using A = EvaluateArgs;
  static const Keys<A> k =
      Keys<A>{{"weights", &A::weights, "checkpoint; [a,b] = an ensemble"},
              {"source", &A::source, "folder of studies with ground truth, required"},
              {"out", &A::out, "folder for metrics.json, sweeps and plots, required"}} +
      nms_keys<A>("slice") +
      Keys<A>{{"device", &A::device, "cpu, cuda, cuda:N or N"},
              {"batch", &A::batch, "slices per forward pass"},
              {"threshold", &A::threshold, "vertebra and patient score threshold; null = the checkpoint's operating point, else 0.5"},
              {"grades", &A::grades, "CSV of per-vertebra fracture grades"},
              {"min_grade", &A::min_grade, "lowest grade that counts as fractured"},
              {"vertebra_labels", &A::vertebra_labels, "label scheme of the masks (verse|totalseg)"}} +
      recipe_keys<A>() +
      Keys<A>{{"studies", &A::studies, "only these study folders, [a,b]"},
              {"operating_point", &A::operating_point,
               "choose the threshold on these studies (validation): f1|youden|sensitivity@X|specificity@X"},
              {"calibration", &A::calibration, "fit vertebra probabilities on these studies: none|platt|isotonic"},
              {"update_weights", &A::update_weights, "store the chosen operating point and calibration in the checkpoint"}};
  return k;
}

template <>
const Keys<ExportArgs>& keys() {
  using A = ExportArgs;
  static const Keys<A> k = {
      {"weights", &A::weights, "checkpoint (.safetensors) to export, required"},
      {"format", &A::format, "onnx (the only format so far)"},
      {"imgsz", &A::imgsz, "input size (multiple of 32); null = the checkpoint's training size"},
      {"batch", &A::batch, "batch size of the fixed input (dynamic=false)"},
      {"dynamic", &A::dynamic, "symbolic batch, height and width (any size at run time)"},
      {"opset", &A::opset, "ONNX opset, 12..17 (OpenCV DNN: 12)"},
      {"simplify", &A::simplify, "store every intermediate tensor's inferred shape"},
      {"out", &A::out, "file to write; null = the weights path with .onnx"},
      {"overwrite", &A::overwrite, "replace an existing file with other content"}};
  return k;
}

template <>
const Keys<PrepareArgs>& keys() {
  using A = PrepareArgs;
  static const Keys<A> k = {
      {"source", &A::source, "folder of CT cases, required"},
      {"out", &A::out, "dataset folder to write, required"},
      {"view", &A::view, "axial|coronal|sagittal; null = data.view"},
      {"image_size", &A::image_size, "slice size in pixels; null = data.image_size"},
      {"mode", &A::mode, "hu16 (HU + 32768, 16-bit; windowed when loaded) | windowed (8-bit, bone/soft/wide) | slab"},
      {"slab_window", &A::slab_window, "HU window of each slab slice (bone|soft_tissue|wide)"},
      {"crop", &A::crop, "vertebra (one crop per vertebra label, + margin) | none"},
      {"margin", &A::margin, "crop margin in voxels"},
      {"keep", &A::keep, "all | vertebrae (only slices that contain a vertebra)"},
      {"max_negatives", &A::max_negatives, "cap on slices without a box per vertebra crop; -1 = no cap"},
      {"vertebra_labels", &A::vertebra_labels, "label scheme of the masks (verse|totalseg)"},
      {"allow_unlabeled", &A::allow_unlabeled, "a case without fracture mask counts as fracture-free"},
      {"workers", &A::workers, "cases prepared in parallel"},
      {"png_compression", &A::png_compression, "PNG compression level 0..9"}};
  return k;
}

template <>
const Keys<SplitArgs>& keys() {
  using A = SplitArgs;
  static const Keys<A> k = {{"data", &A::data, "prepared dataset folder; null = data.data_dir"},
                            {"folds", &A::folds, "number of folds (>= 2)"},
                            {"out", &A::out, "folder for fold_K.yaml; null = ./conf/split"},
                            {"overwrite", &A::overwrite, "replace fold files that hold other patients"}};
  return k;
}

template <>
const Keys<SynthArgs>& keys() {
  using A = SynthArgs;
  static const Keys<A> k = {{"out", &A::out, "folder to write the phantom cases to, required"},
                            {"cases", &A::cases, "number of cases (1..10000)"},
                            {"vertebrae", &A::vertebrae, "vertebrae per case (1..12)"},
                            {"noise", &A::noise, "noise standard deviation in HU"}};
  return k;
}

template <class... F>
struct overload : F... {
  using F::operator()...;
};
template <class... F>
overload(F...) -> overload<F...>;

// The default as a config node: integral doubles are written as integers (`noise: 20`), empty = null.
template <class A>
Node default_node(const A& a, const Member<A>& m) {
  return std::visit(overload{[&](std::string A::*p) { return (a.*p).empty() ? Node::null() : Node::string(a.*p); },
                             [&](std::optional<int> A::*p) {
                               return (a.*p) ? Node::plain(std::to_string(*(a.*p))) : Node::null();
                             },
                             [&](int A::*p) { return Node::plain(std::to_string(a.*p)); },
                             [&](std::optional<double> A::*p) {
                               return (a.*p) ? Node::plain(python_float(*(a.*p))) : Node::null();
                             },
                             [&](double A::*p) {
                               const double v = a.*p;
                               if (std::fabs(v) < 1e15 && v == std::floor(v))
                                 return Node::plain(std::to_string(static_cast<long long>(v)));
                               return Node::plain(python_float(v));
                             },
                             [&](bool A::*p) { return Node::plain(a.*p ? "true" : "false"); },
                             [&](std::vector<std::string> A::*p) {
                               if ((a.*p).empty()) return Node::null();
                               Node n = Node::empty_seq();
                               for (const auto& s : a.*p) n.seq.push_back(Node::string(s));
                               return n;
                             }},
                    m);
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// `[a,b]` as a YAML list, or `a,b` / `"[a,b]"` typed as one string.
std::vector<std::string> read_list(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsSequence()) {
    for (const auto& e : n) out.push_back(e.as<std::string>());
    return out;
  }
  std::string s = n.as<std::string>();
  if (!s.empty() && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  size_t p = 0;
  while (p <= s.size()) {
    size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    if (std::string item = trim(s.substr(p, q - p)); !item.empty()) out.push_back(item);
    p = q + 1;
  }
  return out;
}

template <class A>
void read_key(const YAML::Node& n, A& a, const Member<A>& m) {
  std::visit(overload{[&](std::string A::*p) { a.*p = n.as<std::string>(); },
                      [&](std::optional<int> A::*p) { a.*p = n.as<int>(); },
                      [&](int A::*p) { a.*p = n.as<int>(); },
                      [&](double A::*p) { a.*p = n.as<double>(); },
                      [&](std::optional<double> A::*p) { a.*p = n.as<double>(); },
                      [&](bool A::*p) { a.*p = n.as<bool>(); },
                      [&](std::vector<std::string> A::*p) { a.*p = read_list(n); }},
             m);
}

}  // namespace

template <class A>
CommandKeys command_keys() {
  const A defaults{};
  CommandKeys out;
  Node map = Node::empty_map();
  for (const auto& k : keys<A>()) {
    Node v = default_node(defaults, k.member);
    std::string line = "  " + std::string(k.name) + ": " + (v.is_seq() ? "[...]" : v.is_null() ? "null" : v.text);
    out.help += line + std::string(line.size() < 34 ? 34 - line.size() : 1, ' ') + "# " + k.help + "\n";
    map.map.emplace_back(k.name, std::move(v));
  }
  out.defaults_yaml = to_yaml_string(map);
  return out;
}

template <class A>
A read_args(const Config& cfg) {
  A a{};
  for (const auto& k : keys<A>()) {
    const YAML::Node n = cfg.tree[k.name];
    if (!n || n.IsNull()) continue;
    try {
      read_key(n, a, k.member);
    } catch (const YAML::Exception&) {
      throw UsageError(std::string(k.name) + "=" + YAML::Dump(n) + ": wrong type (" + k.help + ")");
    }
  }
  return a;
}

#define VYOLO_COMMAND_ARGS(A) \
  template CommandKeys command_keys<A>(); \
  template A read_args<A>(const Config&);
VYOLO_COMMAND_ARGS(TrainArgs)
VYOLO_COMMAND_ARGS(CvArgs)
VYOLO_COMMAND_ARGS(ValArgs)
VYOLO_COMMAND_ARGS(PredictArgs)
VYOLO_COMMAND_ARGS(EvaluateArgs)
VYOLO_COMMAND_ARGS(ExportArgs)
VYOLO_COMMAND_ARGS(PrepareArgs)
VYOLO_COMMAND_ARGS(SplitArgs)
VYOLO_COMMAND_ARGS(SynthArgs)
#undef VYOLO_COMMAND_ARGS

}  // namespace vyolo
