// Slices per second of `prepare` (default options: per-vertebra crops, 256 px, 16-bit HU PNG, 2 workers) on the
// built-in phantom. Arg = PNG zlib level (1 = the default, 0 = stored). Output goes to $VYOLO_BENCH_DIR or the
// system temp folder.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "common/fs_util.h"
#include "data/phantom.h"
#include "data/prepare.h"

namespace fs = std::filesystem;

using namespace vyolo;

namespace {

fs::path bench_dir() {
  const char* env = std::getenv("VYOLO_BENCH_DIR");
  return (env ? fs::path(env) : fs::temp_directory_path()) / "vyolo_bench_prepare";
}

const fs::path& phantoms() {
  static const fs::path p = [] {
    fs::path d = bench_dir() / "src";
    fs::remove_all(d);
    write_phantoms(d, 8, 42);
    return d;
  }();
  return p;
}

void BM_PreparePhantom(benchmark::State& state) {
  PrepareOptions o;
  o.source = phantoms();
  o.out = bench_dir() / "out";
  o.png_compression = static_cast<int>(state.range(0));
  long slices = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(o.out);
    state.ResumeTiming();
    PrepareStats s = prepare_dataset(o, nullptr);
    if (!s.failures.empty()) state.SkipWithError(s.failures.front().second.c_str());
    slices += s.slices;
  }
  state.counters["slices_per_s"] = benchmark::Counter(static_cast<double>(slices), benchmark::Counter::kIsRate);
  fs::remove_all(o.out);
}

}  // namespace

BENCHMARK(BM_PreparePhantom)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

BENCHMARK_MAIN();
