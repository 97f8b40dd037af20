#include "config/compose.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/clip.h"
#include "common/error.h"
#include "config/override.h"

namespace vyolo {

namespace fs = std::filesystem;

namespace {

std::string dotted(const std::string& group) {
  std::string r = group;
  std::replace(r.begin(), r.end(), '/', '.');
  return r;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string r;
  for (size_t i = 0; i < v.size(); ++i) r += (i ? sep : "") + v[i];
  return r;
}

std::string strip_yaml(std::string name) {
  for (const char* ext : {".yaml", ".yml"}) {
    std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0)
      return name.substr(0, name.size() - e.size());
  }
  return name;
}


// The package a `group@pkg` entry names, relative to the package of the config that holds the entry.
std::string resolve_package(const std::string& pkg, const std::string& here, const std::string& group) {
  if (pkg == "_global_") return "";
  if (pkg.rfind("_global_.", 0) == 0) return pkg.substr(9);
  if (pkg == "_here_") return here;
  if (pkg == "_group_") return dotted(group);
  return here.empty() ? pkg : here + "." + pkg;
}

std::vector<std::string> option_list(const Node& v) {
  if (v.is_null()) return {};
  if (v.is_seq()) {
    std::vector<std::string> r;
    for (auto& i : v.seq) r.push_back(i.text);
    return r;
  }
  return {v.text};
}

struct Entry {
  enum Kind { Self, Group, Config } kind = Self;
  std::string name;        // absolute group path (Group) or config path (Config)
  std::string raw_package; // as written after '@'
  bool optional = false;
  bool is_override = false;
  Node option;
};

struct CliGroupOverride {
  Override o;
  bool used = false;
};

class Composer {
 public:
  Composer(const SearchPath& path, std::vector<CliGroupOverride>& cli, std::map<std::string, Node>& file_overrides)
      : path_(path), cli_(cli), file_overrides_(file_overrides) {}

  Node result = Node::empty_map();
  Node hydra_node;  // the primary config's `hydra:` section (Hydra keeps it out of the job config)
  std::vector<std::pair<std::string, std::string>> choices;
  std::set<std::string> seen;  // group keys ("g" or "g@pkg") that appeared in the defaults tree
  bool restart = false;

  void load(const std::string& path, std::string package, bool package_explicit, const std::string& group,
            int depth) {
    if (depth > 32) throw UsageError("defaults lists nest deeper than 32 levels (a config includes itself?) at '" +
                                     path + "'");
    fs::path file = path_.find(path);
    std::ifstream in(file);
    if (!in) throw UsageError("cannot read config file " + file.string());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (!package_explicit) {
      std::string header = package_header(text);
      if (!header.empty()) package = resolve_package(header, "", group);
    }
    Node content = load_yaml_string(text, file.string());
    if (content.is_null()) content = Node::empty_map();
    if (!content.is_map()) throw UsageError(file.string() + ": the top level of a config must be a map");

    std::vector<Entry> entries;
    if (Node* d = content.find("defaults")) {
      entries = parse_defaults(*d, group, file.string());
      content.erase("defaults");
    }
    if (depth == 0) {
      if (Node* h = content.find("hydra")) {
        hydra_node = *h;
        content.erase("hydra");
      }
    }
    if (std::none_of(entries.begin(), entries.end(), [](const Entry& e) { return e.kind == Entry::Self; }))
      entries.push_back(Entry{});  // _self_ last: the config overrides its own defaults (Hydra >= 1.1)

    for (auto& e : entries) {
      if (e.kind == Entry::Self) {
        merge_into(make_path(result, package), content);
      } else if (e.kind == Entry::Config) {
        auto slash = e.name.rfind('/');
        std::string g = slash == std::string::npos ? "" : e.name.substr(0, slash);
        if (path_.find(e.name).empty()) {
          if (e.optional) continue;
          throw UsageError("In '" + path + "': could not find config '" + e.name + "' in " + path_.describe());
        }
        load(e.name, dotted(g), false, g, depth + 1);
      } else {
        load_group(e, package, path, depth);
      }
    }
  }

  void load_group(const Entry& e, const std::string& here, const std::string& from, int depth) {
    if (e.name == "hydra" || e.name.rfind("hydra/", 0) == 0) return;  // Hydra's own config groups
    std::string key = e.raw_package.empty() ? e.name : e.name + "@" + e.raw_package;
    if (e.is_override) {
      auto it = file_overrides_.find(key);
      if (it == file_overrides_.end() || it->second != e.option) {
        file_overrides_[key] = e.option;
        if (seen.count(key)) restart = true;  // it was loaded with the old option: compose again
      }
      return;
    }
    seen.insert(key);
    Node option = e.option;
    bool from_cli = false;
    for (auto& c : cli_) {
      if (c.o.op == Override::Op::Add || c.o.key != e.name || c.o.package != e.raw_package) continue;
      c.used = true;
      from_cli = true;
      option = c.o.op == Override::Op::Delete ? Node::null() : c.o.value();
    }
    if (!from_cli) {
      auto it = file_overrides_.find(key);
      if (it != file_overrides_.end()) option = it->second;
    }
    std::string package = e.raw_package.empty() ? dotted(e.name) : resolve_package(e.raw_package, here, e.name);
    select(e.name, key, option, package, !e.raw_package.empty(), e.optional, from, depth);
  }

  void select(const std::string& group, const std::string& key, const Node& option, const std::string& package,
              bool package_explicit, bool optional, const std::string& from, int depth) {
    if (option.is_null()) {
      choices.emplace_back(key, "null");
      return;
    }
    auto opts = option_list(option);
    std::vector<std::string> loaded;
    for (auto& opt : opts) {
      if (opt == "???") {
        throw UsageError("You must specify '" + group + "', e.g. " + group + "=<OPTION>\nAvailable options in '" +
                         group + "': " + join(path_.options(group), ", "));
      }
      std::string path = group + "/" + strip_yaml(opt);
      if (path_.find(path).empty()) {
        if (optional) continue;
        missing_option(group, path, from);
      }
      load(path, package, package_explicit, group, depth + 1);
      loaded.push_back(strip_yaml(opt));
    }
    choices.emplace_back(key, opts.size() == 1 ? (loaded.empty() ? "null" : loaded[0]) : "[" + join(loaded, ", ") + "]");
  }

  [[noreturn]] void missing_option(const std::string& group, const std::string& path, const std::string& from) {
    std::string msg = "In '" + from + "': Could not find '" + path + "'\n";
    if (!path_.has_group(group)) {
      std::vector<std::string> groups;
      for (auto& [g, o] : list_groups(path_)) groups.push_back(g);
      msg += "There is no config group '" + group + "' in " + path_.describe() + " (groups: " + join(groups, ", ") +
             ")";
    } else {
      msg += "Available options in '" + group + "': " + join(path_.options(group), ", ");
    }
    throw UsageError(msg);
  }

 private:
  static std::string package_header(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      auto b = line.find_first_not_of(" \t");
      if (b == std::string::npos) continue;
      if (line[b] != '#') break;
      auto at = line.find("@package");
      if (at != std::string::npos) {
        std::istringstream rest(line.substr(at + 8));
        std::string pkg;
        rest >> pkg;
        return pkg;
      }
    }
    return "";
  }

  static std::vector<Entry> parse_defaults(const Node& d, const std::string& group, const std::string& file) {
    if (!d.is_seq()) throw UsageError(file + ": 'defaults' must be a list");
    auto absolute = [&](const std::string& name) {
      if (!name.empty() && name[0] == '/') return name.substr(1);
      return group.empty() ? name : group + "/" + name;
    };
    std::vector<Entry> out;
    for (auto& item : d.seq) {
      Entry e;
      if (item.is_scalar()) {
        std::string s = item.text;
        if (s == "_self_") {
          e.kind = Entry::Self;
        } else {
          e.kind = Entry::Config;
          e.name = absolute(strip_yaml(s));
        }
      } else if (item.is_map() && item.map.size() == 1) {
        std::string k = item.map[0].first;
        e.option = item.map[0].second;
        for (;;) {
          if (k.rfind("override ", 0) == 0) {
            e.is_override = true;
            k = k.substr(9);
          } else if (k.rfind("optional ", 0) == 0) {
            e.optional = true;
            k = k.substr(9);
          } else {
            break;
          }
        }
        auto at = k.find('@');
        if (at != std::string::npos) {
          e.raw_package = k.substr(at + 1);
          k = k.substr(0, at);
        }
        e.kind = Entry::Group;
        e.name = absolute(k);
        if (!e.option.is_null() && !e.option.is_scalar() && !e.option.is_seq())
          throw UsageError(file + ": defaults entry '" + k + "' must name an option, a list of options or null");
      } else {
        throw UsageError(file + ": a defaults entry must be '_self_', a config name or 'group: option'");
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  const SearchPath& path_;
  std::vector<CliGroupOverride>& cli_;
  std::map<std::string, Node>& file_overrides_;
};

bool bool_like(const std::string& s) {
  static const std::set<std::string> ok = {"true", "false", "yes", "no", "on", "off", "1", "0",
                                           "True", "False", "Yes", "No", "On", "Off", "TRUE", "FALSE"};
  return ok.count(s) > 0;
}

std::string describe(const Node& n) {
  if (n.is_scalar()) return n.type_name() + " '" + n.text + "'";
  return "a " + n.type_name();
}

void check_type(const std::string& key, const Node& existing, const Node& value) {
  if (existing.is_null() || existing.is_interpolation() || value.is_null() || value.is_interpolation()) return;
  auto fail = [&] {
    throw UsageError("Type mismatch for '" + key + "': the config has " + describe(existing) + ", the override gives " +
                     describe(value));
  };
  if (existing.is_map() != value.is_map() || existing.is_seq() != value.is_seq()) fail();
  if (!existing.is_scalar()) return;
  Node as_plain = value.type == Node::Type::String ? Node::plain(value.text) : value;
  switch (existing.type) {
    case Node::Type::Int:
      if (as_plain.type != Node::Type::Int) fail();
      break;
    case Node::Type::Float:
      if (as_plain.type != Node::Type::Int && as_plain.type != Node::Type::Float) fail();
      break;
    case Node::Type::Bool:
      if (value.type != Node::Type::Bool && value.type != Node::Type::Int && !bool_like(value.text)) fail();
      break;
    case Node::Type::String:
      break;
  }
}

[[noreturn]] void unknown_key(const Node& tree, const Override& o, const std::string& action) {
  std::string msg = "Could not " + action + " '" + clip(o.key) + "'. Key '" + clip(o.key) + "' is not in the config";
  auto near = closest(o.key, all_paths(tree));
  if (!near.empty()) msg += "; did you mean " + join(near, ", ") + "?";
  if (o.op == Override::Op::Set && o.has_value)
    msg += "\nTo append to your config use +" + clip(o.input);
  throw UsageError(msg);
}

}  // namespace

void apply_config_override(Node& tree, const Override& o) {
  switch (o.op) {
    case Override::Op::Set: {
      Node* n = find_path(tree, o.key);
      if (!n) unknown_key(tree, o, "override");
      check_type(o.key, *n, o.value());
      if (n->is_map() && o.value().is_map())
        merge_into(*n, o.value());
      else
        *n = o.value();
      break;
    }
    case Override::Op::Add: {
      if (find_path(tree, o.key))
        throw UsageError("Could not append to config. An item is already at '" + o.key + "' (use ++" +
                         o.input.substr(1) + " to override it)");
      make_path(tree, o.key) = o.value();
      break;
    }
    case Override::Op::ForceAdd: {
      Node& n = make_path(tree, o.key);
      if (n.is_map() && o.value().is_map())
        merge_into(n, o.value());
      else
        n = o.value();
      break;
    }
    case Override::Op::Delete: {
      Node* n = find_path(tree, o.key);
      if (!n) unknown_key(tree, o, "delete");
      if (o.has_value && !(o.value() == *n) && !(n->is_scalar() && o.value().is_scalar() && n->text == o.value().text))
        throw UsageError("Could not delete '" + o.key + "': its value is '" +
                         (n->is_scalar() ? n->text : n->type_name()) + "', not '" + o.value_texts.front() + "'");
      erase_path(tree, o.key);
      break;
    }
  }
}

Composed compose(const ComposeOptions& opts, const std::vector<std::string>& overrides) {
  const SearchPath& dir = opts.config_dir;
  for (const auto& d : dir.dirs)
    if (!fs::is_directory(d))
      throw UsageError("config dir not found: " + d.string() + " (give one with -cd DIR, or run where ./conf exists)");
  if (dir.empty()) throw UsageError("no config dir (give one with -cd DIR, or run where ./conf exists)");
  std::string name = strip_yaml(opts.config_name);
  if (dir.find(name).empty()) {
    std::vector<std::string> primaries = dir.options("");
    throw UsageError("Cannot find primary config '" + name + "' in " + dir.describe() +
                     (primaries.empty() ? "" : " (available: " + join(primaries, ", ") + ")"));
  }

  Node command_keys = opts.command_defaults_yaml.empty()
                          ? Node::empty_map()
                          : load_yaml_string(opts.command_defaults_yaml, "command defaults");
  Composed out;
  out.overrides = overrides;
  std::vector<CliGroupOverride> groups;
  std::vector<Override> values;
  for (auto& text : overrides) {
    Override o = parse_override(text);
    if (o.is_sweep)
      throw UsageError("Ambiguous value for argument '" + text + "'\n"
                       "1. To use it as a list, use " + o.key + "=[" + join(o.value_texts, ",") + "]\n"
                       "2. To use it as a string, quote the value: " + o.key + "='" + join(o.value_texts, ",") + "'\n"
                       "3. To sweep over it, add --multirun (-m) to the command line");
    if (o.key == "hydra" || o.key.rfind("hydra.", 0) == 0 || o.key.rfind("hydra/", 0) == 0) {
      out.hydra_overrides.push_back(text);
      continue;
    }
    bool is_group = o.key.find('/') != std::string::npos || !o.package.empty() ||
                    (o.key.find('.') == std::string::npos && !(command_keys.is_map() && command_keys.find(o.key)) &&
                     dir.has_group(o.key));
    if (is_group) {
      if (o.has_value && !o.value().is_null() && !o.value().is_scalar() && !o.value().is_seq())
        throw UsageError("'" + text + "': a config group takes an option name, a list of them or null");
      groups.push_back({o, false});
    } else {
      if (!o.has_value && o.op != Override::Op::Delete)
        throw UsageError("'" + text + "': missing value");
      values.push_back(o);
    }
  }

  std::map<std::string, Node> file_overrides;
  for (int attempt = 0;; ++attempt) {
    for (auto& g : groups) g.used = false;
    Composer c(dir, groups, file_overrides);
    c.load(name, "", false, "", 0);
    if (c.restart && attempt < 8) continue;
    for (auto& g : groups) {
      if (g.used) continue;
      const Override& o = g.o;
      std::string key = o.key_with_package();
      switch (o.op) {
        case Override::Op::Set:
          throw UsageError("Could not override '" + key + "'. No match in the defaults list.\n"
                           "To append to your default list use +" + o.input);
        case Override::Op::Delete:
          throw UsageError("Could not delete '" + key + "'. No match in the defaults list");
        case Override::Op::Add:
          if (c.seen.count(key))
            throw UsageError("Could not append to the defaults list. An item is already at '" + key +
                             "' (use " + o.key + "=... to change it)");
          [[fallthrough]];
        case Override::Op::ForceAdd: {
          std::string package = o.package.empty() ? dotted(o.key) : resolve_package(o.package, "", o.key);
          c.select(o.key, key, o.value(), package, !o.package.empty(), false, name, 0);
          break;
        }
      }
    }
    out.tree = std::move(c.result);
    out.choices = std::move(c.choices);
    break;
  }

  if (command_keys.is_map()) merge_into(out.tree, command_keys);
  for (auto& o : values) {
    apply_config_override(out.tree, o);
    out.user_keys.push_back(o.key);
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<std::string>>> list_groups(const SearchPath& path) {
  std::map<std::string, std::set<std::string>> groups;
  for (const auto& config_dir : path.dirs) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(config_dir, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (ec) break;
      auto ext = it->path().extension().string();
      if (!it->is_regular_file() || (ext != ".yaml" && ext != ".yml")) continue;
      auto rel = fs::relative(it->path().parent_path(), config_dir).generic_string();
      if (rel == "." || rel.empty()) continue;
      groups[rel].insert(it->path().stem().string());
    }
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (auto& [g, o] : groups) out.emplace_back(g, std::vector<std::string>(o.begin(), o.end()));
  return out;
}

}  // namespace vyolo
