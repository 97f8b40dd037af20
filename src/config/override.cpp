#include "config/override.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <regex>

#include "common/clip.h"
#include "common/error.h"

namespace vyolo {

namespace {

bool key_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '$'; }

// Hydra's primitive typing: null, true/false (any case), ints and floats with optional underscores, else string.
// An int beyond 64 bits sets *overflow (Hydra would keep a Python int; nothing here can hold it).
Node type_primitive(const std::string& s, bool* overflow) {
  std::string folded;  // null, true and false match in any case
  for (char c : s) folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (folded == "null") return Node::null();
  Node n = Node::string(s);
  if (folded == "true" || folded == "false") {
    n.type = Node::Type::Bool;
    n.text = folded;
    return n;
  }
  static const std::regex int_re("[+-]?(0|[1-9](_?[0-9])*)");
  static const std::regex float_re(
      "[+-]?((([0-9](_?[0-9])*)?\\.[0-9](_?[0-9])*|[0-9](_?[0-9])*\\.)([eE][+-]?[0-9](_?[0-9])*)?|"
      "[0-9](_?[0-9])*[eE][+-]?[0-9](_?[0-9])*|[Ii][Nn][Ff]|[Nn][Aa][Nn])");
  std::string clean;
  for (char c : s)
    if (c != '_') clean += c;
  const bool long_text = s.size() > kRegexMax;
  const NumberKind kind = long_text ? long_number_kind(s) : NumberKind::None;
  if (long_text ? kind == NumberKind::Int : std::regex_match(s, int_re)) {
    n.type = Node::Type::Int;
    errno = 0;
    long long v = std::strtoll(clean.c_str(), nullptr, 10);
    if (errno == ERANGE) *overflow = true;
    n.text = std::to_string(v);
    return n;
  }
  if (long_text ? kind == NumberKind::Float : std::regex_match(s, float_re)) {
    n.type = Node::Type::Float;
    std::string lower;
    for (char c : clean) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    double v;
    if (lower.find("inf") != std::string::npos)
      v = lower[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    else if (lower.find("nan") != std::string::npos)
      v = NAN;
    else
      v = std::strtod(clean.c_str(), nullptr);
    n.text = python_float(v);
  }
  return n;
}

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  [[noreturn]] void fail(const std::string& what, size_t at) const {
    throw UsageError("Error parsing override '" + clip(s_) + "' at column " + std::to_string(at + 1) + ": " + what);
  }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void skip_ws() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }

  Override parse() {
    Override o;
    o.input = s_;
    if (s_.compare(0, 1, "~") == 0) {
      o.op = Override::Op::Delete;
      pos_ = 1;
    } else if (s_.compare(0, 2, "++") == 0) {
      o.op = Override::Op::ForceAdd;
      pos_ = 2;
    } else if (s_.compare(0, 1, "+") == 0) {
      o.op = Override::Op::Add;
      pos_ = 1;
    }
    o.key = parse_key(true);
    if (peek() == '@') {
      ++pos_;
      o.package = parse_key(false);
    }
    if (at_end()) {
      if (o.op == Override::Op::Delete) return o;
      fail("missing '=' (overrides are key=value)", pos_);
    }
    if (peek() != '=') fail(std::string("unexpected '") + peek() + "' in key", pos_);
    ++pos_;
    o.has_value = true;
    if (at_end()) {  // `key=` sets the empty string
      o.values.push_back(Node::string(""));
      o.value_texts.push_back("");
      return o;
    }
    {  // a sweep function: `^\s*([A-Za-z_]+)\(` (by hand: std::regex recurses per character of a long value)
      size_t i = pos_;
      while (i < s_.size() && std::isspace(static_cast<unsigned char>(s_[i]))) ++i;
      const size_t name_at = i;
      while (i < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[i])) || s_[i] == '_')) ++i;
      if (i > name_at && i < s_.size() && s_[i] == '(') {
        parse_function(o, s_.substr(name_at, i - name_at), i + 1);
        return o;
      }
    }
    for (;;) {
      size_t start = pos_;
      o.values.push_back(parse_element(false));
      o.value_texts.push_back(trim(s_.substr(start, pos_ - start)));
      if (at_end()) break;
      if (peek() != ',') fail(std::string("unexpected '") + peek() + "'", pos_);
      ++pos_;
    }
    o.is_sweep = o.values.size() > 1;
    return o;
  }

  Node parse_value_only() {
    Node v = parse_element(false);
    if (!at_end()) fail(std::string("unexpected '") + peek() + "'", pos_);
    return v;
  }

 private:
  static std::string trim(const std::string& t) {
    size_t b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
    return b == std::string::npos ? "" : t.substr(b, e - b + 1);
  }

  // package/group keys: ID (('.'|'/') ID)*, IDs may be numbers (list indices).
  std::string parse_key(bool allow_slash) {
    size_t start = pos_;
    while (!at_end() && (key_char(peek()) || peek() == '.' || (allow_slash && peek() == '/'))) ++pos_;
    std::string k = s_.substr(start, pos_ - start);
    if (k.empty()) fail(at_end() ? "missing key" : std::string("unexpected '") + peek() + "' in key", pos_);
    for (size_t i = 0; i < k.size(); ++i) {
      bool sep = k[i] == '.' || k[i] == '/';
      bool prev_sep = i == 0 || k[i - 1] == '.' || k[i - 1] == '/';
      if (sep && prev_sep && !(i == 0 && k[i] == '/')) fail("empty key component", start + i);
    }
    if (k.back() == '.' || k.back() == '/') fail("key ends with a separator", start + k.size() - 1);
    return k;
  }

  Node parse_element(bool in_container) {
    skip_ws();
    Node v;
    char c = peek();
    if ((c == '[' || c == '{') && depth_ >= kMaxDepth)
      fail("lists and maps nest deeper than " + std::to_string(kMaxDepth) + " levels", pos_);
    if (c == '[') {
      ++depth_;
      v = parse_list();
      --depth_;
    } else if (c == '{') {
      ++depth_;
      v = parse_dict();
      --depth_;
    } else if (c == '\'' || c == '"') {
      v = Node::string(parse_quoted());
    } else {
      v = parse_primitive(in_container, false);
    }
    skip_ws();
    return v;
  }

  std::string parse_quoted() {
    char q = s_[pos_];
    size_t open = pos_++;
    std::string out;
    while (!at_end()) {
      char c = s_[pos_];
      if (c == '\\' && pos_ + 1 < s_.size() && (s_[pos_ + 1] == q || s_[pos_ + 1] == '\\')) {
        out += s_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      if (c == q) {
        ++pos_;
        return out;
      }
      out += c;
      ++pos_;
    }
    fail(std::string("unterminated quoted string (missing ") + q + ")", open);
  }

  // Unquoted text up to a separator; keeps `${...}` whole and honours backslash escapes.
  Node parse_primitive(bool in_container, bool dict_key) {
    size_t start = pos_;
    std::string out;
    bool literal = false;  // escapes or interpolations force a string
    while (!at_end()) {
      char c = s_[pos_];
      if (c == ',' || (in_container && (c == ']' || c == '}')) || (dict_key && c == ':') || (in_call_ && c == ')'))
        break;
      if (c == '\\' && pos_ + 1 < s_.size() && std::string("\\()[]{}:=, \t").find(s_[pos_ + 1]) != std::string::npos) {
        out += s_[pos_ + 1];
        pos_ += 2;
        literal = true;
        continue;
      }
      if (c == '$' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '{') {
        size_t open = pos_;
        int depth = 0;
        do {
          if (s_.compare(pos_, 2, "${") == 0) {
            ++depth;
            out += "${";
            pos_ += 2;
            continue;
          }
          if (s_[pos_] == '}') --depth;
          out += s_[pos_++];
        } while (depth > 0 && !at_end());
        if (depth > 0) fail("unterminated interpolation (missing })", open);
        literal = true;
        continue;
      }
      if (std::string("[]{}()").find(c) != std::string::npos)
        fail(std::string("unexpected '") + c + "' (quote the value to use it literally)", pos_);
      if ((c == '\'' || c == '"') && trim(out).empty())
        fail(std::string("unexpected quote"), pos_);
      out += c;
      ++pos_;
    }
    std::string text = trim(out);
    if (text.empty()) fail("missing value", start);
    if (literal || dict_key) return Node::string(text);
    bool overflow = false;
    Node n = type_primitive(text, &overflow);
    if (overflow) fail("the integer " + clip(text, 40) + " does not fit in 64 bits", start);
    return n;
  }

  // `[a, b]` or `{k: v}` from the opening bracket at pos_: item(unclosed) reads one element, until `close`.
  template <class Item>
  void parse_items(char close, const char* what, Item item) {
    const size_t open = pos_++;
    const std::string unclosed =
        std::string("missing '") + close + "' (the " + what + " opens at column " + std::to_string(open + 1) + ")";
    skip_ws();
    if (peek() == close) {
      ++pos_;
      return;
    }
    for (;;) {
      if (at_end()) fail(unclosed, pos_);
      item(unclosed);
      if (at_end()) fail(unclosed, pos_);
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == close) {
        ++pos_;
        return;
      }
      fail(std::string("expected ',' or '") + close + "' but found '" + peek() + "'", pos_);
    }
  }

  Node parse_list() {
    Node list = Node::empty_seq();
    parse_items(']', "list", [&](const std::string&) { list.seq.push_back(parse_element(true)); });
    return list;
  }

  Node parse_dict() {
    Node map = Node::empty_map();
    parse_items('}', "map", [&](const std::string& unclosed) {
      skip_ws();
      const std::string key = peek() == '\'' || peek() == '"' ? parse_quoted() : parse_primitive(true, true).text;
      skip_ws();
      if (peek() != ':') {
        if (at_end()) fail(unclosed, pos_);
        fail(std::string("expected ':' after the key '") + key + "'", pos_);
      }
      ++pos_;
      Node v = parse_element(true);
      if (Node* existing = map.find(key))
        *existing = v;
      else
        map.map.emplace_back(key, v);
    });
    return map;
  }

  void parse_function(Override& o, const std::string& name, size_t args_start) {
    size_t name_at = pos_;
    if (name != "choice" && name != "range")
      fail("unsupported sweep function '" + name + "' (supported: choice, range)", name_at);
    pos_ = args_start;
    in_call_ = true;
    std::vector<Node> args;
    std::vector<std::string> texts;
    skip_ws();
    while (peek() != ')') {
      if (at_end()) fail("missing ')' for " + name + "(", name_at);
      size_t start = pos_;
      args.push_back(parse_element(true));
      texts.push_back(trim(s_.substr(start, pos_ - start)));
      if (peek() == ',') ++pos_;
      else if (peek() != ')') fail(std::string("expected ',' or ')' but found '") + peek() + "'", pos_);
    }
    ++pos_;
    in_call_ = false;
    skip_ws();
    if (!at_end()) fail(std::string("unexpected '") + peek() + "' after " + name + "(...)", pos_);
    if (name == "choice") {
      if (args.empty()) fail("choice() needs at least one value", name_at);
      o.values = args;
      o.value_texts = texts;
    } else if (name == "range") {
      if (args.size() < 2 || args.size() > 3) fail("range() takes start, stop[, step]", name_at);
      bool all_int = true;
      std::vector<double> nums;
      for (auto& a : args) {
        if (!a.is_scalar() || (a.type != Node::Type::Int && a.type != Node::Type::Float))
          fail("range() arguments must be numbers", name_at);
        all_int = all_int && a.type == Node::Type::Int;
        nums.push_back(std::strtod(a.text.c_str(), nullptr));
      }
      double step = nums.size() == 3 ? nums[2] : 1.0;
      if (step == 0) fail("range() step must not be 0", name_at);
      for (int i = 0;; ++i) {
        double v = nums[0] + i * step;
        if ((step > 0 && v >= nums[1]) || (step < 0 && v <= nums[1]) || i > 100000) break;
        Node n = Node::string("");
        n.kind = Node::Kind::Scalar;
        n.type = all_int ? Node::Type::Int : Node::Type::Float;
        n.text = all_int ? std::to_string(static_cast<long long>(std::llround(v))) : python_float(v);
        o.values.push_back(n);
        o.value_texts.push_back(n.text);
      }
      if (o.values.empty()) fail("range() is empty", name_at);
    } else {
      fail("unsupported sweep function '" + name + "' (supported: choice, range)", name_at);
    }
    o.is_sweep = true;
  }

  // Nesting limit: each level is a few stack frames, and a 4,000-deep `[[[...` overflowed the stack (found by
  // fuzzing).
  static constexpr int kMaxDepth = 64;
  const std::string& s_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool in_call_ = false;  // inside choice(...) / range(...): ')' ends a value
};

}  // namespace

std::string Override::prefix() const {
  switch (op) {
    case Op::Add: return "+";
    case Op::ForceAdd: return "++";
    case Op::Delete: return "~";
    default: return "";
  }
}

std::string Override::key_with_package() const { return package.empty() ? key : key + "@" + package; }

Override parse_override(const std::string& text) {
  Parser p(text);
  return p.parse();
}

Node parse_override_value(const std::string& text) {
  Parser p(text);
  return p.parse_value_only();
}

std::vector<std::vector<std::string>> expand_sweeps(const std::vector<std::string>& overrides) {
  std::vector<std::vector<std::string>> lists;
  for (auto& text : overrides) {
    Override o = parse_override(text);
    if (!o.is_sweep) {
      lists.push_back({text});
      continue;
    }
    std::vector<std::string> items;
    for (auto& v : o.value_texts) items.push_back(o.prefix() + o.key_with_package() + "=" + v);
    lists.push_back(items);
  }
  std::vector<std::vector<std::string>> jobs{{}};
  for (auto& l : lists) {
    std::vector<std::vector<std::string>> next;
    for (auto& job : jobs)
      for (auto& item : l) {
        auto j = job;
        j.push_back(item);
        next.push_back(std::move(j));
      }
    jobs = std::move(next);
  }
  return jobs;
}

}  // namespace vyolo
