#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_train(const CommandContext&) { throw RuntimeError("vyolo train: not implemented yet"); }

}  // namespace vyolo::cli
