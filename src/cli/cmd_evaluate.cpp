#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_evaluate(const CommandContext&) { throw RuntimeError("vyolo evaluate: not implemented yet"); }

}  // namespace vyolo::cli
