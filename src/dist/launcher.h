// `vyolo train training.nproc=N` on one machine: starts N copies of this program as ranks 0..N-1 (the environment
// torchrun would give them; rendezvous on 127.0.0.1 at a free port), passes Ctrl-C and SIGTERM on to all of them,
// and waits. When a rank fails, the others get `grace_s` seconds to notice and end by themselves (they do within
// training.dist_timeout), then they are stopped: nothing waits forever.
#pragma once
#include <string>
#include <vector>

namespace vyolo::dist {

// `args`: what follows the program name (the command and its overrides). Returns vyolo's exit status: 0 when every
// rank succeeded, 130 when interrupted, else the status of the first rank that failed.
int launch_local_ranks(int nproc, const std::vector<std::string>& args, double grace_s);

}  // namespace vyolo::dist
