// The typed view of a composed tree (config.h). Accepts the spellings the upstream project's YAML files use: the data
// group named `constants`, HU windows as center/width, `image_size: [256, 256]`, `pretrained: true`.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <limits>
#include <variant>

#include "common/clip.h"
#include "common/error.h"
#include "config/compose.h"
#include "config/config.h"
#include "config/node.h"

namespace vyolo {

namespace {

namespace fs = std::filesystem;

std::string describe(const Node& v) {
  if (v.is_scalar()) return "the " + v.type_name() + " '" + clip(v.text) + "'";
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
    errno = 0;
    const long long x = std::strtoll(t.text.c_str(), nullptr, 10);
    if (errno == ERANGE || x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
      bad(key, v, "an integer that fits in 32 bits");
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
    else {
      out = std::strtod(t.text.c_str(), nullptr);
      if (std::isinf(out)) bad(key, v, "a number within the range of a double");
    }
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

using Field = std::variant<int*, double*, bool*, std::string*, std::vector<std::string>*>;

// Every plain key of the typed config, dotted from the root; `data.` keys are read from `constants.` when the tree
// uses the upstream project's name. Keys with more than one spelling (model.pretrained, data.image_size, data.cache,
// the HU windows) are read after the table, in load_config.
std::vector<std::pair<std::string, Field>> field_table(Config& c) {
  auto& m = c.model;
  auto& d = c.data;
  auto& t = c.training;
  auto& k = c.checkpoint;
  auto& l = c.logging;
  auto& w = c.logging.wandb;
  return {{"model.name", &m.name}, {"model.variant", &m.variant}, {"model.num_classes", &m.num_classes},
          {"model.input_channels", &m.input_channels}, {"model.img_size", &m.img_size},
          {"data.data_dir", &d.data_dir}, {"data.view", &d.view}, {"data.input_channels", &d.input_channels},
          {"data.batch_size", &d.batch_size}, {"data.num_workers", &d.num_workers},
          {"data.augmentation", &d.augmentation}, {"data.num_classes", &d.num_classes}, {"data.names", &d.names},
          {"data.data_yaml", &d.data_yaml}, {"data.augment_empty", &d.augment_empty},
          {"data.mosaic_partners", &d.mosaic_partners},
          {"split.fold_id", &c.split.fold_id}, {"split.train_patients", &c.split.train_patients},
          {"split.val_patients", &c.split.val_patients},
          {"training.lr0", &t.lr0}, {"training.lrf", &t.lrf}, {"training.momentum", &t.momentum},
          {"training.weight_decay", &t.weight_decay}, {"training.optimizer", &t.optimizer},
          {"training.warmup_epochs", &t.warmup_epochs}, {"training.epochs", &t.epochs},
          {"training.patience", &t.patience}, {"training.device", &t.device},
          {"training.use_focal_loss", &t.use_focal_loss}, {"training.focal_gamma", &t.focal_gamma},
          {"training.focal_alpha", &t.focal_alpha}, {"training.hyp", &t.hyp}, {"training.cos_lr", &t.cos_lr},
          {"training.nbs", &t.nbs}, {"training.val", &t.val}, {"training.resume", &t.resume},
          {"training.bf16", &t.bf16}, {"training.threads", &t.threads},
          {"training.channels_last", &t.channels_last}, {"training.fused_bn_silu", &t.fused_bn_silu}, {"training.max_grad_norm", &t.max_grad_norm},
          {"training.nproc", &t.nproc}, {"training.sync_bn", &t.sync_bn},
          {"training.dist_timeout", &t.dist_timeout},
          {"val.rect", &c.val.rect}, {"cv.parallel", &c.cv.parallel},
          {"checkpoint.save_top_k", &k.save_top_k}, {"checkpoint.monitor", &k.monitor}, {"checkpoint.mode", &k.mode},
          {"checkpoint.save_last", &k.save_last}, {"checkpoint.dirpath", &k.dirpath},
          {"checkpoint.filename", &k.filename},
          {"logging.logger", &l.logger}, {"logging.project_name", &l.project_name},
          {"logging.experiment_name", &l.experiment_name}, {"logging.log_dir", &l.log_dir},
          {"logging.wandb.entity", &w.entity}, {"logging.wandb.tags", &w.tags}, {"logging.wandb.notes", &w.notes},
          {"logging.wandb.log_freq", &w.log_freq}, {"logging.wandb.save_code", &w.save_code},
          {"logging.wandb.save_model", &w.save_model}, {"logging.wandb.mode", &w.mode},
          {"logging.wandb.stats_interval", &w.stats_interval},
          {"seed", &c.seed}, {"debug", &c.debug}};
}

// Augmentation and loss gains: the keys of a hyp file (or of a `hyp:` section).
std::vector<std::pair<std::string, Field>> hyp_table(HypConfig& h) {
  return {{"degrees", &h.degrees}, {"translate", &h.translate}, {"scale", &h.scale}, {"shear", &h.shear},
          {"perspective", &h.perspective}, {"flipud", &h.flipud}, {"fliplr", &h.fliplr}, {"hsv_h", &h.hsv_h},
          {"hsv_s", &h.hsv_s}, {"hsv_v", &h.hsv_v}, {"mosaic", &h.mosaic}, {"mixup", &h.mixup},
          {"close_mosaic", &h.close_mosaic}, {"box", &h.box}, {"cls", &h.cls}, {"dfl", &h.dfl},
          {"warmup_momentum", &h.warmup_momentum}, {"warmup_bias_lr", &h.warmup_bias_lr}};
}

// Keys read after the table (their own rules) and sections that are not plain keys.
const std::vector<std::string>& special_keys() {
  static const std::vector<std::string> k = {"model.pretrained", "data.image_size", "data.cache",
                                             "data.hu_windows.bone", "data.hu_windows.soft_tissue",
                                             "data.hu_windows.wide"};
  return k;
}

void read_field(const Node& v, const std::string& key, const Field& f) {
  std::visit([&](auto* out) { read(v, key, *out); }, f);
}

// Reads every table key present under `root`, which stands for the dotted prefix `at` ("" = the root).
void read_table(const Node& root, const std::string& at, const std::vector<std::pair<std::string, Field>>& table) {
  for (const auto& [key, field] : table) {
    const Node* v = find_path(root, key);
    if (!v) continue;
    std::string name = at.empty() ? key : at + "." + key;
    read_field(*v, name, field);
  }
}

// The node at a dotted path of maps, or null; a section on the way that is not a map is an error naming it.
const Node* lookup(const Node& root, const std::string& dotted) {
  const Node* n = &root;
  std::string path;
  for (const auto& part : split_path(dotted)) {
    if (!n->is_map()) {
      if (n->is_null()) return nullptr;
      bad(path, *n, "a map");
    }
    n = n->find(part);
    if (!n) return nullptr;
    path += (path.empty() ? "" : ".") + part;
  }
  return n;
}

// One HU window: min/max, or the upstream project's older center/width form.
void read_window(const Node& root, const std::string& key, HuWindow& w) {
  const Node* win = lookup(root, key);
  if (!win || win->is_null()) return;
  if (!win->is_map()) bad(key, *win, "a map");
  if (win->find("center") || win->find("width")) {
    double center = (w.min + w.max) / 2, width = w.max - w.min;
    read_table(*win, key, {{"center", &center}, {"width", &width}});
    w.min = center - width / 2;
    w.max = center + width / 2;
  }
  read_table(*win, key, {{"min", &w.min}, {"max", &w.max}});
}

// Keys in vyolo's own sections that nothing reads (a typo such as `+training.epoch=5` would otherwise be silently
// ignored), each with the nearest known key.
std::vector<std::string> ignored_keys(const Node& root, const std::string& data_name,
                                      const std::vector<std::string>& known) {
  std::vector<std::string> out;
  const std::vector<std::string> sections = {"model", data_name, "training", "val", "checkpoint", "logging", "hyp"};
  for (const auto& s : sections) {
    const Node* sec = root.find(s);
    if (!sec || !sec->is_map()) continue;
    Node wrapped = Node::empty_map();
    wrapped.map.emplace_back(s, *sec);
    for (const auto& path : all_paths(wrapped)) {
      const bool covered = std::any_of(known.begin(), known.end(), [&](const std::string& k) {
        return k == path || k.rfind(path + ".", 0) == 0 || path.rfind(k + ".", 0) == 0;
      });
      if (covered) continue;
      auto near = closest(path, known, 1);
      out.push_back(clip(path) + ": nothing reads it" + (near.empty() ? "" : "; did you mean " + near[0] + "?"));
    }
  }
  return out;
}

fs::path find_hyp(const std::string& name, const SearchPath& config_dirs, std::vector<fs::path>& tried) {
  fs::path p(name);
  if (p.is_absolute()) {
    tried.push_back(p);
    return fs::exists(p) ? p : fs::path();
  }
  std::vector<fs::path> bases{fs::current_path()};
  for (const auto& d : config_dirs.dirs) bases.insert(bases.end(), {d, d.parent_path()});
  for (const fs::path& base : bases) {
    if (base.empty()) continue;
    fs::path candidate = (base / p).lexically_normal();
    tried.push_back(candidate);
    if (fs::is_regular_file(candidate)) return candidate;
  }
  // `conf/hyp/x.yaml` names a file of the config tree; a tree copied elsewhere and used with -cd has it at
  // <config_dir>/hyp/x.yaml whatever the tree's folder is called.
  if (std::distance(p.begin(), p.end()) > 1) {
    for (const auto& config_dir : config_dirs.dirs) {
      fs::path candidate = config_dir;
      for (auto it = std::next(p.begin()); it != p.end(); ++it) candidate /= *it;
      candidate = candidate.lexically_normal();
      tried.push_back(candidate);
      if (fs::is_regular_file(candidate)) return candidate;
    }
  }
  return {};
}

}  // namespace

Config load_config(const YAML::Node& tree, const SearchPath& config_dir) {
  Config c;
  c.tree = tree;
  Node root = from_yaml(tree);
  if (root.is_null()) root = Node::empty_map();
  if (!root.is_map()) throw UsageError("the config must be a map at the top level");

  // `data` (this project) or `constants` (one upstream version); a command may use `data` for a path instead.
  std::string data_name = "data";
  if (const Node* d = root.find("data"); (!d || !d->is_map()) && root.find("constants")) data_name = "constants";
  auto dotted = [&](const std::string& key) {
    return key.rfind("data.", 0) == 0 ? data_name + key.substr(4) : key;
  };
  const Node* data_section = root.find(data_name);
  const bool has_data = data_section && data_section->is_map();
  std::vector<std::string> known;
  for (const auto& [key, field] : field_table(c)) {
    const std::string name = dotted(key);
    known.push_back(name);
    if (key.rfind("data.", 0) == 0 && !has_data) continue;
    if (const Node* v = lookup(root, name)) read_field(*v, name, field);
  }

  if (const Node* p = lookup(root, "model.pretrained")) {
    Node t = typed(*p);
    if (t.is_scalar() && t.type == Node::Type::Bool)  // upstream: `pretrained: true` = the variant's weights
      c.model.pretrained = t.text == "true" ? c.model.variant + ".safetensors" : "";
    else
      read(*p, "model.pretrained", c.model.pretrained);
  }
  if (const Node* sz = has_data ? lookup(root, data_name + ".image_size") : nullptr) {
    const std::string key = data_name + ".image_size";
    if (sz->is_seq()) {
      std::vector<int> sides;
      for (size_t i = 0; i < sz->seq.size(); ++i) {
        int v = 0;
        read(sz->seq[i], key + "." + std::to_string(i), v);
        sides.push_back(v);
      }
      if (sides.empty() || (sides.size() == 2 && sides[0] != sides[1]) || sides.size() > 2)
        bad(key, *sz, "one size or a square [size, size]");
      c.data.image_size = sides[0];
    } else {
      read(*sz, key, c.data.image_size);
    }
  }
  if (const Node* cache = has_data ? lookup(root, data_name + ".cache") : nullptr) {  // Ultralytics: cache: false|true|ram|disk
    Node t = typed(*cache);
    if (t.is_scalar() && t.type == Node::Type::Bool)
      c.data.cache = t.text == "true" ? "ram" : "";
    else
      read(*cache, data_name + ".cache", c.data.cache);
  }
  if (has_data) {
    read_window(root, data_name + ".hu_windows.bone", c.data.hu_windows.bone);
    read_window(root, data_name + ".hu_windows.soft_tissue", c.data.hu_windows.soft_tissue);
    read_window(root, data_name + ".hu_windows.wide", c.data.hu_windows.wide);
  }
  for (const auto& key : special_keys()) known.push_back(dotted(key));

  // Augmentation and gains: a `hyp:` node in the tree wins over the file named by training.hyp.
  const Node* hyp = lookup(root, "hyp");
  if (hyp && !hyp->is_null() && !hyp->is_map()) bad("hyp", *hyp, "a map");
  if (hyp && hyp->is_map()) {
    read_table(*hyp, "hyp", hyp_table(c.hyp));
    for (auto& [key, field] : hyp_table(c.hyp)) known.push_back("hyp." + key);
  } else if (!c.training.hyp.empty()) {
    const Node* named = lookup(root, "training.hyp");
    std::vector<fs::path> tried;
    fs::path found = find_hyp(c.training.hyp, config_dir, tried);
    if (!found.empty()) {
      Node file = load_yaml_file(found);
      if (!file.is_null() && !file.is_map()) throw UsageError(found.string() + ": a hyp file must be a map");
      if (file.is_map()) read_table(file, "hyp", hyp_table(c.hyp));
      c.training.hyp = found.string();
    } else if (named && !named->is_null()) {
      std::string where;
      for (auto& p : tried) where += (where.empty() ? "" : ", ") + p.string();
      throw UsageError("training.hyp: cannot find '" + c.training.hyp + "' (looked at " + where + ")");
    }
  }
  c.ignored_keys = ignored_keys(root, data_name, known);
  return c;
}

std::vector<std::string> config_keys() {
  Config c;
  std::vector<std::string> out;
  for (const auto& [key, field] : field_table(c)) out.push_back(key);
  for (const auto& key : special_keys()) out.push_back(key);
  return out;
}

bool Config::given(const std::string& key) const {
  return std::any_of(user_keys.begin(), user_keys.end(), [&](const std::string& k) {
    return k == key || key.rfind(k + ".", 0) == 0 || k.rfind(key + ".", 0) == 0;
  });
}

Config load_config(const YAML::Node& tree) { return load_config(tree, find_config_dir("")); }

}  // namespace vyolo
