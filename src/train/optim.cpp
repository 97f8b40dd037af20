#include "train/optim.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/error.h"
#include "model/weights.h"

namespace vyolo::train {
namespace {

std::vector<std::pair<std::string, torch::Tensor>> named_state(const torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

double interp(double x, double x1, double y0, double y1) {  // np.interp over [0, x1]
  if (x <= 0) return y0;
  if (x >= x1) return y1;
  return y0 + (y1 - y0) * (x / x1);
}

}  // namespace

Optimizer::Optimizer(Kind kind, std::vector<ParamGroup> groups) : kind_(kind), groups_(std::move(groups)) {
  for (auto& g : groups_) {
    std::vector<torch::Tensor> a, b;
    for (auto& p : g.params) {
      a.push_back(torch::zeros_like(p));
      if (kind_ != Kind::SGD) b.push_back(torch::zeros_like(p));
    }
    buf1_.push_back(std::move(a));
    buf2_.push_back(std::move(b));
  }
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad().zero_();
}

void Optimizer::step() {
  torch::NoGradGuard ng;
  ++steps_;
  const double b2 = 0.999, eps = 1e-8;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& g = groups_[gi];
    const double lr = g.lr, wd = g.weight_decay, m = g.momentum;
    for (size_t i = 0; i < g.params.size(); ++i) {
      auto& p = g.params[i];
      if (!p.grad().defined()) continue;
      torch::Tensor grad = p.grad();
      if (kind_ == Kind::SGD) {
        // PyTorch SGD, dampening 0, nesterov: buf = m*buf + g (buf = g at the first step); p -= lr*(g + m*buf)
        if (wd != 0) grad = grad.add(p, wd);
        auto& buf = buf1_[gi][i];
        if (steps_ == 1)
          buf.copy_(grad);
        else
          buf.mul_(m).add_(grad);
        p.add_(grad.add(buf, m), -lr);
      } else {
        if (kind_ == Kind::AdamW) {
          if (wd != 0) p.mul_(1 - lr * wd);
        } else if (wd != 0) {
          grad = grad.add(p, wd);
        }
        const double b1 = m;
        auto& ea = buf1_[gi][i];
        auto& es = buf2_[gi][i];
        ea.mul_(b1).add_(grad, 1 - b1);
        es.mul_(b2).addcmul_(grad, grad, 1 - b2);
        const double bc1 = 1 - std::pow(b1, double(steps_));
        const double bc2 = 1 - std::pow(b2, double(steps_));
        auto denom = (es.sqrt() / std::sqrt(bc2)).add_(eps);
        p.addcdiv_(ea, denom, -lr / bc1);
      }
    }
  }
}

void Optimizer::save(st::File& f, const std::string& prefix) const {
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const auto& n = groups_[gi].names[i];
      if (kind_ == Kind::SGD) {
        f.tensors[prefix + n + ".momentum_buffer"] = model::to_st(buf1_[gi][i]);
      } else {
        f.tensors[prefix + n + ".exp_avg"] = model::to_st(buf1_[gi][i]);
        f.tensors[prefix + n + ".exp_avg_sq"] = model::to_st(buf2_[gi][i]);
      }
    }
  f.tensors[prefix + "step"] = model::to_st(torch::tensor({steps_}, torch::kInt64));
}

void Optimizer::load(const st::File& f, const std::string& prefix, const std::string& origin) {
  torch::NoGradGuard ng;
  auto get = [&](const std::string& name, torch::Tensor& dst) {
    auto it = f.tensors.find(name);
    if (it == f.tensors.end()) throw RuntimeError(origin + ": optimizer state '" + name + "' missing");
    auto t = model::from_st(it->second);
    if (t.sizes() != dst.sizes()) throw RuntimeError(origin + ": optimizer state '" + name + "' has another shape");
    dst.copy_(t);
  };
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const auto& n = groups_[gi].names[i];
      if (kind_ == Kind::SGD) {
        get(prefix + n + ".momentum_buffer", buf1_[gi][i]);
      } else {
        get(prefix + n + ".exp_avg", buf1_[gi][i]);
        get(prefix + n + ".exp_avg_sq", buf2_[gi][i]);
      }
    }
  torch::Tensor s = torch::zeros({1}, torch::kInt64);
  get(prefix + "step", s);
  steps_ = s.item<int64_t>();
}

OptimizerChoice choose_optimizer(const std::string& name, double lr0, double momentum, int nc, int64_t iterations) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  OptimizerChoice c;
  if (n == "auto") {
    c.automatic = true;
    // Ultralytics 8.4 picks MuSGD above 10k iterations; we keep the classic SGD choice (8.0-8.3).
    if (iterations > 10000) {
      c.name = "SGD", c.lr = 0.01, c.momentum = 0.9;
    } else {
      c.name = "AdamW", c.lr = std::round(0.002 * 5 / (4 + nc) * 1e6) / 1e6, c.momentum = 0.9;
    }
    return c;
  }
  c.lr = lr0, c.momentum = momentum;
  if (n == "sgd")
    c.name = "SGD";
  else if (n == "adam")
    c.name = "Adam";
  else if (n == "adamw")
    c.name = "AdamW";
  else
    throw UsageError("training.optimizer: unknown optimizer '" + name + "' (SGD, Adam, AdamW or auto)");
  return c;
}

Optimizer build_optimizer(model::YoloV8& net, const OptimizerChoice& c, double weight_decay) {
  std::vector<ParamGroup> g(3);
  for (const auto& item : net->named_modules()) {
    const bool bn = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(item.value().get()) != nullptr;
    for (const auto& p : item.value()->named_parameters(false)) {
      if (!p.value().requires_grad()) continue;
      const std::string full = item.key().empty() ? p.key() : item.key() + "." + p.key();
      const int gi = full.find("bias") != std::string::npos ? 0 : bn ? 2 : 1;
      g[gi].params.push_back(p.value());
      g[gi].names.push_back(full);
    }
  }
  for (int i = 0; i < 3; ++i) {
    g[i].lr = g[i].initial_lr = c.lr;
    g[i].momentum = c.momentum;
    g[i].weight_decay = i == 1 ? weight_decay : 0.0;
  }
  auto kind = c.name == "SGD" ? Optimizer::Kind::SGD : c.name == "Adam" ? Optimizer::Kind::Adam : Optimizer::Kind::AdamW;
  return Optimizer(kind, std::move(g));
}

double lr_factor(int epoch, int epochs, double lrf, bool cos_lr) {
  if (cos_lr) return ((1 - std::cos(epoch * M_PI / epochs)) / 2) * (lrf - 1) + 1;
  return std::max(1.0 - double(epoch) / epochs, 0.0) * (1.0 - lrf) + lrf;
}

int warmup_iterations(double warmup_epochs, int nb) {
  if (warmup_epochs <= 0) return -1;
  return std::max(static_cast<int>(std::nearbyint(warmup_epochs * nb)), 100);
}

int nominal_accumulate(int nbs, int batch_size) {
  return std::max(static_cast<int>(std::nearbyint(double(nbs) / batch_size)), 1);
}

void apply_epoch_lr(Optimizer& opt, int epoch, const ScheduleParams& p) {
  const double f = lr_factor(epoch, p.epochs, p.lrf, p.cos_lr);
  for (auto& g : opt.groups()) g.lr = g.initial_lr * f;
}

int apply_warmup(Optimizer& opt, int64_t ni, int epoch, const ScheduleParams& p, int accumulate) {
  if (ni > p.nw) return accumulate;
  const double nw = p.nw;
  const int acc = std::max(1, static_cast<int>(std::nearbyint(interp(double(ni), nw, 1.0, double(p.nbs) / p.batch_size))));
  const double f = lr_factor(epoch, p.epochs, p.lrf, p.cos_lr);
  auto& gs = opt.groups();
  for (size_t j = 0; j < gs.size(); ++j) {
    gs[j].lr = interp(double(ni), nw, j == 0 ? p.warmup_bias_lr : 0.0, gs[j].initial_lr * f);
    if (opt.has_momentum()) gs[j].momentum = interp(double(ni), nw, p.warmup_momentum, p.momentum);
  }
  return acc;
}

ModelEMA::ModelEMA(model::YoloV8 ema, double decay, double tau, int64_t updates_)
    : updates(updates_), ema_(std::move(ema)), decay_(decay), tau_(tau) {
  ema_->eval();
  for (auto& p : ema_->parameters()) p.set_requires_grad(false);
}

double ModelEMA::current_decay() const { return decay_ * (1 - std::exp(-double(updates) / tau_)); }

void ModelEMA::update(const model::YoloV8& model) {
  torch::NoGradGuard ng;
  ++updates;
  const double d = current_decay();
  auto src = named_state(*model);
  auto dst = named_state(*ema_);
  for (size_t i = 0; i < dst.size(); ++i) {
    auto& e = dst[i].second;
    if (!e.is_floating_point()) continue;
    e.mul_(d).add_(src[i].second.detach(), 1 - d);
  }
}

void copy_state(const torch::nn::Module& src, torch::nn::Module& dst) {
  torch::NoGradGuard ng;
  auto s = named_state(src);
  auto d = named_state(dst);
  if (s.size() != d.size()) throw RuntimeError("copy_state: modules differ");
  for (size_t i = 0; i < d.size(); ++i) d[i].second.copy_(s[i].second);
}

void load_prefixed(torch::nn::Module& m, const st::File& f, const std::string& prefix, const std::string& origin) {
  torch::NoGradGuard ng;
  for (auto& [name, t] : named_state(m)) {
    auto it = f.tensors.find(prefix + name);
    if (it == f.tensors.end()) throw RuntimeError(origin + ": tensor '" + prefix + name + "' missing");
    auto v = model::from_st(it->second);
    if (v.sizes() != t.sizes()) throw RuntimeError(origin + ": tensor '" + prefix + name + "' has another shape");
    t.copy_(v.to(t.scalar_type()));
  }
}

}  // namespace vyolo::train
