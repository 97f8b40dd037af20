// The row loops of bn_silu_rows.inc for the compiler's default target (flags in CMakeLists.txt).
#define VYOLO_ROWS_NS generic
#include "ops/bn_silu_rows.inc"
