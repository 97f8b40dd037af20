// Where this process stands in a distributed training: its rank among `world` processes, its rank on its own
// machine, and the rendezvous address. Read from the variables torchrun (and `vyolo train training.nproc=N`) set —
// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT — or from SLURM's (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE), so any launcher works and multi-node needs nothing more.
#pragma once
#include <string>

namespace vyolo::dist {

struct DistEnv {
  int rank = 0, world = 1;
  int local_rank = 0, local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool active() const { return world > 1; }
  std::string describe() const;  // "rank 1 of 2 (local 1 of 2), rendezvous 127.0.0.1:29500"
};

// From the environment; world 1 when no launcher variable is set. A variable that is not a number, or a rank out of
// range, is a UsageError naming the variable.
DistEnv env_from_environment();

// A TCP port on this machine that nothing listens on now (for a local launch's rendezvous).
int free_port();

}  // namespace vyolo::dist
