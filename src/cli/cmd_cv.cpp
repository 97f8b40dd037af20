#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_cv(const CommandContext&) { throw RuntimeError("vyolo cv: not implemented yet"); }

}  // namespace vyolo::cli
