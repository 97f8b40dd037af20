// JSON text of a value that may hold file names: names are bytes on Linux and need not be UTF-8, which nlohmann's
// dump() refuses (type_error 316) -- after the work is done, losing the file that reports it. Bytes that are not UTF-8
// become U+FFFD instead.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace vyolo {

inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vyolo
