// The config tree the composer works on: an ordered, value-semantics YAML tree whose scalars carry the type OmegaConf
// would give them (so `'1'` stays a string and `1e-3` is a float), and a Hydra-style YAML writer for it.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace vyolo {

struct Node {
  enum class Kind { Null, Scalar, Seq, Map };
  enum class Type { String, Int, Float, Bool };  // scalars only

  Kind kind = Kind::Null;
  Type type = Type::String;
  std::string text;  // scalar text; canonical (Python-like) for Int, Float and Bool
  std::vector<Node> seq;
  std::vector<std::pair<std::string, Node>> map;  // insertion order kept, as OmegaConf does

  static Node null() { return Node(); }
  static Node string(std::string s);
  static Node empty_map();
  static Node empty_seq();
  // A plain (unquoted) YAML scalar, typed by the YAML 1.1 rules OmegaConf's loader uses.
  static Node plain(const std::string& s);

  bool is_null() const { return kind == Kind::Null; }
  bool is_scalar() const { return kind == Kind::Scalar; }
  bool is_map() const { return kind == Kind::Map; }
  bool is_seq() const { return kind == Kind::Seq; }
  bool is_interpolation() const;  // a string holding `${`
  std::string type_name() const;  // "int", "float", "bool", "string", "null", "list", "map"

  Node* find(const std::string& key);
  const Node* find(const std::string& key) const;
  Node& get_or_add(const std::string& key);  // appends a null entry when absent; a null node becomes a map
  bool erase(const std::string& key);
  bool operator==(const Node& o) const;
  bool operator!=(const Node& o) const { return !(*this == o); }
};

// Dotted paths ("a.b.0.c"): list items are addressed by index.
std::vector<std::string> split_path(const std::string& dotted);
Node* find_path(Node& root, const std::string& dotted);
const Node* find_path(const Node& root, const std::string& dotted);
// Creates missing maps along the way; throws UsageError when a non-map is in the way.
Node& make_path(Node& root, const std::string& dotted);
bool erase_path(Node& root, const std::string& dotted);
// Every key path in the tree (maps recursed; list items not), for "did you mean".
std::vector<std::string> all_paths(const Node& root);

// Hydra/OmegaConf merge: maps merge deeply (existing keys keep their place), everything else is replaced.
void merge_into(Node& dst, const Node& src);

// Loads a YAML file; malformed YAML throws UsageError "file:line:column: message".
Node load_yaml_file(const std::filesystem::path& path);
Node load_yaml_string(const std::string& text, const std::string& origin);

Node from_yaml(const YAML::Node& n);
YAML::Node to_yaml(const Node& n);  // strings that would read back as another type get the "!" (quoted) tag

// Block YAML as PyYAML/OmegaConf.to_yaml writes it (2-space indent, list items at the key's indentation).
std::string to_yaml_string(const Node& n);

// Python's repr of a double as PyYAML writes it ("0.001", "1.0e-05", ".inf").
std::string python_float(double v);

// libstdc++'s std::regex matches by recursion, about one stack frame per character: texts longer than this are typed
// by long_number_kind instead of the scalar regexes, so that a 100 kB value cannot overflow the stack.
constexpr size_t kRegexMax = 1000;
enum class NumberKind { None, Int, Float };
// Digits (underscores after the first), optional sign, point and exponent -> Int or Float; anything else None.
NumberKind long_number_kind(const std::string& s);

// Levenshtein distance, and the up-to-`max` candidates nearest to `key` (ties: input order).
size_t edit_distance(const std::string& a, const std::string& b);
std::vector<std::string> closest(const std::string& key, const std::vector<std::string>& candidates, size_t max = 3);

}  // namespace vyolo
