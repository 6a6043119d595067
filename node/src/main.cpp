#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "pweb/node/admin.hpp"
#include "pweb/node/app.hpp"
#include "pweb/node/config.hpp"
#include "pweb/node/dnssec_admin.hpp"
#include "version.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "pweb-node: a pWeb Home Agent. Gives moving devices permanent names "
      "(device.user.agent) and answers DNS for them."};
  app.set_version_flag("--version", std::string("pweb-node ") + pweb::node::kVersion);
  pweb::node::NodeConfig cfg;
  pweb::node::add_node_options(app, cfg);
  pweb::node::AdminOptions admin;
  int admin_exit = 0;
  pweb::node::add_admin_commands(app, admin, admin_exit);
  pweb::node::add_dnssec_commands(app, admin_exit);
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) return pweb::node::run_node(cfg);
    return admin_exit;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    // Start-up failures: bind errors, an unreadable store, bad configuration.
    spdlog::critical("event=startup_failed msg=\"{}\"", e.what());
    std::cerr << "pweb-node: " << e.what() << "\n";
    return 1;
  }
}
