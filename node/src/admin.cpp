#include "pweb/node/admin.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>

#include "pweb/registrar/accounts.hpp"
#include "pweb/registrar/device_file.hpp"
#include "pweb/registrar/names.hpp"
#include "pweb/registrar/store.hpp"

namespace pweb::node {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The admin commands write to the store as the node would: a damaged one is
// refused the same way (exit 2), and only the node's --fresh-store sets it aside.
bool store_refused(const AdminOptions& opts) {
  const auto damage = registrar::store_damage(opts.data_dir);
  if (!damage) return false;
  std::cerr << "pweb-node: " << *damage
            << "; nothing was changed (restore the data dir from a backup, or start the node "
               "with --fresh-store to move the damaged store aside)\n";
  return true;
}

constexpr int kDamagedStore = 2;  // as for bad configuration

int device_import(const AdminOptions& opts) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (opts.file != "-") {
    file.open(opts.file);
    if (!file) {
      std::cerr << "pweb-node: cannot read " << opts.file << "\n";
      return 1;
    }
    in = &file;
  }
  auto parsed = registrar::parse_device_file(*in, unix_now());
  if (!parsed.error.empty()) {
    std::cerr << "pweb-node: " << opts.file << ": " << parsed.error << "; nothing imported\n";
    return 1;
  }
  if (store_refused(opts)) return kDamagedStore;
  registrar::DeviceStore store(opts.data_dir);
  store.upsert(parsed.records);
  std::cout << "imported " << parsed.records.size() << " devices into " << store.path().string()
            << "\n";
  return 0;
}

int device_list(const AdminOptions& opts) {
  if (store_refused(opts)) return kDamagedStore;
  registrar::DeviceStore store(opts.data_dir);
  for (const auto& d : store.load_all()) {
    std::cout << d.name << ' ' << (d.ipv4 ? registrar::format_ipv4(*d.ipv4) : "-") << ' '
              << (d.ipv6 ? registrar::format_ipv6(*d.ipv6) : "-") << ' ' << d.updated << '\n';
  }
  return 0;
}

int user_add(const AdminOptions& opts) {
  if (auto err = registrar::label_error(opts.user)) {
    std::cerr << "pweb-node: user name: " << *err << "\n";
    return 1;
  }
  if (!opts.password_stdin) {
    std::cerr << "pweb-node: give the password on standard input with --password-stdin\n";
    return 1;
  }
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    std::cerr << "pweb-node: empty password on standard input\n";
    return 1;
  }
  if (store_refused(opts)) return kDamagedStore;
  registrar::DeviceStore store(opts.data_dir);
  const std::string name = registrar::to_lower(opts.user);
  if (!store.add_user(name, registrar::hash_password(password), unix_now())) {
    std::cerr << "pweb-node: user '" << name << "' already exists\n";
    return 1;
  }
  std::cout << "added user " << name << "\n";
  return 0;
}

int user_del(const AdminOptions& opts) {
  if (store_refused(opts)) return kDamagedStore;
  registrar::DeviceStore store(opts.data_dir);
  const std::string name = registrar::to_lower(opts.user);
  if (!store.remove_user(name)) {
    std::cerr << "pweb-node: no user '" << name << "'\n";
    return 1;
  }
  std::cout << "deleted user " << name << " (their devices stay until deleted)\n";
  return 0;
}

int user_list(const AdminOptions& opts) {
  if (store_refused(opts)) return kDamagedStore;
  registrar::DeviceStore store(opts.data_dir);
  for (const auto& u : store.list_users()) std::cout << u << "\n";
  return 0;
}

}  // namespace

void add_admin_commands(CLI::App& app, AdminOptions& opts, int& exit_code) {
  auto* device = app.add_subcommand("device", "Manage devices in the store directly");
  device->require_subcommand(1);

  auto* import_cmd = device->add_subcommand(
      "import", "Add or replace devices from FILE (- = stdin): lines 'NAME [ADDR|-] [ADDR|-]'");
  import_cmd->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  import_cmd->add_option("file", opts.file, "Device file")->required();
  import_cmd->callback([&] { exit_code = device_import(opts); });

  auto* list = device->add_subcommand("list", "List devices: name ipv4 ipv6 updated");
  list->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  list->callback([&] { exit_code = device_list(opts); });

  auto* user = app.add_subcommand("user", "Manage user accounts in the store directly");
  user->require_subcommand(1);
  auto* add = user->add_subcommand("add", "Add a user; the password is read from stdin");
  add->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  add->add_option("name", opts.user, "User name (a label: a-z 0-9 -)")->required();
  add->add_flag("--password-stdin", opts.password_stdin, "Read the password from standard input");
  add->callback([&] { exit_code = user_add(opts); });
  auto* del = user->add_subcommand("del", "Delete a user");
  del->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  del->add_option("name", opts.user, "User name")->required();
  del->callback([&] { exit_code = user_del(opts); });
  auto* users = user->add_subcommand("list", "List users");
  users->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  users->callback([&] { exit_code = user_list(opts); });
}

}  // namespace pweb::node
