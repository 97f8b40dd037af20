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
#include "infer/report_pages.h"

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
  VolumePredictOptions popt = opt.predict;
  popt.findings.assign.scheme = scheme;
  popt.calibration = {};  // applied below, once the calibration is known
  struct Record {
    StudyFiles files;
    findings::StudyFindings f;
    findings::StudyTruth truth;
    std::vector<int> lesion_of;
    double seconds = 0;
    std::map<std::string, cv::Mat> slices;  // for the report
  };
  std::vector<Record> records;
  for (const auto& st : studies) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      if (st.ct.empty()) throw RuntimeError(st.dir.string() + ": no CT (ct.nii.gz, ct.nii, ct/ or dicom/)");
      if (opt.grades.empty() && st.fracture.empty())
        throw RuntimeError(st.dir.string() + ": no fracture mask (fracture.nii.gz) and no grades= file");
      VolumeStudy study = load_study(st.ct, st.vertebrae, st.id);
      Record rec{st, {}, {}, {}, 0, {}};
      std::optional<Volume> frac;
      if (opt.grades.empty()) {
        frac = read_mask_on(st.fracture, study.canonical);
      } else {
        std::string id = st.id;
        if (!grades.count(id)) std::replace(id.begin(), id.end(), '_', '-');
        rec.truth = findings::truth_from_grades(grades, grades.count(id) ? id : st.id, opt.min_grade);
        rec.truth.case_id = st.id;
      }
      rec.f = predict_study(models, study, popt);
      if (frac) {
        rec.truth = findings::truth_from_masks(st.id, *frac, study.mask ? &*study.mask : nullptr, scheme,
                                               models.front().recipe.view);
        rec.lesion_of = findings::match_lesions(rec.f.candidates, *frac);
      }
      rec.slices = vertebra_slice_images(study, rec.f, models);
      rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (log)
        *log << "evaluate: " << st.id << ": " << rec.f.candidates.size() << " candidate(s), patient score "
             << rec.f.patient_score << " (truth " << (rec.truth.patient_fractured ? "fractured" : "no fracture")
             << ")\n";
      records.push_back(std::move(rec));
      ++sum.evaluated;
    } catch (const std::exception& e) {
      sum.skipped.push_back({st.id, e.what()});
      if (log) *log << "evaluate: skipped " << st.id << ": " << e.what() << "\n";
    }
  }

  // The operating point and calibration on these studies' vertebra scores (patient scores without vertebrae).
  findings::EvalOptions eopt = opt.eval;
  findings::Calibration cal = opt.predict.calibration;
  std::string threshold_source = opt.predict.threshold_source;
  if ((opt.choose || opt.fit_calibration != "none") && !records.empty()) {
    findings::FindingsEvaluator raw(opt.eval);
    for (const auto& r : records) raw.add(r.f, r.truth, r.lesion_of);
    const auto res = raw.result();
    const auto& units = res.vertebra_units.empty() ? res.patient_units : res.vertebra_units;
    std::vector<double> scores;
    std::vector<int> labels;
    for (const auto& u : units) scores.push_back(u.score), labels.push_back(u.label);
    std::vector<std::string> ids;
    for (const auto& r : records) ids.push_back(r.files.id);
    if (opt.choose) {
      sum.point = findings::choose_operating_point(scores, labels, *opt.choose);
      sum.point->studies = ids;
      sum.point->calibration = opt.fit_calibration;
      if (opt.report_at_chosen && sum.point->defined) {
        eopt.threshold = sum.point->threshold;
        threshold_source = "the operating point chosen on these " + std::to_string(ids.size()) + " studies (" +
                           sum.point->rule + ")";
      }
    }
    if (opt.fit_calibration != "none") {
      try {
        sum.calibration = findings::fit_calibration(opt.fit_calibration, scores, labels);
        if (opt.report_at_chosen) cal = sum.calibration;
      } catch (const RuntimeError& e) {  // e.g. no fractured vertebra among these studies: left uncalibrated
        if (log) *log << "evaluate: no calibration: " << e.what() << "\n";
        if (sum.point) sum.point->calibration = "none";
      }
    }
  }
  eopt.calibration = cal.method;

  findings::FindingsEvaluator ev(eopt);
  json evaluated = json::array();
  for (auto& r : records) {
    findings::calibrate_findings(r.f, cal);
    ev.add(r.f, r.truth, r.lesion_of);
    if (opt.save_case_findings) {
      findings::ReportInfo info;
      info.source = r.files.ct.string();
      info.mask = r.files.vertebrae.string();
      info.label_scheme = opt.label_scheme;
      info.threshold = eopt.threshold;
      info.threshold_source = threshold_source;
      info.calibration = findings::calibration_json(cal);
      for (auto& m : models) {
        info.weights.push_back(m.path);
        info.views.push_back(findings::view_name(m.recipe.view));
      }
      findings::write_findings(out / "cases" / r.files.id, r.f, info);
    }
    evaluated.push_back({{"study", r.files.id}, {"candidates", r.f.candidates.size()},
                         {"patient_score", r.f.patient_score}, {"patient_probability", r.f.patient_probability},
                         {"patient_fractured", r.truth.patient_fractured}, {"seconds", r.seconds}});
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
  findings::write_evaluation(out, sum.result, eopt);

  findings::HtmlReport page;
  page.title = "vyolo evaluate: " + std::to_string(sum.evaluated) + " of " + std::to_string(sum.studies) + " studies";
  std::string weights;
  for (const auto& m : models) weights += (weights.empty() ? "" : ", ") + m.path;
  page.facts = {{"studies", source.string()},
                {"weights", weights},
                {"threshold", findings::format_threshold(eopt.threshold) + " on the vertebra score, from " +
                                  threshold_source},
                {"probabilities", cal.identity() ? "the detector's scores (uncalibrated)"
                                                 : "calibrated (" + cal.method + ")"}};
  if (sum.point && sum.point->defined)
    page.facts.push_back({"operating point chosen here",
                          sum.point->rule + ": threshold " + findings::format_threshold(sum.point->threshold) +
                              ", sensitivity " + std::to_string(sum.point->validation.recall) + ", specificity " +
                              std::to_string(sum.point->validation.specificity)});
  add_evaluation(page, sum.result, eopt, out);
  if (!sum.skipped.empty()) {
    findings::HtmlTable t;
    t.title = "Skipped studies";
    t.header = {"study", "reason"};
    for (const auto& [id, why] : sum.skipped) t.rows.push_back({id, why});
    page.tables.push_back(t);
  }
  for (const auto& r : records) {
    StudyPage sp;
    sp.id = r.files.id;
    sp.source = r.files.ct.string();
    sp.f = r.f;
    sp.truth = r.truth;
    sp.slices = r.slices;
    page.studies.push_back(html_study(sp, eopt.threshold));
  }
  findings::write_html(out / "report.html", page);
  return sum;
}

}  // namespace vyolo::infer
