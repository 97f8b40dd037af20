// The reason of a yaml-cpp parse error, for a message.
#pragma once
#include <string>

#include <yaml-cpp/yaml.h>

namespace vyolo {

// e.msg, except that yaml-cpp 0.7 reports its nesting limit (2000 levels, its guard against stack overflow) as
// "bad file", which is reworded.
std::string yaml_error_text(const YAML::Exception& e);

}  // namespace vyolo
