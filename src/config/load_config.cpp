// The typed view of a composed tree (config.h). Accepts the spellings the upstream project's YAML files use: the data
// group named `constants`, HU windows as center/width, `image_size: [256, 256]`, `pretrained: true`.
#include <cmath>
#include <filesystem>
#include <limits>

#include "common/error.h"
#include "config/compose.h"
#include "config/config.h"
#include "config/node.h"

namespace vyolo {

namespace {

using conf::Node;
namespace fs = std::filesystem;

std::string describe(const Node& v) {
  if (v.is_scalar()) return "the " + v.type_name() + " '" + v.text + "'";
  return "a " + v.type_name();
}

[[noreturn]] void bad(const std::string& key, const Node& v, const char* expected) {
  throw UsageError("config key '" + key + "': expected " + std::string(expected) + ", got " + describe(v));
}

Node typed(const Node& v) { return v.is_scalar() && v.type == Node::Type::String ? Node::plain(v.text) : v; }

void read(const Node& v, const std::string& key, int& out) {
  if (v.is_null()) return;
  Node t = typed(v);
  if (t.is_scalar() && t.type == Node::Type::Int) {
    long long x = std::stoll(t.text);
    if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max()) bad(key, v, "an integer");
    out = static_cast<int>(x);
    return;
  }
  if (t.is_scalar() && t.type == Node::Type::Float) {
    double d = std::stod(t.text);
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 2e9) {
      out = static_cast<int>(d);
      return;
    }
  }
  bad(key, v, "an integer");
}

void read(const Node& v, const std::string& key, double& out) {
  if (v.is_null()) return;
  Node t = typed(v);
  if (t.is_scalar() && (t.type == Node::Type::Int || t.type == Node::Type::Float)) {
    if (t.text == ".inf") out = HUGE_VAL;
    else if (t.text == "-.inf") out = -HUGE_VAL;
    else if (t.text == ".nan") out = NAN;
    else out = std::stod(t.text);
    return;
  }
  bad(key, v, "a number");
}

void read(const Node& v, const std::string& key, bool& out) {
  if (v.is_null()) return;
  Node t = typed(v);
  if (t.is_scalar() && t.type == Node::Type::Bool) {
    out = t.text == "true";
    return;
  }
  if (t.is_scalar() && t.type == Node::Type::Int && (t.text == "0" || t.text == "1")) {
    out = t.text == "1";
    return;
  }
  bad(key, v, "true or false");
}

void read(const Node& v, const std::string& key, std::string& out) {
  if (v.is_null()) {
    out.clear();
    return;
  }
  if (!v.is_scalar()) bad(key, v, "a string");
  out = v.text;
}

void read(const Node& v, const std::string& key, std::vector<std::string>& out) {
  if (v.is_null()) {
    out.clear();
    return;
  }
  out.clear();
  if (v.is_scalar()) {
    out.push_back(v.text);
    return;
  }
  if (v.is_seq()) {
    for (size_t i = 0; i < v.seq.size(); ++i) {
      if (!v.seq[i].is_scalar()) bad(key + "." + std::to_string(i), v.seq[i], "a string");
      out.push_back(v.seq[i].text);
    }
    return;
  }
  for (auto& [k, item] : v.map) {  // Ultralytics-style names: {0: fracture}
    if (!item.is_scalar()) bad(key + "." + k, item, "a string");
    out.push_back(item.text);
  }
}

// A section of the tree: its node and dotted name. `get` reads one key when present.
struct Section {
  const Node* node;
  std::string path;

  template <class T>
  void get(const char* key, T& out) const {
    if (!node) return;
    if (const Node* v = node->find(key)) read(*v, path + "." + key, out);
  }
  Section sub(const char* key) const {
    if (!node) return {nullptr, path + "." + key};
    const Node* v = node->find(key);
    if (v && !v->is_map() && !v->is_null()) bad(path + "." + key, *v, "a map");
    return {v && v->is_map() ? v : nullptr, path + "." + key};
  }
};

Section section(const Node& root, const char* name, bool strict = true) {
  const Node* v = root.find(name);
  if (v && !v->is_map() && !v->is_null() && strict) bad(name, *v, "a map");
  return {v && v->is_map() ? v : nullptr, name};
}

void read_window(const Section& s, const char* name, HuWindow& w) {
  Section win = s.sub(name);
  if (!win.node) return;
  if (win.node->find("center") || win.node->find("width")) {  // the upstream project's older center/width form
    double center = (w.min + w.max) / 2, width = w.max - w.min;
    win.get("center", center);
    win.get("width", width);
    w.min = center - width / 2;
    w.max = center + width / 2;
  }
  win.get("min", w.min);
  win.get("max", w.max);
}

void read_hyp(const Section& h, HypConfig& c) {
  h.get("degrees", c.degrees);
  h.get("translate", c.translate);
  h.get("scale", c.scale);
  h.get("shear", c.shear);
  h.get("perspective", c.perspective);
  h.get("flipud", c.flipud);
  h.get("fliplr", c.fliplr);
  h.get("hsv_h", c.hsv_h);
  h.get("hsv_s", c.hsv_s);
  h.get("hsv_v", c.hsv_v);
  h.get("mosaic", c.mosaic);
  h.get("mixup", c.mixup);
  h.get("close_mosaic", c.close_mosaic);
  h.get("box", c.box);
  h.get("cls", c.cls);
  h.get("dfl", c.dfl);
  h.get("warmup_momentum", c.warmup_momentum);
  h.get("warmup_bias_lr", c.warmup_bias_lr);
}

fs::path find_hyp(const std::string& name, const fs::path& config_dir, std::vector<fs::path>& tried) {
  fs::path p(name);
  if (p.is_absolute()) {
    tried.push_back(p);
    return fs::exists(p) ? p : fs::path();
  }
  for (const fs::path& base : {fs::current_path(), config_dir, config_dir.parent_path()}) {
    if (base.empty()) continue;
    fs::path candidate = (base / p).lexically_normal();
    tried.push_back(candidate);
    if (fs::is_regular_file(candidate)) return candidate;
  }
  // `conf/hyp/x.yaml` names a file of the config tree; a tree copied elsewhere and used with -cd has it at
  // <config_dir>/hyp/x.yaml whatever the tree's folder is called.
  if (!config_dir.empty() && std::distance(p.begin(), p.end()) > 1) {
    fs::path candidate = config_dir;
    for (auto it = std::next(p.begin()); it != p.end(); ++it) candidate /= *it;
    candidate = candidate.lexically_normal();
    tried.push_back(candidate);
    if (fs::is_regular_file(candidate)) return candidate;
  }
  return {};
}

}  // namespace

Config load_config(const YAML::Node& tree, const std::string& config_dir) {
  Config c;
  c.tree = tree;
  Node root = conf::from_yaml(tree);
  if (root.is_null()) root = Node::empty_map();
  if (!root.is_map()) throw UsageError("the config must be a map at the top level");

  Section m = section(root, "model");
  m.get("name", c.model.name);
  m.get("variant", c.model.variant);
  m.get("num_classes", c.model.num_classes);
  if (m.node) {
    if (const Node* p = m.node->find("pretrained")) {
      Node t = typed(*p);
      if (t.is_scalar() && t.type == Node::Type::Bool)  // upstream: `pretrained: true` = the variant's weights
        c.model.pretrained = t.text == "true" ? c.model.variant + ".safetensors" : "";
      else
        read(*p, "model.pretrained", c.model.pretrained);
    }
  }
  m.get("input_channels", c.model.input_channels);
  m.get("img_size", c.model.img_size);

  // `data` (this project) or `constants` (one upstream version); a command may use `data` for a path instead.
  Section d = section(root, "data", false);
  if (!d.node) d = section(root, "constants");
  d.get("data_dir", c.data.data_dir);
  d.get("view", c.data.view);
  if (d.node) {
    if (const Node* sz = d.node->find("image_size")) {
      if (sz->is_seq()) {
        std::vector<int> sides;
        for (size_t i = 0; i < sz->seq.size(); ++i) {
          int v = 0;
          read(sz->seq[i], d.path + ".image_size." + std::to_string(i), v);
          sides.push_back(v);
        }
        if (sides.empty() || (sides.size() == 2 && sides[0] != sides[1]) || sides.size() > 2)
          bad(d.path + ".image_size", *sz, "one size or a square [size, size]");
        c.data.image_size = sides[0];
      } else {
        read(*sz, d.path + ".image_size", c.data.image_size);
      }
    }
  }
  d.get("input_channels", c.data.input_channels);
  Section hu = d.sub("hu_windows");
  read_window(hu, "bone", c.data.hu_windows.bone);
  read_window(hu, "soft_tissue", c.data.hu_windows.soft_tissue);
  read_window(hu, "wide", c.data.hu_windows.wide);
  d.get("batch_size", c.data.batch_size);
  d.get("num_workers", c.data.num_workers);
  d.get("augmentation", c.data.augmentation);
  d.get("num_classes", c.data.num_classes);
  d.get("names", c.data.names);
  if (d.node) {
    if (const Node* cache = d.node->find("cache")) {  // Ultralytics: cache: false|true|ram|disk
      Node t = typed(*cache);
      if (t.is_scalar() && t.type == Node::Type::Bool)
        c.data.cache = t.text == "true" ? "ram" : "";
      else
        read(*cache, d.path + ".cache", c.data.cache);
    }
  }
  d.get("data_yaml", c.data.data_yaml);

  Section s = section(root, "split");
  s.get("fold_id", c.split.fold_id);
  s.get("train_patients", c.split.train_patients);
  s.get("val_patients", c.split.val_patients);

  Section t = section(root, "training");
  t.get("lr0", c.training.lr0);
  t.get("lrf", c.training.lrf);
  t.get("momentum", c.training.momentum);
  t.get("weight_decay", c.training.weight_decay);
  t.get("optimizer", c.training.optimizer);
  t.get("warmup_epochs", c.training.warmup_epochs);
  t.get("epochs", c.training.epochs);
  t.get("patience", c.training.patience);
  t.get("device", c.training.device);
  t.get("use_focal_loss", c.training.use_focal_loss);
  t.get("focal_gamma", c.training.focal_gamma);
  t.get("focal_alpha", c.training.focal_alpha);
  bool hyp_named = t.node && t.node->find("hyp") && !t.node->find("hyp")->is_null();
  t.get("hyp", c.training.hyp);
  t.get("cos_lr", c.training.cos_lr);
  t.get("nbs", c.training.nbs);
  t.get("val", c.training.val);
  t.get("resume", c.training.resume);
  t.get("bf16", c.training.bf16);
  t.get("threads", c.training.threads);
  t.get("channels_last", c.training.channels_last);
  t.get("max_grad_norm", c.training.max_grad_norm);

  Section v = section(root, "val");
  v.get("rect", c.val.rect);

  Section k = section(root, "checkpoint");
  k.get("save_top_k", c.checkpoint.save_top_k);
  k.get("monitor", c.checkpoint.monitor);
  k.get("mode", c.checkpoint.mode);
  k.get("save_last", c.checkpoint.save_last);
  k.get("dirpath", c.checkpoint.dirpath);
  k.get("filename", c.checkpoint.filename);

  Section l = section(root, "logging");
  l.get("logger", c.logging.logger);
  l.get("project_name", c.logging.project_name);
  l.get("experiment_name", c.logging.experiment_name);
  l.get("log_dir", c.logging.log_dir);
  Section w = l.sub("wandb");
  w.get("entity", c.logging.wandb.entity);
  w.get("tags", c.logging.wandb.tags);
  w.get("notes", c.logging.wandb.notes);
  w.get("log_freq", c.logging.wandb.log_freq);
  w.get("save_code", c.logging.wandb.save_code);
  w.get("save_model", c.logging.wandb.save_model);
  w.get("mode", c.logging.wandb.mode);
  w.get("stats_interval", c.logging.wandb.stats_interval);

  if (const Node* v = root.find("seed")) read(*v, "seed", c.seed);
  if (const Node* v = root.find("debug")) read(*v, "debug", c.debug);

  // Augmentation and gains: a `hyp:` node in the tree wins over the file named by training.hyp.
  Section h = section(root, "hyp");
  if (h.node) {
    read_hyp(h, c.hyp);
  } else if (!c.training.hyp.empty()) {
    std::vector<fs::path> tried;
    fs::path found = find_hyp(c.training.hyp, config_dir, tried);
    if (!found.empty()) {
      Node file = conf::load_yaml_file(found);
      if (!file.is_null() && !file.is_map()) throw UsageError(found.string() + ": a hyp file must be a map");
      read_hyp({file.is_map() ? &file : nullptr, "hyp"}, c.hyp);
      c.training.hyp = found.string();
    } else if (hyp_named) {
      std::string where;
      for (auto& p : tried) where += (where.empty() ? "" : ", ") + p.string();
      throw UsageError("training.hyp: cannot find '" + c.training.hyp + "' (looked at " + where + ")");
    }
  }
  return c;
}

Config load_config(const YAML::Node& tree) { return load_config(tree, conf::find_config_dir("").string()); }

}  // namespace vyolo
