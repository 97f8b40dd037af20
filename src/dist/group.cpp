#include "dist/group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace vyolo::dist {
namespace {

using ms = std::chrono::milliseconds;
constexpr ms kBeat{1000};

std::string hb_key(int rank) { return "vyolo/heartbeat/" + std::to_string(rank); }

c10::intrusive_ptr<c10d::TCPStore> connect(const DistEnv& env, ms timeout, bool server, bool count) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.master_port);
  o.isServer = server;
  o.numWorkers = static_cast<size_t>(env.world);
  o.waitWorkers = count;  // only the main connection of each rank counts towards the rendezvous
  o.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
}

}  // namespace

struct Group::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::string backend = "gloo";
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
  std::vector<at::Tensor> pending_tensors;  // alive until their work ends
  // Heartbeat: its own store connection, so a collective in progress never blocks it.
  c10::intrusive_ptr<c10d::TCPStore> hb_store;
  std::thread hb;
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
};

Group::Group(const DistEnv& env, ms timeout, bool cuda) : env_(env), impl_(std::make_unique<Impl>()) {
  try {
    impl_->store = connect(env, timeout, env.rank == 0, true);
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(env.rank) + ": rendezvous at " + env.master_addr + ":" +
                    std::to_string(env.master_port) + " failed (" + e.what() + "); are all " +
                    std::to_string(env.world) + " ranks started with the same MASTER_ADDR and MASTER_PORT?");
  }
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("vyolo/pg", impl_->store);
  try {
#ifdef USE_C10D_NCCL
    if (cuda) {
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = timeout;
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env.rank, env.world, o);
      impl_->backend = "nccl";
    }
#else
    (void)cuda;
#endif
    if (!impl_->pg) {
      auto o = c10d::ProcessGroupGloo::Options::create(timeout);
      // One machine: the loopback. Across nodes each rank binds the interface its hostname resolves to (Gloo's
      // default), or GLOO_SOCKET_IFNAME.
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");  // as torch.distributed: the network interface to use
      if (ifname && *ifname)
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost")
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      o->threads = 2;
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env.rank, env.world, o);
    }
  } catch (const std::exception& e) {
    throw DistError("rank " + std::to_string(env.rank) + ": connecting the " + std::to_string(env.world) +
                    " ranks failed: " + e.what());
  }
  impl_->hb_store = connect(env, ms(5000), false, false);
  impl_->hb = std::thread([impl = impl_.get(), rank = env.rank] {
    long beat = 0;
    std::unique_lock<std::mutex> lk(impl->m);
    while (!impl->stop) {
      try {
        const std::string v = std::to_string(++beat);
        impl->hb_store->set(hb_key(rank), std::vector<uint8_t>(v.begin(), v.end()));
      } catch (const std::exception&) {
        return;  // the store is gone: its host ended; the next collective reports it
      }
      impl->cv.wait_for(lk, kBeat);
    }
  });
}

Group::~Group() {
  {
    std::lock_guard<std::mutex> lk(impl_->m);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->hb.joinable()) impl_->hb.join();
}

std::string Group::backend() const { return impl_->backend; }

// Which ranks stopped: their heartbeats did not move for a few seconds, or the store's host is gone.
void Group::fail(const std::string& what, const std::exception& e) {
  std::string msg = "rank " + std::to_string(env_.rank) + ": " + what + " failed (" + e.what() + "). ";
  try {
    auto probe = connect(env_, ms(4000), false, false);
    auto read = [&] {
      std::map<int, std::string> beats;
      for (int r = 0; r < env_.world; ++r)
        if (r != env_.rank && probe->check({hb_key(r)})) {
          auto v = probe->get(hb_key(r));
          beats[r] = std::string(v.begin(), v.end());
        }
      return beats;
    };
    auto before = read();
    std::this_thread::sleep_for(3 * kBeat);
    auto after = read();
    std::string stopped;
    for (int r = 0; r < env_.world; ++r)
      if (r != env_.rank && (!after.count(r) || before[r] == after[r]))
        stopped += (stopped.empty() ? "" : ", ") + std::to_string(r);
    msg += stopped.empty() ? "Every other rank is still alive; one may be stuck (training.dist_timeout)."
                           : "Rank " + stopped + " stopped (no heartbeat for 3 s): it died or hung; see its output.";
  } catch (const std::exception&) {
    msg += "Rank 0, which hosts the rendezvous store at " + env_.master_addr + ":" + std::to_string(env_.master_port) +
           ", is gone: it died or hung; see its output.";
  }
  throw DistError(msg);
}

void Group::broadcast(const std::vector<at::Tensor>& tensors, int root) {
  // One flat buffer per dtype and device: a few large messages instead of hundreds of small ones.
  std::map<std::pair<int, std::string>, std::vector<at::Tensor>> groups;
  for (const auto& t : tensors)
    if (t.defined() && t.numel() > 0)
      groups[{static_cast<int>(t.scalar_type()), t.device().str()}].push_back(t);
  try {
    for (auto& [key, ts] : groups) {
      int64_t n = 0;
      for (auto& t : ts) n += t.numel();
      auto flat = at::empty({n}, ts.front().options().memory_format(c10::MemoryFormat::Contiguous));
      int64_t off = 0;
      for (auto& t : ts) flat.narrow(0, off, t.numel()).view(t.sizes()).copy_(t), off += t.numel();
      std::vector<at::Tensor> v{flat};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      impl_->pg->broadcast(v, o)->wait();
      off = 0;
      for (auto& t : ts) t.copy_(flat.narrow(0, off, t.numel()).view(t.sizes())), off += t.numel();
    }
  } catch (const std::exception& e) {
    fail("broadcast", e);
  }
}

void Group::allreduce_sum(at::Tensor& t) {
  try {
    std::vector<at::Tensor> v{t};
    impl_->pg->allreduce(v)->wait();
  } catch (const std::exception& e) {
    fail("all-reduce", e);
  }
}

void Group::allreduce_sum_async(const at::Tensor& t) {
  try {
    std::vector<at::Tensor> v{t};
    impl_->pending.push_back(impl_->pg->allreduce(v));
    impl_->pending_tensors.push_back(t);
  } catch (const std::exception& e) {
    fail("all-reduce", e);
  }
}

void Group::wait_all() {
  try {
    for (auto& w : impl_->pending) w->wait();
  } catch (const std::exception& e) {
    impl_->pending.clear();
    impl_->pending_tensors.clear();
    fail("all-reduce", e);
  }
  impl_->pending.clear();
  impl_->pending_tensors.clear();
}

void Group::barrier() {
  try {
    impl_->pg->barrier()->wait();
  } catch (const std::exception& e) {
    fail("barrier", e);
  }
}

}  // namespace vyolo::dist
