// Command-line overrides in Hydra's grammar: `a.b=v`, `+a.b=v`, `++a.b=v`, `~a.b[=v]`, `group=option`,
// `group@pkg=option`; values int, float, bool, null, quoted strings, `[lists]`, `{k: v}` maps, `${interpolations}`;
// sweeps `a=x,y,z`, `choice(x,y)`, `range(start,stop[,step])`. Syntax errors throw UsageError naming the column.
#pragma once
#include <string>
#include <vector>

#include "config/node.h"

namespace vyolo {

struct Override {
  enum class Op { Set, Add, ForceAdd, Delete };
  Op op = Op::Set;
  std::string key;                       // "a.b", "group" or "group/sub"
  std::string package;                   // the part after '@', empty when absent
  bool has_value = false;                // false only for `~key`
  std::vector<Node> values;              // one value, or a sweep's values
  std::vector<std::string> value_texts;  // each value as typed (sweep jobs are rebuilt from these)
  bool is_sweep = false;
  std::string input;                     // the override as typed

  const Node& value() const { return values.front(); }
  std::string prefix() const;            // "", "+", "++" or "~"
  std::string key_with_package() const;  // "key" or "key@package"
};

Override parse_override(const std::string& text);

// One value in the override grammar (what oc.decode parses).
Node parse_override_value(const std::string& text);

// The jobs of a multirun: the Cartesian product of the sweeps, in Hydra's order (the last sweep varies fastest).
// Overrides that are not sweeps appear unchanged in every job.
std::vector<std::vector<std::string>> expand_sweeps(const std::vector<std::string>& overrides);

}  // namespace vyolo
