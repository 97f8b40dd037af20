#include "config/node.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/error.h"
#include "config/yaml_error.h"

namespace vyolo {

namespace {

bool is_one_of(const std::string& s, std::initializer_list<const char*> options) {
  for (auto* o : options)
    if (s == o) return true;
  return false;
}

std::string strip_underscores(const std::string& s) {
  std::string r;
  for (char c : s)
    if (c != '_') r += c;
  return r;
}

// YAML 1.1 scalar resolution as PyYAML's SafeLoader does it, with OmegaConf's wider float pattern (1e-3 is a float).
void type_plain(Node& n) {
  const std::string& s = n.text;
  if (is_one_of(s, {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    n.type = Node::Type::Bool;
    n.text = "true";
    return;
  }
  if (is_one_of(s, {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    n.type = Node::Type::Bool;
    n.text = "false";
    return;
  }
  static const std::regex dec("[-+]?(0|[1-9][0-9_]*)");
  static const std::regex hex("[-+]?0x[0-9a-fA-F_]+");
  static const std::regex oct("[-+]?0[0-7_]+");
  static const std::regex bin("[-+]?0b[01_]+");
  static const std::regex flt(
      "[-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+]?[0-9]+)?|[-+]?([0-9][0-9_]*)([eE][-+]?[0-9]+)|"
      "[-+]?\\.[0-9_]+([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  auto as_int = [&](int base, size_t prefix) {
    std::string t = strip_underscores(s);
    bool neg = !t.empty() && t[0] == '-';
    size_t start = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
    errno = 0;
    unsigned long long v = std::strtoull(t.c_str() + start + prefix, nullptr, base);
    n.type = Node::Type::Int;
    if (errno == 0) n.text = (neg && v != 0 ? "-" : "") + std::to_string(v);
  };
  auto as_float = [&] {
    std::string t = strip_underscores(s);
    double v;
    if (t.find("inf") != std::string::npos || t.find("Inf") != std::string::npos || t.find("INF") != std::string::npos)
      v = t[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    else if (t.find("nan") != std::string::npos || t.find("NaN") != std::string::npos ||
             t.find("NAN") != std::string::npos)
      v = NAN;
    else
      v = std::strtod(t.c_str(), nullptr);
    n.type = Node::Type::Float;
    n.text = python_float(v);
  };
  if (s.size() > kRegexMax) {
    const NumberKind k = long_number_kind(s);
    if (k == NumberKind::Int) return as_int(10, 0);
    if (k == NumberKind::Float) as_float();
    return;
  }
  if (std::regex_match(s, dec)) return as_int(10, 0);
  if (std::regex_match(s, hex)) return as_int(16, 2);
  if (std::regex_match(s, bin)) return as_int(2, 2);
  if (std::regex_match(s, oct)) return as_int(8, 1);
  if (std::regex_match(s, flt)) as_float();
}

bool would_retype(const std::string& s) {
  if (s.empty() || is_one_of(s, {"~", "null", "Null", "NULL"})) return true;
  if (s.size() > kRegexMax) return long_number_kind(s) != NumberKind::None;  // no timestamp is that long
  // PyYAML reads these as dates/timestamps, so they are quoted for Python readers of the files we write.
  static const std::regex timestamp(
      "[0-9]{4}-[0-9]{2}-[0-9]{2}|"
      "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \\t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]*)?"
      "(([ \\t]*)Z|[-+][0-9]{1,2}(:[0-9]{2})?)?");
  if (std::regex_match(s, timestamp)) return true;
  // OmegaConf's writer also quotes y/n and whatever Python's int() or float() would accept ("nan", " 12", "1_0").
  if (is_one_of(s, {"y", "Y", "n", "N"})) return true;
  static const std::regex py_number(
      "\\s*[-+]?(([0-9](_?[0-9])*)?\\.?[0-9](_?[0-9])*\\.?([eE][-+]?[0-9](_?[0-9])*)?|"
      "[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])\\s*");
  if (std::regex_match(s, py_number)) return true;
  Node probe = Node::plain(s);
  return probe.kind != Node::Kind::Scalar || probe.type != Node::Type::String;
}

bool plain_safe(const std::string& s, bool check_type) {
  if (s.empty()) return false;
  if (check_type && would_retype(s)) return false;
  if (std::isspace(static_cast<unsigned char>(s.front())) || std::isspace(static_cast<unsigned char>(s.back())))
    return false;
  if (std::string("#,[]{}&*!|>'\"%@`").find(s[0]) != std::string::npos) return false;
  if (std::string("-?:").find(s[0]) != std::string::npos && (s.size() == 1 || s[1] == ' ')) return false;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return false;
  if (s.rfind("---", 0) == 0 || s.rfind("...", 0) == 0) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

std::string quote(const std::string& s) {
  bool needs_double = false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) needs_double = true;
  std::string r;
  if (!needs_double) {
    r = "'";
    for (char c : s) r += c == '\'' ? std::string("''") : std::string(1, c);
    return r + "'";
  }
  r = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': r += "\\\""; break;
      case '\\': r += "\\\\"; break;
      case '\n': r += "\\n"; break;
      case '\t': r += "\\t"; break;
      case '\r': r += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02X", c);
          r += buf;
        } else {
          r += static_cast<char>(c);
        }
    }
  }
  return r + "\"";
}

std::string scalar_text(const Node& n) {
  if (n.is_null()) return "null";
  if (n.type != Node::Type::String) return n.text;
  return plain_safe(n.text, true) ? n.text : quote(n.text);
}

std::string key_text(const std::string& k) { return plain_safe(k, false) ? k : quote(k); }

void emit(const Node& n, int indent, std::string& out);

void emit_value_after_key(const Node& v, int indent, std::string& out) {
  if (v.is_map() && !v.map.empty()) {
    out += "\n";
    emit(v, indent + 2, out);
  } else if (v.is_seq() && !v.seq.empty()) {
    out += "\n";
    emit(v, indent, out);  // PyYAML writes block lists at the key's indentation
  } else if (v.is_map()) {
    out += " {}\n";
  } else if (v.is_seq()) {
    out += " []\n";
  } else {
    out += " " + scalar_text(v) + "\n";
  }
}

void emit(const Node& n, int indent, std::string& out) {
  std::string pad(indent, ' ');
  if (n.is_map()) {
    if (n.map.empty()) {
      out += pad + "{}\n";
      return;
    }
    for (auto& [k, v] : n.map) {
      out += pad + key_text(k) + ":";
      emit_value_after_key(v, indent, out);
    }
  } else if (n.is_seq()) {
    if (n.seq.empty()) {
      out += pad + "[]\n";
      return;
    }
    for (auto& item : n.seq) {
      if ((item.is_map() && !item.map.empty()) || (item.is_seq() && !item.seq.empty())) {
        std::string sub;
        emit(item, indent + 2, sub);
        out += pad + "- " + sub.substr(indent + 2);
      } else {
        std::string sub;
        emit(item, 0, sub);
        out += pad + "- " + sub;
      }
    }
  } else {
    out += pad + scalar_text(n) + "\n";
  }
}

void collect_paths(const Node& n, const std::string& prefix, std::vector<std::string>& out) {
  if (!n.is_map()) return;
  for (auto& [k, v] : n.map) {
    std::string p = prefix.empty() ? k : prefix + "." + k;
    out.push_back(p);
    collect_paths(v, p, out);
  }
}

bool parse_index(const std::string& s, size_t& idx) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
  idx = std::stoul(s);
  return true;
}

}  // namespace

Node Node::string(std::string s) {
  Node n;
  n.kind = Kind::Scalar;
  n.type = Type::String;
  n.text = std::move(s);
  return n;
}

Node Node::empty_map() {
  Node n;
  n.kind = Kind::Map;
  return n;
}

Node Node::empty_seq() {
  Node n;
  n.kind = Kind::Seq;
  return n;
}

Node Node::plain(const std::string& s) {
  if (s.empty() || is_one_of(s, {"~", "null", "Null", "NULL"})) return Node();
  Node n = string(s);
  type_plain(n);
  return n;
}

bool Node::is_interpolation() const {
  return kind == Kind::Scalar && type == Type::String && text.find("${") != std::string::npos;
}

std::string Node::type_name() const {
  switch (kind) {
    case Kind::Null: return "null";
    case Kind::Seq: return "list";
    case Kind::Map: return "map";
    default: break;
  }
  switch (type) {
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::Bool: return "bool";
    default: return "string";
  }
}

Node* Node::find(const std::string& key) {
  for (auto& [k, v] : map)
    if (k == key) return &v;
  return nullptr;
}

const Node* Node::find(const std::string& key) const {
  for (auto& [k, v] : map)
    if (k == key) return &v;
  return nullptr;
}

Node& Node::get_or_add(const std::string& key) {
  if (kind == Kind::Null) kind = Kind::Map;
  if (Node* v = find(key)) return *v;
  map.emplace_back(key, Node());
  return map.back().second;
}

bool Node::erase(const std::string& key) {
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first == key) {
      map.erase(it);
      return true;
    }
  return false;
}

bool Node::operator==(const Node& o) const {
  if (kind != o.kind) return false;
  switch (kind) {
    case Kind::Null: return true;
    case Kind::Scalar: return type == o.type && text == o.text;
    case Kind::Seq: return seq == o.seq;
    case Kind::Map: return map == o.map;
  }
  return false;
}

std::vector<std::string> split_path(const std::string& dotted) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : dotted) {
    if (c == '.') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

const Node* find_path(const Node& root, const std::string& dotted) {
  if (dotted.empty()) return &root;
  const Node* cur = &root;
  for (auto& part : split_path(dotted)) {
    size_t idx;
    if (cur->is_map()) {
      cur = cur->find(part);
    } else if (cur->is_seq() && parse_index(part, idx) && idx < cur->seq.size()) {
      cur = &cur->seq[idx];
    } else {
      return nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

Node* find_path(Node& root, const std::string& dotted) {
  return const_cast<Node*>(find_path(static_cast<const Node&>(root), dotted));
}

Node& make_path(Node& root, const std::string& dotted) {
  if (dotted.empty()) return root;
  Node* cur = &root;
  std::string sofar;
  for (auto& part : split_path(dotted)) {
    size_t idx;
    if (cur->is_null()) *cur = Node::empty_map();
    if (cur->is_seq() && parse_index(part, idx) && idx < cur->seq.size()) {
      cur = &cur->seq[idx];
    } else if (cur->is_map()) {
      cur = &cur->get_or_add(part);
    } else {
      throw UsageError("cannot create '" + dotted + "': '" + sofar + "' is a " + cur->type_name() + ", not a map");
    }
    sofar += (sofar.empty() ? "" : ".") + part;
  }
  return *cur;
}

bool erase_path(Node& root, const std::string& dotted) {
  auto parts = split_path(dotted);
  std::string last = parts.back();
  parts.pop_back();
  std::string parent;
  for (auto& p : parts) parent += (parent.empty() ? "" : ".") + p;
  Node* p = find_path(root, parent);
  if (!p) return false;
  size_t idx;
  if (p->is_seq() && parse_index(last, idx) && idx < p->seq.size()) {
    p->seq.erase(p->seq.begin() + static_cast<long>(idx));
    return true;
  }
  return p->is_map() && p->erase(last);
}

std::vector<std::string> all_paths(const Node& root) {
  std::vector<std::string> out;
  collect_paths(root, "", out);
  return out;
}

void merge_into(Node& dst, const Node& src) {
  if (dst.is_map() && src.is_map()) {
    for (auto& [k, v] : src.map) {
      Node* existing = dst.find(k);
      if (existing && existing->is_map() && v.is_map())
        merge_into(*existing, v);
      else if (existing)
        *existing = v;
      else
        dst.map.emplace_back(k, v);
    }
    return;
  }
  dst = src;
}

namespace {

// YAML aliases share a node: `b: &b [*a, *a, ...]` nine levels deep is 9^10 strings once copied (the "billion laughs"
// alias bomb). Copying stops after this many values.
constexpr size_t kMaxYamlValues = 1000000;

Node from_yaml_counted(const YAML::Node& n, size_t& budget) {
  if (budget-- == 0)
    throw UsageError("the YAML expands to more than " + std::to_string(kMaxYamlValues) +
                     " values (anchors and aliases repeated into an alias bomb?)");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return Node();
    case YAML::NodeType::Scalar: {
      const std::string& tag = n.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return Node::string(n.Scalar());
      return Node::plain(n.Scalar());
    }
    case YAML::NodeType::Sequence: {
      Node s = Node::empty_seq();
      for (const auto& item : n) s.seq.push_back(from_yaml_counted(item, budget));
      return s;
    }
    case YAML::NodeType::Map: {
      Node m = Node::empty_map();
      // YAML merge keys (`<<: *base`, which PyYAML honours and yaml-cpp leaves as a plain key): the merged maps come
      // first, so the map's own keys override them.
      for (const auto& kv : n) {
        if (!kv.first.IsScalar() || kv.first.Scalar() != "<<" || kv.first.Tag() == "!") continue;
        Node merged = from_yaml_counted(kv.second, budget);
        std::vector<Node> sources = merged.is_seq() ? merged.seq : std::vector<Node>{merged};
        for (auto it = sources.rbegin(); it != sources.rend(); ++it)  // earlier maps in the list win
          if (it->is_map())
            for (auto& [k, v] : it->map) {
              if (Node* existing = m.find(k)) *existing = v;
              else m.map.emplace_back(k, v);
            }
      }
      for (const auto& kv : n) {
        std::string key = kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first);
        if (key == "<<" && kv.first.Tag() != "!") continue;
        Node v = from_yaml_counted(kv.second, budget);
        if (Node* existing = m.find(key))
          *existing = v;  // duplicate keys: the later one wins, as PyYAML does
        else
          m.map.emplace_back(key, std::move(v));
      }
      return m;
    }
  }
  return Node();
}

}  // namespace

Node from_yaml(const YAML::Node& n) {
  size_t budget = kMaxYamlValues;
  return from_yaml_counted(n, budget);
}

YAML::Node to_yaml(const Node& n) {
  switch (n.kind) {
    case Node::Kind::Null:
      return YAML::Node(YAML::NodeType::Null);
    case Node::Kind::Scalar: {
      YAML::Node s(n.text);
      if (n.type == Node::Type::String && would_retype(n.text)) s.SetTag("!");
      return s;
    }
    case Node::Kind::Seq: {
      YAML::Node s(YAML::NodeType::Sequence);
      for (auto& item : n.seq) s.push_back(to_yaml(item));
      return s;
    }
    case Node::Kind::Map: {
      YAML::Node m(YAML::NodeType::Map);
      for (auto& [k, v] : n.map) m[k] = to_yaml(v);
      return m;
    }
  }
  return YAML::Node();
}

std::string yaml_error_text(const YAML::Exception& e) {
  if (e.msg == YAML::ErrorMsg::BAD_FILE) return "nested deeper than 2000 levels (yaml-cpp's limit)";
  return e.msg;
}

Node load_yaml_string(const std::string& text, const std::string& origin) {
  try {
    return from_yaml(YAML::Load(text));
  } catch (const UsageError& e) {
    throw UsageError(origin + ": " + e.what());
  } catch (const YAML::Exception& e) {
    std::ostringstream msg;
    msg << origin << ":" << e.mark.line + 1 << ":" << e.mark.column + 1 << ": malformed YAML: " << yaml_error_text(e);
    throw UsageError(msg.str());
  }
}

Node load_yaml_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read config file " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return load_yaml_string(ss.str(), path.string());
}

std::string to_yaml_string(const Node& n) {
  std::string out;
  emit(n, 0, out);
  return out;
}

NumberKind long_number_kind(const std::string& s) {
  size_t i = 0, digits = 0;
  bool dot = false, exp = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '_' && !exp && digits) {
    } else if (c == '.' && !dot && !exp) {
      dot = true;
    } else if ((c == 'e' || c == 'E') && !exp && digits) {
      exp = true;
      if (i + 1 < s.size() && (s[i + 1] == '+' || s[i + 1] == '-')) ++i;
      if (i + 1 >= s.size()) return NumberKind::None;
    } else {
      return NumberKind::None;
    }
  }
  if (!digits) return NumberKind::None;
  return dot || exp ? NumberKind::Float : NumberKind::Int;
}

std::string python_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  std::string sign;
  if (s[0] == '-') {
    sign = "-";
    s = s.substr(1);
  }
  auto e = s.find('e');
  int exp = std::stoi(s.substr(e + 1));
  std::string digits;
  for (char c : s.substr(0, e))
    if (c != '.') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min<size_t>(digits.size(), exp + 1));
      while (static_cast<int>(ip.size()) < exp + 1) ip += '0';
      std::string fp = static_cast<int>(digits.size()) > exp + 1 ? digits.substr(exp + 1) : "0";
      return sign + ip + "." + fp;
    }
    return sign + "0." + std::string(-exp - 1, '0') + digits;
  }
  std::string mant = digits.substr(0, 1) + "." + (digits.size() > 1 ? digits.substr(1) : "0");
  char eb[16];
  std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return sign + mant + eb;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> closest(const std::string& key, const std::vector<std::string>& candidates, size_t max) {
  auto last = [](const std::string& s) {
    auto d = s.rfind('.');
    return d == std::string::npos ? s : s.substr(d + 1);
  };
  auto parent = [](const std::string& s) {
    auto d = s.rfind('.');
    return d == std::string::npos ? std::string() : s.substr(0, d);
  };
  if (key.size() > 200) return {};  // no key is that long, nor near it: no quadratic edit distance on 100 kB keys
  // A key typed under the wrong section (training.image_size for data.image_size) is as likely as a typo, so the
  // last component is compared on its own too.
  std::vector<std::pair<size_t, size_t>> scored;  // score, index
  size_t limit = std::max<size_t>(2, last(key).size() / 2);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto& c = candidates[i];
    size_t full = edit_distance(key, c);
    size_t tail = edit_distance(last(key), last(c)) + (parent(key) == parent(c) ? 0 : 2);
    size_t score = std::min(full, tail);
    if (score <= limit) scored.emplace_back(score, i);
  }
  std::stable_sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (auto& [s, i] : scored) {
    if (out.size() >= max) break;
    out.push_back(candidates[i]);
  }
  return out;
}

}  // namespace vyolo
