// A structural check of a DICOM file before GDCM parses it. GDCM 3.0 as Debian ships it keeps its assertions, and
// several of them fire on corrupt or truncated files (e.g. a File Meta Information element that runs past the end of
// the file aborts in FileMetaInformation::ReadCompat): the process would die instead of reporting the file. This walk
// of the data elements (PS3.5 §7: explicit and implicit VR little endian, deflated datasets, nested sequences and
// items, encapsulated pixel data) rejects such files first, with the reason. RLE Lossless files are refused too:
// GDCM's RLE decoder asserts on streams of the wrong length.
#pragma once
#include <cstdint>
#include <string>

namespace vyolo {

enum class DicomCheck {
  Ok,         // well-formed: GDCM may read it
  NotDicom,   // no "DICM" marker and no well-formed dataset starting with group 0008: not read (a README, ...)
  Malformed,  // a DICOM file whose structure is broken (truncated, lengths outside the file, bad nesting, ...)
};

// What the walk saw at the top level of a well-formed file.
struct DicomInfo {
  bool image = false;         // a Rows (0028,0010) or Pixel Data (7FE0,0010) element: meant as an image
  bool encapsulated = false;  // compressed pixel data (fragments)
  bool deflated = false;      // a deflated data set (walked after inflating)
  uint64_t pixel_bytes = 0;   // length of native (uncompressed) Pixel Data
};

// `why` receives the reason for Malformed (and NotDicom); `info`, when given, what an Ok file holds.
DicomCheck check_dicom_structure(const std::string& bytes, std::string* why, DicomInfo* info = nullptr);

}  // namespace vyolo
