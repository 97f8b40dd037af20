#include "findings/evaluation.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/error.h"

namespace vyolo::findings {

void FindingsEvaluator::add(const StudyFindings& pred, const StudyTruth& truth,
                            const std::vector<int>& lesion_of_candidate) {
  const int volume_id = studies_++;

  if (!truth.slice_labels.empty()) {
    const int ax = truth.view == View::Axial ? 2 : truth.view == View::Coronal ? 1 : 0;
    const int n = int(truth.slice_labels.size());
    std::vector<double> s(size_t(n), 0.0);
    for (const auto& c : pred.candidates) {
      int a = std::max(0, int(std::floor(c.lo[ax] + 1e-6)));
      int b = std::min(n - 1, int(std::ceil(c.hi[ax] - 1e-6)) - 1);
      for (int i = a; i <= b; ++i) s[size_t(i)] = std::max(s[size_t(i)], c.score);
    }
    slice_s_.insert(slice_s_.end(), s.begin(), s.end());
    slice_l_.insert(slice_l_.end(), truth.slice_labels.begin(), truth.slice_labels.end());
  }

  if (!truth.vertebrae.empty() && pred.has_mask) {
    std::map<std::string, const VertebraResult*> p;
    for (const auto& v : pred.vertebrae) p[v.name] = &v;
    for (const auto& v : truth.vertebrae) {
      auto it = p.find(v.name);
      if (it == p.end())
        warnings_.push_back(truth.case_id + ": graded vertebra " + v.name +
                            " is not in the prediction's vertebra mask; scored 0");
      if (it == p.end())
        vert_.push_back({truth.case_id, v.name, 0.0, v.fractured ? 1 : 0, 0.0});
      else
        vert_.push_back({truth.case_id, v.name, it->second->score, v.fractured ? 1 : 0, it->second->probability});
    }
  } else if (!truth.vertebrae.empty()) {
    warnings_.push_back(truth.case_id + ": no vertebra mask for the prediction; vertebra level skipped");
  }

  patient_.push_back(
      {truth.case_id, "", pred.patient_score, truth.patient_fractured ? 1 : 0, pred.patient_probability});

  if (!truth.slice_labels.empty()) {  // mask truth: lesions are known (possibly none)
    if (!lesion_of_candidate.empty() && lesion_of_candidate.size() != pred.candidates.size())
      throw UsageError("evaluation: lesion_of_candidate has " + std::to_string(lesion_of_candidate.size()) +
                       " entries for " + std::to_string(pred.candidates.size()) + " candidates");
    if (lesion_of_candidate.empty() && !truth.lesions.empty() && !pred.candidates.empty())
      warnings_.push_back(truth.case_id + ": candidates not matched to lesions; FROC counts them as false positives");
    for (size_t i = 0; i < pred.candidates.size(); ++i)
      froc_.push_back({pred.candidates[i].score, volume_id, lesion_of_candidate.empty() ? -1 : lesion_of_candidate[i]});
    lesions_ += int(truth.lesions.size());
    froc_volumes_++;
  }
}

EvaluationResult FindingsEvaluator::result() const {
  EvaluationResult r;
  r.studies = studies_;
  // The sweep shows the threshold in use beside the fixed ones (an operating point is rarely one of them).
  std::vector<double> sweep = opt_.sweep;
  if (std::find(sweep.begin(), sweep.end(), opt_.threshold) == sweep.end()) sweep.push_back(opt_.threshold);
  std::sort(sweep.begin(), sweep.end());
  auto level = [&](const std::string& name, const std::vector<ScoredUnit>& u) {
    std::vector<double> s;
    std::vector<int> l;
    for (const auto& x : u) s.push_back(x.score), l.push_back(x.label);
    return evaluate_level(name, s, l, opt_.threshold, sweep);
  };
  if (!slice_s_.empty()) {
    r.has_slice = true;
    r.slice = evaluate_level("slice", slice_s_, slice_l_, opt_.threshold, sweep);
  }
  if (!vert_.empty()) {
    r.has_vertebra = true;
    r.vertebra = level("vertebra", vert_);
  }
  r.patient = level("patient", patient_);
  if (froc_volumes_ > 0) {
    r.has_froc = true;
    r.froc = froc(froc_, lesions_, froc_volumes_, opt_.froc_rates);
  }
  r.lesions = lesions_;
  r.froc_volumes = froc_volumes_;
  r.vertebra_units = vert_;
  r.patient_units = patient_;
  r.warnings = warnings_;
  const auto& units = vert_.empty() ? patient_ : vert_;
  std::vector<double> prob, raw;
  std::vector<int> lab;
  for (const auto& u : units) prob.push_back(u.probability), raw.push_back(u.score), lab.push_back(u.label);
  r.calibration.method = opt_.calibration;
  r.calibration.brier = brier_score(prob, lab);
  r.calibration.brier_uncalibrated = brier_score(raw, lab);
  r.calibration.reliability = reliability_table(prob, lab);
  return r;
}

}  // namespace vyolo::findings
