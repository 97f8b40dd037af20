// User text quoted in a message (an override, a config value, a key): at most `max` bytes, the rest counted, so that a
// 100 kB value does not make a 100 kB message.
#pragma once
#include <string>

namespace vyolo {

inline std::string clip(const std::string& text, size_t max = 120) {
  if (text.size() <= max) return text;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return text.substr(0, cut) + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace vyolo
