#include "data/vertebra_labels.h"

#include <cctype>

#include "common/error.h"

namespace vyolo {

VertebraLabels parse_vertebra_labels(const std::string& name) {
  std::string l = name;
  for (auto& ch : l) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "verse") return VertebraLabels::Verse;
  if (l == "totalseg" || l == "totalsegmentator") return VertebraLabels::TotalSeg;
  throw UsageError("vertebra_labels must be 'verse' or 'totalseg', got '" + name + "'");
}

std::string vertebra_name(int label, VertebraLabels scheme) {
  if (scheme == VertebraLabels::Verse) {
    if (label >= 1 && label <= 7) return "C" + std::to_string(label);
    if (label >= 8 && label <= 19) return "T" + std::to_string(label - 7);
    if (label >= 20 && label <= 25) return "L" + std::to_string(label - 19);
    if (label == 28) return "T13";
    return "";
  }
  if (label == 26) return "S1";
  if (label >= 27 && label <= 31) return "L" + std::to_string(31 - label + 1);
  if (label >= 32 && label <= 43) return "T" + std::to_string(43 - label + 1);
  if (label >= 44 && label <= 50) return "C" + std::to_string(50 - label + 1);
  return "";
}

}  // namespace vyolo
