// End to end on the phantom through the command line: synth -> prepare -> train -> evaluate on held-out phantoms (a
// model trained by the project must find the fractured vertebrae), and `vyolo cv` with vertebra-level evaluation of
// every fold, then `vyolo val` on a fold's checkpoint.
//
// Recipe chosen to fit CI (about 2 minutes on the 2-core machine): yolov8n on 64 px per-vertebra crops, 8 training
// phantoms of 5 vertebrae (6 train / 2 val patients), 20 epochs; 4 held-out phantoms (seed 2) for the evaluation.
// Measured (2026-11-26, 2-core EPYC), 1 and 2 threads: vertebra level sensitivity 4/4 = 1.0, specificity 16/16 = 1.0
// at threshold 0.5, AUC 1.0; fractured vertebrae score 0.67-0.97, intact ones at most 0.022. Ten epochs also reached
// AUC 1.0 but left fractured vertebrae near 0.5 (sensitivity 0.5-1.0, specificity 0.81-1.0 depending on the thread
// count's rounding), too close to the decision threshold for a test that must not flake on another CPU.
// Thresholds: with 4 fractured and 16 intact held-out vertebrae, sensitivity >= 0.75 allows one missed fracture and
// specificity >= 0.85 two false-positive vertebrae; an untrained or collapsed model scores 0 sensitivity at 0.5 (its
// scores stay near 0.01), and one calling everything fractured scores 0 specificity, so both bounds demand learning.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <cstdlib>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "common/safetensors.h"
#include "findings/chromium_check.h"
#include "temp_dir.h"
#include "vyolo_cli.h"

namespace fs = std::filesystem;

using namespace vyolo;
using vyolo::test::run_vyolo_cli;
using json = nlohmann::json;

namespace {

// The commands run with one intra-op thread: CTest runs two tests at once on the 2-core machine, and two-thread
// OpenMP regions beside another busy process were measured 10x slower at these small images (0.8 vs 8 it/s), while
// one thread alone is within 15 % of two. Each runs in the test's folder.
using vyolo::test::TempDir;

}  // namespace

TEST(VolumeEndToEnd, TrainedModelFindsPhantomFracturedVertebrae) {
  if (!fs::exists(VYOLO_BINARY)) GTEST_SKIP() << "vyolo binary not built: " << VYOLO_BINARY;
  TempDir tmp("e2e");
  const fs::path& t = tmp.path;
  const std::string T = t.string();
  ASSERT_EQ(run_vyolo_cli("synth out=" + T + "/train cases=8 vertebrae=5 seed=1", t / "synth1.log", nullptr, t), 0);
  ASSERT_EQ(run_vyolo_cli("synth out=" + T + "/test cases=4 vertebrae=5 seed=2", t / "synth2.log", nullptr, t), 0);
  ASSERT_EQ(run_vyolo_cli("prepare source=" + T + "/train out=" + T + "/ds view=axial image_size=64 crop=vertebra",
                          t / "prepare.log", nullptr, t),
            0)
      << read_file(t / "prepare.log");
  ASSERT_EQ(run_vyolo_cli(
                "train data.data_dir=" + T +
                    "/ds data.image_size=64 model.img_size=64 "
                    "'split.train_patients=[sub-phantom001,sub-phantom002,sub-phantom003,sub-phantom004,sub-phantom005,"
                    "sub-phantom006]' 'split.val_patients=[sub-phantom007,sub-phantom008]' training.epochs=20 "
                    "logging.logger=none logging.log_dir=" +
                    T +
                    "/runs logging.experiment_name=e2e data.batch_size=16 "
                    "training.threads=1 data.num_workers=1",
                t / "train.log", nullptr, t),
            0)
      << read_file(t / "train.log");
  const fs::path best = t / "runs" / "e2e" / "fold_0" / "weights" / "best.safetensors";
  ASSERT_TRUE(fs::exists(best));
  // The checkpoint carries prepare's recipe, so evaluate cuts per-vertebra crops without being told.
  const auto md = st::read(best.string()).metadata;
  EXPECT_EQ(md.at("crop"), "vertebra");
  EXPECT_EQ(md.at("mode"), "hu16");
  EXPECT_EQ(md.at("img_size"), "64");
  // Training knew the CT studies (prepare's stats.json): the operating point was chosen on the fold's two validation
  // studies only and stored in both checkpoints.
  ASSERT_TRUE(md.count("operating_point")) << read_file(t / "train.log");
  const json op = json::parse(md.at("operating_point"));
  EXPECT_EQ(op["rule"], "f1");
  EXPECT_EQ(op["validation"]["studies"], json::array({"sub-phantom007", "sub-phantom008"}));
  EXPECT_EQ(op["validation"]["n"].get<int>(), 10);
  const double thr = op["threshold"].get<double>();
  EXPECT_EQ(st::read((best.parent_path() / "last.safetensors").string()).metadata.at("operating_point"),
            md.at("operating_point"));

  ASSERT_EQ(run_vyolo_cli(
                "evaluate weights=" + best.string() + " source=" + T + "/test out=" + T + "/eval training.threads=1",
                t / "eval.log", nullptr, t),
            0)
      << read_file(t / "eval.log");
  const std::string elog = read_file(t / "eval.log");
  EXPECT_EQ(elog.find("warning"), std::string::npos) << elog;
  EXPECT_NE(elog.find("the checkpoint's operating point (f1 on 2 validation studies"), std::string::npos) << elog;
  const json m = json::parse(read_file(t / "eval" / "metrics.json"));
  EXPECT_DOUBLE_EQ(m["threshold"].get<double>(), thr);
  const json& v = m["levels"]["vertebra"];
  EXPECT_EQ(v["n"].get<int>(), 20);
  EXPECT_DOUBLE_EQ(v["threshold"].get<double>(), thr);
  EXPECT_GE(v["sensitivity"].get<double>(), 0.75) << v.dump();
  EXPECT_GE(v["specificity"].get<double>(), 0.85) << v.dump();
  for (const auto& row : v["sweep"])  // the fixed 0.5 beside it, for the record
    if (row["threshold"].get<double>() == 0.5)
      std::cout << "[ figures  ] unseen phantoms, vertebra level: operating point " << thr << ": sensitivity "
                << v["sensitivity"] << ", specificity " << v["specificity"] << "; at 0.5: sensitivity "
                << row["sensitivity"] << ", specificity " << row["specificity"] << "\n";
  // The report opens on its own: every study's vertebra table is in it.
  const std::string html = read_file(t / "eval" / "report.html");
  for (const char* id : {"sub-phantom001", "sub-phantom002", "sub-phantom003", "sub-phantom004"})
    EXPECT_NE(html.find(id), std::string::npos) << id;
  EXPECT_NE(html.find("class=\"vertebrae\""), std::string::npos);
  if (!test::chromium_exe().empty()) {  // as a browser shows it: no console error, every image decodes, 4 tables
    fs::create_directories(t / "chromium");
    const auto pc = test::check_in_chromium(test::chromium_exe(), html, t / "chromium");
    std::string problems;
    for (const auto& p : pc.problems) problems += p + "\n";
    EXPECT_TRUE(pc.problems.empty()) << problems;
    ASSERT_EQ(pc.dom["tables"].size(), 4u) << pc.dom.dump();
    for (const auto& table : pc.dom["tables"]) EXPECT_EQ(table["rows"].size(), 5u) << table.dump();
  } else {
    std::cout << "[ skipped  ] report.html in Chromium: chromium not installed (Debian package chromium)\n";
  }

  // Validation studies only decide the threshold: beside the same two validation studies put other studies (the
  // unseen phantoms); choosing again on `studies=` gives the same threshold. An isotonic calibration fitted there
  // lowers the Brier score on them (the least-squares monotone fit can only lower it; Platt's smoothed targets, made
  // for larger sets, raised it here on 10 vertebrae with 2 fractured: 0.058 vs 0.033, measured 2026-12-02).
  // Without update_weights the checkpoint is left as it was.
  const fs::path mixed = t / "mixed";
  fs::copy(t / "test", mixed, fs::copy_options::recursive);
  for (const char* id : {"sub-phantom007", "sub-phantom008"})
    fs::copy(t / "train" / id, mixed / id, fs::copy_options::recursive);
  const std::string before = read_file(best);
  ASSERT_EQ(run_vyolo_cli("evaluate weights=" + best.string() + " source=" + mixed.string() + " out=" + T +
                              "/val2 'studies=[sub-phantom007,sub-phantom008]' operating_point=f1 calibration=isotonic "
                              "training.threads=1",
                          t / "val2.log", nullptr, t),
            0)
      << read_file(t / "val2.log");
  const json m2 = json::parse(read_file(t / "val2" / "metrics.json"));
  EXPECT_DOUBLE_EQ(m2["threshold"].get<double>(), thr) << read_file(t / "val2.log");
  EXPECT_EQ(m2["levels"]["vertebra"]["n"].get<int>(), 10);
  EXPECT_EQ(m2["calibration"]["method"], "isotonic");
  EXPECT_LT(m2["calibration"]["brier"].get<double>(), m2["calibration"]["brier_uncalibrated"].get<double>())
      << m2["calibration"].dump();
  EXPECT_EQ(read_file(best), before);

  // The per-study findings.json agree: every truly fractured vertebra of the held-out set is called fractured.
  int called = 0;
  for (const auto& e : fs::directory_iterator(t / "eval" / "cases")) {
    const json f = json::parse(read_file(e.path() / "findings.json"));
    for (const auto& vt : f["vertebrae"]) called += vt["fractured"].get<bool>();
  }
  const int fractured = v["positives"].get<int>();
  EXPECT_GE(called, fractured * 3 / 4);
}

// `vyolo cv` on a copied config tree: two folds, each trained briefly, then each fold's best model runs on its own
// validation patients' volumes (found through the dataset's stats.json), and cv_findings.json holds per-fold slice,
// vertebra and patient metrics with mean and sd. One epoch cannot learn; this checks the plumbing and the counts.
TEST(VolumeEndToEnd, CrossValidationEvaluatesEachFoldOnItsVolumes) {
  if (!fs::exists(VYOLO_BINARY)) GTEST_SKIP() << "vyolo binary not built: " << VYOLO_BINARY;
  TempDir tmp("cv");
  const fs::path& t = tmp.path;
  const std::string T = t.string();
  ASSERT_EQ(run_vyolo_cli("synth out=" + T + "/ct cases=4 vertebrae=5 seed=3", t / "synth.log", nullptr, t), 0);
  ASSERT_EQ(run_vyolo_cli("prepare source=" + T + "/ct out=" + T + "/ds image_size=64 max_negatives=2",
                          t / "prepare.log", nullptr, t),
            0)
      << read_file(t / "prepare.log");
  ASSERT_EQ(
      run_vyolo_cli("split data=" + T + "/ds folds=2 seed=1 out=" + T + "/conf/split", t / "split.log", nullptr, t), 0)
      << read_file(t / "split.log");
  const fs::path src = fs::path(VYOLO_SOURCE_DIR) / "conf";
  fs::copy_file(src / "config.yaml", t / "conf" / "config.yaml");
  for (const char* g : {"data", "hyp", "logging", "model"})
    fs::copy(src / g, t / "conf" / g, fs::copy_options::recursive);
  ASSERT_EQ(run_vyolo_cli("cv -cd " + T + "/conf data.data_dir=" + T +
                              "/ds data.image_size=64 model.img_size=64 "
                              "training.epochs=1 logging.logger=none logging.log_dir=" +
                              T +
                              "/runs logging.experiment_name=cv "
                              "data.num_workers=1 training.threads=1",
                          t / "cv.log", nullptr, t),
            0)
      << read_file(t / "cv.log");
  const fs::path dir = t / "runs" / "cv";
  ASSERT_TRUE(fs::exists(dir / "cv_summary.csv"));
  ASSERT_TRUE(fs::exists(dir / "cv_findings.md"));
  const json j = json::parse(read_file(dir / "cv_findings.json"));
  for (const char* level : {"slice", "vertebra", "patient"}) {
    ASSERT_EQ(j[level]["folds"].size(), 2u) << level;
    EXPECT_EQ(j[level]["folds"][0]["fold"], "fold_0");
    EXPECT_TRUE(j[level]["summary"].contains("f1")) << level;
  }
  // Each fold was evaluated on exactly its two validation patients: 2 studies x 5 vertebrae.
  for (const char* fold : {"fold_0", "fold_1"}) {
    const json m = json::parse(read_file(dir / fold / "vertebra_eval" / "metrics.json"));
    EXPECT_EQ(m["levels"]["vertebra"]["n"].get<int>(), 10) << fold;
    EXPECT_EQ(m["levels"]["patient"]["n"].get<int>(), 2) << fold;
    const json s = json::parse(read_file(dir / fold / "vertebra_eval" / "studies.json"));
    EXPECT_EQ(s["evaluated"].size(), 2u) << fold;
  }
  EXPECT_NE(read_file(t / "cv.log").find("vertebra level"), std::string::npos);
  if (!test::chromium_exe().empty()) {  // cv_report.html as a browser shows it
    fs::create_directories(t / "chromium");
    const auto pc = test::check_in_chromium(test::chromium_exe(), read_file(dir / "cv_report.html"), t / "chromium");
    std::string problems;
    for (const auto& p : pc.problems) problems += p + "\n";
    EXPECT_TRUE(pc.problems.empty()) << problems;
  }
  // Each fold's operating point, chosen on its own validation studies, is in the summary and in its checkpoints.
  ASSERT_EQ(j["operating_points"].size(), 2u) << j.dump();
  for (int k = 0; k < 2; ++k) {
    const json& p = j["operating_points"][k];
    const std::string fold = "fold_" + std::to_string(k);
    EXPECT_EQ(p["fold"], fold);
    if (p.contains("operating_point") && p["operating_point"].is_null()) continue;  // a fold without both classes
    EXPECT_EQ(p["validation"]["studies"].size(), 2u);
    const auto md = st::read((dir / fold / "weights" / "best.safetensors").string()).metadata;
    ASSERT_TRUE(md.count("operating_point")) << fold;
    EXPECT_DOUBLE_EQ(json::parse(md.at("operating_point"))["threshold"].get<double>(), p["threshold"].get<double>());
  }

  // `vyolo val` on fold_0's last checkpoint, at the trainer's validation batch (2 x 16; validation losses are means
  // over batches, as in Ultralytics), reproduces the losses of the run's last results.csv row.
  ASSERT_EQ(
      run_vyolo_cli("val -cd " + T + "/conf weights=" + (dir / "fold_0" / "weights" / "last.safetensors").string() +
                        " split=fold_0 data.data_dir=" + T + "/ds data.image_size=64 data.batch_size=32 project=" + T +
                        "/val name=v training.threads=1",
                    t / "val.log", nullptr, t),
      0)
      << read_file(t / "val.log");
  const json vm = json::parse(read_file(t / "val" / "v" / "metrics.json"))["metrics"];
  std::istringstream csv(read_file(dir / "fold_0" / "results.csv"));
  std::string header, line, last;
  std::getline(csv, header);
  while (std::getline(csv, line))
    if (!line.empty()) last = line;
  auto cells = [](const std::string& row) {
    std::vector<std::string> out;
    std::stringstream ss(row);
    for (std::string c; std::getline(ss, c, ',');) {
      c.erase(0, c.find_first_not_of(' '));
      out.push_back(c);
    }
    return out;
  };
  const auto names = cells(header), values = cells(last);
  ASSERT_EQ(names.size(), values.size());
  int compared = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].rfind("val/", 0) != 0 || names[i].find("loss") == std::string::npos) continue;
    const double want = std::stod(values[i]), got = vm.at(names[i]).get<double>();
    EXPECT_NEAR(got, want, 1e-4 * std::max(1.0, std::abs(want))) << names[i];
    ++compared;
  }
  EXPECT_EQ(compared, 3);
}
