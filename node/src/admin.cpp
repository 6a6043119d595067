#include "pweb/node/admin.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>

#include "pweb/dht/agent_directory.hpp"
#include "pweb/dht/label_cert.hpp"
#include "pweb/dht/pins.hpp"
#include "pweb/registrar/accounts.hpp"
#include "pweb/registrar/device_file.hpp"
#include "pweb/registrar/names.hpp"
#include "pweb/registrar/sqlite_store.hpp"

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
  registrar::SqliteStore store(opts.data_dir);
  store.upsert(parsed.records);
  std::cout << "imported " << parsed.records.size() << " devices into " << store.path().string()
            << "\n";
  return 0;
}

int device_list(const AdminOptions& opts) {
  if (store_refused(opts)) return kDamagedStore;
  registrar::SqliteStore store(opts.data_dir);
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
  registrar::SqliteStore store(opts.data_dir);
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
  registrar::SqliteStore store(opts.data_dir);
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
  registrar::SqliteStore store(opts.data_dir);
  for (const auto& u : store.list_users()) std::cout << u << "\n";
  return 0;
}

constexpr unsigned kCaDays = 3650;    // the federation CA itself
constexpr unsigned kLabelDays = 365;  // a node's label certificate

std::filesystem::path identity_base(const AdminOptions& opts) { return opts.data_dir / "identity"; }

int ca_init(const AdminOptions& opts) {
  try {
    dht::make_ca(opts.ca_dir, opts.ca_name, opts.days != 0 ? opts.days : kCaDays);
  } catch (const dht::DirectoryError& e) {
    std::cerr << "pweb-node: " << e.what() << "\n";
    return 1;
  }
  std::cout << "made a federation CA in " << opts.ca_dir.string() << ": keep "
            << (opts.ca_dir / dht::kCaKeyFile).string() << " secret; give every node "
            << "--trust-anchor " << (opts.ca_dir / dht::kCaCertFile).string() << "\n";
  return 0;
}

int ca_sign(const AdminOptions& opts) {
  if (auto err = registrar::label_error(opts.label)) {
    std::cerr << "pweb-node: --label: " << *err << "\n";
    return 1;
  }
  try {
    const auto out =
        dht::certify_node(opts.ca_dir, registrar::to_lower(opts.label), identity_base(opts),
                          opts.days != 0 ? opts.days : kLabelDays);
    std::cout << "certified the DHT identity in " << opts.data_dir.string() << " for label "
              << registrar::to_lower(opts.label) << ": " << out.string()
              << " (the node puts it into its record at its next start)\n";
  } catch (const dht::DirectoryError& e) {
    std::cerr << "pweb-node: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

std::filesystem::path pins_path(const AdminOptions& opts) {
  return identity_base(opts).string() + ".pins";
}

int pin_add(const AdminOptions& opts) {
  if (auto err = registrar::label_error(opts.label)) {
    std::cerr << "pweb-node: label: " << *err << "\n";
    return 1;
  }
  const std::string key = registrar::to_lower(opts.key_id);
  if (!dht::Pins::valid_key(key)) {
    std::cerr << "pweb-node: '" << opts.key_id
              << "' is not a key id (40 hex digits, as event=dht_started key_id= logs it)\n";
    return 1;
  }
  try {
    dht::Pins pins(pins_path(opts));
    pins.set_operator(registrar::to_lower(opts.label), key);
  } catch (const dht::DirectoryError& e) {
    std::cerr << "pweb-node: " << e.what() << "\n";
    return 1;
  }
  std::cout << "pinned " << registrar::to_lower(opts.label) << " to key " << key
            << " (operator); a running node follows it within a second for new lookups\n";
  return 0;
}

int pin_list(const AdminOptions& opts) {
  try {
    const dht::Pins pins(pins_path(opts));
    for (const auto& [label, pin] : pins.all()) {
      std::cout << label << ' ' << pin.key << ' ' << dht::to_string(pin.kind) << '\n';
    }
  } catch (const dht::DirectoryError& e) {
    std::cerr << "pweb-node: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int pin_del(const AdminOptions& opts) {
  const std::string label = registrar::to_lower(opts.label);
  try {
    dht::Pins pins(pins_path(opts));
    if (!pins.remove(label)) {
      std::cerr << "pweb-node: no pin for label '" << label << "'\n";
      return 1;
    }
  } catch (const dht::DirectoryError& e) {
    std::cerr << "pweb-node: " << e.what() << "\n";
    return 1;
  }
  std::cout << "removed the pin of " << label
            << "; the next lookup learns its key again (trust on first use)\n";
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

  auto* ca = app.add_subcommand("ca", "Run a federation CA that certifies agents' labels");
  ca->require_subcommand(1);
  auto* init = ca->add_subcommand("init", "Make a CA (EC P-256 key ca.key + ca.crt) in DIR");
  init->add_option("--out", opts.ca_dir, "Directory for the CA (must hold no CA yet)")->required();
  init->add_option("--name", opts.ca_name, "The CA's subject CN")->capture_default_str();
  init->add_option("--days", opts.days, "Validity of the CA certificate (default: 3650)")
      ->check(CLI::Range(1u, 36500u));
  init->callback([&] { exit_code = ca_init(opts); });
  auto* sign = ca->add_subcommand(
      "sign", "Certify the DHT identity in --data-dir for LABEL (writes identity.label.crt)");
  sign->add_option("--ca", opts.ca_dir, "CA directory (from ca init)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sign->add_option("--label", opts.label, "The agent label to certify")->required();
  sign->add_option("--data-dir", opts.data_dir, "The node's data directory")->capture_default_str();
  sign->add_option("--days", opts.days, "Validity of the certificate (default: 365)")
      ->check(CLI::Range(1u, 36500u));
  sign->callback([&] { exit_code = ca_sign(opts); });

  auto* pin = app.add_subcommand("pin", "Operator pins: which key an agent label belongs to");
  pin->require_subcommand(1);
  auto* pin_add_cmd =
      pin->add_subcommand("add", "Pin LABEL to KEY_ID (overrides trust on first use)");
  pin_add_cmd->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  pin_add_cmd->add_option("label", opts.label, "Agent label")->required();
  pin_add_cmd->add_option("key_id", opts.key_id, "Key id, 40 hex digits")->required();
  pin_add_cmd->callback([&] { exit_code = pin_add(opts); });
  auto* pin_list_cmd = pin->add_subcommand("list", "List pins: label key operator|automatic");
  pin_list_cmd->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  pin_list_cmd->callback([&] { exit_code = pin_list(opts); });
  auto* pin_del_cmd = pin->add_subcommand("del", "Remove LABEL's pin (operator or automatic)");
  pin_del_cmd->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  pin_del_cmd->add_option("label", opts.label, "Agent label")->required();
  pin_del_cmd->callback([&] { exit_code = pin_del(opts); });
}

}  // namespace pweb::node
