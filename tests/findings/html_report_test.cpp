// report.html (findings/html_report.h): escaping, UTF-8 repair, pixel-exact inlined images, the vertebra table, no
// external resources, atomic writes; then the page as a browser sees it, in Debian's headless Chromium.
//
// The Chromium tests skip when `chromium` is not on PATH (Debian package chromium; tools/install-deps.sh installs it).
// Each page is opened twice (Chromium 156, as root, hence --no-sandbox):
//   1. the report as written, with --screenshot: exit 0, a 1280x2000 PNG that is not blank, and no console message
//      in the --enable-logging=stderr log (the page's Content-Security-Policy makes Chromium log any script, external
//      load or blocked resource as a CONSOLE line);
//   2. a copy without the CSP and with a checker script appended, with --dump-dom: the script writes what the
//      browser made of the page (images that failed to decode, quirks mode, charset, every vertebra table's rows,
//      horizontal overflow) into the DOM as JSON, and its log is checked the same way.
// A run takes 3-5 s on the 2-core test machine; the two tests together about 20 s. The second test feeds the same
// check a broken page (an undecodable data: image, a script that throws) and expects it to be caught.
#include <iconv.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/fs_util.h"
#include "findings/html_report.h"
#include "findings/plots.h"
#include "findings/chromium_check.h"
#include "temp_dir.h"

using namespace vyolo::findings;
using namespace vyolo::test;
namespace fs = std::filesystem;

namespace {

const std::string kUriPrefix = "data:image/png;base64,";

std::vector<uchar> base64_decode(const std::string& s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uchar> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) ADD_FAILURE() << "not base64: " << int(c);
    acc = acc << 6 | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uchar(acc >> bits & 0xFF));
    }
  }
  return out;
}

// The base64 payloads of every PNG data URI in the page, in order.
std::vector<std::string> data_uris(const std::string& html) {
  std::vector<std::string> out;
  for (size_t p = html.find(kUriPrefix); p != std::string::npos; p = html.find(kUriPrefix, p + 1)) {
    size_t b = p + kUriPrefix.size();
    out.push_back(html.substr(b, html.find('"', b) - b));
  }
  return out;
}

// Whether `s` is valid UTF-8, by glibc's decoder (independent of the one under test).
bool valid_utf8(const std::string& s) {
  iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
  if (cd == (iconv_t)-1) return false;
  std::string in = s;
  std::vector<char> buf(in.size() * 4 + 16);
  char* ip = in.data();
  size_t il = in.size();
  char* op = buf.data();
  size_t ol = buf.size();
  size_t r = iconv(cd, &ip, &il, &op, &ol);
  iconv_close(cd);
  return r != size_t(-1) && il == 0;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

std::string fmt3(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

// The text of the first `<table class="vertebrae">` ... `</table>` at or after `from`.
std::string vertebra_table(const std::string& html, size_t from = 0) {
  size_t b = html.find("<table class=\"vertebrae\">", from);
  if (b == std::string::npos) return "";
  return html.substr(b, html.find("</table>", b) + 8 - b);
}

// <tr> rows of a table's body, each as its opening tag and cell texts.
struct Row {
  std::string tag;
  std::vector<std::string> cells;
};
std::vector<Row> body_rows(const std::string& table) {
  std::vector<Row> rows;
  size_t body = table.find("<tbody>");
  if (body == std::string::npos) return rows;
  std::regex tr(R"(<tr([^>]*)>(.*?)</tr>)"), td(R"(<td>(.*?)</td>)");
  std::string rest = table.substr(body);
  for (std::sregex_iterator it(rest.begin(), rest.end(), tr), end; it != end; ++it) {
    Row r;
    r.tag = (*it)[1];
    std::string inner = (*it)[2];
    for (std::sregex_iterator c(inner.begin(), inner.end(), td); c != end; ++c) r.cells.push_back((*c)[1]);
    rows.push_back(r);
  }
  return rows;
}

cv::Mat noise(int rows, int cols, int type, uint64_t seed) {
  cv::Mat m(rows, cols, type);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

// A CT-like slice: dark background, a bright vertebral body, a red box around it (what evaluate shows).
cv::Mat slice_image(int seed) {
  cv::Mat g(192, 192, CV_8UC1, cv::Scalar(20));
  cv::RNG rng(seed);
  cv::ellipse(g, {96 + seed % 7, 100}, {40, 30}, 0, 0, 360, cv::Scalar(200), cv::FILLED);
  cv::Mat n(g.size(), CV_8UC1);
  rng.fill(n, cv::RNG::NORMAL, 0, 8);
  g += n;
  MontageTile t{g, {SliceBox{50, 64, 144, 136, 0.9}}, {"L1 0.91"}, "slice " + std::to_string(40 + seed)};
  return overlay_montage({t}, 1, 256);
}

HtmlVertebra vert(const std::string& name, int label, double p, bool called, int truth) {
  HtmlVertebra v;
  v.name = name, v.label = label, v.probability = p, v.called = called, v.truth = truth;
  return v;
}

// Two studies, metric tables, four plots, slices: what `vyolo evaluate` would write.
HtmlReport realistic_report() {
  HtmlReport r;
  r.title = "vyolo evaluate — 2 studies";
  r.facts = {{"weights", "runs/train/fold_0/weights/best.safetensors"},
             {"threshold", "0.420 (vertebra level, max Youden J on the validation fold)"},
             {"calibration", "none"},
             {"source", "/data/studies ünd \"quotes\""}};
  HtmlTable t;
  t.title = "Vertebra level";
  t.header = {"metric", "value", "95% CI"};
  t.rows = {{"sensitivity", "0.833", "0.436–0.970"}, {"specificity", "0.950", "0.764–0.991"},
            {"AUC", "0.912", ""}, {"AP", "0.871"}};
  t.note = "Wilson intervals; AP is Ultralytics' 101-point interpolation <not> a trapezoid.";
  HtmlTable p = t;
  p.title = "Patient level";
  p.note = "";
  r.tables = {t, p};
  std::vector<double> x, y;
  for (int i = 0; i <= 20; ++i) x.push_back(i / 20.0), y.push_back(std::sqrt(i / 20.0));
  r.plots = {{"ROC (vertebra)", line_plot("ROC", "1 - specificity", "sensitivity", {{"AUC 0.91", x, y}}, true)},
             {"PR (vertebra)", line_plot("PR", "recall", "precision", {{"AP 0.87", x, y, Step::Pre}})},
             {"Sweep", line_plot("F1 vs threshold", "threshold", "F1", {{"F1", x, y}})},
             {"Reliability", line_plot("Reliability", "predicted", "observed", {{"model", x, x}}, true)},
             {"empty plot (skipped)", cv::Mat()}};
  HtmlStudy a;
  a.id = "verse_004";
  a.source = "/data/studies/verse_004/ct.nii.gz";
  a.patient_probability = 0.913, a.patient_called = true, a.patient_truth = 1;
  a.vertebrae = {vert("T12", 19, 0.05, false, 0), vert("L1", 20, 0.913, true, 1), vert("L2", 21, 0.61, true, 0),
                 vert("L3", 22, 0.2, false, 1), vert("L4", 23, 0.011, false, -1)};
  a.slices = {{"L1, slice 41", slice_image(1)}, {"L2, slice 57", slice_image(17)}};
  a.notes = {"L2 called at 0.610: false positive (truth intact)"};
  HtmlStudy b;
  b.id = "<script>alert(1)</script> Wirbelsäule \xff";
  b.source = "/data/studies/odd name/ct";
  b.patient_probability = 0.1, b.patient_called = false, b.patient_truth = 0;
  b.vertebrae = {vert("L1", 20, 0.1, false, 0), vert("L2", 21, 0.08, false, 0)};
  b.slices = {{"no positive vertebra", cv::Mat()}};
  r.studies = {a, b};
  return r;
}

size_t non_empty_images(const HtmlReport& r) {
  size_t n = 0;
  for (const auto& p : r.plots) n += !p.image.empty();
  for (const auto& s : r.studies)
    for (const auto& i : s.slices) n += !i.image.empty();
  return n;
}

}  // namespace

// --- Unit tests ---------------------------------------------------------------------------------------------------

TEST(HtmlReport, EscapeHandlesMarkupQuotesAndUtf8) {
  EXPECT_EQ(html_escape("a&b<c>\"d'e"), "a&amp;b&lt;c&gt;&quot;d&#39;e");
  const std::string utf8 = "Wirbels\xC3\xA4ule \xE6\xA4\x8E\xE9\xAA\xA8 \xF0\x9F\xA6\xB4 \xE2\x80\x94";
  EXPECT_EQ(html_escape(utf8), utf8);  // valid UTF-8 passes through untouched
  const std::string fffd = "\xEF\xBF\xBD";
  struct Case {
    std::string in;
    size_t replacements;
  };
  // WHATWG decoding: one U+FFFD per maximal invalid subsequence.
  for (const Case& c : {Case{"x\xC3(y", 1}, Case{"\xFF", 1}, Case{"\xC0\xAF", 2}, Case{"\xED\xA0\x80", 3},
                        Case{"\xE6\x97", 1}, Case{"\xF4\x90\x80\x80", 4}, Case{"\xE6\x97\xA5\x80", 1},
                        Case{std::string("a\0b\x1b", 4), 2}, Case{"\xC2\x85", 1}, Case{"\xEF\xBF\xBE", 1}}) {
    std::string out = html_escape(c.in);
    EXPECT_TRUE(valid_utf8(out)) << c.in;
    EXPECT_EQ(count(out, fffd), c.replacements) << c.in;
  }
  EXPECT_EQ(html_escape("tab\tnew\nline"), "tab\tnew\nline");
}

TEST(HtmlReport, StudyIdIsEscapedNeverATag) {
  HtmlReport r = realistic_report();
  std::string html = render_html(r);
  std::string lower = html;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  EXPECT_EQ(lower.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;not&gt;"), std::string::npos);  // a table note
  // Every '<' opens one of the report's own elements: no text became markup.
  const std::set<std::string> tags = {"!DOCTYPE", "html", "head", "meta", "title", "style", "body", "h1", "h2",
                                      "dl", "dt", "dd", "nav", "ol", "li", "a", "table", "caption", "thead",
                                      "tbody", "tr", "th", "td", "p", "b", "code", "ul", "div", "figure", "img",
                                      "figcaption", "section"};
  for (size_t p = html.find('<'); p != std::string::npos; p = html.find('<', p + 1)) {
    size_t b = p + 1 + (html[p + 1] == '/');
    size_t e = html.find_first_of(" >", b);
    std::string name = html.substr(b, e - b);
    EXPECT_TRUE(tags.count(name)) << "unexpected tag <" << name << "> at " << p;
  }
}

TEST(HtmlReport, InvalidUtf8IsReplacedAndTheRestPassesThrough) {
  HtmlReport r;
  HtmlStudy s;
  s.id = "Wirbels\xC3\xA4ule \xff\xfe end";
  s.source = "/data/\xC3(x";
  r.studies = {s};
  r.facts = {{"key \x80", "value \xE2\x82"}};
  std::string html = render_html(r);
  EXPECT_TRUE(valid_utf8(html));
  EXPECT_NE(html.find("Wirbels\xC3\xA4ule \xEF\xBF\xBD\xEF\xBF\xBD end"), std::string::npos);
  EXPECT_NE(html.find("/data/\xEF\xBF\xBD(x"), std::string::npos);
  EXPECT_TRUE(valid_utf8(render_html(realistic_report())));
}

TEST(HtmlReport, ImagesAreInlinedPixelExact) {
  HtmlReport r;
  cv::Mat grey = noise(37, 53, CV_8UC1, 1), bgr = noise(29, 41, CV_8UC3, 2), slice = noise(64, 64, CV_8UC3, 3);
  cv::Mat wide(10, 20, CV_16UC1);
  for (int y = 0; y < wide.rows; ++y)
    for (int x = 0; x < wide.cols; ++x) wide.at<uint16_t>(y, x) = uint16_t(1000 + 100 * x);
  r.plots = {{"grey", grey}, {"empty", cv::Mat()}, {"bgr", bgr}, {"16-bit", wide}};
  HtmlStudy s;
  s.id = "a";
  s.slices = {{"slice", slice}, {"", cv::Mat()}};
  r.studies = {s};
  std::string html = render_html(r);
  auto uris = data_uris(html);
  ASSERT_EQ(uris.size(), 4u);  // the empty ones skipped
  std::vector<cv::Mat> expected = {grey, bgr, cv::Mat(), slice};
  for (size_t i = 0; i < uris.size(); ++i) {
    cv::Mat got = cv::imdecode(base64_decode(uris[i]), cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(got.empty()) << i;
    if (i == 2) {  // 16-bit: stretched to 8 bit, its minimum 0 and maximum 255
      EXPECT_EQ(got.type(), CV_8UC1);
      double lo, hi;
      cv::minMaxLoc(got, &lo, &hi);
      EXPECT_EQ(lo, 0);
      EXPECT_EQ(hi, 255);
      continue;
    }
    ASSERT_EQ(got.type(), expected[i].type()) << i;
    ASSERT_EQ(got.size(), expected[i].size()) << i;
    EXPECT_EQ(cv::norm(got, expected[i], cv::NORM_INF), 0) << i;
  }
  EXPECT_EQ(count(html, "<figcaption>"), 4u);
  EXPECT_EQ(html.find("empty"), std::string::npos);
  // Every length of the last base64 group (1, 2 and 3 trailing bytes) round-trips.
  for (int w = 1; w <= 3; ++w) {
    HtmlReport one;
    cv::Mat m = noise(1, w, CV_8UC1, 10 + w);
    one.plots = {{"x", m}};
    auto u = data_uris(render_html(one));
    ASSERT_EQ(u.size(), 1u);
    EXPECT_EQ(cv::norm(cv::imdecode(base64_decode(u[0]), cv::IMREAD_UNCHANGED), m, cv::NORM_INF), 0);
  }
}

TEST(HtmlReport, VertebraTableHasARowPerVertebraWithCallAndTruth) {
  HtmlReport r = realistic_report();
  std::string html = render_html(r);
  size_t from = 0;
  for (const auto& s : r.studies) {
    std::string table = vertebra_table(html, html.find("<section id=", from));
    from = html.find("<section id=", from) + 1;
    ASSERT_FALSE(table.empty()) << s.id;
    EXPECT_NE(table.find("<th>truth</th>"), std::string::npos);
    auto rows = body_rows(table);
    ASSERT_EQ(rows.size(), s.vertebrae.size()) << s.id;
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& v = s.vertebrae[i];
      ASSERT_EQ(rows[i].cells.size(), 5u);
      EXPECT_EQ(rows[i].cells[0], html_escape(v.name));
      EXPECT_EQ(rows[i].cells[1], std::to_string(v.label));
      EXPECT_EQ(rows[i].cells[2], fmt3(v.probability));
      EXPECT_EQ(rows[i].cells[3], v.called ? "fractured" : "intact");
      EXPECT_EQ(rows[i].cells[4], v.truth == 1 ? "fractured" : v.truth == 0 ? "intact" : "unknown");
      bool wrong = v.truth >= 0 && v.called != (v.truth == 1);
      EXPECT_EQ(rows[i].tag.find("wrong") != std::string::npos, wrong) << v.name;
    }
  }
  // No truth anywhere: no truth column, nothing highlighted.
  for (auto& s : r.studies)
    for (auto& v : s.vertebrae) v.truth = -1;
  html = render_html(r);
  EXPECT_EQ(html.find("<th>truth</th>"), std::string::npos);
  auto rows = body_rows(vertebra_table(html));
  ASSERT_EQ(rows.size(), r.studies[0].vertebrae.size());
  for (const auto& row : rows) {
    EXPECT_EQ(row.cells.size(), 4u);
    EXPECT_EQ(row.tag.find("wrong"), std::string::npos);
  }
}

TEST(HtmlReport, NoScriptsNoExternalResources) {
  std::string html = render_html(realistic_report());
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  // Every src= is a data URI, and there is one per non-empty image.
  EXPECT_EQ(count(html, "src=\""), count(html, "src=\"" + kUriPrefix));
  EXPECT_EQ(count(html, "src=\""), non_empty_images(realistic_report()));
}

TEST(HtmlReport, TableOfContentsLinksEveryStudyByAUniqueId) {
  HtmlReport r;
  for (const char* id : {"a b", "a_b", "a b", "", "\xC3\xA4/x#y"}) {
    HtmlStudy s;
    s.id = id;
    r.studies.push_back(s);
  }
  std::string html = render_html(r);
  std::regex sec(R"re(<section id="([^"]*)")re"), link(R"re(<a href="#([^"]*)")re");
  std::vector<std::string> ids, links;
  for (std::sregex_iterator it(html.begin(), html.end(), sec), end; it != end; ++it) ids.push_back((*it)[1]);
  for (std::sregex_iterator it(html.begin(), html.end(), link), end; it != end; ++it) links.push_back((*it)[1]);
  ASSERT_EQ(ids.size(), r.studies.size());
  EXPECT_EQ(links, ids);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  for (const auto& id : ids) {
    EXPECT_EQ(id.rfind("study-", 0), 0u) << id;
    EXPECT_EQ(id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"),
              std::string::npos)
        << id;
  }
  r.studies.resize(1);
  EXPECT_EQ(render_html(r).find("<nav"), std::string::npos);  // one study: no table of contents
}

TEST(HtmlReport, SameInputSameBytes) {
  EXPECT_EQ(render_html(realistic_report()), render_html(realistic_report()));
}

TEST(HtmlReport, WriteHtmlIsAtomicAndLeavesNoTempFile) {
  vyolo::test::TempDir dir("html_write");
  HtmlReport r = realistic_report();
  fs::path p = dir.path / "out" / "report.html";
  write_html(p, r);
  EXPECT_EQ(vyolo::read_file(p), render_html(r));
  write_html(p, r);  // over an existing report
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path / "out")) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"report.html"});
}

// --- Chromium ---------------------------------------------------------------------------------------------------

TEST(HtmlReport, ChromiumRendersTheReportWithoutErrors) {
  std::string exe = chromium_exe();
  if (exe.empty()) GTEST_SKIP() << "chromium not installed (Debian package chromium): the page is not checked in a browser";
  vyolo::test::TempDir dir("html_chromium");
  HtmlReport r = realistic_report();
  std::string html = render_html(r);
  PageCheck pc = check_in_chromium(exe, html, dir.path);
  for (const auto& p : pc.problems) ADD_FAILURE() << p;
  std::cout << "chromium: two runs in " << pc.seconds << " s\n";

  ASSERT_FALSE(pc.screenshot.empty());
  EXPECT_EQ(pc.screenshot.cols, kWidth);
  EXPECT_EQ(pc.screenshot.rows, kHeight);
  cv::Mat grey;
  cv::cvtColor(pc.screenshot, grey, pc.screenshot.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  cv::Scalar mean, sd;
  cv::meanStdDev(grey, mean, sd);
  EXPECT_GT(sd[0], 0) << "blank screenshot";

  ASSERT_TRUE(pc.dom.is_object());
  const auto& d = pc.dom;
  EXPECT_EQ(d["compat"], "CSS1Compat");  // standards mode: the doctype is right
  EXPECT_EQ(d["charset"], "UTF-8");
  EXPECT_EQ(d["title"], r.title);
  EXPECT_EQ(d["images"], non_empty_images(r));
  EXPECT_EQ(data_uris(html).size(), non_empty_images(r));
  EXPECT_LE(d["scroll_width"].get<int>(), kWidth) << "the page overflows horizontally";
  for (const auto& l : d["links"]) EXPECT_TRUE(l["target"].get<bool>()) << l.dump();
  EXPECT_EQ(d["links"].size(), r.studies.size());

  // The vertebra tables as the browser parsed them: one per study, one row per vertebra, in order.
  ASSERT_EQ(d["tables"].size(), r.studies.size());
  for (size_t s = 0; s < r.studies.size(); ++s) {
    const auto& t = d["tables"][s];
    const auto& study = r.studies[s];
    ASSERT_EQ(t["rows"].size(), study.vertebrae.size());
    for (size_t i = 0; i < study.vertebrae.size(); ++i) {
      const auto& v = study.vertebrae[i];
      const auto& row = t["rows"][i];
      std::vector<std::string> want = {v.name, std::to_string(v.label), fmt3(v.probability),
                                       v.called ? "fractured" : "intact",
                                       v.truth == 1 ? "fractured" : v.truth == 0 ? "intact" : "unknown"};
      EXPECT_EQ(row["cells"].get<std::vector<std::string>>(), want);
      bool wrong = v.truth >= 0 && v.called != (v.truth == 1);
      EXPECT_EQ(row["cls"].get<std::string>().find("wrong") != std::string::npos, wrong) << v.name;
    }
  }
  // The escaped study id came back as the text it is.
  EXPECT_NE(pc.dom_text.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

// The check above can fail: a page with an image that does not decode and a script that throws is caught by both
// runs (the CSP blocks the script in the first, the throw shows in the second).
TEST(HtmlReport, ChromiumCheckCatchesABrokenPage) {
  std::string exe = chromium_exe();
  if (exe.empty()) GTEST_SKIP() << "chromium not installed (Debian package chromium): the page is not checked in a browser";
  vyolo::test::TempDir dir("html_chromium_bad");
  HtmlReport r;
  r.title = "broken";
  r.plots = {{"good", noise(20, 20, CV_8UC3, 5)}};
  std::string html = render_html(r);
  html.insert(html.rfind("</body>"),
              "<img src=\"data:image/png;base64,AAAA\" alt=\"bad\"><script>throw new Error('page fault');</script>\n");
  PageCheck pc = check_in_chromium(exe, html, dir.path);
  auto has = [&](const std::string& a, const std::string& b) {
    return std::any_of(pc.problems.begin(), pc.problems.end(), [&](const std::string& p) {
      return p.find(a) != std::string::npos && p.find(b) != std::string::npos;
    });
  };
  EXPECT_TRUE(has("screenshot run console", "Content Security Policy")) << ::testing::PrintToString(pc.problems);
  EXPECT_TRUE(has("dump-dom run console", "Uncaught Error: page fault")) << ::testing::PrintToString(pc.problems);
  EXPECT_TRUE(has("images that did not decode", "bad")) << ::testing::PrintToString(pc.problems);
  ASSERT_TRUE(pc.dom.is_object());
  EXPECT_EQ(pc.dom["broken"], nlohmann::json::array({"bad"}));
}
