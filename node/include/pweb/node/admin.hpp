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
  std::string store = "sqlite";  // `device`, `user`: --store, as the node's
  std::string file;
  std::string user;
  bool password_stdin = false;
  std::filesystem::path ca_dir;  // `ca init --out`, `ca sign --ca`
  std::string ca_name = "pweb federation CA";
  std::string label;              // `ca sign --label`, `pin add|del`
  std::string key_id;             // `pin add`
  unsigned days = 0;              // 0: the command's default
  bool force = false;             // `identity import --force`
  unsigned identity_bits = 4096;  // `identity new`
};

// Adds `device import|list`, `user add|del|list`, `ca init|sign`,
// `pin add|list|del` and `identity new|export|import`; their callbacks set `exit_code`.
void add_admin_commands(CLI::App& app, AdminOptions& opts, int& exit_code);

}  // namespace pweb::node
