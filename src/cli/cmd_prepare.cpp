#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_prepare(const CommandContext&) { throw RuntimeError("vyolo prepare: not implemented yet"); }

}  // namespace vyolo::cli
