// A self-contained HTML report (one file, images inlined as base64 PNG, no external resources, no script needed):
// what `vyolo evaluate`, `vyolo predict` on volumes and `vyolo cv` write as report.html.
// The page carries a Content-Security-Policy that allows only inline styles and data: images, so it opens offline,
// cannot run script even if a string slipped through, and a browser reports anything else it would have loaded.
// Output is deterministic: the same report gives the same bytes (no date unless a fact holds one).
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

namespace vyolo::findings {

struct HtmlImage {
  std::string caption;
  cv::Mat image;  // 8-bit grey or BGR (BGRA too); inlined as a PNG data URI. Other depths are min-max scaled to
                  // 8 bit; an empty Mat is skipped.
};

struct HtmlTable {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // cells are text (escaped when rendered)
  std::string note;                            // a line under the table, may be empty
};

struct HtmlVertebra {
  std::string name;          // "L1"
  int label = 0;             // mask label value
  double probability = 0;    // shown with 3 decimals
  bool called = false;       // fractured at the operating point
  int truth = -1;            // 1 fractured, 0 intact, -1 unknown (column shown only when some study has truth)
};

struct HtmlStudy {
  std::string id, source;
  double patient_probability = 0;
  bool patient_called = false;
  int patient_truth = -1;
  std::vector<HtmlVertebra> vertebrae;
  std::vector<HtmlImage> slices;  // slices with boxes for each positive vertebra
  std::vector<std::string> notes;
};

struct HtmlReport {
  std::string title;                                         // e.g. "vyolo evaluate — 4 studies"
  std::vector<std::pair<std::string, std::string>> facts;    // key/value lines: weights, threshold and where it came from, calibration, date
  std::vector<HtmlTable> tables;                             // metric tables
  std::vector<HtmlImage> plots;                              // ROC / PR / FROC / sweep / reliability plots
  std::vector<HtmlStudy> studies;
};

std::string render_html(const HtmlReport& r);
// Writes render_html(r) atomically.
void write_html(const std::filesystem::path& path, const HtmlReport& r);

// Text as HTML text or attribute value: & < > " ' escaped; valid UTF-8 passes through; invalid UTF-8 (each maximal
// invalid subsequence), control characters other than tab/newline/CR, and Unicode noncharacters become U+FFFD.
std::string html_escape(std::string_view text);

}  // namespace vyolo::findings
