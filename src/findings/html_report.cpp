#include "findings/html_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>

#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "common/fs_util.h"

namespace vyolo::findings {

namespace {

const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Noncharacters are parse errors in HTML text; C1 controls likewise.
bool unwanted_code_point(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

std::string base64(const std::vector<uchar>& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 | bytes[i + 2];
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(bytes[i]) << 16 | (i + 1 < bytes.size() ? uint32_t(bytes[i + 1]) << 8 : 0);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += i + 1 < bytes.size() ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string fixed3(double v) {
  if (!std::isfinite(v)) return "n/a";
  char b[48];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

const char* call_text(bool called) { return called ? "fractured" : "intact"; }
const char* truth_text(int truth) { return truth == 1 ? "fractured" : truth == 0 ? "intact" : "unknown"; }
// "wrong fp" / "wrong fn" when the truth is known and the call disagrees, else "".
std::string mismatch_class(bool called, int truth) {
  if (truth < 0 || called == (truth == 1)) return "";
  return called ? "wrong fp" : "wrong fn";
}

// An id usable in an attribute and in a fragment link without further escaping: ASCII letters, digits, '-' and '_'
// kept, every other byte '_'; made unique among the ids already used.
std::string section_id(const std::string& study, std::set<std::string>& used) {
  std::string slug;
  for (unsigned char c : study) slug += std::isalnum(c) && c < 0x80 ? char(c) : c == '-' ? '-' : '_';
  if (slug.empty()) slug = "unnamed";
  std::string id = "study-" + slug;
  for (int k = 2; used.count(id); ++k) id = "study-" + slug + "-" + std::to_string(k);
  used.insert(id);
  return id;
}

// The PNG data URI of an image; "" for an empty one.
std::string png_data_uri(const HtmlImage& im) {
  if (im.image.empty()) return "";
  cv::Mat m = im.image;
  int ch = m.channels();
  if (ch != 1 && ch != 3 && ch != 4)
    throw RuntimeError("report image '" + im.caption + "' has " + std::to_string(ch) + " channels (1, 3 or 4 expected)");
  if (m.depth() != CV_8U) {
    // A 16-bit or float slice handed in by mistake still shows, stretched to its own range.
    cv::Mat scaled;
    cv::normalize(m, scaled, 0, 255, cv::NORM_MINMAX, CV_8U);
    m = scaled;
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", m, png)) throw RuntimeError("cannot PNG-encode report image '" + im.caption + "'");
  return "data:image/png;base64," + base64(png);
}

void figure(std::string& out, const HtmlImage& im) {
  std::string uri = png_data_uri(im);
  if (uri.empty()) return;
  std::string cap = html_escape(im.caption);
  out += "<figure><img src=\"" + uri + "\" width=\"" + std::to_string(im.image.cols) + "\" height=\"" +
         std::to_string(im.image.rows) + "\" alt=\"" + cap + "\">";
  if (!cap.empty()) out += "<figcaption>" + cap + "</figcaption>";
  out += "</figure>\n";
}

void image_grid(std::string& out, const std::vector<HtmlImage>& images, const char* cls) {
  bool any = false;
  for (const auto& im : images) any |= !im.image.empty();
  if (!any) return;
  out += std::string("<div class=\"grid ") + cls + "\">\n";
  for (const auto& im : images) figure(out, im);
  out += "</div>\n";
}

void metric_table(std::string& out, const HtmlTable& t) {
  size_t cols = t.header.size();
  for (const auto& row : t.rows) cols = std::max(cols, row.size());
  out += "<table class=\"metrics\">";
  if (!t.title.empty()) out += "<caption>" + html_escape(t.title) + "</caption>";
  out += "\n";
  if (!t.header.empty()) {
    out += "<thead><tr>";
    for (size_t c = 0; c < cols; ++c) out += "<th>" + (c < t.header.size() ? html_escape(t.header[c]) : "") + "</th>";
    out += "</tr></thead>\n";
  }
  out += "<tbody>\n";
  // Short rows are padded so that every row spans the table (the HTML table model wants equal widths).
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (size_t c = 0; c < cols; ++c) out += "<td>" + (c < row.size() ? html_escape(row[c]) : "") + "</td>";
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
  if (!t.note.empty()) out += "<p class=\"note\">" + html_escape(t.note) + "</p>\n";
}

void study_section(std::string& out, const HtmlStudy& s, const std::string& id, bool truth_column) {
  out += "<section id=\"" + id + "\" class=\"study\">\n<h2>Study " + html_escape(s.id) + "</h2>\n";
  if (!s.source.empty()) out += "<p class=\"source\">Source: <code>" + html_escape(s.source) + "</code></p>\n";
  std::string cls = mismatch_class(s.patient_called, s.patient_truth);
  out += "<p class=\"patient" + (cls.empty() ? "" : " " + cls) + "\">Patient: probability <b>" +
         fixed3(s.patient_probability) + "</b>, called <b>" + call_text(s.patient_called) + "</b>";
  if (s.patient_truth >= 0) out += std::string(", truth ") + truth_text(s.patient_truth);
  out += "</p>\n";

  if (s.vertebrae.empty()) {
    out += "<p class=\"note\">No vertebrae.</p>\n";
  } else {
    out += "<table class=\"vertebrae\">\n<thead><tr><th>vertebra</th><th>label</th><th>probability</th><th>call</th>";
    if (truth_column) out += "<th>truth</th>";
    out += "</tr></thead>\n<tbody>\n";
    for (const auto& v : s.vertebrae) {
      std::string rc = mismatch_class(v.called, v.truth);
      out += rc.empty() ? "<tr>" : "<tr class=\"" + rc + "\">";
      out += "<td>" + html_escape(v.name) + "</td><td>" + std::to_string(v.label) + "</td><td>" +
             fixed3(v.probability) + "</td><td>" + call_text(v.called) + "</td>";
      if (truth_column) out += std::string("<td>") + truth_text(v.truth) + "</td>";
      out += "</tr>\n";
    }
    out += "</tbody></table>\n";
  }
  if (!s.notes.empty()) {
    out += "<ul class=\"notes\">\n";
    for (const auto& n : s.notes) out += "<li>" + html_escape(n) + "</li>\n";
    out += "</ul>\n";
  }
  image_grid(out, s.slices, "slices");
  out += "</section>\n";
}

const char kStyle[] = R"(body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1240px;padding:0 1em;color:#222;background:#fff}
h1{font-size:1.6em;margin:0 0 .6em}h2{font-size:1.25em;margin:1.4em 0 .5em;border-bottom:1px solid #ccc}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em}dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:.6em 0}caption{text-align:left;font-weight:600;padding:.2em 0}
th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left}th{background:#f2f2f2}
tr.wrong td{background:#fde2e2}p.patient.wrong{background:#fde2e2;padding:.2em .4em}p.note{color:#555;margin:.2em 0 1em}
code{overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:1em;margin:.6em 0}
figure{margin:0}img{max-width:100%;height:auto;border:1px solid #ddd}figcaption{font-size:.9em;color:#444}
)";

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
          if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
            out += kReplacement;
          else
            out += char(c);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence, checked as the WHATWG decoder does (no overlongs, surrogates or code points past
    // U+10FFFF); on an error, one U+FFFD for the bytes read so far and the offending byte is looked at again.
    int need = 0;
    uint32_t cp = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2, cp = c & 0x0F;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3, cp = c & 0x07;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      out += kReplacement;
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool ok = true;
    for (int k = 0; k < need; ++k, ++j) {
      if (j >= n || static_cast<unsigned char>(s[j]) < lo || static_cast<unsigned char>(s[j]) > hi) {
        ok = false;
        break;
      }
      cp = cp << 6 | (static_cast<unsigned char>(s[j]) & 0x3F);
      lo = 0x80, hi = 0xBF;
    }
    if (!ok || unwanted_code_point(cp))
      out += kReplacement;
    else
      out.append(s.data() + i, j - i);
    i = j;
  }
  return out;
}

std::string render_html(const HtmlReport& r) {
  const std::string title = r.title.empty() ? "vyolo report" : r.title;
  bool truth_column = false;
  for (const auto& s : r.studies)
    for (const auto& v : s.vertebrae) truth_column |= v.truth >= 0;
  std::set<std::string> used;
  std::vector<std::string> ids;
  for (const auto& s : r.studies) ids.push_back(section_id(s.id, used));

  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // Only inline styles and data: images: the page needs nothing else, and a browser then logs anything else.
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
         "style-src 'unsafe-inline'\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<meta name=\"generator\" content=\"vyolo " VYOLO_VERSION "\">\n";
  out += "<title>" + html_escape(title) + "</title>\n<style>\n";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<h1>" + html_escape(title) + "</h1>\n";

  if (!r.facts.empty()) {
    out += "<dl class=\"facts\">\n";
    for (const auto& [k, v] : r.facts) out += "<dt>" + html_escape(k) + "</dt><dd>" + html_escape(v) + "</dd>\n";
    out += "</dl>\n";
  }
  if (r.studies.size() > 1) {
    out += "<nav class=\"toc\"><h2>Studies</h2>\n<ol>\n";
    for (size_t i = 0; i < r.studies.size(); ++i) {
      const auto& s = r.studies[i];
      out += "<li><a href=\"#" + ids[i] + "\">" + html_escape(s.id) + "</a> — " + fixed3(s.patient_probability) +
             ", " + call_text(s.patient_called) + "</li>\n";
    }
    out += "</ol></nav>\n";
  }
  if (!r.tables.empty()) {
    out += "<h2>Metrics</h2>\n";
    for (const auto& t : r.tables) metric_table(out, t);
  }
  bool any_plot = false;
  for (const auto& p : r.plots) any_plot |= !p.image.empty();
  if (any_plot) {
    out += "<h2>Plots</h2>\n";
    image_grid(out, r.plots, "plots");
  }
  for (size_t i = 0; i < r.studies.size(); ++i) study_section(out, r.studies[i], ids[i], truth_column);
  out += "</body>\n</html>\n";
  return out;
}

void write_html(const std::filesystem::path& path, const HtmlReport& r) { write_file_atomic(path, render_html(r)); }

}  // namespace vyolo::findings
