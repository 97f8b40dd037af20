// File-system helpers: atomic writes and Ultralytics-style numbered run folders.
#pragma once
#include <filesystem>
#include <string>

namespace vyolo {

// Writes `bytes` to `path` through a temp file in the same folder and a rename, so a reader never sees a
// half-written file. Creates parent folders. Throws RuntimeError naming the path on failure.
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes);

// Reads a whole file; throws RuntimeError naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// `project/name`, or `project/name2`, `name3`, ... when it exists and exist_ok is false (Ultralytics' increment_path).
std::filesystem::path increment_path(const std::filesystem::path& project, const std::string& name, bool exist_ok);

// Whether an executable named `exe` is on $PATH.
bool on_path(const std::string& exe);

// Location of ../shared (parity fixtures, data), or empty when absent. Looks at $VYOLO_SHARED, then
// <source>/../shared.
std::filesystem::path shared_dir();

}  // namespace vyolo
