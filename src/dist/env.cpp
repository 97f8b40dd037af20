#include "dist/env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "common/error.h"

namespace vyolo::dist {
namespace {

const char* var(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int number(const char* name, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 0 || v > 1000000)
    throw UsageError(std::string("environment variable ") + name + "='" + text + "': expected a whole number");
  return static_cast<int>(v);
}

// SLURM_NTASKS_PER_NODE may read "2" or "2(x3)".
int leading_number(const char* name, const char* text) {
  std::string s(text);
  return number(name, s.substr(0, s.find('(')).c_str());
}

}  // namespace

std::string DistEnv::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world) + " (local " + std::to_string(local_rank) +
         " of " + std::to_string(local_world) + "), rendezvous " + master_addr + ":" + std::to_string(master_port);
}

DistEnv env_from_environment() {
  DistEnv e;
  if (var("WORLD_SIZE")) {  // torchrun, or a launcher that imitates it
    e.world = number("WORLD_SIZE", var("WORLD_SIZE"));
    if (!var("RANK")) throw UsageError("WORLD_SIZE is set but RANK is not: set both (as torchrun does)");
    e.rank = number("RANK", var("RANK"));
    e.local_rank = var("LOCAL_RANK") ? number("LOCAL_RANK", var("LOCAL_RANK")) : e.rank;
    e.local_world = var("LOCAL_WORLD_SIZE") ? number("LOCAL_WORLD_SIZE", var("LOCAL_WORLD_SIZE")) : e.world;
  } else if (var("SLURM_NTASKS") && var("SLURM_PROCID")) {  // srun
    e.world = number("SLURM_NTASKS", var("SLURM_NTASKS"));
    e.rank = number("SLURM_PROCID", var("SLURM_PROCID"));
    e.local_rank = var("SLURM_LOCALID") ? number("SLURM_LOCALID", var("SLURM_LOCALID")) : 0;
    e.local_world = var("SLURM_NTASKS_PER_NODE") ? leading_number("SLURM_NTASKS_PER_NODE", var("SLURM_NTASKS_PER_NODE"))
                                                 : 1;
    // The batch script usually exports MASTER_ADDR (the first node); srun's launch node is the fallback.
    if (!var("MASTER_ADDR") && var("SLURM_LAUNCH_NODE_IPADDR")) e.master_addr = var("SLURM_LAUNCH_NODE_IPADDR");
  } else {
    return e;
  }
  if (e.world < 1) throw UsageError("WORLD_SIZE must be at least 1");
  if (e.rank >= e.world)
    throw UsageError("RANK=" + std::to_string(e.rank) + " but WORLD_SIZE=" + std::to_string(e.world) +
                     ": a rank runs from 0 to WORLD_SIZE-1");
  if (e.local_world < 1) e.local_world = 1;
  if (e.local_rank >= e.local_world) e.local_world = e.local_rank + 1;
  if (var("MASTER_ADDR")) e.master_addr = var("MASTER_ADDR");
  if (var("MASTER_PORT")) {
    e.master_port = number("MASTER_PORT", var("MASTER_PORT"));
    if (e.master_port < 1 || e.master_port > 65535)
      throw UsageError("MASTER_PORT=" + std::to_string(e.master_port) + ": not a TCP port");
  }
  return e;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw RuntimeError("cannot open a socket to find a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  if (port <= 0) throw RuntimeError("cannot find a free TCP port on 127.0.0.1");
  return port;
}

}  // namespace vyolo::dist
