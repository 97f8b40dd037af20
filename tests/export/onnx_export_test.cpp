// ONNX export: the graph passes ONNX's checker and strict shape inference at opsets 12..17, carries Ultralytics'
// metadata, and OpenCV DNN's output equals LibTorch's (and Ultralytics' reference outputs in ../shared/parity) for
// fixed and dynamic shapes; bad models give clear errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "common/fs_util.h"
#include "export/onnx_export.h"
#include "infer/backend.h"
#include "infer/predictor.h"
#include "model/onnx_model.h"
#include "model/weights.h"
#include "temp_dir.h"

namespace fs = std::filesystem;

using namespace vyolo;
using vyolo::test::TempDir;

namespace {

// max |a - b| / max(1, |b|): absolute for scores and small values, relative for pixel coordinates.
double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  auto x = a.to(torch::kDouble), y = b.to(torch::kDouble);
  return ((x - y).abs() / y.abs().clamp_min(1.0)).max().item<double>();
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

std::map<std::string, std::string> metadata(const onnx::ModelProto& m) {
  std::map<std::string, std::string> out;
  for (const auto& p : m.metadata_props()) out[p.key()] = p.value();
  return out;
}

std::vector<std::string> dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param());
  return out;
}

exporter::OnnxOptions options(int imgsz, bool dynamic, int opset = 12, int batch = 1) {
  exporter::OnnxOptions o;
  o.imgsz = imgsz;
  o.dynamic = dynamic;
  o.opset = opset;
  o.batch = batch;
  return o;
}

model::YoloV8 parity_net(const char* weights) {
  return model::load_model((shared_dir() / "parity" / weights).string());
}

// A one-node ONNX model that is not a detector (for the error tests).
std::string relu_model(bool with_detect_metadata) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(12);
  auto* g = m.mutable_graph();
  g->set_name("relu");
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->add_input("x");
  n->add_output("y");
  for (auto* v : {g->add_input(), g->add_output()}) {
    v->set_name(v == &g->input(0) ? "x" : "y");
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto_DataType_FLOAT);
    for (int d : {1, 3, 32, 32}) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  if (with_detect_metadata) {
    auto* p = m.add_metadata_props();
    p->set_key("task"), p->set_value("detect");
    p = m.add_metadata_props();
    p->set_key("names"), p->set_value("{0: 'a'}");
  }
  std::string s;
  m.SerializeToString(&s);
  return s;
}

}  // namespace

TEST(OnnxExport, CheckerAndShapeInferencePassAtOpsets12To17) {
  torch::manual_seed(0);
  model::YoloV8 net("yolov8n", 2, 3);
  const std::set<std::string> allowed = {"Conv", "Sigmoid", "Mul", "Add", "Sub", "Split", "Concat", "MaxPool",
                                         "Resize", "Reshape", "Transpose", "Softmax", "CumSum"};
  for (int opset = 12; opset <= 17; ++opset) {
    for (bool dynamic : {false, true}) {
      SCOPED_TRACE("opset " + std::to_string(opset) + (dynamic ? " dynamic" : " static"));
      const std::string bytes = exporter::build_onnx(net, {"a", "b"}, options(256, dynamic, opset));
      EXPECT_NO_THROW(exporter::check_onnx(bytes, "mem.onnx"));
      const auto m = parse(bytes);
      EXPECT_EQ(m.ir_version(), opset <= 14 ? 7 : 8);
      ASSERT_EQ(m.opset_import_size(), 1);
      EXPECT_EQ(m.opset_import(0).version(), opset);
      ASSERT_EQ(m.graph().input_size(), 1);
      ASSERT_EQ(m.graph().output_size(), 1);
      EXPECT_EQ(m.graph().input(0).name(), "images");
      EXPECT_EQ(m.graph().output(0).name(), "output0");
      if (dynamic) {
        EXPECT_EQ(dims(m.graph().input(0)), (std::vector<std::string>{"batch", "3", "height", "width"}));
        EXPECT_EQ(dims(m.graph().output(0)), (std::vector<std::string>{"batch", "6", "anchors"}));
      } else {
        EXPECT_EQ(dims(m.graph().input(0)), (std::vector<std::string>{"1", "3", "256", "256"}));
        EXPECT_EQ(dims(m.graph().output(0)), (std::vector<std::string>{"1", "6", "1344"}));  // 32² + 16² + 8²
      }
      // Fused (no BatchNormalization), only operators both ONNX 12..17 and OpenCV 4.6 know in one form.
      int convs = 0;
      for (const auto& n : m.graph().node()) {
        EXPECT_TRUE(allowed.count(n.op_type())) << n.op_type();
        convs += n.op_type() == "Conv";
        if (n.op_type() == "Split") {
          EXPECT_EQ(n.input_size(), 1) << n.name();
          for (const auto& a : n.attribute()) EXPECT_NE(a.name(), "split") << n.name();
        }
        if (n.op_type() == "Softmax") {
          ASSERT_EQ(n.attribute_size(), 1);
          EXPECT_EQ(n.attribute(0).i(), 3) << "softmax over the last axis";
        }
      }
      EXPECT_EQ(convs, 64 + (dynamic ? 3 : 0));  // 57 Conv+BN, 6 head outputs, DFL (+ the anchor grids)
      // simplify=true keeps the inferred shapes of the intermediate tensors.
      EXPECT_GT(m.graph().value_info_size(), 100);
    }
  }
  const auto plain = parse(exporter::build_onnx(net, {"a", "b"}, [] {
    auto o = options(256, false);
    o.simplify = false;
    return o;
  }()));
  EXPECT_EQ(plain.graph().value_info_size(), 0);
  EXPECT_THROW(exporter::build_onnx(net, {"a", "b"}, options(256, false, 11)), UsageError);
  EXPECT_THROW(exporter::build_onnx(net, {"a", "b"}, options(250, false)), UsageError);
  EXPECT_THROW(exporter::build_onnx(net, {"a"}, options(256, false)), UsageError);
}

TEST(OnnxExport, MetadataAsUltralyticsWritesItPlusTheRecipe) {
  torch::manual_seed(0);
  model::YoloV8 net("yolov8n", 2, 3);
  const std::map<std::string, std::string> recipe = {
      {"view", "axial"}, {"crop", "vertebra"}, {"hu_windows", R"({"bone":{"min":400,"max":1800}})"}};
  const std::string bytes = exporter::build_onnx(net, {"fracture", "it's"}, options(256, false, 12, 2), recipe);
  const auto md = metadata(parse(bytes));
  EXPECT_EQ(md.at("names"), "{0: 'fracture', 1: \"it's\"}");
  EXPECT_EQ(md.at("stride"), "32");
  EXPECT_EQ(md.at("task"), "detect");
  EXPECT_EQ(md.at("batch"), "2");
  EXPECT_EQ(md.at("imgsz"), "[256, 256]");
  EXPECT_EQ(md.at("channels"), "3");
  EXPECT_EQ(md.at("args"), "{'batch': 2, 'dynamic': False, 'half': False, 'opset': 12, 'simplify': True, 'nms': False}");
  EXPECT_EQ(md.at("view"), "axial");
  EXPECT_EQ(md.at("crop"), "vertebra");
  EXPECT_EQ(md.at("hu_windows"), recipe.at("hu_windows"));
  EXPECT_EQ(md.count("date"), 0u) << "no date: the same checkpoint exports to the same bytes";
  EXPECT_EQ(bytes, exporter::build_onnx(net, {"fracture", "it's"}, options(256, false, 12, 2), recipe));

  const auto info = model::inspect_onnx(bytes, "m.onnx");
  EXPECT_EQ(info.spec.names, (std::vector<std::string>{"fracture", "it's"}));
  EXPECT_EQ(info.spec.num_classes, 2);
  EXPECT_EQ(info.spec.input_channels, 3);
  EXPECT_EQ(info.input_dims, (std::array<int64_t, 4>{2, 3, 256, 256}));
  EXPECT_FALSE(info.dynamic());
  EXPECT_EQ(info.spec.metadata.at("view"), "axial");
}

TEST(OnnxExport, PythonLiteralsOfNames) {
  using model::parse_python_names;
  EXPECT_EQ(parse_python_names("{0: 'person', 1: \"it's\", 2: 'a\\\\b', 3: '\\xe9'}", "m"),
            (std::vector<std::string>{"person", "it's", "a\\b", "\xc3\xa9"}));
  EXPECT_EQ(parse_python_names("['a', 'b',]", "m"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_python_names("{1: 'b', 0: 'a'}", "m"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_python_names(model::python_names({"x'y\"z", "tab\there"}), "m"),
            (std::vector<std::string>{"x'y\"z", "tab\there"}));
  for (const char* bad : {"{0: 'a', 2: 'c'}", "{0: a}", "{0: 'a'", "'a'", "{0: 'a'} extra", "{0: 'a', 0: 'b'}"}) {
    try {
      parse_python_names(bad, "bad.onnx");
      ADD_FAILURE() << bad << " parsed";
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.onnx"), std::string::npos) << e.what();
    }
  }
}

// Fixture inputs (1x3x256x256) through the exported model in OpenCV DNN, against LibTorch (same weights, fused) and
// Ultralytics' eval output.
TEST(OnnxExport, OpenCvMatchesLibTorchAndUltralyticsOnParityInputs) {
  if (shared_dir().empty() || !fs::exists(shared_dir() / "parity" / "tolerance.json"))
    GTEST_SKIP() << "../shared/parity is absent: parity fixtures not available";
  const auto tol = nlohmann::json::parse(read_file(shared_dir() / "parity" / "tolerance.json"));
  struct Case {
    const char *weights, *io, *tol_key;
  };
  for (const auto& c : {Case{"init_weights.safetensors", "init_rand_io.safetensors", "init_rand"},
                        Case{"trained_weights.safetensors", "trained_rand_io.safetensors", ""},
                        Case{"trained_weights.safetensors", "trained_valimg0000_io.safetensors", "trained_valimg0000"}}) {
    auto io = st::read((shared_dir() / "parity" / c.io).string());
    const auto x = model::from_st(io.tensors.at("input"));
    const auto ref = model::from_st(io.tensors.at("output"));
    for (int opset : {12, 17}) {
      SCOPED_TRACE(std::string(c.io) + " opset " + std::to_string(opset));
      auto net = parity_net(c.weights);
      const std::string bytes = exporter::build_onnx(net, {"fracture"}, options(256, false, opset));
      exporter::check_onnx(bytes, "parity.onnx");
      auto ocv = infer::make_opencv_backend_from_bytes(bytes, "parity.onnx");
      torch::NoGradGuard ng;
      const auto ours = ocv->forward(x);
      const auto lt = net->predict(x);
      ASSERT_EQ(ours.sizes(), ref.sizes());
      const double e_lt = rel_err(ours, lt);
      EXPECT_LE(e_lt, 1e-4) << "OpenCV DNN vs LibTorch";
      // Against Ultralytics (unfused, one thread): the tolerance the fixture gives for fusing and threads, plus the
      // OpenCV-LibTorch difference just measured (a different summation order of the same float32 convolutions).
      using torch::indexing::Slice;
      const double e_box = max_abs(ours.index({Slice(), Slice(0, 4)}), ref.index({Slice(), Slice(0, 4)}));
      const double e_score = max_abs(ours.index({Slice(), Slice(4)}), ref.index({Slice(), Slice(4)}));
      double allowed = 1e-3;  // README: about 1e-3 px where the fixture lists no figure
      if (*c.tol_key) {
        const auto& t = tol.at(c.tol_key);
        allowed = std::max(t.at("fused_maxabs").get<double>(), t.at("unfused_2thr_maxabs").get<double>()) +
                  max_abs(ours, lt);
      }
      EXPECT_LE(e_box, allowed) << "boxes vs Ultralytics";
      EXPECT_LE(e_score, 1e-5) << "scores vs Ultralytics";
      std::printf("[ measured ] %s opset %d: OpenCV vs LibTorch %.2e (rel), vs Ultralytics boxes %.2e px (allowed "
                  "%.2e), scores %.2e\n",
                  c.io, opset, e_lt, e_box, allowed, e_score);
    }
  }
}

TEST(OnnxExport, DynamicModelAtTwoBatchSizesAndTwoImageSizes) {
  const bool have = !shared_dir().empty() && fs::exists(shared_dir() / "parity" / "trained_weights.safetensors");
  torch::manual_seed(0);
  auto net = have ? parity_net("trained_weights.safetensors") : model::YoloV8("yolov8n", 1, 3);
  torch::NoGradGuard ng;
  for (int opset : {12, 17}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    const std::string bytes = exporter::build_onnx(net, {"fracture"}, options(256, true, opset));
    exporter::check_onnx(bytes, "dyn.onnx");
    auto ocv = infer::make_opencv_backend_from_bytes(bytes, "dyn.onnx");
    EXPECT_EQ(ocv->fixed_batch(), 0);
    EXPECT_EQ(ocv->fixed_height(), 0);
    for (int64_t b : {1, 3}) {
      for (auto hw : {std::array<int64_t, 2>{256, 256}, std::array<int64_t, 2>{320, 192}}) {
        SCOPED_TRACE("batch " + std::to_string(b) + " " + std::to_string(hw[0]) + "x" + std::to_string(hw[1]));
        auto x = torch::rand({b, 3, hw[0], hw[1]});
        const auto ours = ocv->forward(x);
        const auto lt = net->predict(x);
        ASSERT_EQ(ours.sizes(), lt.sizes());
        EXPECT_LE(rel_err(ours, lt), 1e-4);
      }
    }
    // Two copies of the fixture input: each row is Ultralytics' output.
    if (have) {
      auto io = st::read((shared_dir() / "parity" / "trained_valimg0000_io.safetensors").string());
      const auto x = model::from_st(io.tensors.at("input"));
      EXPECT_LE(rel_err(ocv->forward(torch::cat({x, x})).slice(0, 1), model::from_st(io.tensors.at("output"))), 1e-3);
    }
  }
  // A fixed batch of 2 through the predictor: 3 images run as 2 + (1 + a zero pad).
  const std::string b2 = exporter::build_onnx(net, {"fracture"}, options(256, false, 12, 2));
  auto fixed = infer::make_opencv_backend_from_bytes(b2, "b2.onnx");
  EXPECT_EQ(fixed->fixed_batch(), 2);
  infer::Predictor pred(fixed, 256, ops::NmsOptions{});
  auto x = torch::rand({3, 3, 256, 256});
  EXPECT_LE(rel_err(pred.forward(x), net->predict(x)), 1e-4);
}

TEST(OnnxExport, PredictorWithTheExportEqualsTheCheckpointOnTheValidationImage) {
  if (shared_dir().empty()) GTEST_SKIP() << "../shared is absent: parity fixtures not available";
  auto net = parity_net("trained_weights.safetensors");
  const std::string bytes = exporter::build_onnx(net, {"fracture"}, options(256, false));
  ops::NmsOptions o;
  o.conf = 0.001;
  infer::Predictor lt(net, 256, o, torch::kCPU);
  infer::Predictor ocv(infer::make_opencv_backend_from_bytes(bytes, "v.onnx"), 256, o);
  const auto img = cv::imread((shared_dir() / "parity/valimg0000.png").string(), cv::IMREAD_COLOR);
  const auto a = lt.predict({img})[0], b = ocv.predict({img})[0];
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 10u);  // the fixture has 56 boxes above 0.001
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i].x1, b[i].x1, 1e-3);
    EXPECT_NEAR(a[i].y1, b[i].y1, 1e-3);
    EXPECT_NEAR(a[i].x2, b[i].x2, 1e-3);
    EXPECT_NEAR(a[i].y2, b[i].y2, 1e-3);
    EXPECT_NEAR(a[i].conf, b[i].conf, 1e-5);
  }
  // A fixed-size model and another imgsz: the error names the file and the sizes.
  try {
    infer::Predictor wrong(infer::make_opencv_backend_from_bytes(bytes, "v.onnx"), 320, o);
    FAIL() << "imgsz 320 accepted by a 256 model";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("v.onnx was exported for 256x256"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dynamic=true"), std::string::npos) << e.what();
  }
}

TEST(OnnxModel, BadModelsGiveClearErrors) {
  auto expect_error = [](const std::string& bytes, const std::string& needle) {
    try {
      infer::make_opencv_backend_from_bytes(bytes, "bad.onnx");
      ADD_FAILURE() << "accepted; expected '" << needle << "'";
    } catch (const RuntimeError& e) {
      const std::string w = e.what();
      EXPECT_NE(w.find("bad.onnx"), std::string::npos) << w;
      EXPECT_NE(w.find(needle), std::string::npos) << w;
    }
  };
  expect_error("definitely not protobuf \x01\x02", "not an ONNX model");
  expect_error("", "not an ONNX model");
  expect_error(relu_model(false), "not a YOLOv8 detection model");
  expect_error(relu_model(true), "expected one float output of shape B x (4 + classes) x anchors");

  torch::manual_seed(0);
  model::YoloV8 net("yolov8n", 2, 3);
  const std::string good = exporter::build_onnx(net, {"a", "b"}, options(64, false));
  auto edit = [&](const std::string& key, const std::string& value) {
    auto m = parse(good);
    for (auto& p : *m.mutable_metadata_props())
      if (p.key() == key) p.set_value(value);
    std::string s;
    m.SerializeToString(&s);
    return s;
  };
  expect_error(edit("names", "{0: 'a', 1: 'b', 2: 'c'}"), "lists 3 class(es)");
  expect_error(edit("task", "segment"), "task='segment'");
  expect_error(edit("stride", "64"), "stride");
  expect_error(edit("names", "{0: 'a', 2: 'b'}"), "names");

  // Through the backend: a fixed 64x64 model fed another size names both.
  auto b = infer::make_opencv_backend_from_bytes(good, "good.onnx");
  try {
    b->forward(torch::rand({1, 3, 96, 64}));
    FAIL() << "a 96x64 input ran through a 64x64 model";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("1x3x64x64"), std::string::npos) << e.what();
  }
  // A checkpoint loader handed an ONNX file says what it needs.
  TempDir tmp;
  write_file_atomic(tmp.path / "m.onnx", good);
  try {
    model::load_model((tmp.path / "m.onnx").string());
    FAIL() << "load_model read an ONNX file";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find(".safetensors"), std::string::npos) << e.what();
  }
  model::ModelSpec spec;
  auto loaded = infer::load_backend((tmp.path / "m.onnx").string(), torch::kCPU, &spec);
  EXPECT_EQ(loaded->name(), "OpenCV DNN");
  EXPECT_EQ(spec.num_classes, 2);
}

TEST(OnnxExport, ExportOnnxWritesBesideTheCheckpointOnlyWhenItRuns) {
  TempDir tmp;
  torch::manual_seed(0);
  model::YoloV8 net("yolov8n", 1, 3);
  st::File f;
  model::add_module_tensors(f, *net);
  f.metadata["variant"] = "yolov8n";
  f.metadata["num_classes"] = "1";
  f.metadata["names"] = "[\"fracture\"]";
  f.metadata["img_size"] = "96";
  f.metadata["view"] = "sagittal";
  f.metadata["config"] = "a: 1\n";
  const auto w = tmp.path / "best.safetensors";
  st::write_atomic(w.string(), f);
  exporter::OnnxOptions o;
  o.imgsz = 0;  // the checkpoint's
  auto r = exporter::export_onnx(w.string(), "", o);
  EXPECT_EQ(r.path, (tmp.path / "best.onnx").string());
  EXPECT_EQ(r.input_shape, "(1, 3, 96, 96)");
  EXPECT_EQ(r.output_shape, "(1, 5, 189)");  // 12² + 6² + 3²
  EXPECT_LE(r.opencv_error, 1e-4);
  const auto md = metadata(parse(read_file(r.path)));
  EXPECT_EQ(md.at("view"), "sagittal");
  EXPECT_EQ(md.at("img_size"), "96");
  EXPECT_EQ(md.at("exported_from"), "best.safetensors");
  EXPECT_EQ(md.at("names"), "{0: 'fracture'}");
  EXPECT_EQ(md.count("config"), 0u);
  // The same export again is the same file; another one needs overwrite=true.
  EXPECT_NO_THROW(exporter::export_onnx(w.string(), "", o));
  o.opset = 17;
  EXPECT_THROW(exporter::export_onnx(w.string(), "", o), UsageError);
  EXPECT_NO_THROW(exporter::export_onnx(w.string(), "", o, /*overwrite=*/true));
  EXPECT_EQ(metadata(parse(read_file(r.path))).at("args").find("'opset': 17") != std::string::npos, true);
  // A checkpoint whose names disagree with its head.
  f.metadata["names"] = "[\"a\", \"b\"]";
  st::write_atomic((tmp.path / "odd.safetensors").string(), f);
  try {
    exporter::export_onnx((tmp.path / "odd.safetensors").string(), "", o);
    FAIL() << "exported a 1-class head with 2 names";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("odd.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp.path / "odd.onnx"));
}
