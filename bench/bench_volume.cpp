// Seconds per CT volume of `vyolo predict` on a volume: a 512 x 512 x 300 phantom-like study (the built-in phantom
// at 512 x 512 with 12 vertebrae, 202 slices, its lower 98 slices repeated on top), axial whole slices at 256 px,
// batch 16, conf 0.25, no mask. Untrained weights (seeded): speed only; the untrained head gives no boxes at conf 0.25,
// so linking and writing cost what a fracture-free study costs. Arg 0 = yolov8n, 1 = yolov8s.
// Env: VYOLO_BENCH_DEVICE (default cpu), VYOLO_BENCH_THREADS (0 = all cores).
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "common/fs_util.h"
#include "data/phantom.h"
#include "ops/device.h"
#include "infer/predict_volume.h"
#include "model/weights.h"

namespace fs = std::filesystem;

using namespace vyolo;
using namespace vyolo::infer;

namespace {

const VolumeStudy& study() {
  static const VolumeStudy s = [] {
    PhantomOptions o;
    o.nx = o.ny = 512;
    o.vertebrae = 12;
    PhantomCase c = make_phantom_case(1, 42, o);
    Volume v = c.ct;
    const int nz = 300, nz0 = v.dims[2];
    const size_t plane = size_t(v.dims[0]) * v.dims[1];
    v.voxels.resize(plane * nz);
    for (int k = nz0; k < nz; ++k)
      std::copy(v.voxels.begin() + long(plane * (k - nz0)), v.voxels.begin() + long(plane * (k - nz0 + 1)),
                v.voxels.begin() + long(plane * k));
    v.dims[2] = nz;
    VolumeStudy st;
    st.source = "phantom-512x512x300";
    st.case_id = "bench";
    st.input = v;
    st.canonical = to_canonical(v);
    return st;
  }();
  return s;
}

VolumeModel make_model(const std::string& variant) {
  const fs::path p = fs::temp_directory_path() / ("vyolo_bench_volume_" + variant + ".safetensors");
  torch::manual_seed(0);
  model::YoloV8 net(variant, 1, 3);
  st::File f;
  model::add_module_tensors(f, *net);
  f.metadata = {{"variant", variant}, {"num_classes", "1"}, {"names", "[\"fracture\"]"}, {"input_channels", "3"},
                {"img_size", "256"}, {"view", "axial"}, {"crop", "none"},
                {"hu_windows", R"({"bone":{"min":400,"max":1800},"soft_tissue":{"min":-100,"max":300},)"
                               R"("wide":{"min":-200,"max":500}})"}};
  st::write_atomic(p.string(), f);
  const char* dev = std::getenv("VYOLO_BENCH_DEVICE");
  return load_volume_model(p.string(), Config{}, {}, ops::NmsOptions{}, ops::parse_device(dev ? dev : "cpu"));
}

void BM_PredictVolume(benchmark::State& state) {
  const char* th = std::getenv("VYOLO_BENCH_THREADS");
  ops::init_threads(th ? std::atoi(th) : 0);
  const std::string variant = state.range(0) == 0 ? "yolov8n" : "yolov8s";
  std::vector<VolumeModel> models{make_model(variant)};
  const VolumeStudy& s = study();
  VolumePredictOptions opt;
  size_t cands = 0;
  for (auto _ : state) {
    auto f = predict_study(models, s, opt);
    cands = f.candidates.size();
    benchmark::DoNotOptimize(cands);
  }
  state.SetLabel(variant + ", 512x512x300, axial 256 px");
  state.counters["slices_per_s"] = benchmark::Counter(300.0 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["candidates"] = double(cands);
}

}  // namespace

BENCHMARK(BM_PredictVolume)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK_MAIN();
