#include "common/console.h"

#include <iostream>
#include <mutex>

namespace vyolo::console {
namespace {

std::mutex& lock() {
  static std::mutex m;
  return m;
}

std::string& command_name() {
  static std::string name;
  return name;
}

void line(const char* kind, const std::string& msg) {
  std::string text = prefix() + ": " + kind + msg + "\n";
  std::lock_guard<std::mutex> g(lock());
  std::cerr << text << std::flush;
}

}  // namespace

void set_command(const std::string& command) {
  std::lock_guard<std::mutex> g(lock());
  command_name() = command;
}

std::string prefix() { return command_name().empty() ? "vyolo" : "vyolo " + command_name(); }

void warn(const std::string& msg) { line("warning: ", msg); }
void note(const std::string& msg) { line("note: ", msg); }
void info(const std::string& msg) { line("", msg); }

}  // namespace vyolo::console
