#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_synth(const CommandContext&) { throw RuntimeError("vyolo synth: not implemented yet"); }

}  // namespace vyolo::cli
