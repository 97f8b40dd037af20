#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/console.h"
#include "common/error.h"
#include "common/fs_util.h"
#include "common/phase_timer.h"
#include "config/hydra_files.h"
#include "data/prepare.h"
#include "dataset/loader.h"
#include "dist/env.h"
#include "dist/grad_reducer.h"
#include "dist/group.h"
#include "dist/sync_batchnorm.h"
#include "eval/plots.h"
#include "ops/bn_silu.h"
#include "ops/device.h"
#include "log/logger.h"
#include "loss/detection_loss.h"
#include "model/weights.h"
#include "train/optim.h"
#include "train/validator.h"

namespace fs = std::filesystem;

namespace vyolo::train {
namespace {

using json = nlohmann::json;

std::atomic<bool> g_stop{false};

void on_signal(int sig) {
  g_stop.store(true);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

struct SignalScope {
  using Handler = void (*)(int);
  Handler old_int, old_term;
  SignalScope() {
    g_stop.store(false);
    old_int = std::signal(SIGINT, on_signal);
    old_term = std::signal(SIGTERM, on_signal);
  }
  ~SignalScope() {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
  }
};

// bf16 autocast for the forward pass (CPU or CUDA), off again when the scope ends.
struct AutocastScope {
  bool on, cuda;
  AutocastScope(bool enable, bool is_cuda) : on(enable), cuda(is_cuda) {
    if (!on) return;
    if (cuda) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    if (cuda)
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
  }
};

// Whether /proc/cpuinfo's flags name any of `flags`.
bool cpu_has_flag(std::initializer_list<const char*> flags) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      line += ' ';
      for (const char* f : flags)
        if (line.find(std::string(" ") + f + " ") != std::string::npos) return true;
      return false;
    }
  return false;
}

std::string yaml_text(const YAML::Node& n) {
  YAML::Emitter e;
  e << n;
  return std::string(e.c_str()) + "\n";
}

std::string hu_json(const HuWindows& w) {
  json j;
  j["bone"] = {{"min", w.bone.min}, {"max", w.bone.max}};
  j["soft_tissue"] = {{"min", w.soft_tissue.min}, {"max", w.soft_tissue.max}};
  j["wide"] = {{"min", w.wide.min}, {"max", w.wide.max}};
  return j.dump();
}

std::string fmt_num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

// What ranks other than 0 log: nothing (rank 0 alone writes results.csv, TensorBoard and W&B, as Ultralytics).
class QuietLogger : public log::Logger {
 public:
  void run_start(const log::RunInfo&) override {}
  void scalars(int64_t, const std::map<std::string, double>&) override {}
  void image(int64_t, const std::string&, const cv::Mat&) override {}
  void epoch_end(int, const std::map<std::string, double>&) override {}
  void file(const fs::path&, const std::string&) override {}
  void run_end(const std::map<std::string, double>&, int) override {}
};

// This rank's device: with a list (`0,1` or `cuda:0,1`) the local rank's entry, as Ultralytics' DDP.
torch::Device rank_device(const std::string& spec, int local_rank) {
  std::vector<std::string> items;
  std::string cur;
  for (char c : spec + ",")
    if (c == ',') {
      if (!cur.empty()) items.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  if (items.size() <= 1) return ops::parse_device(spec);
  if (items[0].rfind("cuda:", 0) == 0) items[0] = items[0].substr(5);
  return ops::parse_device(items[static_cast<size_t>(local_rank) % items.size()]);
}

struct TopK {
  double value;
  std::string path;
};

class Run {
 public:
  Run(Config cfg, const TrainOptions& opt) : cfg_(std::move(cfg)), opt_(opt) {}
  TrainResult go();

 private:
  void setup();
  st::File load_resume_config();
  void setup_data();
  void setup_model();
  void setup_optimizer();
  void setup_outputs();
  void resume_from(const st::File& f);
  void read_resume_state(const st::File& f, const json& s, const std::string& origin);
  void read_recipe();
  void train_epoch(int epoch, int start_batch);
  bool end_epoch(int epoch);  // true: stop
  st::File weights_file(bool full, int completed_epochs, int batch_in_epoch);
  void save_last(int completed_epochs, int batch_in_epoch);
  void save_weights(const fs::path& path, int completed_epochs);
  void update_topk(int epoch, const std::map<std::string, double>& row);
  void progress(int epoch, int i, const torch::Tensor& tloss, int instances, int size, bool done);
  void setup_distributed();
  bool stop_requested() const { return world_ > 1 ? agreed_stop_ : g_stop.load(); }

  Config cfg_;
  TrainOptions opt_;
  TrainResult res_;
  fs::path wdir_;
  torch::Device device_{torch::kCPU};
  std::unique_ptr<dataset::DataLoader> train_loader_, val_loader_;
  model::YoloV8 net_{nullptr};
  std::unique_ptr<ModelEMA> ema_;
  std::unique_ptr<Optimizer> optim_;
  std::unique_ptr<loss::DetectionLoss> loss_;
  std::unique_ptr<log::Logger> logger_;
  OptimizerChoice choice_;
  ScheduleParams sp_;
  std::vector<std::string> names_;
  int nc_ = 1, nb_ = 0, accumulate_ = 1, epochs_ = 1;
  int64_t last_opt_step_ = -1;
  int start_epoch_ = 0, start_batch_ = 0;
  bool resumed_ = false, bf16_ = false, channels_last_ = false;
  std::map<std::string, std::string> recipe_;  // how `vyolo prepare` cut the slices (checkpoint metadata)
  torch::Tensor tloss_;
  double best_fitness_ = 0;
  bool has_best_ = false;
  double last_val_s_ = 0;  // the current epoch's validation time
  std::map<std::string, double> best_row_, last_row_;
  EarlyStopping stopper_;
  std::vector<TopK> topk_;
  std::chrono::steady_clock::time_point epoch_t0_;
  bool tty_ = false;
  // Data-parallel training (world_ > 1): rank 0 (main_) validates, logs and saves; every rank trains on its share.
  dist::DistEnv env_;
  int rank_ = 0, world_ = 1;
  bool main_ = true, agreed_stop_ = false;
  std::unique_ptr<dist::Group> group_;
  std::unique_ptr<dist::GradReducer> reducer_;
};

// Converts 4-D parameters to NHWC: oneDNN's convolutions then run without layout reorders (forward 30 % faster at
// 320 px on the 2-core EPYC). Checkpoints are written in the usual NCHW order.
void to_channels_last(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  for (auto& p : m.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
}

void Run::setup() {
  env_ = dist::env_from_environment();
  rank_ = env_.rank, world_ = env_.world, main_ = rank_ == 0;
  if (!main_) opt_.progress = false;
  int threads = cfg_.training.threads;
  if (env_.local_world > 1)  // the machine's cores (or training.threads) divided between its ranks
    threads = std::max(1, (threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency())) /
                              env_.local_world);
  ops::init_threads(threads);
  device_ = rank_device(cfg_.training.device, env_.local_rank);
  res_.run_dir = run_dir_for(cfg_);
  wdir_ = cfg_.checkpoint.dirpath.empty() ? res_.run_dir / "weights" : fs::path(cfg_.checkpoint.dirpath);
  res_.last = wdir_ / "last.safetensors";
  res_.best = wdir_ / "best.safetensors";
  tty_ = opt_.progress && isatty(STDOUT_FILENO);

  st::File resume_file;
  if (cfg_.training.resume) resume_file = load_resume_config();
  epochs_ = cfg_.training.epochs;
  if (epochs_ < 1) throw UsageError("training.epochs must be at least 1");
  read_recipe();
  nc_ = cfg_.model.num_classes;
  if (cfg_.data.data_yaml.empty() && cfg_.data.num_classes != nc_)
    throw UsageError("model.num_classes=" + std::to_string(nc_) + " but data.num_classes=" +
                     std::to_string(cfg_.data.num_classes));
  if (cfg_.data.batch_size < 1) throw UsageError("data.batch_size must be at least 1");
  if (cfg_.data.batch_size < world_)
    throw UsageError("data.batch_size=" + std::to_string(cfg_.data.batch_size) + " is smaller than the " +
                     std::to_string(world_) + " ranks: each rank trains on data.batch_size / ranks images a step");

  setup_data();  // first: an empty split, unknown patients or a set without labels fail before anything is written
  setup_model();
  setup_optimizer();
  if (resumed_) resume_from(resume_file);
  if (world_ > 1) setup_distributed();
  if (main_)
    setup_outputs();
  else
    logger_ = std::make_unique<QuietLogger>();
}

// Joins the other ranks, starts every rank from rank 0's weights and buffers, and makes gradients (and, with
// training.sync_bn, BatchNorm statistics) global.
void Run::setup_distributed() {
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(cfg_.training.dist_timeout * 1000));
  group_ = std::make_unique<dist::Group>(env_, timeout, device_.is_cuda());
  std::vector<torch::Tensor> state = net_->parameters();
  for (auto& b : net_->buffers()) state.push_back(b);
  {
    torch::NoGradGuard ng;
    group_->broadcast(state);
  }
  if (main_ && !resumed_) copy_state(*net_, *ema_->module());  // the EMA starts from what every rank trains
  reducer_ = std::make_unique<dist::GradReducer>(*group_, net_->parameters());
  if (cfg_.training.sync_bn) {
    dist::Group* g = group_.get();
    net_->set_norm([g](torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) { return dist::sync_batch_norm(*g, bn, x); });
  }
  if (main_)
    std::cout << "vyolo: data-parallel training on " << world_ << " ranks (" << group_->backend() << ", "
              << cfg_.data.batch_size / world_ << " images per rank a batch"
              << (cfg_.training.sync_bn ? ", synchronised BatchNorm" : "") << ")\n";
}

// Continues with the run's own config (as Ultralytics does); device, threads and workers may change.
st::File Run::load_resume_config() {
  if (!fs::exists(res_.last)) throw UsageError("training.resume=true: no checkpoint to resume at " + res_.last.string());
  st::File resume_file = st::read(res_.last.string());
  auto it = resume_file.metadata.find("config");
  YAML::Node saved_tree;
  if (it != resume_file.metadata.end()) {
    try {
      saved_tree = YAML::Load(it->second);
    } catch (const std::exception&) {
    }
  }
  if (saved_tree.IsMap() && saved_tree.size() > 0) {  // a config built in code (tests) has no tree
    try {
      Config saved = load_config(saved_tree);
      saved.training.resume = true;
      saved.training.device = cfg_.training.device;
      saved.training.threads = cfg_.training.threads;
      saved.data.num_workers = cfg_.data.num_workers;
      saved.run = cfg_.run;
      saved.hyp = cfg_.hyp;
      saved.user_keys = cfg_.user_keys;
      // `training.epochs=N` typed with resume extends (or shortens) the run; the lr schedule follows the new N.
      if (cfg_.given("training.epochs")) saved.training.epochs = cfg_.training.epochs;
      cfg_ = std::move(saved);
    } catch (const std::exception& e) {
      console::warn(res_.last.string() + ": its config could not be read back (" + e.what() +
                    "); resuming with the current config");
    }
  }
  resumed_ = true;
  return resume_file;
}

void Run::setup_data() {
  train_loader_ = dataset::make_train_loader(cfg_, {}, rank_, world_);
  nb_ = static_cast<int>(train_loader_->num_batches());
  if (cfg_.training.val && main_) val_loader_ = dataset::make_val_loader(cfg_, cfg_.data.batch_size * 2);
  if (main_)
    std::cout << "vyolo: train: " << train_loader_->dataset().size() << " images, " << nb_ << " batches an epoch"
              << (world_ > 1 ? " on each of " + std::to_string(world_) + " ranks" : std::string())
              << (val_loader_ ? "; val: " + std::to_string(val_loader_->dataset().size()) + " images" : std::string())
              << "\n";
  names_ = train_loader_->dataset().options().names;
  if (static_cast<int>(names_.size()) != nc_) {
    names_.clear();
    for (int i = 0; i < nc_; ++i) names_.push_back(nc_ == 1 ? "fracture" : std::to_string(i));
  }
}

// The network (from scratch or transferred from model.pretrained), its EMA copy and the loss.
void Run::setup_model() {
  torch::manual_seed(static_cast<uint64_t>(cfg_.seed));
  net_ = model::YoloV8(cfg_.model.variant, nc_, cfg_.model.input_channels);
  if (!cfg_.model.pretrained.empty() && !resumed_) {
    auto f = st::read(cfg_.model.pretrained);
    auto rep = model::load_weights(net_, f, cfg_.model.pretrained, /*allow_class_change=*/true);
    if (main_) std::cout << "vyolo: transferred " << rep.loaded << " tensors from " << cfg_.model.pretrained
              << (rep.reinitialised ? " (" + std::to_string(rep.reinitialised) + " head tensors new for " +
                                          std::to_string(nc_) + " classes)"
                                    : std::string())
              << "\n";
  }
  net_->to(device_);
  channels_last_ = cfg_.training.channels_last;
  ops::set_bn_silu_fusion(cfg_.training.fused_bn_silu);
  if (channels_last_) to_channels_last(*net_);
  model::YoloV8 ema_net(cfg_.model.variant, nc_, cfg_.model.input_channels);
  ema_net->to(device_);
  // The EMA update then runs on matching layouts, and validation gets NHWC convolutions.
  if (channels_last_) to_channels_last(*ema_net);
  copy_state(*net_, *ema_net);
  ema_ = std::make_unique<ModelEMA>(ema_net);

  loss::LossOptions lo;
  lo.nc = nc_;
  lo.box = cfg_.hyp.box, lo.cls = cfg_.hyp.cls, lo.dfl = cfg_.hyp.dfl;
  lo.focal = cfg_.training.use_focal_loss;
  lo.focal_gamma = cfg_.training.focal_gamma, lo.focal_alpha = cfg_.training.focal_alpha;
  loss_ = std::make_unique<loss::DetectionLoss>(lo);
  tloss_ = torch::zeros({3}, torch::kFloat64);
  bf16_ = cfg_.training.bf16;
  if (bf16_ && device_.is_cpu() && !cpu_has_flag({"avx512_bf16", "amx_bf16"}))
    console::warn("training.bf16=true but this CPU has no AVX512-BF16/AMX: bfloat16 is emulated and slow");
  if (!bf16_ && device_.is_cpu() && cpu_has_flag({"amx_bf16"}))
    console::note("this CPU has AMX: training.bf16=true runs the convolutions in bfloat16 on it, about 1.7x faster "
                  "per training step (README, speed notes)");
}

// Optimizer (Ultralytics' `auto` choice), gradient accumulation, the lr/momentum schedule and early stopping.
void Run::setup_optimizer() {
  const int bs = cfg_.data.batch_size;
  accumulate_ = nominal_accumulate(cfg_.training.nbs, bs);
  const double wd = cfg_.training.weight_decay * bs * accumulate_ / cfg_.training.nbs;
  const auto n_images = static_cast<int64_t>(train_loader_->dataset().size());
  const int64_t iterations =
      static_cast<int64_t>(std::ceil(double(n_images) / std::max(bs, cfg_.training.nbs))) * epochs_;
  choice_ = choose_optimizer(cfg_.training.optimizer, cfg_.training.lr0, cfg_.training.momentum, nc_, iterations);
  optim_ = std::make_unique<Optimizer>(build_optimizer(net_, choice_, wd));
  sp_.epochs = epochs_;
  sp_.lrf = cfg_.training.lrf;
  sp_.cos_lr = cfg_.training.cos_lr;
  sp_.nw = warmup_iterations(cfg_.training.warmup_epochs, nb_);
  sp_.warmup_bias_lr = choice_.automatic ? 0.0 : cfg_.hyp.warmup_bias_lr;
  sp_.warmup_momentum = cfg_.hyp.warmup_momentum;
  sp_.momentum = cfg_.training.momentum;
  sp_.nbs = cfg_.training.nbs;
  sp_.batch_size = bs;
  if (choice_.automatic && main_)
    std::cout << "vyolo: optimizer=auto -> " << choice_.name << " lr=" << choice_.lr
              << " momentum=" << choice_.momentum << "\n";

  stopper_.patience = cfg_.training.patience;
}

// Outputs: .hydra files, loggers (an unwritable log dir fails here, before training).
void Run::setup_outputs() {
  fs::create_directories(res_.run_dir);
  if (resumed_) {  // temp files of checkpoints a killed run was writing (write_file_atomic: <name>.tmp<pid>_<n>)
    std::error_code ec;
    for (auto it = fs::directory_iterator(wdir_, ec); !ec && it != fs::directory_iterator(); ++it)
      if (it->path().filename().string().find(".safetensors.tmp") != std::string::npos) fs::remove(it->path(), ec);
  }
  write_hydra_files(res_.run_dir, cfg_.tree, opt_.command, opt_.overrides, cfg_.run);
  log::RunInfo info;
  info.run_dir = res_.run_dir;
  info.run_name = cfg_.logging.experiment_name + "_fold_" + std::to_string(cfg_.split.fold_id);
  info.job_type = opt_.job_type;
  info.config_yaml = read_file(res_.run_dir / ".hydra" / "config.yaml");
  info.command_line = opt_.command_line;
  info.args = opt_.args;
  info.resumed = resumed_;
  if (resumed_) info.resume_epoch = start_epoch_, info.resume_batch = start_batch_;
  logger_ = log::make_loggers(cfg_, info);
  logger_->run_start(info);
}

void Run::resume_from(const st::File& f) {
  const std::string origin = res_.last.string();
  load_prefixed(*net_, f, "train.", origin);
  load_prefixed(*ema_->module(), f, "", origin);
  optim_->load(f, "optim.", origin);
  json s;
  try {
    s = json::parse(f.metadata.at("train_state"));
  } catch (const std::exception&) {
    throw RuntimeError(origin + ": no readable train_state metadata; cannot resume");
  }
  // Values of the wrong type or range in the metadata are errors naming the checkpoint (json / stoi exceptions
  // carried no file name).
  try {
    read_resume_state(f, s, origin);
  } catch (const RuntimeError&) {
    throw;
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    throw RuntimeError(origin + ": unreadable resume state in the checkpoint metadata (" + e.what() + ")");
  }
  // Momentum after warmup: the configured value (SGD); lr is set per epoch and during warmup.
  const int64_t ni = int64_t(start_epoch_) * nb_ + start_batch_;
  if (optim_->has_momentum() && sp_.nw >= 0 && ni > sp_.nw)
    for (auto& g : optim_->groups()) g.momentum = sp_.momentum;
  auto rng = f.tensors.find("rng.torch_cpu");
  if (rng != f.tensors.end()) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(model::from_st(rng->second));
  }
  if (main_) std::cout << "vyolo: resuming " << origin << " at epoch " << start_epoch_ + 1
            << (start_batch_ ? ", batch " + std::to_string(start_batch_ + 1) : std::string()) << "\n";
}

void Run::read_resume_state(const st::File& f, const json& s, const std::string& origin) {
  start_epoch_ = std::stoi(f.metadata.at("epoch"));
  start_batch_ = s.value("batch", 0);
  const int saved_world = s.value("world", 1);
  if (start_epoch_ >= epochs_ && start_batch_ == 0)
    throw UsageError(origin + ": training to " + std::to_string(epochs_) +
                     " epochs is finished, nothing to resume (start a new run or raise training.epochs)");
  last_opt_step_ = s.value("last_opt_step", int64_t{-1});
  accumulate_ = s.value("accumulate", accumulate_);
  if (saved_world != world_) {
    // Another number of ranks: other shares and batches per epoch. The run goes on from the epoch's start, with
    // the optimizer step counted as just before it (step counts are in this world's batches).
    if (start_batch_ > 0 && main_)
      console::note("the checkpoint was written by " + std::to_string(saved_world) + " rank(s), this run has " +
                    std::to_string(world_) + ": epoch " + std::to_string(start_epoch_ + 1) +
                    " starts again from its first batch");
    start_batch_ = 0;
    last_opt_step_ = int64_t(start_epoch_) * nb_ - 1;
  }
  ema_->updates = s.value("ema_updates", int64_t{0});
  has_best_ = s.value("has_best", false);
  best_fitness_ = s.value("best_fitness", 0.0);
  stopper_.best_fitness = s.value("stop_best_fitness", 0.0);
  stopper_.best_epoch = s.value("stop_best_epoch", 0);
  auto tl = s.value("tloss", std::vector<double>{0, 0, 0});
  tloss_ = torch::tensor(tl, torch::kFloat64);
  const json topk = s.value("topk", json::array()), best = s.value("best_row", json::object()),
             last = s.value("last_row", json::object());
  for (const auto& e : topk) topk_.push_back({e.at("value").get<double>(), e.at("path").get<std::string>()});
  for (auto it = best.begin(); it != best.end(); ++it) best_row_[it.key()] = it.value().get<double>();
  for (auto it = last.begin(); it != last.end(); ++it) last_row_[it.key()] = it.value().get<double>();
}

void Run::read_recipe() {
  // A dataset made by `vyolo prepare` says how its slices were cut (stats.json); checkpoints carry that recipe so
  // volume inference slices CTs the same way. An Ultralytics data.yaml dataset has none.
  if (!cfg_.data.data_yaml.empty()) return;
  const fs::path stats = fs::path(cfg_.data.data_dir) / "stats.json";
  std::error_code ec;
  if (!fs::exists(stats, ec)) return;
  StatsRecipe r;
  try {
    r = parse_stats_recipe(read_file(stats), stats.string());
  } catch (const std::exception& e) {
    console::warn(std::string(e.what()) + "; checkpoints will not record how the slices were cut");
    return;
  }
  for (const auto& [k, v] : r.recipe) recipe_[k] = v;
  if (!r.view.empty() && r.view != cfg_.data.view) {
    console::warn("data.view=" + cfg_.data.view + " but " + stats.string() + " was prepared from " + r.view +
                  " slices; checkpoints record " + r.view);
    recipe_["view"] = r.view;
  }
}

st::File Run::weights_file(bool full, int completed_epochs, int batch_in_epoch) {
  st::File f;
  model::add_module_tensors(f, *ema_->module(), "");
  auto& m = f.metadata;
  m["variant"] = cfg_.model.variant;
  m["num_classes"] = std::to_string(nc_);
  m["names"] = json(names_).dump();
  m["input_channels"] = std::to_string(cfg_.model.input_channels);
  m["img_size"] = std::to_string(cfg_.data.image_size);
  m["view"] = cfg_.data.view;
  m["hu_windows"] = hu_json(cfg_.data.hu_windows);
  for (const auto& [k, v] : recipe_) m[k] = v;
  m["epoch"] = std::to_string(completed_epochs);
  m["best_fitness"] = has_best_ ? fmt_num(best_fitness_) : "";
  m["config"] = yaml_text(cfg_.tree);
  m["version"] = VYOLO_VERSION;
  m["format"] = "vyolo-checkpoint-1";
  if (full) {
    model::add_module_tensors(f, *net_, "train.");
    optim_->save(f, "optim.");
    auto gen = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      f.tensors["rng.torch_cpu"] = model::to_st(gen.get_state());
    }
    json s;
    s["batch"] = batch_in_epoch;
    s["optimizer"] = choice_.name;
    s["lr"] = choice_.lr;
    s["momentum"] = choice_.momentum;
    s["last_opt_step"] = last_opt_step_;
    s["accumulate"] = accumulate_;
    s["world"] = world_;
    s["ema_updates"] = ema_->updates;
    s["has_best"] = has_best_;
    s["best_fitness"] = best_fitness_;
    s["stop_best_fitness"] = stopper_.best_fitness;
    s["stop_best_epoch"] = stopper_.best_epoch;
    auto tl = tloss_.contiguous();
    s["tloss"] = std::vector<double>(tl.data_ptr<double>(), tl.data_ptr<double>() + 3);
    json tk = json::array();
    for (auto& t : topk_) tk.push_back({{"value", t.value}, {"path", t.path}});
    s["topk"] = tk;
    s["best_row"] = best_row_;
    s["last_row"] = last_row_;
    m["train_state"] = s.dump();
  }
  return f;
}

void Run::save_last(int completed_epochs, int batch_in_epoch) {
  st::write_atomic(res_.last.string(), weights_file(true, completed_epochs, batch_in_epoch));
}

void Run::save_weights(const fs::path& path, int completed_epochs) {
  st::write_atomic(path.string(), weights_file(false, completed_epochs, 0));
}

void Run::update_topk(int epoch, const std::map<std::string, double>& row) {
  const int k = cfg_.checkpoint.save_top_k;
  auto it = row.find(cfg_.checkpoint.monitor);
  if (k == 0 || it == row.end()) return;
  const bool maximise = cfg_.checkpoint.mode != "min";
  auto better = [&](double a, double b) { return maximise ? a > b : a < b; };
  const double v = it->second;
  auto values = row;
  values["epoch"] = epoch;
  const fs::path path = wdir_ / (format_filename(cfg_.checkpoint.filename, values) + ".safetensors");
  if (k > 0 && static_cast<int>(topk_.size()) >= k) {
    size_t worst = 0;
    for (size_t i = 1; i < topk_.size(); ++i)
      if (better(topk_[worst].value, topk_[i].value)) worst = i;
    if (!better(v, topk_[worst].value)) return;
    std::error_code ec;
    if (topk_[worst].path != path.string()) fs::remove(topk_[worst].path, ec);
    topk_.erase(topk_.begin() + worst);
  }
  save_weights(path, epoch);
  topk_.push_back({v, path.string()});
}

void Run::progress(int epoch, int i, const torch::Tensor& tloss, int instances, int size, bool done) {
  if (!opt_.progress || (!tty_ && !done)) return;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_t0_).count();
  const int n = i + 1;
  const double rate = secs > 0 ? n / secs : 0;
  const double eta = rate > 0 ? (nb_ - n) / rate : 0;
  char buf[256];
  auto l = tloss.contiguous();
  const double* t = l.data_ptr<double>();
  std::snprintf(buf, sizeof buf, "%11s%11.4g%11.4g%11.4g%11d%11d  %d/%d  %.2fit/s  %s %.0fs",
                (std::to_string(epoch + 1) + "/" + std::to_string(epochs_)).c_str(), t[0], t[1], t[2], instances, size,
                n, nb_, rate, done ? "time" : "ETA", done ? secs : eta);
  std::cout << (tty_ ? "\r" : "") << buf << (done ? "\n" : "") << std::flush;
}

void Run::train_epoch(int epoch, int start_batch) {
  apply_epoch_lr(*optim_, epoch, sp_);
  net_->train();
  train_loader_->set_epoch(epoch, epochs_);
  optim_->zero_grad();
  if (start_batch == 0) tloss_ = torch::zeros({3}, torch::kFloat64);
  if (opt_.progress) {
    char head[128];
    std::snprintf(head, sizeof head, "%11s%11s%11s%11s%11s%11s", "Epoch", "box_loss", "cls_loss", "dfl_loss",
                  "Instances", "Size");
    std::cout << head << "\n";
  }
  epoch_t0_ = std::chrono::steady_clock::now();
  dataset::Batch b;
  for (int s = 0; s < start_batch && train_loader_->next(b); ++s) {
  }  // the batches done before an interruption (the loader's order and augmentation depend on seed and epoch only)
  std::vector<torch::Tensor> params = net_->parameters();
  PhaseTimer pt(std::getenv("VYOLO_PROFILE") != nullptr);
  // The epoch's closing progress line shows the last batch's instances and size, as Ultralytics' bar does.
  int last_instances = 0, last_size = cfg_.data.image_size;
  for (int i = start_batch; pt.mark("progress and logging"), train_loader_->next(b); ++i) {
    pt.mark("wait for loader");
    const int64_t ni = i + int64_t(nb_) * epoch;
    accumulate_ = apply_warmup(*optim_, ni, epoch, sp_, accumulate_);
    auto x = batch_tensor(b, cfg_.model.input_channels, device_);
    if (channels_last_) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    auto targets = targets_tensor(b).to(device_);
    std::vector<torch::Tensor> raw;
    {
      AutocastScope ac(bf16_, device_.is_cuda());
      raw = net_->forward(x);
    }
    pt.mark("forward");
    for (auto& r : raw)
      if (r.scalar_type() != torch::kFloat32) r = r.to(torch::kFloat32);
    auto lr = loss_->forward(raw, targets);
    pt.mark("loss");
    // Ultralytics' DDP scaling: the ranks' gradients are averaged, so each rank's loss counts world_ times.
    (world_ > 1 ? lr.loss_sum_times_bs * world_ : lr.loss_sum_times_bs).backward();
    pt.mark("backward");
    auto items = lr.items.to(torch::kCPU).to(torch::kFloat64);
    tloss_ = (tloss_ * i + items) / (i + 1);
    bool stepped = false;
    if (ni - last_opt_step_ >= accumulate_) {
      // A stop request (Ctrl-C, SIGTERM) travels with the gradients, so every rank stops after the same step.
      if (reducer_) agreed_stop_ = reducer_->average({g_stop.load() ? 1.0 : 0.0})[0] > 0;
      pt.mark("all-reduce");
      if (cfg_.training.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, cfg_.training.max_grad_norm);
      optim_->step();
      optim_->zero_grad();
      pt.mark("optimizer");
      if (main_) ema_->update(net_);
      pt.mark("ema");
      last_opt_step_ = ni;
      stepped = true;
    }
    last_instances = static_cast<int>(b.targets.size());
    last_size = b.w;
    progress(epoch, i, tloss_, last_instances, last_size, false);
    std::map<std::string, double> sc{{"train/box_loss", items[0].item<double>()},
                                     {"train/cls_loss", items[1].item<double>()},
                                     {"train/dfl_loss", items[2].item<double>()}};
    for (size_t g = 0; g < optim_->groups().size(); ++g) sc["lr/pg" + std::to_string(g)] = optim_->groups()[g].lr;
    logger_->scalars(ni + 1, sc);
    if (epoch == 0 && i == 0 && main_) {
      cv::Mat prev = draw_batch(b, names_);
      if (!prev.empty()) {
        std::vector<uchar> png;
        cv::imencode(".png", prev, png);
        write_file_atomic(res_.run_dir / "plots" / "train_batch0.png", std::string(png.begin(), png.end()));
        logger_->image(0, "train/batch_preview", prev);
      }
    }
    if (opt_.on_batch_end) opt_.on_batch_end(epoch, i);
    if (stop_requested() && stepped && i + 1 < nb_) {
      progress(epoch, i, tloss_, static_cast<int>(b.targets.size()), b.w, true);
      res_.interrupted = true;
      res_.epochs_done = epoch;
      if (!main_) return;
      save_last(epoch, i + 1);
      std::cout << "vyolo: interrupted: saved " << res_.last.string() << " (epoch " << epoch + 1 << ", batch "
                << i + 1 << "); continue with training.resume=true\n";
      return;
    }
  }
  progress(epoch, nb_ - 1, tloss_, last_instances, last_size, true);
  if (main_) pt.report(std::cerr);
}

bool Run::end_epoch(int epoch) {
  const bool final_epoch = epoch + 1 >= epochs_;
  if (!main_) {  // rank 0 validates, logs and saves; the others learn its decision (and share their stop requests)
    auto t = torch::tensor({0.0, 0.0, g_stop.load() ? 1.0 : 0.0}, torch::kFloat64);
    group_->allreduce_sum(t);
    res_.early_stopped = t[1].item<double>() > 0;
    agreed_stop_ = t[2].item<double>() > 0;
    res_.epochs_done = epoch + 1;
    return t[0].item<double>() > 0 || final_epoch;
  }
  std::map<std::string, double> row;
  auto tl = tloss_.contiguous();
  row["train/box_loss"] = tl[0].item<double>();
  row["train/cls_loss"] = tl[1].item<double>();
  row["train/dfl_loss"] = tl[2].item<double>();
  for (size_t g = 0; g < optim_->groups().size(); ++g) row["lr/pg" + std::to_string(g)] = optim_->groups()[g].lr;
  bool validated = false;
  double fitness = 0;
  if (cfg_.training.val || final_epoch || stopper_.possible_stop || g_stop.load()) {
    if (!val_loader_) {
      try {
        val_loader_ = dataset::make_val_loader(cfg_, cfg_.data.batch_size * 2);
      } catch (const std::exception& e) {
        console::warn(std::string("no validation: ") + e.what());
      }
    }
    if (val_loader_) {
      // Plots as Ultralytics: only at the last epoch or when early stopping may end the run (they cost more than a
      // second per epoch on real data, and every epoch's set replaced the previous one anyway).
      const bool plots = final_epoch || stopper_.possible_stop || g_stop.load();
      ValOptions vo;
      vo.names = names_;
      vo.preview = plots;
      auto vr = validate(ema_->module(), *val_loader_, loss_.get(), device_, nc_, vo);
      last_val_s_ = vr.seconds;
      for (auto& [k, v] : vr.row()) row[k] = v;
      validated = true;
      fitness = vr.metrics.fitness;
      if (opt_.progress) std::cout << metrics_table(vr, names_) << std::flush;
      if (plots) try {
        const fs::path pd = res_.run_dir / "plots";
        eval::plot_pr_curve(vr.metrics, names_, (pd / "PR_curve.png").string());
        eval::plot_f1_curve(vr.metrics, names_, (pd / "F1_curve.png").string());
        eval::plot_confusion_matrix(vr.confusion, names_, (pd / "confusion_matrix_normalized.png").string(), true);
        eval::plot_confusion_matrix(vr.confusion, names_, (pd / "confusion_matrix.png").string(), false);
        if (!vr.preview.empty()) {
          std::vector<uchar> png;
          cv::imencode(".png", vr.preview, png);
          write_file_atomic(pd / "val_batch0_pred.png", std::string(png.begin(), png.end()));
        }
      } catch (const std::exception& e) {
        console::warn(std::string("plots: ") + e.what());
      }
      if (!vr.preview.empty()) logger_->image(epoch + 1, "val/predictions", vr.preview);
    }
  }
  logger_->epoch_end(epoch + 1, row);
  last_row_ = row;
  bool is_best = false;
  if (validated && (!has_best_ || fitness > best_fitness_)) {
    best_fitness_ = fitness;
    has_best_ = true;
    is_best = true;
    best_row_ = row;
  }
  bool stop = validated ? stopper_(epoch + 1, fitness) : false;
  if (stop && !final_epoch) {
    res_.early_stopped = true;
    std::cout << "vyolo: stopping early: no improvement in the last " << stopper_.patience
              << " epochs; best epoch " << stopper_.best_epoch << "\n";
  }
  res_.epochs_done = epoch + 1;
  save_last(epoch + 1, 0);  // always written: resume needs it (checkpoint.save_last=false only keeps it small)
  if (is_best) save_weights(res_.best, epoch + 1);
  if (validated) update_topk(epoch + 1, row);
  if (world_ > 1) {
    auto t = torch::tensor({stop ? 1.0 : 0.0, res_.early_stopped ? 1.0 : 0.0, g_stop.load() ? 1.0 : 0.0},
                           torch::kFloat64);
    group_->allreduce_sum(t);
    agreed_stop_ = t[2].item<double>() > 0;
  }
  return stop || final_epoch;
}

TrainResult Run::go() {
  SignalScope signals;
  setup();
  int exit_code = 0;
  try {
    for (int epoch = start_epoch_; epoch < epochs_; ++epoch) {
      const int sb = epoch == start_epoch_ ? start_batch_ : 0;
      const auto t0 = std::chrono::steady_clock::now();
      train_epoch(epoch, sb);
      if (res_.interrupted) break;
      const auto t1 = std::chrono::steady_clock::now();
      last_val_s_ = 0;
      const bool stop = end_epoch(epoch);
      if (opt_.progress) {  // where an epoch's time goes, for comparing with other trainers
        const double train_s = std::chrono::duration<double>(t1 - t0).count();
        const double rest_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
        std::printf("vyolo: epoch %d time: %.2f s training, %.2f s validation, %.2f s checkpoints, logs, plots\n",
                    epoch + 1, train_s, last_val_s_, rest_s - last_val_s_);
        std::fflush(stdout);
      }
      if (stop_requested()) {
        res_.interrupted = epoch + 1 < epochs_;
        if (res_.interrupted && main_)
          std::cout << "vyolo: interrupted after epoch " << epoch + 1 << ": saved " << res_.last.string()
                    << "; continue with training.resume=true\n";
        break;
      }
      if (stop) break;
    }
  } catch (...) {
    logger_->run_end(last_row_, 1);
    throw;
  }
  res_.best_fitness = best_fitness_;
  res_.final_metrics = has_best_ ? best_row_ : last_row_;
  if (!main_) return res_;
  if (!res_.interrupted) {
    // Only `last` needs the optimizer; with checkpoint.save_last=false it is reduced to the weights at the end.
    if (!cfg_.checkpoint.save_last) save_weights(res_.last, res_.epochs_done);
    if (has_best_) logger_->file(res_.best, "model");
    std::cout << "vyolo: " << res_.epochs_done << " epochs done; results in " << res_.run_dir.string() << "\n";
  }
  exit_code = res_.interrupted ? 130 : 0;  // as the process exit status after Ctrl-C
  logger_->run_end(res_.final_metrics, exit_code);
  return res_;
}

}  // namespace

fs::path run_dir_for(const Config& cfg) {
  return fs::path(cfg.logging.log_dir) / cfg.logging.experiment_name / ("fold_" + std::to_string(cfg.split.fold_id));
}

TrainResult train(const Config& cfg, const TrainOptions& opt) {
  Run r(cfg, opt);
  return r.go();
}

void request_stop() { g_stop.store(true); }

void write_result(const TrainResult& r, const fs::path& path) {
  json j;
  j["run_dir"] = r.run_dir.string();
  j["last"] = r.last.string();
  j["best"] = r.best.string();
  j["epochs_done"] = r.epochs_done;
  j["interrupted"] = r.interrupted;
  j["early_stopped"] = r.early_stopped;
  j["best_fitness"] = r.best_fitness;
  j["final_metrics"] = r.final_metrics;
  write_file_atomic(path, j.dump(2) + "\n");
}

TrainResult read_result(const fs::path& path) {
  try {
    const json j = json::parse(read_file(path));
    TrainResult r;
    r.run_dir = j.at("run_dir").get<std::string>();
    r.last = j.at("last").get<std::string>();
    r.best = j.at("best").get<std::string>();
    r.epochs_done = j.at("epochs_done").get<int>();
    r.interrupted = j.at("interrupted").get<bool>();
    r.early_stopped = j.at("early_stopped").get<bool>();
    r.best_fitness = j.at("best_fitness").get<double>();
    r.final_metrics = j.at("final_metrics").get<std::map<std::string, double>>();
    return r;
  } catch (const std::exception& e) {
    throw RuntimeError(path.string() + ": not a training result (" + e.what() + ")");
  }
}

bool EarlyStopping::operator()(int epoch, double fitness) {
  if (fitness > best_fitness || best_fitness == 0) {
    best_epoch = epoch;
    best_fitness = fitness;
  }
  if (patience <= 0) return false;  // Ultralytics: patience 0 = never
  const int delta = epoch - best_epoch;
  possible_stop = delta >= patience - 1;
  return delta >= patience;
}

std::string format_filename(const std::string& tmpl, const std::map<std::string, double>& values) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl[i] == '{' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      out += '{', i += 2;
      continue;
    }
    if (tmpl[i] == '}' && i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
      out += '}', i += 2;
      continue;
    }
    if (tmpl[i] != '{') {
      out += tmpl[i++];
      continue;
    }
    const size_t close = tmpl.find('}', i);
    if (close == std::string::npos) throw UsageError("checkpoint.filename: unclosed '{' in '" + tmpl + "'");
    std::string field = tmpl.substr(i + 1, close - i - 1), spec;
    if (auto c = field.find(':'); c != std::string::npos) spec = field.substr(c + 1), field = field.substr(0, c);
    auto it = values.find(field);
    if (it == values.end())
      throw UsageError("checkpoint.filename: unknown key '" + field + "' in '" + tmpl + "' (epoch or a metric key)");
    char buf[64];
    if (spec.empty()) {
      if (field == "epoch" || it->second == std::floor(it->second))
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(it->second));
      else
        std::snprintf(buf, sizeof buf, "%.10g", it->second);
    } else if (spec.back() == 'd') {
      std::snprintf(buf, sizeof buf, ("%" + spec.substr(0, spec.size() - 1) + "lld").c_str(),
                    static_cast<long long>(std::llround(it->second)));
    } else if (spec.find_first_not_of("0123456789.+-") == spec.size() - 1 && std::string("fFeEgG").find(spec.back()) != std::string::npos) {
      std::snprintf(buf, sizeof buf, ("%" + spec).c_str(), it->second);
    } else {
      throw UsageError("checkpoint.filename: unsupported format '" + spec + "' for '" + field + "'");
    }
    out += buf;
    i = close + 1;
  }
  return out;
}


}  // namespace vyolo::train
