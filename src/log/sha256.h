// SHA-256 (FIPS 180-4) as lowercase hex: W&B image entries carry the file's digest.
#pragma once
#include <string>

namespace vyolo::log {

std::string sha256_hex(const std::string& bytes);

}  // namespace vyolo::log
