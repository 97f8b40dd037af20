// Messages to the user on stderr, each as one line with one prefix: `vyolo <command>: warning: ...`. The front end
// names the command once (set_command); library code then warns without knowing which command runs it. Lines from
// several threads do not interleave.
#pragma once
#include <string>

namespace vyolo::console {

void set_command(const std::string& command);  // "" = plain "vyolo"
std::string prefix();                          // "vyolo" or "vyolo <command>"

void warn(const std::string& msg);  // <prefix>: warning: msg
void note(const std::string& msg);  // <prefix>: note: msg
void info(const std::string& msg);  // <prefix>: msg

}  // namespace vyolo::console
