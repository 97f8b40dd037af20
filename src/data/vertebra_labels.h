// Vertebra label numbers of the two label maps in use: VerSe and TotalSegmentator (v2 "total" task).
#pragma once
#include <string>

namespace vyolo {

enum class VertebraLabels { Verse, TotalSeg };

// "verse" | "totalseg" (also "totalsegmentator"), any case; anything else throws UsageError.
VertebraLabels parse_vertebra_labels(const std::string& name);

// Vertebra name ("C1".."C7", "T1".."T13", "L1".."L6", "S1") of a label, or "" when the label is not a vertebra.
// VerSe: 1-7 C1-C7, 8-19 T1-T12, 20-24 L1-L5, 25 L6, 28 T13. TotalSegmentator v2: 26 S1 (sacrum top), 27-31 L5-L1,
// 32-43 T12-T1, 44-50 C7-C1.
std::string vertebra_name(int label, VertebraLabels scheme);

}  // namespace vyolo
