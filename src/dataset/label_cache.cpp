#include "dataset/label_cache.h"

#include <cmath>
#include <limits>

#include "common/error.h"

namespace vyolo::dataset {

using nlohmann::json;

namespace {

// A JSON integer within [lo, hi] (a float, a string or an out-of-range number is an error, never a wrapped value).
long long int_in(const json& j, const char* key, long long lo, long long hi) {
  const json& v = j.at(key);
  if (!v.is_number_integer()) throw RuntimeError(std::string("'") + key + "' is not an integer");
  if (v.is_number_unsigned() ? v.get<unsigned long long>() > static_cast<unsigned long long>(hi)
                             : v.get<long long>() < lo || v.get<long long>() > hi)
    throw RuntimeError(std::string("'") + key + "' out of range");
  return v.get<long long>();
}

// A finite number as float, within [0, 1].
float unit(const json& v) {
  if (!v.is_number()) throw RuntimeError("label value is not a number");
  const double x = v.get<double>();
  if (!(x >= 0.0 && x <= 1.0)) throw RuntimeError("label value outside 0..1");
  return static_cast<float>(x);
}

}  // namespace

json cache_entry_to_json(const CacheEntry& e) {
  json lab = json::array();
  for (const auto& l : e.labels) lab.push_back({l.cls, l.cx, l.cy, l.w, l.h});
  return {{"is", e.img.size}, {"im", e.img.mtime}, {"ls", e.lab.size}, {"lm", e.lab.mtime}, {"h", e.h0},
          {"w", e.w0},        {"hu", e.hu},        {"bad", e.bad},      {"lab", lab},        {"msg", e.msgs},
          {"bl", e.bad_lines}, {"dup", e.duplicates}};
}

CacheEntry cache_entry_from_json(const json& j, int nc) {
  constexpr long long kMax = std::numeric_limits<long long>::max(), kMin = std::numeric_limits<long long>::min();
  constexpr long long kIntMax = std::numeric_limits<int>::max();
  try {
    if (!j.is_object()) throw RuntimeError("entry is not an object");
    CacheEntry e;
    e.img = {int_in(j, "is", -2, kMax), int_in(j, "im", kMin, kMax)};
    e.lab = {int_in(j, "ls", -2, kMax), int_in(j, "lm", kMin, kMax)};
    e.h0 = static_cast<int>(int_in(j, "h", 0, kIntMax));
    e.w0 = static_cast<int>(int_in(j, "w", 0, kIntMax));
    e.hu = j.at("hu").get<bool>();
    e.bad = j.at("bad").get<std::string>();
    // A usable image was at least 10 x 10 pixels (check_one).
    if (e.bad.empty() && (e.h0 < 10 || e.w0 < 10)) throw RuntimeError("image size below 10 pixels");
    for (const auto& l : j.at("lab")) {
      if (!l.is_array() || l.size() != 5) throw RuntimeError("label is not [cls, cx, cy, w, h]");
      if (!l[0].is_number_integer()) throw RuntimeError("class id is not an integer");
      const long long cls = l[0].get<long long>();
      if (cls < 0 || cls >= nc) throw RuntimeError("class id outside 0..nc-1");
      Label x{static_cast<int>(cls), unit(l[1]), unit(l[2]), unit(l[3]), unit(l[4])};
      if (!(x.w > 0 && x.h > 0)) throw RuntimeError("empty box");
      e.labels.push_back(x);
    }
    e.msgs = j.at("msg").get<std::vector<std::string>>();
    e.bad_lines = static_cast<int>(int_in(j, "bl", 0, kIntMax));
    e.duplicates = static_cast<int>(int_in(j, "dup", 0, kIntMax));
    return e;
  } catch (const json::exception& ex) {
    throw RuntimeError(std::string("malformed label cache entry: ") + ex.what());
  }
}

json parse_label_cache(const std::string& text, int nc, const std::string& label_dir, const std::string& origin) {
  json c;
  try {
    c = json::parse(text);
  } catch (const json::exception& e) {
    throw RuntimeError(origin + ": unreadable label cache (" + e.what() + ")");
  }
  auto int_value = [&](const char* key) -> long long {
    auto it = c.find(key);
    return it != c.end() && it->is_number_integer() ? it->get<long long>() : -1;
  };
  if (!c.is_object() || int_value("version") != kLabelCacheVersion || int_value("nc") != nc) return nullptr;
  auto entries = c.find("entries");
  if (entries == c.end() || !entries->is_object()) return nullptr;
  auto dir = c.find("label_dir");
  if (!label_dir.empty() && dir != c.end() && *dir != label_dir) return nullptr;  // a hash collision
  return c;
}

}  // namespace vyolo::dataset
