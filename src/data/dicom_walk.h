// A walk over the data elements of a DICOM file before GDCM parses it. GDCM 3.0 as Debian ships it keeps its
// assertions, and a file cut inside an element header aborts the process (ExplicitDataElement::ReadPreValue:
// "Should not happen"); a file cut inside its pixel data is read without an error, the missing pixels made up. The
// walk checks that every element, item and sequence lies inside the file (explicit and implicit VR, little and big
// endian, sequences and encapsulated pixel data of undefined length), so that such files are reported instead.
#pragma once
#include <cstdint>
#include <string>

namespace vyolo {

struct DicomWalk {
  bool dicom = false;        // the "DICM" marker at byte 128, or a data set that starts with group 0008
  std::string error;         // non-empty: the structure is broken (truncated, lengths past the end, ...), and why
  bool deflated = false;     // a deflated data set: not walked
  bool image = false;        // a top-level Rows (0028,0010) or Pixel Data (7FE0,0010) element: meant as an image
  bool encapsulated = false; // compressed pixel data (fragments)
  uint64_t pixel_bytes = 0;  // length of native (uncompressed) Pixel Data
};

DicomWalk walk_dicom(const std::string& bytes);

}  // namespace vyolo
