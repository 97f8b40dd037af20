// YOLO label files: `cls cx cy w h` per line, normalised (Ultralytics' format). Parsing checks every line and skips the
// bad ones with a message naming file and line, so one typo costs one box, not the image.
#pragma once
#include <string>
#include <vector>

namespace vyolo::dataset {

struct Label {
  int cls = 0;
  float cx = 0, cy = 0, w = 0, h = 0;  // normalised to the image, 0..1
  bool operator==(const Label& o) const {
    return cls == o.cls && cx == o.cx && cy == o.cy && w == o.w && h == o.h;
  }
};

struct LabelParse {
  std::vector<Label> labels;
  std::vector<std::string> warnings;  // "<path>:<line>: <reason>; line skipped", duplicates
  int bad_lines = 0;
  int duplicates = 0;
};

// Parses the text of a label file. Rules: 5 columns (or a polygon `cls x1 y1 x2 y2 ...` with >= 3 points, turned into
// its bounding box as Ultralytics does); numbers finite; class an integer in 0..nc-1; values within [-0.01, 1.01]
// (Ultralytics' 1% tolerance), the box then clipped to the image; zero-size boxes dropped; exact duplicates removed.
LabelParse parse_labels(const std::string& text, const std::string& path, int nc);

// Ultralytics' img2label_paths: the last "/images/" becomes "/labels/", the extension becomes ".txt".
std::string label_path_for(const std::string& image_path);

// The patient id of a prepared slice: the file name up to the first '_' (DESIGN.md §5).
std::string patient_id(const std::string& image_path);

}  // namespace vyolo::dataset
