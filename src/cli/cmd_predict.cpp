#include "cli/command.h"
#include "common/error.h"

namespace vyolo::cli {

int cmd_predict(const CommandContext&) { throw RuntimeError("vyolo predict: not implemented yet"); }

}  // namespace vyolo::cli
