#include "export/onnx_export.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "common/console.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "infer/backend.h"
#include "model/onnx_model.h"
#include "ops/anchors.h"

namespace fs = std::filesystem;

namespace vyolo::exporter {

namespace {

using model::ConvBlockImpl;

// Appends nodes and initialisers to one graph. Names follow PyTorch's exporter (`/model.2/cv1/conv/Conv`,
// initialisers `model.2.cv1.conv.weight`), so the file reads like Ultralytics' in Netron.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* g) : g_(g) {}

  std::string tensor(const torch::Tensor& t, const std::string& name) {
    auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    auto* p = g_->add_initializer();
    p->set_name(unique(name));
    p->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (auto d : c.sizes()) p->add_dims(d);
    p->set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), c.numel() * sizeof(float)));
    return p->name();
  }

  // Small constants (shapes, axes, scalars), one initialiser per distinct value.
  std::string ints(const std::vector<int64_t>& v, bool scalar = false) {
    const std::string key = std::string(scalar ? "s" : "v") + "i" + join(v);
    if (auto it = consts_.find(key); it != consts_.end()) return it->second;
    auto* p = g_->add_initializer();
    p->set_name(unique("/Constant_i64_" + std::to_string(consts_.size())));
    p->set_data_type(onnx::TensorProto_DataType_INT64);
    if (!scalar) p->add_dims(static_cast<int64_t>(v.size()));
    for (auto x : v) p->add_int64_data(x);
    return consts_[key] = p->name();
  }
  std::string floats(const std::vector<float>& v) {
    std::vector<int64_t> bits;
    for (float f : v) {
      uint32_t u;
      std::memcpy(&u, &f, sizeof u);
      bits.push_back(u);
    }
    const std::string key = "f" + join(bits);
    if (auto it = consts_.find(key); it != consts_.end()) return it->second;
    auto* p = g_->add_initializer();
    p->set_name(unique("/Constant_f32_" + std::to_string(consts_.size())));
    p->set_data_type(onnx::TensorProto_DataType_FLOAT);
    p->add_dims(static_cast<int64_t>(v.size()));
    for (auto x : v) p->add_float_data(x);
    return consts_[key] = p->name();
  }

  struct Attr {
    std::string name;
    std::vector<int64_t> ints;
    int64_t i = 0;
    std::string s;
    enum { Ints, Int, String } kind;
  };
  static Attr ints_attr(const std::string& n, std::vector<int64_t> v) { return {n, std::move(v), 0, "", Attr::Ints}; }
  static Attr int_attr(const std::string& n, int64_t v) { return {n, {}, v, "", Attr::Int}; }
  static Attr str_attr(const std::string& n, const std::string& v) { return {n, {}, 0, v, Attr::String}; }

  // One node `op` in `scope`; returns its outputs (named <node>_output_<k>, or `out_name` for the first).
  std::vector<std::string> node(const std::string& scope, const std::string& op, const std::vector<std::string>& in,
                                const std::vector<Attr>& attrs = {}, int outputs = 1,
                                const std::string& out_name = "") {
    auto* n = g_->add_node();
    n->set_name(unique(scope + "/" + op));
    n->set_op_type(op);
    for (const auto& x : in) n->add_input(x);
    std::vector<std::string> outs;
    for (int k = 0; k < outputs; ++k) {
      outs.push_back(k == 0 && !out_name.empty() ? out_name : n->name() + "_output_" + std::to_string(k));
      n->add_output(outs.back());
    }
    for (const auto& a : attrs) {
      auto* p = n->add_attribute();
      p->set_name(a.name);
      if (a.kind == Attr::Ints) {
        p->set_type(onnx::AttributeProto_AttributeType_INTS);
        for (auto v : a.ints) p->add_ints(v);
      } else if (a.kind == Attr::Int) {
        p->set_type(onnx::AttributeProto_AttributeType_INT);
        p->set_i(a.i);
      } else {
        p->set_type(onnx::AttributeProto_AttributeType_STRING);
        p->set_s(a.s);
      }
    }
    return outs;
  }
  std::string node1(const std::string& scope, const std::string& op, const std::vector<std::string>& in,
                    const std::vector<Attr>& attrs = {}, const std::string& out_name = "") {
    return node(scope, op, in, attrs, 1, out_name)[0];
  }

 private:
  static std::string join(const std::vector<int64_t>& v) {
    std::string s;
    for (auto x : v) s += "_" + std::to_string(x);
    return s;
  }
  std::string unique(const std::string& name) {
    int& n = used_[name];
    return n++ == 0 ? name : name + "_" + std::to_string(n - 1);
  }

  onnx::GraphProto* g_;
  std::map<std::string, int> used_;
  std::map<std::string, std::string> consts_;
};

using Attr = GraphBuilder::Attr;

// The YOLOv8 forward pass of model/yolo.cpp written as ONNX nodes.
class YoloWriter {
 public:
  YoloWriter(GraphBuilder& b, model::YoloV8& net, const OnnxOptions& opt) : b_(b), net_(net), opt_(opt) {}

  std::string write(const std::string& images) {
    images_ = images;
    auto x1 = conv("/model.1", layer<ConvBlockImpl>(1), conv("/model.0", layer<ConvBlockImpl>(0), images));
    auto x4 = c2f(4, conv("/model.3", layer<ConvBlockImpl>(3), c2f(2, x1)));
    auto x6 = c2f(6, conv("/model.5", layer<ConvBlockImpl>(5), x4));
    auto x9 = sppf(c2f(8, conv("/model.7", layer<ConvBlockImpl>(7), x6)));
    auto x12 = c2f(12, b_.node1("/model.11", "Concat", {up("/model.10", x9), x6}, {GraphBuilder::int_attr("axis", 1)}));
    auto x15 = c2f(15, b_.node1("/model.14", "Concat", {up("/model.13", x12), x4}, {GraphBuilder::int_attr("axis", 1)}));
    auto x18 = c2f(18, b_.node1("/model.17", "Concat", {conv("/model.16", layer<ConvBlockImpl>(16), x15), x12},
                                {GraphBuilder::int_attr("axis", 1)}));
    auto x21 = c2f(21, b_.node1("/model.20", "Concat", {conv("/model.19", layer<ConvBlockImpl>(19), x18), x9},
                                {GraphBuilder::int_attr("axis", 1)}));
    return detect({x15, x18, x21});
  }

 private:
  template <class T>
  T& layer(int i) {
    return *net_->model[static_cast<size_t>(i)]->as<T>();
  }

  std::string prefix(const std::string& scope) const {  // "/model.2/cv1" -> "model.2.cv1."
    std::string s = scope.substr(1);
    for (auto& c : s)
      if (c == '/') c = '.';
    return s + ".";
  }

  std::string conv(const std::string& scope, ConvBlockImpl& c, const std::string& x) {
    TORCH_CHECK(c.fused(), "export: ", scope, " is not fused");
    const int64_t k = c.conv->weight.size(2);
    auto w = b_.tensor(c.conv->weight, prefix(scope) + "conv.weight");
    auto bias = b_.tensor(c.fused_bias(), prefix(scope) + "conv.bias");
    auto y = b_.node1(scope + "/conv", "Conv", {x, w, bias},
                      {GraphBuilder::ints_attr("dilations", {1, 1}), GraphBuilder::int_attr("group", c.groups()),
                       GraphBuilder::ints_attr("kernel_shape", {k, k}),
                       GraphBuilder::ints_attr("pads", {c.pad(), c.pad(), c.pad(), c.pad()}),
                       GraphBuilder::ints_attr("strides", {c.stride(), c.stride()})});
    if (!c.act()) return y;
    // SiLU as Sigmoid and Mul: a SiLU/Swish operator exists in no opset of this range.
    auto s = b_.node1(scope + "/act", "Sigmoid", {y});
    return b_.node1(scope + "/act", "Mul", {y, s});
  }

  std::string plain_conv(const std::string& scope, torch::nn::Conv2dImpl& c, const std::string& x) {
    const int64_t k = c.weight.size(2);
    auto w = b_.tensor(c.weight, prefix(scope) + "weight");
    std::vector<std::string> in{x, w};
    if (c.bias.defined()) in.push_back(b_.tensor(c.bias, prefix(scope) + "bias"));
    return b_.node1(scope, "Conv", in,
                    {GraphBuilder::ints_attr("dilations", {1, 1}), GraphBuilder::int_attr("group", 1),
                     GraphBuilder::ints_attr("kernel_shape", {k, k}), GraphBuilder::ints_attr("pads", {0, 0, 0, 0}),
                     GraphBuilder::ints_attr("strides", {1, 1})});
  }

  std::string c2f(int i, const std::string& x) {
    auto& m = layer<model::C2fImpl>(i);
    const std::string scope = "/model." + std::to_string(i);
    auto y = conv(scope + "/cv1", *m.cv1, x);
    // chunk(2, 1): two equal halves. No `split` sizes: opset 13 moved them from an attribute to an input, which
    // OpenCV 4.6 does not read; the equal split is the same in every opset.
    auto halves = b_.node(scope, "Split", {y}, {GraphBuilder::int_attr("axis", 1)}, 2);
    std::vector<std::string> parts = halves;
    for (size_t k = 0; k < m.m->size(); ++k) {
      auto& bn = *m.m[k]->as<model::BottleneckImpl>();
      const std::string bs = scope + "/m." + std::to_string(k);
      auto h = conv(bs + "/cv2", *bn.cv2, conv(bs + "/cv1", *bn.cv1, parts.back()));
      if (bn.add()) h = b_.node1(bs, "Add", {parts.back(), h});
      parts.push_back(h);
    }
    auto cat = b_.node1(scope, "Concat", parts, {GraphBuilder::int_attr("axis", 1)});
    return conv(scope + "/cv2", *m.cv2, cat);
  }

  std::string sppf(const std::string& x) {
    auto& m = layer<model::SPPFImpl>(9);
    const int64_t k = m.m->options.kernel_size()->at(0);
    std::vector<std::string> y{conv("/model.9/cv1", *m.cv1, x)};
    for (int i = 0; i < 3; ++i)
      y.push_back(b_.node1("/model.9/m", "MaxPool", {y.back()},
                           {GraphBuilder::ints_attr("kernel_shape", {k, k}),
                            GraphBuilder::ints_attr("pads", {k / 2, k / 2, k / 2, k / 2}),
                            GraphBuilder::ints_attr("strides", {1, 1})}));
    return conv("/model.9/cv2", *m.cv2, b_.node1("/model.9", "Concat", y, {GraphBuilder::int_attr("axis", 1)}));
  }

  // nn.Upsample(scale_factor=2, mode="nearest"): Resize with constant scales. `roi` is given (empty) because
  // opsets 11-12 require the input; later opsets accept it.
  std::string up(const std::string& scope, const std::string& x) {
    return b_.node1(scope, "Resize", {x, b_.floats({}), b_.floats({1.f, 1.f, 2.f, 2.f})},
                    {GraphBuilder::str_attr("coordinate_transformation_mode", "asymmetric"),
                     GraphBuilder::str_attr("mode", "nearest"), GraphBuilder::str_attr("nearest_mode", "floor")});
  }

  // The anchor grid of one level as (B, 2, h*w) and its stride as (B, 1, h*w), computed from the input so that any
  // size works: a 1x1 convolution with zero weights, bias 1 and the level's stride gives a (B, 1, h, w) map of ones
  // (the same size as the level's feature map: ceil(H / s)); CumSum along x numbers the columns 1..w. Rows are
  // numbered by CumSum along x of the transposed map because OpenCV 4.6's CumSum ignores any axis but the last.
  std::pair<std::string, std::string> dynamic_anchors(int level, int64_t stride) {
    const std::string scope = "/model.22/anchors." + std::to_string(level);
    const int64_t c = net_->input_channels;
    auto ones = b_.node1(scope, "Conv",
                         {images_, b_.tensor(torch::zeros({1, c, 1, 1}), scope.substr(1) + ".zero"),
                          b_.floats({1.f})},
                         {GraphBuilder::ints_attr("kernel_shape", {1, 1}),
                          GraphBuilder::ints_attr("strides", {stride, stride})});
    auto axis = b_.ints({3}, /*scalar=*/true);
    auto cx = b_.node1(scope, "CumSum", {ones, axis});
    auto t = b_.node1(scope, "Transpose", {ones}, {GraphBuilder::ints_attr("perm", {0, 1, 3, 2})});
    auto cy = b_.node1(scope, "Transpose", {b_.node1(scope, "CumSum", {t, axis})},
                       {GraphBuilder::ints_attr("perm", {0, 1, 3, 2})});
    auto xy = b_.node1(scope, "Sub", {b_.node1(scope, "Concat", {cx, cy}, {GraphBuilder::int_attr("axis", 1)}),
                                      b_.floats({0.5f})});
    auto anc = b_.node1(scope, "Reshape", {xy, b_.ints({0, 2, -1})});
    auto st = b_.node1(scope, "Reshape",
                       {b_.node1(scope, "Mul", {ones, b_.floats({static_cast<float>(stride)})}), b_.ints({0, 1, -1})});
    return {anc, st};
  }

  std::string detect(const std::vector<std::string>& feats) {
    auto& d = *net_->detect;
    const std::string scope = "/model.22";
    const int64_t nc = d.nc, rm = d.reg_max;
    // Box and class branches flattened per level and joined along the anchors, kept apart (no split by sizes).
    std::vector<std::string> boxes, scores;
    for (size_t i = 0; i < feats.size(); ++i) {
      auto branch = [&](torch::nn::ModuleList& list, const std::string& name) {
        auto seq = list[i]->as<torch::nn::Sequential>();
        const std::string s = scope + "/" + name + "." + std::to_string(i);
        auto h = conv(s + ".0", *seq->ptr(0)->as<ConvBlockImpl>(), feats[i]);
        h = conv(s + ".1", *seq->ptr(1)->as<ConvBlockImpl>(), h);
        return plain_conv(s + ".2", *seq->ptr(2)->as<torch::nn::Conv2dImpl>(), h);
      };
      boxes.push_back(b_.node1(scope, "Reshape", {branch(d.cv2, "cv2"), b_.ints({0, 4 * rm, -1})}));
      scores.push_back(b_.node1(scope, "Reshape", {branch(d.cv3, "cv3"), b_.ints({0, nc, -1})}));
    }
    auto box = b_.node1(scope, "Concat", boxes, {GraphBuilder::int_attr("axis", 2)});
    auto cls = b_.node1(scope, "Concat", scores, {GraphBuilder::int_attr("axis", 2)});

    // DFL: softmax over the reg_max bins, expectation through the fixed 0..reg_max-1 1x1 convolution. The softmax
    // axis is made the last one, where opset 12's (flatten from `axis`) and opset 13's (one axis) Softmax agree.
    const std::string ds = scope + "/dfl";
    auto p = b_.node1(ds, "Reshape", {box, b_.ints({0, 4, rm, -1})});
    p = b_.node1(ds, "Transpose", {p}, {GraphBuilder::ints_attr("perm", {0, 1, 3, 2})});
    p = b_.node1(ds, "Softmax", {p}, {GraphBuilder::int_attr("axis", 3)});
    p = b_.node1(ds, "Transpose", {p}, {GraphBuilder::ints_attr("perm", {0, 3, 1, 2})});
    p = b_.node1(ds + "/conv", "Conv", {p, b_.tensor(d.dfl_weight, "model.22.dfl.conv.weight")},
                 {GraphBuilder::ints_attr("kernel_shape", {1, 1})});
    auto dist = b_.node1(ds, "Reshape", {p, b_.ints({0, 4, -1})});
    auto lt_rb = b_.node(scope, "Split", {dist}, {GraphBuilder::int_attr("axis", 1)}, 2);

    std::string anc, st;
    if (opt_.dynamic) {
      std::vector<std::string> ancs, sts;
      for (size_t i = 0; i < d.strides.size(); ++i) {
        auto [a, s] = dynamic_anchors(static_cast<int>(i), static_cast<int64_t>(d.strides[i]));
        ancs.push_back(a);
        sts.push_back(s);
      }
      anc = b_.node1(scope, "Concat", ancs, {GraphBuilder::int_attr("axis", 2)});
      auto s1 = b_.node1(scope, "Concat", sts, {GraphBuilder::int_attr("axis", 2)});
      st = b_.node1(scope, "Concat", {s1, s1}, {GraphBuilder::int_attr("axis", 1)});
    } else {
      // Constants of shape (2, A) without a batch axis: broadcast over any batch by ONNX, and what OpenCV 4.6 turns
      // into a per-element scale/shift (a (1, 2, A) constant it would broadcast wrongly for batch > 1).
      std::vector<std::array<int64_t, 2>> hw;
      for (double s : d.strides) {
        const int64_t n = opt_.imgsz / static_cast<int64_t>(s);
        hw.push_back({n, n});
      }
      auto [points, strides] = ops::make_anchors(hw, d.strides, 0.5, torch::TensorOptions().dtype(torch::kFloat));
      anc = b_.tensor(points.transpose(0, 1), "/model.22/anchors");
      st = b_.tensor(strides.transpose(0, 1).expand({2, -1}), "/model.22/strides");
    }
    auto x1y1 = b_.node1(scope, "Sub", {anc, lt_rb[0]});
    auto x2y2 = b_.node1(scope, "Add", {anc, lt_rb[1]});
    auto c = b_.node1(scope, "Mul", {b_.node1(scope, "Add", {x1y1, x2y2}), b_.floats({0.5f})});
    auto wh = b_.node1(scope, "Sub", {x2y2, x1y1});
    auto dbox = b_.node1(scope, "Concat", {b_.node1(scope, "Mul", {c, st}), b_.node1(scope, "Mul", {wh, st})},
                         {GraphBuilder::int_attr("axis", 1)});
    return b_.node1(scope, "Concat", {dbox, b_.node1(scope, "Sigmoid", {cls})}, {GraphBuilder::int_attr("axis", 1)},
                    "output0");
  }

  GraphBuilder& b_;
  model::YoloV8& net_;
  const OnnxOptions& opt_;
  std::string images_;
};

void set_shape(onnx::ValueInfoProto* v, const std::string& name, const std::vector<std::string>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  auto* shape = t->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
}

std::string py_bool(bool b) { return b ? "True" : "False"; }

std::string shape_text(const onnx::ValueInfoProto& v) {  // (1, 3, 256, 256) or (batch, 3, height, width)
  std::string s;
  for (const auto& d : v.type().tensor_type().shape().dim())
    s += (s.empty() ? "(" : ", ") + (d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param());
  return s + ")";
}

onnx::ModelProto parse(const std::string& bytes, const std::string& origin) {
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) throw RuntimeError(origin + ": not an ONNX model");
  return m;
}

// Runs ONNX shape inference in strict mode with type checks on `m` (adds value_info).
void infer_shapes(onnx::ModelProto& m, const std::string& origin) {
  try {
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1));
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": ONNX shape inference failed: " + e.what());
  }
}

double relative_error(const torch::Tensor& ours, const torch::Tensor& ref) {
  auto r = ref.to(torch::kCPU, torch::kDouble), o = ours.to(torch::kCPU, torch::kDouble);
  return ((o - r).abs() / r.abs().clamp_min(1.0)).max().item<double>();
}

}  // namespace

std::string build_onnx(model::YoloV8& net, const std::vector<std::string>& names, const OnnxOptions& opt,
                       const std::map<std::string, std::string>& metadata) {
  if (opt.opset < 12 || opt.opset > 17)
    throw UsageError("opset=" + std::to_string(opt.opset) + ": ONNX export writes opsets 12 to 17");
  if (opt.imgsz < 32 || opt.imgsz % 32 != 0)
    throw UsageError("imgsz=" + std::to_string(opt.imgsz) + " must be a positive multiple of the stride 32");
  if (opt.batch < 1) throw UsageError("batch must be at least 1");
  if (static_cast<int>(names.size()) != net->nc)
    throw UsageError(std::to_string(names.size()) + " class name(s) for a network of " + std::to_string(net->nc) +
                     " class(es)");
  torch::NoGradGuard ng;
  net->to(torch::kCPU);
  net->eval();
  net->fuse();

  onnx::ModelProto m;
  // IR 7 is what opsets up to 14 came with (older runtimes refuse newer IR); opsets 15-17 need IR 8.
  m.set_ir_version(opt.opset <= 14 ? 7 : 8);
  m.set_producer_name("vyolo");
  m.set_producer_version(VYOLO_VERSION);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opt.opset);
  auto* g = m.mutable_graph();
  g->set_name("main_graph");

  const std::string c = std::to_string(net->input_channels), no = std::to_string(4 + net->nc);
  const std::string sz = std::to_string(opt.imgsz), b = std::to_string(opt.batch);
  int64_t anchors = 0;
  for (double s : net->detect->strides) anchors += (opt.imgsz / static_cast<int64_t>(s)) * (opt.imgsz / static_cast<int64_t>(s));
  if (opt.dynamic) {
    set_shape(g->add_input(), "images", {"batch", c, "height", "width"});
    set_shape(g->add_output(), "output0", {"batch", no, "anchors"});
  } else {
    set_shape(g->add_input(), "images", {b, c, sz, sz});
    set_shape(g->add_output(), "output0", {b, no, std::to_string(anchors)});
  }
  GraphBuilder builder(g);
  YoloWriter(builder, net, opt).write("images");

  // Ultralytics' metadata keys and formats (exporter.py: str() of each value; AutoBackend reads them back with
  // int() and ast.literal_eval), then ours. No date: the same checkpoint exports to the same bytes.
  auto add = [&](const std::string& k, const std::string& v) {
    auto* p = m.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  };
  std::string pretty = net->variant;
  if (pretty.rfind("yolo", 0) == 0) pretty = "YOLO" + pretty.substr(4);
  m.set_doc_string("vyolo " + pretty + " model");
  add("description", "vyolo " + pretty + " model");
  add("author", "vertebrae-yolo (vyolo)");
  add("version", VYOLO_VERSION);
  add("stride", "32");
  add("task", "detect");
  add("batch", b);
  add("imgsz", "[" + sz + ", " + sz + "]");
  add("names", model::python_names(names));
  add("args", "{'batch': " + b + ", 'dynamic': " + py_bool(opt.dynamic) + ", 'half': False, 'opset': " +
                  std::to_string(opt.opset) + ", 'simplify': " + py_bool(opt.simplify) + ", 'nms': False}");
  add("channels", c);
  static const std::set<std::string> theirs = {"description", "author", "version", "stride", "task", "batch",
                                               "imgsz",       "names",  "args",    "channels", "date"};
  for (const auto& [k, v] : metadata)
    if (!theirs.count(k)) add(k, v);

  if (opt.simplify) infer_shapes(m, "export");  // the intermediate shapes stay in the file
  std::string out;
  if (!m.SerializeToString(&out)) throw RuntimeError("export: cannot serialise the ONNX model");
  return out;
}

void check_onnx(const std::string& bytes, const std::string& origin) {
  onnx::ModelProto m = parse(bytes, origin);
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": ONNX checker: " + e.what());
  }
  infer_shapes(m, origin);
}

ExportResult export_onnx(const std::string& weights, const std::string& out_path, const OnnxOptions& options,
                         bool overwrite) {
  model::ModelSpec spec;
  auto net = model::load_model(weights, &spec);
  OnnxOptions opt = options;
  if (opt.imgsz <= 0) opt.imgsz = spec.img_size > 0 ? spec.img_size : 640;
  if (opt.imgsz % 32 != 0) {  // Ultralytics' check_imgsz
    const int up = (opt.imgsz / 32 + 1) * 32;
    console::warn("imgsz=" + std::to_string(opt.imgsz) + " must be a multiple of the stride 32; exporting at " +
                  std::to_string(up));
    opt.imgsz = up;
  }
  if (!spec.names.empty() && static_cast<int>(spec.names.size()) != spec.num_classes)
    throw RuntimeError(weights + ": metadata 'names' lists " + std::to_string(spec.names.size()) +
                       " class(es) but the head has " + std::to_string(spec.num_classes));
  if (spec.metadata.count("num_classes") && spec.metadata.at("num_classes") != std::to_string(spec.num_classes))
    throw RuntimeError(weights + ": metadata num_classes=" + spec.metadata.at("num_classes") + " but the head has " +
                       std::to_string(spec.num_classes) + " class(es)");
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : spec.metadata)
    if (k != "config" && k != "format" && k != "names") meta[k] = v;  // the recipe and training provenance
  meta["format"] = "vyolo-onnx-1";
  meta["variant"] = spec.variant;
  meta["num_classes"] = std::to_string(spec.num_classes);
  meta["input_channels"] = std::to_string(spec.input_channels);
  if (spec.img_size > 0) meta["img_size"] = std::to_string(spec.img_size);
  meta["exported_from"] = fs::path(weights).filename().string();
  if (spec.metadata.count("version")) meta["trained_with"] = "vyolo " + spec.metadata.at("version");

  ExportResult r;
  r.path = out_path.empty() ? fs::path(weights).replace_extension(".onnx").string() : out_path;
  const std::string bytes = build_onnx(net, spec.names, opt, meta);
  check_onnx(bytes, r.path);

  // The file must run where it will be used: OpenCV DNN against LibTorch (the fused network) on seeded inputs.
  auto ocv = infer::make_opencv_backend_from_bytes(bytes, r.path);
  torch::NoGradGuard ng;
  std::vector<std::array<int64_t, 4>> shapes;
  const int64_t c = spec.input_channels;
  if (opt.dynamic)
    shapes = {{1, c, opt.imgsz, opt.imgsz}, {2, c, opt.imgsz, std::max<int64_t>(32, opt.imgsz / 64 * 32)}};
  else
    shapes = {{opt.batch, c, opt.imgsz, opt.imgsz}};
  auto gen = at::detail::createCPUGenerator(0);
  for (const auto& s : shapes) {
    auto x = at::rand({s[0], s[1], s[2], s[3]}, gen);
    const double e = relative_error(ocv->forward(x), net->predict(x));
    r.opencv_error = std::max(r.opencv_error, e);
  }
  if (!(r.opencv_error <= 1e-3))
    throw RuntimeError(r.path + ": OpenCV DNN's output differs from LibTorch's by " + std::to_string(r.opencv_error) +
                       " (relative); the file was not written");

  std::error_code ec;
  if (fs::exists(r.path, ec) && !overwrite && read_file(r.path) != bytes)
    throw UsageError(r.path + " exists with other content; overwrite=true replaces it");
  write_file_atomic(r.path, bytes);
  r.bytes = bytes.size();
  onnx::ModelProto m = parse(bytes, r.path);
  r.input_shape = shape_text(m.graph().input(0));
  r.output_shape = shape_text(m.graph().output(0));
  return r;
}

}  // namespace vyolo::exporter
