// The row loops of bn_silu_rows.inc for avx2 (flags in CMakeLists.txt).
#define VYOLO_ROWS_NS avx2
#include "ops/bn_silu_rows.inc"
