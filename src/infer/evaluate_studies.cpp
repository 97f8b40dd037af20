#include "infer/evaluate_studies.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs_util.h"
#include "common/json_text.h"
#include "findings/ground_truth.h"
#include "findings/report.h"

namespace vyolo::infer {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<StudyFiles> find_studies(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw RuntimeError(root.string() + ": not a folder of studies");
  return find_study_folders(root);
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
    std::vector<StudyFiles> kept;
    for (const auto& id : opt.only) {
      auto it = std::find_if(studies.begin(), studies.end(), [&](const StudyFiles& s) { return s.id == id; });
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
  write_file_atomic(out / "studies.json", json_text(json{{"source", source.string()},
                                                         {"studies", sum.studies},
                                                         {"evaluated", evaluated},
                                                         {"skipped", skipped}},
                                                        2) + "\n");
  if (sum.evaluated == 0)
    throw RuntimeError(source.string() + ": none of " + std::to_string(sum.studies) +
                       " studies could be evaluated (reasons in " + (out / "studies.json").string() + ")");
  sum.result = ev.result();
  findings::write_evaluation(out, sum.result, opt.eval);
  return sum;
}

}  // namespace vyolo::infer
