// Command-level keys (`weights=`, `source=`, `conf=` ...) read from the composed tree: absent or null is "not given";
// a value of the wrong type is a UsageError naming the key.
#pragma once
#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "common/error.h"

namespace vyolo {

template <typename T>
std::optional<T> tree_key(const YAML::Node& tree, const char* key) {
  const auto n = tree[key];
  if (!n || n.IsNull()) return std::nullopt;
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    throw UsageError(std::string(key) + "=" + YAML::Dump(n) + ": wrong type");
  }
}

template <typename T>
T key_or(const YAML::Node& tree, const char* key, T fallback) {
  return tree_key<T>(tree, key).value_or(std::move(fallback));
}

}  // namespace vyolo
