// Checks of image files that the decoders do not make. OpenCV decodes a JPEG cut short without an error (libjpeg
// fills the missing rows with grey and prints "Premature end of JPEG file", naming no file), so a truncated file
// would be trained on; it is caught here from its bytes instead.
#pragma once
#include <filesystem>
#include <string>

namespace vyolo {

// Empty when `path` is not a JPEG (no FF D8 at its start) or is a complete one; else why it is incomplete: no
// start-of-scan marker, or no end-of-image marker (FF D9) after the last start-of-scan (FF DA). Bytes after the end
// marker are allowed, as in Ultralytics' check; markers in an EXIF thumbnail come before the image's own scan.
std::string jpeg_problem(const std::filesystem::path& path);

}  // namespace vyolo
