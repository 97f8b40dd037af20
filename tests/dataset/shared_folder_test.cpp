// One dataset folder shared with Ultralytics (issue 12): Ultralytics' label cache (labels/<split>.cache, a NumPy
// pickle) is never read, written or removed; our cache has its own name (labels/<split>.vyolo-cache.json); a
// read-only dataset folder works with the cache in $XDG_CACHE_HOME/vyolo/labels, or with no cache at all.
#include <gtest/gtest.h>

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "common/fs_util.h"
#include "config/config.h"
#include "dataset/yolo_dataset.h"
#include "test_util.h"

namespace fs = std::filesystem;

using namespace vyolo;
using namespace vyolo::dataset;
using namespace vyolo::dataset::test;

namespace {

// What Ultralytics writes as labels/<split>.cache: np.save(path.cache.npy, dict, allow_pickle) renamed to .cache.
// NPY 1.0: magic, version, little-endian uint16 header length, header dict padded with spaces to a 64-byte boundary
// and ending in '\n', then the pickle of the 0-d object array (here a protocol 2 pickle of a small dict).
std::string ultralytics_cache_bytes(const std::string& hash) {
  std::string header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  // pickle.dumps({'version': '1.0.3', 'hash': <8 chars>, 'msgs': [], 'results': (0, 0, 0, 0, 0)}, protocol=2)
  static const unsigned char pre[] = {
      0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x07, 0x00, 0x00, 0x00, 0x76, 0x65, 0x72, 0x73, 0x69,
      0x6f, 0x6e, 0x71, 0x01, 0x58, 0x05, 0x00, 0x00, 0x00, 0x31, 0x2e, 0x30, 0x2e, 0x33, 0x71, 0x02,
      0x58, 0x04, 0x00, 0x00, 0x00, 0x68, 0x61, 0x73, 0x68, 0x71, 0x03, 0x58, 0x08, 0x00, 0x00, 0x00};
  static const unsigned char post[] = {
      0x71, 0x04, 0x58, 0x04, 0x00, 0x00, 0x00, 0x6d, 0x73, 0x67, 0x73, 0x71, 0x05, 0x5d, 0x71, 0x06,
      0x58, 0x07, 0x00, 0x00, 0x00, 0x72, 0x65, 0x73, 0x75, 0x6c, 0x74, 0x73, 0x71, 0x07, 0x28, 0x4b,
      0x00, 0x4b, 0x00, 0x4b, 0x00, 0x4b, 0x00, 0x4b, 0x00, 0x74, 0x71, 0x08, 0x75, 0x2e};
  std::string p(reinterpret_cast<const char*>(pre), sizeof pre);
  p += (hash + "00000000").substr(0, 8);
  p.append(reinterpret_cast<const char*>(post), sizeof post);
  return out + p;
}

// A tiny Ultralytics-layout dataset: images/{train,val}, labels/{train,val}, data.yaml, and Ultralytics' caches.
struct UltraSet {
  fs::path root, yaml;
  explicit UltraSet(const fs::path& r) : root(r) {
    cv::Mat a(48, 64, CV_8UC3, cv::Scalar(30, 60, 90));
    cv::rectangle(a, {10, 10, 20, 16}, cv::Scalar(250, 250, 250), cv::FILLED);
    write_image(root / "images" / "train" / "a.jpg", a);
    write_text(root / "labels" / "train" / "a.txt", yolo_line(0, {10, 10, 20, 16}, 64, 48));
    write_image(root / "images" / "train" / "b.png", cv::Mat(40, 40, CV_8UC3, cv::Scalar(5, 5, 5)));  // negative
    write_image(root / "images" / "val" / "c.png", a);
    write_text(root / "labels" / "val" / "c.txt", yolo_line(0, {10, 10, 20, 16}, 64, 48));
    yaml = root / "data.yaml";
    write_text(yaml, "path: " + root.string() + "\ntrain: images/train\nval: images/val\nnames:\n  0: fracture\n");
    write_file_atomic(root / "labels" / "train.cache", ultralytics_cache_bytes("0123abcd"));
    write_file_atomic(root / "labels" / "val.cache", ultralytics_cache_bytes("4567ef01"));
  }
  Config cfg() const {
    Config c;
    c.data.data_yaml = yaml.string();
    c.data.image_size = 64;
    c.data.num_workers = 1;
    return c;
  }
};

// Every regular file under `root` (relative path -> content).
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = read_file(e.path());
  return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Sets an environment variable for one scope.
struct EnvGuard {
  std::string name;
  std::optional<std::string> old;
  EnvGuard(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~EnvGuard() {
    if (old)
      ::setenv(name.c_str(), old->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

void set_writable(const fs::path& root, bool writable) {
  const auto w = fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write;
  const auto opt = writable ? fs::perm_options::add : fs::perm_options::remove;
  std::error_code ec;
  fs::permissions(root, writable ? fs::perms::owner_write : w, opt, ec);
  for (auto& e : fs::recursive_directory_iterator(root, ec))
    fs::permissions(e.path(), writable ? fs::perms::owner_write : w, opt, ec);
}

// Makes a folder tree read-only (chmod -R a-w) for one scope; gives the owner write access back at the end.
struct ReadOnly {
  fs::path root;
  explicit ReadOnly(fs::path r) : root(std::move(r)) { set_writable(root, false); }
  ~ReadOnly() { set_writable(root, true); }
};

bool can_create_file_in(const fs::path& dir) {
  const fs::path probe = dir / ".vyolo_probe";
  const bool ok = static_cast<bool>(std::ofstream(probe));
  std::error_code ec;
  fs::remove(probe, ec);
  return ok;
}

std::string fnv1a_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct Load {
  std::shared_ptr<YoloDataset> train, val;
  std::vector<std::string> warned;
};

Load load(const UltraSet& s) {
  Load l;
  auto warn = [&l](const std::string& m) { l.warned.push_back(m); };
  l.train = YoloDataset::from_config(s.cfg(), Role::Train, warn);
  l.val = YoloDataset::from_config(s.cfg(), Role::Val, warn);
  return l;
}

int count_containing(const std::vector<std::string>& v, const std::string& a) {
  int n = 0;
  for (const auto& s : v) n += s.find(a) != std::string::npos;
  return n;
}

// The read-only scenario; returns what went wrong (empty: all good). Plain checks rather than gtest macros, as it
// may run in a child process (see the test).
std::vector<std::string> read_only_scenario(const UltraSet& s, const fs::path& xdg) {
  std::vector<std::string> bad;
  auto check = [&bad](bool ok, const std::string& what) {
    if (!ok) bad.push_back(what);
  };
  const auto before = snapshot(s.root);
  try {
    // 1. The cache goes to $XDG_CACHE_HOME/vyolo/labels, with one note per label folder.
    {
      EnvGuard env("XDG_CACHE_HOME", xdg.string());
      Load first = load(s);
      check(first.train->size() == 2 && first.val->size() == 1, "read-only: wrong dataset sizes");
      check(first.train->report().cached == 0, "read-only: first load already cached");
      check(first.train->report().boxes == 1, "read-only: expected 1 train box");
      const fs::path cdir = xdg / "vyolo" / "labels";
      check(count_containing(first.warned, "label cache kept in " + cdir.string()) == 2,
            "read-only: expected one note per split naming " + cdir.string());
      check(snapshot(s.root) == before, "read-only: the dataset folder changed");
      std::set<std::string> names;
      std::error_code ec;
      for (auto& e : fs::directory_iterator(cdir, ec)) names.insert(e.path().filename().string());
      const std::string train_name = fnv1a_hex((s.root / "labels" / "train").string()) + ".vyolo-cache.json";
      const std::string val_name = fnv1a_hex((s.root / "labels" / "val").string()) + ".vyolo-cache.json";
      check(names == std::set<std::string>{train_name, val_name},
            "read-only: expected exactly " + train_name + " and " + val_name + " in " + cdir.string());
      Load second = load(s);
      check(second.train->report().cached == 2 && second.val->report().cached == 1,
            "read-only: second load did not use the user cache");
      check(second.warned.empty(), "read-only: second load warned");
      check(second.train->report().boxes == 1, "read-only: second load lost the box");
    }
    // 2. No writable cache folder at all: works without a cache, one warning.
    {
      const fs::path blocker = xdg / "not_a_folder";
      std::ofstream(blocker) << "x";
      EnvGuard env("XDG_CACHE_HOME", blocker.string());
      Load first = load(s);
      check(first.train->size() == 2 && first.train->report().cached == 0, "no cache: first load");
      check(count_containing(first.warned, "label cache not written") == 2, "no cache: expected one warning per split");
      Load second = load(s);
      check(second.train->size() == 2 && second.train->report().cached == 0, "no cache: second load");
      check(count_containing(second.warned, "label cache not written") == 0, "no cache: warned again");
      check(snapshot(s.root) == before, "no cache: the dataset folder changed");
    }
  } catch (const std::exception& e) {
    bad.push_back(std::string("exception: ") + e.what());
  }
  return bad;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

TEST(SharedFolder, NpyFixtureIsLaidOutLikeNumpy) {
  const std::string b = ultralytics_cache_bytes("0123abcd");
  ASSERT_EQ(b.size(), 128u + 102u);  // 128-byte preamble (64-aligned) + 102-byte pickle
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8, 118);
  EXPECT_EQ(b.substr(10, 54), "{'descr': '|O', 'fortran_order': False, 'shape': (), }");
  EXPECT_EQ(b[127], '\n');
  EXPECT_EQ(static_cast<unsigned char>(b[128]), 0x80);  // pickle PROTO 2
  EXPECT_EQ(b.back(), '.');                             // pickle STOP
}

TEST(SharedFolder, UltralyticsCacheUntouchedAndOwnCacheUsed) {
  TempDir dir("shared");
  const fs::path xdg = dir.path / "xdg";
  fs::create_directories(xdg);
  EnvGuard env("XDG_CACHE_HOME", xdg.string());
  UltraSet s(dir.path / "ds");
  const auto before = snapshot(s.root);

  Load first = load(s);
  EXPECT_EQ(first.train->size(), 2u);
  EXPECT_EQ(first.val->size(), 1u);
  EXPECT_EQ(first.train->report().cached, 0);
  EXPECT_EQ(first.train->report().boxes, 1);
  EXPECT_TRUE(first.warned.empty()) << joined(first.warned);
  Load second = load(s);
  EXPECT_EQ(second.train->report().cached, 2);
  EXPECT_EQ(second.val->report().cached, 1);
  EXPECT_EQ(second.train->report().boxes, 1);
  EXPECT_EQ(second.val->report().boxes, 1);

  // Ultralytics' caches (and every other file of the dataset) are byte-identical; the only new files are ours.
  const auto after = snapshot(s.root);
  std::set<std::string> added;
  for (const auto& [name, bytes] : after) {
    auto it = before.find(name);
    if (it == before.end())
      added.insert(name);
    else
      EXPECT_EQ(bytes, it->second) << name << " changed";
  }
  for (const auto& [name, bytes] : before) EXPECT_TRUE(after.count(name)) << name << " removed";
  EXPECT_EQ(after.at("labels/train.cache"), ultralytics_cache_bytes("0123abcd"));
  EXPECT_EQ(added, (std::set<std::string>{"labels/train.vyolo-cache.json", "labels/val.vyolo-cache.json"}));
  for (const auto& name : added) {
    EXPECT_FALSE(ends_with(name, ".cache")) << name;
    EXPECT_FALSE(ends_with(name, ".npy")) << name;
  }
  // Nothing went to the user cache folder while the dataset folder is writable.
  EXPECT_TRUE(fs::is_empty(xdg));
}

TEST(SharedFolder, ReadOnlyDatasetUsesUserCacheDir) {
  TempDir dir("shared_ro");
  UltraSet s(dir.path / "ds");
  const fs::path xdg = dir.path / "xdg";
  fs::create_directories(xdg);
  fs::permissions(xdg, fs::perms::all);  // also for the unprivileged child below
  ReadOnly ro(s.root);

  if (!can_create_file_in(s.root) && !can_create_file_in(s.root / "labels")) {
    const auto bad = read_only_scenario(s, xdg);
    EXPECT_TRUE(bad.empty()) << joined(bad);
    return;
  }
  if (::geteuid() != 0) GTEST_SKIP() << "chmod -R a-w did not make " << s.root << " read-only on this file system";
  // Root ignores permissions: run the scenario in a child process as user nobody (65534).
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    int code = 0;
    std::string msg;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      code = 77, msg = "cannot drop root privileges to uid 65534";
    } else if (can_create_file_in(s.root) || can_create_file_in(s.root / "labels")) {
      code = 77, msg = "the dataset folder stays writable for uid 65534";
    } else {
      msg = joined(read_only_scenario(s, xdg));
      code = msg.empty() ? 0 : 1;
    }
    if (!msg.empty() && ::write(fds[1], msg.data(), msg.size()) < 0) code = 2;
    ::close(fds[1]);
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died: " << msg;
  if (WEXITSTATUS(status) == 77)
    GTEST_SKIP() << "running as root, which ignores a read-only folder, and " << msg << "; read-only case not tested";
  EXPECT_EQ(WEXITSTATUS(status), 0) << msg;
}

TEST(SharedFolder, OldVyoloCacheAtUltralyticsPathIsRemovedUltralyticsOneKept) {
  // An older vyolo wrote its JSON cache as labels/<split>.cache, where Ultralytics then fails: that file is ours and
  // goes; Ultralytics' own NumPy cache beside it stays byte for byte.
  TempDir dir("legacy");
  EnvGuard env("XDG_CACHE_HOME", (dir.path / "xdg").string());
  UltraSet s(dir.path / "ds");
  write_file_atomic(s.root / "labels" / "val.cache", R"({"version":1,"nc":1,"entries":{}})");
  const std::string ul_train = read_file(s.root / "labels" / "train.cache");
  Load l = load(s);
  EXPECT_FALSE(fs::exists(s.root / "labels" / "val.cache"));
  EXPECT_EQ(count_containing(l.warned, "older vyolo"), 1);
  EXPECT_EQ(read_file(s.root / "labels" / "train.cache"), ul_train);
  EXPECT_TRUE(fs::exists(s.root / "labels" / "val.vyolo-cache.json"));
}
