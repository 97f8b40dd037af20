// vyolo: one executable, Hydra-style overrides for every sub-command (DESIGN.md §1).
// TEMPORARY minimal front end: key=value overrides onto the command defaults only (no conf/ composition yet).
#include <iostream>

#include "cli/command.h"
#include "common/error.h"

using namespace vyolo;

static void set_dotted(YAML::Node root, const std::string& key, const YAML::Node& v) {
  auto dot = key.find('.');
  if (dot == std::string::npos) {
    root[key] = v;
    return;
  }
  YAML::Node child = root[key.substr(0, dot)];
  set_dotted(child, key.substr(dot + 1), v);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: vyolo <command> [key=value ...]\n";
    return 2;
  }
  std::string name = argv[1];
  for (auto& spec : cli::commands()) {
    if (name != spec.name) continue;
    try {
      cli::CommandContext ctx;
      ctx.command = name;
      YAML::Node tree = YAML::Load(spec.defaults_yaml);
      for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto eq = a.find('=');
        if (eq == std::string::npos) throw UsageError("bad override '" + a + "'");
        ctx.overrides.push_back(a);
        set_dotted(tree, a.substr(0, eq), YAML::Load(a.substr(eq + 1)));
      }
      ctx.cfg = load_config(tree);
      return spec.run(ctx);
    } catch (const UsageError& e) {
      std::cerr << "vyolo " << name << ": " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "vyolo " << name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "vyolo: unknown command '" << name << "'\n";
  return 2;
}
