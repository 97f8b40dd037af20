// The ranks of one distributed training, connected by PyTorch's c10d: a TCPStore at MASTER_ADDR:MASTER_PORT for
// the rendezvous (rank 0 hosts it) and ProcessGroupGloo for the collectives (ProcessGroupNCCL for CUDA tensors where
// the LibTorch has it). Every collective has the timeout given here; when one fails, the error says which rank
// stopped: every rank writes a heartbeat to the store each second, and the ranks whose heartbeat went still are named.
//
//   dist::Group g(dist::env_from_environment(), std::chrono::seconds(1800), /*cuda=*/false);
//   g.broadcast(tensors);      // rank 0's values everywhere
//   g.allreduce_sum(t);        // t = sum over ranks (contiguous t)
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "common/error.h"
#include "dist/env.h"

namespace vyolo::dist {

// A collective or the rendezvous failed; what() names the rank(s) that died or hung when that can be told.
struct DistError : RuntimeError {
  using RuntimeError::RuntimeError;
};

class Group {
 public:
  Group(const DistEnv& env, std::chrono::milliseconds timeout, bool cuda);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const { return env_.rank; }
  int world() const { return env_.world; }
  const DistEnv& env() const { return env_; }
  std::string backend() const;

  // Rank `root`'s values into every rank's tensors, in place (any layout; the tensors' shapes must match).
  void broadcast(const std::vector<at::Tensor>& tensors, int root = 0);
  // t becomes the sum of every rank's t (t contiguous).
  void allreduce_sum(at::Tensor& t);
  // Starts a sum like allreduce_sum; wait_all() waits for every started one.
  void allreduce_sum_async(const at::Tensor& t);
  void wait_all();
  void barrier();

 private:
  struct Impl;
  [[noreturn]] void fail(const std::string& what, const std::exception& e);
  DistEnv env_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vyolo::dist
