#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_export(const CommandContext&) { throw RuntimeError("vyolo export: not implemented yet"); }

}  // namespace vyolo::cli
