// The row loops of bn_silu_rows.inc for avx512 (flags in CMakeLists.txt).
#define VYOLO_ROWS_NS avx512
#include "ops/bn_silu_rows.inc"
