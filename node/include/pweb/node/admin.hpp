#pragma once
// Admin subcommands on the pweb-node binary that work on a data dir directly.
#include <filesystem>
#include <string>

namespace CLI {
class App;
}

namespace pweb::node {

struct AdminOptions {
  std::filesystem::path data_dir = "./data";
  std::string file;
  std::string user;
  bool password_stdin = false;
};

// Adds `device import|list` and `user add|del|list`; their callbacks set `exit_code`.
void add_admin_commands(CLI::App& app, AdminOptions& opts, int& exit_code);

}  // namespace pweb::node
