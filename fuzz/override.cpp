// The command-line override parser (src/config/override.cpp): one override per input line, each also as a bare value
// (oc.decode), then the whole set expanded as a multirun. A sweep's jobs are overrides rebuilt from the values as
// typed: each must parse again to the same single value.
#include "config/override.h"
#include "fuzz_util.h"

using namespace vyolo;
using vyolo::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto lines = fuzz::split(fuzz::as_text(data, size), "\n");
  std::vector<std::string> good;
  size_t jobs = 1;
  for (const auto& line : lines) {
    fuzz::expect_errors_naming("", [&] { parse_override_value(line); });
    fuzz::expect_errors_naming("", [&] {
      const Override o = parse_override(line);
      check(o.input == line, "input not kept");
      check(o.has_value == !o.values.empty() && o.values.size() == o.value_texts.size(), "values/texts differ");
      check(o.has_value || o.op == Override::Op::Delete, "no value without ~");
      check(o.is_sweep || o.values.size() <= 1, "several values but not a sweep");
      check(!o.key.empty(), "empty key");
      if (o.is_sweep) {
        for (size_t i = 0; i < o.values.size(); ++i) {
          const std::string job = o.prefix() + o.key_with_package() + "=" + o.value_texts[i];
          Override again;
          try {
            again = parse_override(job);
          } catch (const UsageError& e) {
            fuzz::bug("sweep job '" + job + "' from '" + line + "' does not parse: " + e.what());
          }
          check(!again.is_sweep && again.values.size() == 1, "sweep job '" + job + "' is not one value");
          check(again.values[0] == o.values[i], "sweep job '" + job + "' changes its value");
        }
      }
      jobs *= std::max<size_t>(1, o.values.size());
      good.push_back(line);
    });
  }
  if (jobs <= 10000)
    fuzz::expect_errors_naming("", [&] {
      const auto expanded = expand_sweeps(good);
      check(expanded.size() == jobs, "expand_sweeps made another number of jobs");
    });
  return 0;
}
