#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_val(const CommandContext&) { throw RuntimeError("vyolo val: not implemented yet"); }

}  // namespace vyolo::cli
