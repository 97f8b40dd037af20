// Crash-safety test hook: with VYOLO_KILL_AT=<point>:<n>[:<file name part>] the process kills itself (SIGKILL, as a
// `kill -9` or the OOM killer would) the n-th time it passes `point` for a file whose path contains the name part.
// The writers place their points halfway through a write, so a test can stop a run in the middle of a checkpoint
// (`write`: write_file_atomic), a results.csv row (`csv`) or a TensorBoard / W&B record (`append`). Unset: nothing
// happens but one getenv at the first call.
#pragma once
#include <string>

namespace vyolo {

void kill_point(const char* point, const std::string& path);
bool kill_planned(const char* point);  // a plan names this point (writers then flush their first half first)

}  // namespace vyolo
