// TEMPORARY: minimal typed view until the configuration issue lands (only model.* and the raw tree).
#include "config/config.h"

namespace vyolo {

Config load_config(const YAML::Node& tree) {
  Config c;
  c.tree = tree;
  if (tree["model"]) {
    auto m = tree["model"];
    if (m["variant"]) c.model.variant = m["variant"].as<std::string>();
    if (m["num_classes"]) c.model.num_classes = m["num_classes"].as<int>();
  }
  return c;
}

}  // namespace vyolo
