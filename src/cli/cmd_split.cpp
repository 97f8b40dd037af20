#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_split(const CommandContext&) { throw RuntimeError("vyolo split: not implemented yet"); }

}  // namespace vyolo::cli
