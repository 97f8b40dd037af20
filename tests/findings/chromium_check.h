// A page as a browser sees it, in Debian's headless Chromium (tests of report.html): a screenshot run whose log must
// hold no console message (the report's Content-Security-Policy makes Chromium log any script, external load or
// blocked resource), then a copy without the CSP and with a checker script, whose --dump-dom output carries what the
// browser made of the page (images that failed to decode, quirks mode, charset, the vertebra tables' rows, links,
// overflow) as JSON. Chromium runs without a shell, in its own process group, HOME inside the test folder.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/fs_util.h"

extern char** environ;

namespace vyolo::test {

namespace fs = std::filesystem;

struct Run {
  int status = -1;  // waitpid status
  bool timed_out = false;
  double seconds = 0;
  std::string out, log;
  bool ok() const { return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

// Runs argv (PATH lookup, no shell) with stdout and stderr in separate files of `dir`, in its own process group, and
// HOME / XDG folders inside `dir`, so that Chromium leaves nothing in the user's home. Past `timeout_s` the whole
// group is killed.
inline Run run_program(const std::vector<std::string>& argv, const fs::path& dir, const std::string& tag, double timeout_s) {
  Run run;
  fs::path out = dir / (tag + ".stdout"), err = dir / (tag + ".stderr"), home = dir / "home";
  fs::create_directories(home);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string s = *e;
    if (s.rfind("HOME=", 0) && s.rfind("XDG_CONFIG_HOME=", 0) && s.rfind("XDG_CACHE_HOME=", 0)) env.push_back(s);
  }
  env.push_back("HOME=" + home.string());
  env.push_back("XDG_CONFIG_HOME=" + (home / ".config").string());
  env.push_back("XDG_CACHE_HOME=" + (home / ".cache").string());
  std::vector<char*> av, ev;
  for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, av[0], &fa, &at, av.data(), ev.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (rc != 0) {
    run.log = "posix_spawnp failed: " + std::string(strerror(rc));
    return run;
  }
  for (;;) {
    pid_t w = waitpid(pid, &run.status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) {
      ::kill(-pid, SIGKILL);  // the browser and its helpers: the group this function created
      waitpid(pid, &run.status, 0);
      run.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run.out = vyolo::read_file(out);
  run.log = vyolo::read_file(err);
  return run;
}

inline std::string chromium_exe() {
  for (const char* e : {"chromium", "chromium-browser"})
    if (vyolo::on_path(e)) return e;
  return "";
}

// Appended to the checker copy: after every image has loaded or failed, what the browser made of the page, as JSON in
// <pre id="vyolo-check">.
inline const char kChecker[] = R"(<script>
addEventListener('load', function () {
  var broken = [];
  for (var i = 0; i < document.images.length; i++) {
    var im = document.images[i];
    if (!im.complete || im.naturalWidth === 0) broken.push(im.alt || String(i));
  }
  var tables = [];
  document.querySelectorAll('table.vertebrae').forEach(function (t) {
    var rows = [];
    for (var r = 0; r < t.tBodies[0].rows.length; r++) {
      var tr = t.tBodies[0].rows[r], cells = [];
      for (var c = 0; c < tr.cells.length; c++) cells.push(tr.cells[c].textContent);
      rows.push({cls: tr.className, cells: cells});
    }
    var s = t.closest('section');
    tables.push({section: s ? s.id : '', rows: rows});
  });
  var links = [];
  document.querySelectorAll('a[href^="#"]').forEach(function (a) {
    links.push({href: a.getAttribute('href'), target: !!document.getElementById(a.getAttribute('href').slice(1))});
  });
  var pre = document.createElement('pre');
  pre.id = 'vyolo-check';
  pre.textContent = JSON.stringify({images: document.images.length, broken: broken, compat: document.compatMode,
    charset: document.characterSet, title: document.title, tables: tables, links: links,
    scroll_width: document.documentElement.scrollWidth});
  document.body.appendChild(pre);
  if (broken.length) console.error('broken images: ' + broken.join(', '));
});
</script>
)";

struct PageCheck {
  std::vector<std::string> problems;  // empty: the page passed
  cv::Mat screenshot;
  nlohmann::json dom;  // the checker's JSON
  std::string dom_text;
  double seconds = 0;
};

inline std::string unescape_text(std::string s) {
  for (auto [from, to] : {std::pair<std::string, std::string>{"&lt;", "<"}, {"&gt;", ">"}, {"&nbsp;", "\xC2\xA0"},
                          {"&amp;", "&"}}) {
    std::string r;
    size_t p = 0;
    for (size_t q; (q = s.find(from, p)) != std::string::npos; p = q + from.size()) r += s.substr(p, q - p) + to;
    s = r + s.substr(p);
  }
  return s;
}

// Console messages (and page errors) in a Chromium log. The report has no script, so any CONSOLE line is a fault:
// a CSP violation, an uncaught exception, a resource that failed.
inline std::vector<std::string> console_lines(const std::string& log) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p < log.size()) {
    size_t e = log.find('\n', p);
    std::string line = log.substr(p, e == std::string::npos ? std::string::npos : e - p);
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("Failed to load") != std::string::npos)
      out.push_back(line);
    if (e == std::string::npos) break;
    p = e + 1;
  }
  return out;
}

inline const int kWidth = 1280, kHeight = 2000;

inline PageCheck check_in_chromium(const std::string& exe, const std::string& html, const fs::path& dir) {
  PageCheck pc;
  fs::path page = dir / "report.html", shot = dir / "shot.png";
  vyolo::write_file_atomic(page, html);
  std::vector<std::string> common = {exe,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--hide-scrollbars",
                                     "--no-first-run",
                                     "--window-size=" + std::to_string(kWidth) + "," + std::to_string(kHeight),
                                     "--enable-logging=stderr",
                                     "--v=0"};
  auto args = common;
  args.push_back("--user-data-dir=" + (dir / "profile1").string());
  args.push_back("--screenshot=" + shot.string());
  args.push_back("file://" + page.string());
  // A run's failures and console messages, as problems named after the run.
  auto note = [&pc](const Run& r, const std::string& what) {
    pc.seconds += r.seconds;
    if (!r.ok())
      pc.problems.push_back(what + " run: " +
                            (r.timed_out ? std::string("timed out")
                                         : "exit status " + std::to_string(WEXITSTATUS(r.status))) +
                            "\n" + r.log);
    for (const auto& l : console_lines(r.log)) pc.problems.push_back(what + " run console: " + l);
  };
  Run a = run_program(args, dir, "screenshot", 60);
  note(a, "screenshot");
  if (!fs::exists(shot)) {
    pc.problems.push_back("no screenshot written");
  } else {
    pc.screenshot = cv::imread(shot.string(), cv::IMREAD_UNCHANGED);
    if (pc.screenshot.empty()) pc.problems.push_back("screenshot does not decode");
  }

  // The checker copy: the CSP would block the checker, so it goes; the rest of the page is unchanged.
  std::string copy = html;
  size_t csp = copy.find("<meta http-equiv=\"Content-Security-Policy\"");
  if (csp != std::string::npos) copy.erase(csp, copy.find('>', csp) + 1 - csp);
  size_t body_end = copy.rfind("</body>");
  copy.insert(body_end == std::string::npos ? copy.size() : body_end, kChecker);
  fs::path checked = dir / "report_checked.html";
  vyolo::write_file_atomic(checked, copy);
  args = common;
  args.push_back("--user-data-dir=" + (dir / "profile2").string());
  args.push_back("--dump-dom");
  args.push_back("file://" + checked.string());
  Run b = run_program(args, dir, "dom", 60);
  note(b, "dump-dom");
  pc.dom_text = b.out;
  const std::string open = "<pre id=\"vyolo-check\">";
  size_t at = b.out.find(open), end = at == std::string::npos ? at : b.out.find("</pre>", at);
  if (end == std::string::npos) {
    pc.problems.push_back("the checker left no result in the DOM");
  } else {
    at += open.size();
    pc.dom = nlohmann::json::parse(unescape_text(b.out.substr(at, end - at)), nullptr, false);
    if (pc.dom.is_discarded()) pc.problems.push_back("the checker's JSON does not parse");
    else if (!pc.dom["broken"].empty()) pc.problems.push_back("images that did not decode: " + pc.dom["broken"].dump());
  }
  return pc;
}

}  // namespace vyolo::test
