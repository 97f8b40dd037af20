#include "config/interpolate.h"

#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <set>
#include <vector>

#include "common/clip.h"
#include "common/error.h"
#include "config/override.h"

namespace vyolo {

namespace {

std::string trim(const std::string& t) {
  size_t b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
  return b == std::string::npos ? "" : t.substr(b, e - b + 1);
}

std::string unquote(const std::string& t) {
  if (t.size() >= 2 && (t[0] == '\'' || t[0] == '"') && t.back() == t[0]) return t.substr(1, t.size() - 2);
  return t;
}

// Splits resolver arguments at top-level commas (not inside quotes, brackets or braces).
std::vector<std::string> split_args(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (char c : s) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '[' || c == '{' || c == '(') {
      ++depth;
    } else if (c == ']' || c == '}' || c == ')') {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(trim(cur));
  return out;
}

// What str() gives in Python for a value inside a string interpolation.
std::string python_str(const Node& n) {
  if (n.is_null()) return "None";
  if (n.type == Node::Type::Bool) return n.text == "true" ? "True" : "False";
  if (n.type == Node::Type::Float) {
    if (n.text == ".inf") return "inf";
    if (n.text == "-.inf") return "-inf";
    if (n.text == ".nan") return "nan";
    auto e = n.text.find(".0e");
    if (e != std::string::npos) return n.text.substr(0, e) + n.text.substr(e + 2);
  }
  return n.text;
}

class Resolver {
 public:
  Resolver(Node& root, const HydraValues& hydra) : root_(root), hydra_(hydra) {}

  void resolve_subtree(const std::string& path) {
    if (done_.count(path)) return;
    Node* n = find_path(root_, path);
    if (!n) return;
    if (n->is_interpolation()) {
      resolve_node(path);
    } else if (n->is_map()) {
      std::vector<std::string> keys;
      for (auto& kv : n->map) keys.push_back(kv.first);
      for (auto& k : keys) resolve_subtree(path.empty() ? k : path + "." + k);
    } else if (n->is_seq()) {
      size_t count = n->seq.size();
      for (size_t i = 0; i < count; ++i) resolve_subtree(path.empty() ? std::to_string(i) : path + "." + std::to_string(i));
    }
  }

 private:
  void resolve_node(const std::string& path) {
    auto again = std::find(stack_.begin(), stack_.end(), path);
    if (again != stack_.end()) {
      std::string chain;
      for (auto it = again; it != stack_.end(); ++it) chain += *it + " -> ";
      throw UsageError("Interpolation cycle: " + clip(chain + path, 400));
    }
    stack_.push_back(path);
    std::string text = find_path(root_, path)->text;
    Node v = evaluate(text, path);
    *find_path(root_, path) = v;
    stack_.pop_back();
    done_.insert(path);
  }

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    const Node* n = find_path(root_, path);
    throw UsageError("Error resolving '" + clip(path) + "'" + (n && n->is_scalar() ? " ('" + clip(n->text) + "')" : "") +
                     ": " + what);
  }

  // `text` is a string holding interpolations; `path` the node it belongs to.
  Node evaluate(const std::string& text, const std::string& path) {
    // Nested interpolations (`${oc.decode:${...}}`) and chains of them recurse here: bounded, so that a 100 kB
    // override cannot overflow the stack.
    if (depth_ >= kMaxDepth)
      fail(path, "interpolations nested or chained deeper than " + std::to_string(kMaxDepth) + " levels");
    struct Depth {
      int& d;
      explicit Depth(int& x) : d(++x) {}
      ~Depth() { --d; }
    } guard(depth_);
    std::string literal;
    std::vector<Node> parts;        // resolved interpolations
    std::vector<std::string> order; // literal text between them, interleaved: lit0, part0, lit1, part1, ...
    size_t i = 0;
    bool any_literal = false;
    while (i < text.size()) {
      if (text[i] == '\\' && text.compare(i + 1, 2, "${") == 0) {
        literal += "${";
        i += 3;
        any_literal = true;
        continue;
      }
      if (text.compare(i, 2, "${") == 0) {
        size_t end = matching_brace(text, i, path);
        order.push_back(literal);
        literal.clear();
        parts.push_back(value_of(text.substr(i + 2, end - i - 2), path));
        i = end + 1;
        continue;
      }
      literal += text[i++];
      any_literal = true;
    }
    if (parts.size() == 1 && !any_literal) return parts[0];  // a lone interpolation keeps the target's type
    std::string out;
    for (size_t k = 0; k < parts.size(); ++k) {
      out += order[k];
      if (parts[k].is_map() || parts[k].is_seq())
        fail(path, "a " + parts[k].type_name() + " cannot be part of a string");
      out += python_str(parts[k]);
    }
    out += literal;
    return Node::string(out);
  }

  size_t matching_brace(const std::string& text, size_t open, const std::string& path) const {
    int depth = 0;
    for (size_t i = open; i < text.size(); ++i) {
      if (text.compare(i, 2, "${") == 0) {
        ++depth;
        ++i;
      } else if (text[i] == '}' && --depth == 0) {
        return i;
      }
    }
    fail(path, "unterminated interpolation (missing '}')");
  }

  Node value_of(std::string inner, const std::string& path) {
    if (inner.find("${") != std::string::npos) inner = python_str(evaluate(inner, path));
    // A resolver call `name:args` (`^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*:(.*)$`, by hand: std::regex recurses once per
    // character and a 100 kB interpolation would overflow the stack).
    auto space = [&](size_t i) { return std::isspace(static_cast<unsigned char>(inner[i])) != 0; };
    size_t i = 0;
    while (i < inner.size() && space(i)) ++i;
    const size_t name_at = i;
    if (i < inner.size() && (std::isalpha(static_cast<unsigned char>(inner[i])) || inner[i] == '_')) {
      ++i;
      while (i < inner.size() &&
             (std::isalnum(static_cast<unsigned char>(inner[i])) || inner[i] == '_' || inner[i] == '.'))
        ++i;
      const size_t name_end = i;
      while (i < inner.size() && space(i)) ++i;
      if (i < inner.size() && inner[i] == ':')
        return call(inner.substr(name_at, name_end - name_at), inner.substr(i + 1), path);
    }
    return lookup(trim(inner), path);
  }

  Node call(const std::string& name, const std::string& raw_args, const std::string& path) {
    auto args = split_args(raw_args);
    if (name == "now") {
      std::time_t t = run_start_time();
      std::tm tm{};
      localtime_r(&t, &tm);
      char buf[256];
      std::string fmt = unquote(trim(raw_args));
      size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
      if (n == 0 && !fmt.empty()) fail(path, "bad time format '" + fmt + "'");
      return Node::string(std::string(buf, n));
    }
    if (name == "oc.env" || name == "env") {
      std::string var = unquote(args[0]);
      if (const char* v = std::getenv(var.c_str())) return Node::string(v);
      if (args.size() > 1) {
        std::string def = args[1];
        if (def == "null") return Node::null();
        return Node::string(unquote(def));
      }
      fail(path, "environment variable '" + var + "' is not set (give a default: ${oc.env:" + var + ",DEFAULT})");
    }
    if (name == "oc.select") {
      std::string key = unquote(args[0]);
      if (find_path(root_, absolute(key, path))) return lookup(key, path);
      if (args.size() > 1) return parse_override_value(args[1]);
      return Node::null();
    }
    if (name == "oc.decode") return parse_override_value(unquote(trim(raw_args)));
    if (name == "hydra") {
      std::string key = trim(raw_args);
      auto it = hydra_.find(key);
      if (it == hydra_.end()) {
        std::string known;
        for (auto& kv : hydra_) known += (known.empty() ? "" : ", ") + kv.first;
        fail(path, "unknown key 'hydra:" + key + "'" + (known.empty() ? "" : " (known: " + known + ")"));
      }
      return Node::plain(it->second).is_null() ? Node::null() : Node::string(it->second);
    }
    fail(path, "Unsupported interpolation type '" + name + "'");
  }

  std::string absolute(const std::string& key, const std::string& path) const {
    if (key.empty() || key[0] != '.') return key;
    size_t dots = 0;
    while (dots < key.size() && key[dots] == '.') ++dots;
    auto parts = split_path(path);
    parts.pop_back();  // the node itself: one dot means its container
    for (size_t d = 1; d < dots && !parts.empty(); ++d) parts.pop_back();
    std::string rest = key.substr(dots), base;
    for (auto& p : parts) base += (base.empty() ? "" : ".") + p;
    if (rest.empty()) return base;
    return base.empty() ? rest : base + "." + rest;
  }

  Node lookup(const std::string& key, const std::string& path) {
    std::string abs = absolute(key, path);
    if (!find_path(root_, abs)) fail(path, "interpolation key '" + clip(key) + "' not found");
    resolve_subtree(abs);
    return *find_path(root_, abs);
  }

  static constexpr int kMaxDepth = 100;
  Node& root_;
  const HydraValues& hydra_;
  int depth_ = 0;
  std::vector<std::string> stack_;
  std::set<std::string> done_;
};

}  // namespace

void resolve_interpolations(Node& root, const HydraValues& hydra) {
  Resolver r(root, hydra);
  r.resolve_subtree("");
}

std::time_t run_start_time() {
  static const std::time_t t = std::time(nullptr);
  return t;
}

}  // namespace vyolo
