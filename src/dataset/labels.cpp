#include "dataset/labels.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace vyolo::dataset {

namespace {

bool parse_number(const std::string& tok, double& out) {
  errno = 0;
  char* end = nullptr;
  out = std::strtod(tok.c_str(), &end);
  return end != tok.c_str() && *end == '\0' && errno != ERANGE && std::isfinite(out);
}

std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

LabelParse parse_labels(const std::string& text, const std::string& path, int nc) {
  LabelParse out;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  auto bad = [&](const std::string& why) {
    out.warnings.push_back(path + ":" + std::to_string(lineno) + ": " + why + "; line skipped");
    ++out.bad_lines;
  };
  while (std::getline(in, line)) {
    ++lineno;
    std::istringstream ls(line);
    std::vector<std::string> tok;
    for (std::string t; ls >> t;) tok.push_back(t);
    if (tok.empty()) continue;
    const size_t n = tok.size();
    if (n != 5 && (n < 7 || n % 2 == 0)) {
      bad("expected 5 columns (cls cx cy w h), got " + std::to_string(n));
      continue;
    }
    std::vector<double> v(n);
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i)
      if (!parse_number(tok[i], v[i])) {
        bad("column " + std::to_string(i + 1) + " '" + tok[i] + "' is not a finite number");
        ok = false;
      }
    if (!ok) continue;
    if (v[0] != std::floor(v[0])) {
      bad("class id " + tok[0] + " is not an integer");
      continue;
    }
    if (v[0] < 0 || v[0] >= nc) {
      bad("class id " + fmt(v[0]) + " outside 0.." + std::to_string(nc - 1) + " (nc=" + std::to_string(nc) + ")");
      continue;
    }
    bool out_of_range = false;
    for (size_t i = 1; i < n; ++i)
      if (v[i] < -0.01 || v[i] > 1.01) out_of_range = true;
    if (out_of_range) {
      bad("coordinates outside 0..1 (not normalised?)");
      continue;
    }
    double x1, y1, x2, y2;
    if (n == 5) {
      if (v[3] < 0 || v[4] < 0) {
        bad("negative box size");
        continue;
      }
      x1 = v[1] - v[3] / 2, y1 = v[2] - v[4] / 2, x2 = v[1] + v[3] / 2, y2 = v[2] + v[4] / 2;
    } else {  // polygon -> bounding box
      x1 = y1 = 1e9, x2 = y2 = -1e9;
      for (size_t i = 1; i + 1 < n; i += 2) {
        x1 = std::min(x1, v[i]), x2 = std::max(x2, v[i]);
        y1 = std::min(y1, v[i + 1]), y2 = std::max(y2, v[i + 1]);
      }
    }
    x1 = std::clamp(x1, 0.0, 1.0), x2 = std::clamp(x2, 0.0, 1.0);
    y1 = std::clamp(y1, 0.0, 1.0), y2 = std::clamp(y2, 0.0, 1.0);
    if (x2 - x1 <= 0 || y2 - y1 <= 0) {
      bad("zero-size box");
      continue;
    }
    Label l;
    l.cls = static_cast<int>(v[0]);
    l.cx = static_cast<float>((x1 + x2) / 2), l.cy = static_cast<float>((y1 + y2) / 2);
    l.w = static_cast<float>(x2 - x1), l.h = static_cast<float>(y2 - y1);
    if (std::find(out.labels.begin(), out.labels.end(), l) != out.labels.end()) {
      ++out.duplicates;
      continue;
    }
    out.labels.push_back(l);
  }
  if (out.duplicates)
    out.warnings.push_back(path + ": " + std::to_string(out.duplicates) + " duplicate labels removed");
  return out;
}

std::string label_path_for(const std::string& image_path) {
  const char sep = std::filesystem::path::preferred_separator;
  const std::string sa = std::string(1, sep) + "images" + sep, sb = std::string(1, sep) + "labels" + sep;
  std::string p = image_path;
  const size_t at = p.rfind(sa);
  if (at != std::string::npos) p.replace(at, sa.size(), sb);
  const size_t dot = p.rfind('.');
  const size_t slash = p.rfind(sep);
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) p.erase(dot);
  return p + ".txt";
}

std::string patient_id(const std::string& image_path) {
  const std::string name = std::filesystem::path(image_path).filename().string();
  return name.substr(0, name.find('_'));
}

}  // namespace vyolo::dataset
