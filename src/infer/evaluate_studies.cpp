#include "infer/evaluate_studies.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs_util.h"
#include "config/tree_key.h"
#include "findings/ground_truth.h"
#include "findings/report.h"

namespace vyolo::infer {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path first_existing(const fs::path& dir, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    std::error_code ec;
    if (fs::exists(dir / n, ec)) return dir / n;
  }
  return {};
}

StudyInputs describe(const fs::path& dir) {
  StudyInputs s;
  s.dir = dir;
  s.id = dir.filename().string();
  s.ct = first_existing(dir, {"ct.nii.gz", "ct.nii", "ct", "dicom"});
  s.fracture = first_existing(dir, {"fracture.nii.gz", "fracture.nii"});
  s.vertebrae = first_existing(dir, {"vertebrae.nii.gz", "vertebrae.nii", "vertebrae_mask.nii.gz", "multilabel_mask.nii.gz"});
  return s;
}

}  // namespace

std::vector<StudyInputs> find_studies(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw RuntimeError(root.string() + ": not a folder of studies");
  StudyInputs self = describe(root);
  if (!self.ct.empty()) return {self};
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  std::vector<StudyInputs> out;
  for (auto& d : dirs) out.push_back(describe(d));
  return out;
}

EvaluateSummary evaluate_studies(std::vector<VolumeModel>& models, const fs::path& source, const fs::path& out,
                                 const EvaluateOptions& opt, std::ostream* log) {
  if (models.empty()) throw UsageError("evaluate: no model");
  const auto scheme = findings::parse_label_scheme(opt.label_scheme);
  findings::GradeTable grades;
  if (!opt.grades.empty()) grades = findings::read_grade_file(opt.grades);
  auto studies = find_studies(source);
  EvaluateSummary sum;
  if (!opt.only.empty()) {
    std::vector<StudyInputs> kept;
    for (const auto& id : opt.only) {
      auto it = std::find_if(studies.begin(), studies.end(), [&](const StudyInputs& s) { return s.id == id; });
      if (it != studies.end())
        kept.push_back(*it);
      else {
        sum.skipped.push_back({id, (source / id).string() + ": no such study folder"});
        if (log) *log << "evaluate: skipped " << id << ": " << sum.skipped.back().second << "\n";
      }
    }
    studies = std::move(kept);
  }
  if (studies.empty() && sum.skipped.empty()) throw RuntimeError(source.string() + ": no study folder in it");
  sum.studies = static_cast<int>(studies.size() + sum.skipped.size());
  findings::FindingsEvaluator ev(opt.eval);
  VolumePredictOptions popt = opt.predict;
  popt.findings.assign.scheme = scheme;
  json evaluated = json::array();
  for (const auto& st : studies) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      if (st.ct.empty()) throw RuntimeError(st.dir.string() + ": no CT (ct.nii.gz, ct.nii, ct/ or dicom/)");
      if (opt.grades.empty() && st.fracture.empty())
        throw RuntimeError(st.dir.string() + ": no fracture mask (fracture.nii.gz) and no grades= file");
      VolumeStudy study = load_study(st.ct, st.vertebrae, st.id);
      findings::StudyTruth truth;
      std::vector<int> lesion_of;
      std::optional<Volume> frac;
      if (opt.grades.empty()) {
        frac = read_mask_on(st.fracture, study.canonical);
      } else {
        std::string id = st.id;
        if (!grades.count(id)) std::replace(id.begin(), id.end(), '_', '-');
        truth = findings::truth_from_grades(grades, grades.count(id) ? id : st.id, opt.min_grade);
        truth.case_id = st.id;
      }
      auto f = predict_study(models, study, popt);
      if (frac) {
        truth = findings::truth_from_masks(st.id, *frac, study.mask ? &*study.mask : nullptr, scheme,
                                           models.front().recipe.view);
        lesion_of = findings::match_lesions(f.candidates, *frac);
      }
      ev.add(f, truth, lesion_of);
      if (opt.save_case_findings) {
        findings::ReportInfo info;
        info.source = st.ct.string();
        info.mask = st.vertebrae.string();
        info.label_scheme = opt.label_scheme;
        info.threshold = popt.threshold;
        for (auto& m : models) {
          info.weights.push_back(m.path);
          info.views.push_back(findings::view_name(m.recipe.view));
        }
        findings::write_findings(out / "cases" / st.id, f, info);
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      evaluated.push_back({{"study", st.id}, {"candidates", f.candidates.size()},
                           {"patient_probability", f.patient_probability},
                           {"patient_fractured", truth.patient_fractured}, {"seconds", secs}});
      ++sum.evaluated;
      if (log)
        *log << "evaluate: " << st.id << ": " << f.candidates.size() << " candidate(s), patient probability "
             << f.patient_probability << " (truth " << (truth.patient_fractured ? "fractured" : "no fracture") << ")\n";
    } catch (const std::exception& e) {
      sum.skipped.push_back({st.id, e.what()});
      if (log) *log << "evaluate: skipped " << st.id << ": " << e.what() << "\n";
    }
  }
  json skipped = json::array();
  for (auto& [id, why] : sum.skipped) skipped.push_back({{"study", id}, {"reason", why}});
  fs::create_directories(out);
  write_file_atomic(out / "studies.json", json{{"source", source.string()},
                                               {"studies", sum.studies},
                                               {"evaluated", evaluated},
                                               {"skipped", skipped}}
                                              .dump(2) + "\n");
  if (sum.evaluated == 0)
    throw RuntimeError(source.string() + ": none of " + std::to_string(sum.studies) +
                       " studies could be evaluated (reasons in " + (out / "studies.json").string() + ")");
  sum.result = ev.result();
  findings::write_evaluation(out, sum.result, opt.eval);
  return sum;
}

EvaluateSummary evaluate_command(const Config& cfg, const std::vector<std::string>& overrides,
                                 const std::function<void(const fs::path&)>& on_run_dir) {
  const auto& t = cfg.tree;
  const auto weights = weights_list(t);
  const auto source = tree_key<std::string>(t, "source").value_or("");
  const auto out = tree_key<std::string>(t, "out").value_or("");
  if (source.empty()) throw UsageError("evaluate needs source=DIR (a folder of studies with ground truth)");
  if (out.empty()) throw UsageError("evaluate needs out=DIR (where metrics.json, sweeps and plots go)");
  init_threads(cfg.training.threads);
  const auto device = parse_device(tree_key<std::string>(t, "device").value_or(cfg.training.device));
  const ops::NmsOptions nms = nms_options(t, 0.01);
  EvaluateOptions opt;
  opt.label_scheme = tree_key<std::string>(t, "vertebra_labels").value_or("verse");
  findings::parse_label_scheme(opt.label_scheme);  // a bad name fails before any work
  opt.grades = tree_key<std::string>(t, "grades").value_or("");
  opt.min_grade = tree_key<int>(t, "min_grade").value_or(1);
  // studies=[a,b] (or "a,b"): only these study folders, e.g. one fold's validation patients.
  if (const auto n = t["studies"]; n && !n.IsNull()) {
    if (n.IsSequence()) {
      for (const auto& e : n) opt.only.push_back(e.as<std::string>());
    } else {
      std::stringstream ss(n.as<std::string>());
      for (std::string id; std::getline(ss, id, ',');)
        if (!id.empty()) opt.only.push_back(id);
    }
    if (opt.only.empty()) throw UsageError("studies: empty list");
  }
  opt.eval.threshold = tree_key<double>(t, "threshold").value_or(0.5);
  opt.predict.threshold = opt.eval.threshold;
  opt.predict.batch = tree_key<int>(t, "batch").value_or(16);
  if (!opt.grades.empty() && !fs::exists(opt.grades)) throw UsageError("grades=" + opt.grades + ": file not found");
  const ModelRequest req = request_from_overrides(cfg, overrides);
  std::vector<VolumeModel> models;
  for (const auto& w : weights) {
    models.push_back(load_volume_model(w, cfg, req, nms, device));
    for (const auto& msg : models.back().warnings) std::cerr << "vyolo evaluate: warning: " << msg << "\n";
  }
  fs::create_directories(out);
  if (on_run_dir) on_run_dir(out);
  auto sum = evaluate_studies(models, source, out, opt, &std::cout);
  std::cout << "evaluate: " << sum.evaluated << " of " << sum.studies << " studies evaluated, " << sum.skipped.size()
            << " skipped; results in " << out << "\n";
  return sum;
}

}  // namespace vyolo::infer
