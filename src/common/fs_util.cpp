#include "common/fs_util.h"

#include <unistd.h>

#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "common/error.h"
#include "common/fault.h"

namespace fs = std::filesystem;

namespace vyolo {

void write_file_atomic(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  // A temp name no other thread or process uses at the same time: pid + thread-local counter (a random_device per
  // call cost more than the write for small dataset files).
  thread_local uint64_t counter = std::random_device{}();
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(counter++ % 1000000007);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw RuntimeError("cannot write " + path.string() + ": cannot create temp file " + tmp.string());
    const size_t half = bytes.size() / 2;
    out.write(bytes.data(), static_cast<std::streamsize>(half));
    out.flush();
    kill_point("write", path.string());  // tests: a kill halfway through (the target is untouched)
    out.write(bytes.data() + half, static_cast<std::streamsize>(bytes.size() - half));
    out.flush();
    if (!out) {
      const int err = errno;
      out.close();
      fs::remove(tmp, ec);
      throw RuntimeError("cannot write " + path.string() + ": " + std::strerror(err) +
                         " (disk full or a file-size limit?); the previous " + path.filename().string() +
                         " is unchanged");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw RuntimeError("cannot rename temp file onto " + path.string() + ": " + ec.message());
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeError("cannot read " + path.string() + ": no such file or not readable");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path increment_path(const fs::path& project, const std::string& name, bool exist_ok) {
  fs::path p = project / name;
  if (exist_ok || !fs::exists(p)) return p;
  for (int n = 2;; ++n) {
    fs::path q = project / (name + std::to_string(n));
    if (!fs::exists(q)) return q;
  }
}

bool on_path(const std::string& exe) {
  const char* p = std::getenv("PATH");
  std::stringstream path(p ? p : "");
  for (std::string dir; std::getline(path, dir, ':');)
    if (!dir.empty() && access((fs::path(dir) / exe).c_str(), X_OK) == 0) return true;
  return false;
}

fs::path shared_dir() {
  if (const char* env = std::getenv("VYOLO_SHARED")) {
    if (fs::is_directory(env)) return env;
  }
#ifdef VYOLO_SOURCE_DIR
  fs::path p = fs::path(VYOLO_SOURCE_DIR).parent_path() / "shared";
  if (fs::is_directory(p)) return p;
#endif
  fs::path q = fs::current_path().parent_path() / "shared";
  if (fs::is_directory(q)) return q;
  return {};
}

}  // namespace vyolo
