// The optimisation pieces of Ultralytics' trainer (engine/trainer.py, utils/torch_utils.py, 8.4): the optimizer with
// its three parameter groups, the `auto` choice, warmup and the linear/cosine schedule, and the weight EMA.
// The optimizers are our own (PyTorch's update rules) so that their state is plain named tensors for checkpoints.
#pragma once
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "model/yolo.h"

namespace vyolo::train {

// One parameter group. Ultralytics' order: pg0 biases (no decay), pg1 weights (decay), pg2 BatchNorm weights.
struct ParamGroup {
  std::vector<torch::Tensor> params;
  std::vector<std::string> names;
  double lr = 0, initial_lr = 0, momentum = 0, weight_decay = 0;
};

// SGD (Nesterov momentum, PyTorch's rule incl. coupled weight decay), Adam (coupled decay) and AdamW (decoupled),
// betas = (momentum, 0.999), eps 1e-8, as Ultralytics configures them.
class Optimizer {
 public:
  enum class Kind { SGD, Adam, AdamW };
  Optimizer(Kind kind, std::vector<ParamGroup> groups);
  void zero_grad();
  void step();
  Kind kind() const { return kind_; }
  bool has_momentum() const { return kind_ == Kind::SGD; }  // Adam groups have betas: no momentum warmup
  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  int64_t steps() const { return steps_; }

  // State as named tensors `<prefix><param name>.<momentum_buffer|exp_avg|exp_avg_sq>` plus `<prefix>step`.
  void save(st::File& f, const std::string& prefix) const;
  // Throws RuntimeError naming `origin` when a tensor is missing or mis-shaped.
  void load(const st::File& f, const std::string& prefix, const std::string& origin);

 private:
  Kind kind_;
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<torch::Tensor>> buf1_, buf2_;  // per group, per param: momentum / exp_avg, exp_avg_sq
  int64_t steps_ = 0;
};

struct OptimizerChoice {
  std::string name;     // SGD | Adam | AdamW (resolved)
  double lr = 0, momentum = 0;
  bool automatic = false;  // `auto` picked it (then warmup_bias_lr is 0)
};
// `auto`: AdamW with lr round(0.002 * 5 / (4 + nc), 6), momentum 0.9 for up to 10,000 iterations, else SGD 0.01/0.9.
// Names are case-insensitive; an unknown one is a UsageError.
OptimizerChoice choose_optimizer(const std::string& name, double lr0, double momentum, int nc, int64_t iterations);

// Parameter groups of a network: names containing "bias" → pg0, BatchNorm weights → pg2, the rest → pg1 with decay.
Optimizer build_optimizer(model::YoloV8& net, const OptimizerChoice& c, double weight_decay);

// lf(epoch): linear (1 - e/epochs) * (1 - lrf) + lrf, or one-cycle cosine from 1 to lrf.
double lr_factor(int epoch, int epochs, double lrf, bool cos_lr);

// Warmup iterations: max(round(warmup_epochs * nb), 100), or -1 without warmup.
int warmup_iterations(double warmup_epochs, int nb);

// Sets every group's lr (and momentum for SGD) and the accumulation for global iteration `ni` of epoch `epoch`, as
// Ultralytics does at the start of each epoch (lr = initial_lr * lf) and during warmup (np.interp over [0, nw]).
struct ScheduleParams {
  int epochs = 100;
  double lrf = 0.01;
  bool cos_lr = false;
  int nw = -1;                 // warmup_iterations
  double warmup_bias_lr = 0.1, warmup_momentum = 0.8, momentum = 0.937;
  int nbs = 64, batch_size = 16;
};
void apply_epoch_lr(Optimizer& opt, int epoch, const ScheduleParams& p);
// Returns the accumulation count to use (unchanged `accumulate` after warmup).
int apply_warmup(Optimizer& opt, int64_t ni, int epoch, const ScheduleParams& p, int accumulate);

// Python's round() of nbs / batch, at least 1.
int nominal_accumulate(int nbs, int batch_size);

// Exponential moving average of every floating-point parameter and buffer (BatchNorm statistics included):
// d = decay * (1 - exp(-updates / tau)); ema = d * ema + (1 - d) * model.
class ModelEMA {
 public:
  ModelEMA(model::YoloV8 ema, double decay = 0.9999, double tau = 2000, int64_t updates = 0);
  void update(const model::YoloV8& model);
  double current_decay() const;  // d for the current `updates`
  model::YoloV8& module() { return ema_; }
  int64_t updates = 0;

 private:
  model::YoloV8 ema_;
  double decay_, tau_;
};

// Copies parameters and buffers (by name) from `src` into `dst`.
void copy_state(const torch::nn::Module& src, torch::nn::Module& dst);
// Loads the tensors `<prefix><name>` of a file into a module's parameters and buffers; throws RuntimeError naming
// `origin` for a missing or mis-shaped one.
void load_prefixed(torch::nn::Module& m, const st::File& f, const std::string& prefix, const std::string& origin);

}  // namespace vyolo::train
