// Error types that map to the exit codes of DESIGN.md §6.
#pragma once
#include <stdexcept>
#include <string>

namespace vyolo {

// Bad command line or config: exit code 2, raised before any work starts.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Failure while working (unreadable file, corrupt weights, ...): exit code 1.
struct RuntimeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace vyolo
