#include "pweb/node/admin.hpp"

#include <CLI/CLI.hpp>
#include <array>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>

#include "pweb/dht/agent_directory.hpp"
#include "pweb/dht/label_cert.hpp"
#include "pweb/dht/pins.hpp"
#include "pweb/node/identity_transfer.hpp"
#include "pweb/registrar/accounts.hpp"
#include "pweb/registrar/device_file.hpp"
#include "pweb/registrar/names.hpp"
#include "pweb/registrar/sqlite_store.hpp"
#include "pweb/registrar/store.hpp"
#include "pweb/registrar/tokens.hpp"

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

// The store the command works on (--store, as the node's): null, and why on
// stderr, when the location is malformed, the SQLite store damaged, or the
// database cannot be reached.
std::unique_ptr<registrar::DeviceStore> admin_store(const AdminOptions& opts, int& code) {
  std::string err;
  const auto where = registrar::parse_store_location(opts.store, opts.data_dir, err);
  if (!where) {
    std::cerr << "pweb-node: --store: " << err << "\n";
    code = 1;
    return nullptr;
  }
  if (where->kind == registrar::StoreLocation::Kind::sqlite && store_refused(opts)) {
    code = kDamagedStore;
    return nullptr;
  }
  try {
    return registrar::open_store(*where);
  } catch (const registrar::StoreError& e) {
    std::cerr << "pweb-node: " << e.what() << "\n";
    code = 1;
    return nullptr;
  }
}

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
  int code = 0;
  const auto store = admin_store(opts, code);
  if (!store) return code;
  store->upsert(parsed.records);
  std::cout << "imported " << parsed.records.size() << " devices into " << store->describe()
            << "\n";
  return 0;
}

int device_list(const AdminOptions& opts) {
  int code = 0;
  const auto store = admin_store(opts, code);
  if (!store) return code;
  for (const auto& d : store->load_all()) {
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
  int code = 0;
  const auto store = admin_store(opts, code);
  if (!store) return code;
  const std::string name = registrar::to_lower(opts.user);
  if (!store->add_user(name, registrar::hash_password(password), unix_now())) {
    std::cerr << "pweb-node: user '" << name << "' already exists\n";
    return 1;
  }
  std::cout << "added user " << name << "\n";
  return 0;
}

int user_del(const AdminOptions& opts) {
  int code = 0;
  const auto store = admin_store(opts, code);
  if (!store) return code;
  const std::string name = registrar::to_lower(opts.user);
  if (!store->remove_user(name)) {
    std::cerr << "pweb-node: no user '" << name << "'\n";
    return 1;
  }
  std::cout << "deleted user " << name << " (their devices stay until deleted)\n";
  return 0;
}

int user_list(const AdminOptions& opts) {
  int code = 0;
  const auto store = admin_store(opts, code);
  if (!store) return code;
  for (const auto& u : store->list_users()) std::cout << u << "\n";
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

// Once the data dir holds an identity, a missing SQLite store there reads as
// one lost (store_damage): when it was sound (or absent) before the identity
// came, it is opened (made empty), so a node on it starts as a new one.
void make_store(const AdminOptions& opts, bool store_was_sound) {
  if (store_was_sound) registrar::SqliteStore(opts.data_dir);
}

// What a label's nodes share, made before any of them starts (the token key
// too: made lazily, each node would have its own).
int identity_new(const AdminOptions& opts) {
  const bool store_sound = !registrar::store_damage(opts.data_dir);
  try {
    const bool made = dht::make_identity(identity_base(opts), opts.identity_bits);
    std::cout << (made ? "made a DHT identity in " : "kept the DHT identity in ")
              << opts.data_dir.string() << "\n";
  } catch (const dht::DirectoryError& e) {
    std::cerr << "pweb-node: " << e.what() << "\n";
    return 1;
  }
  const auto token_key = registrar::load_node_key(opts.data_dir, true);
  if (!token_key.key) {
    std::cerr << "pweb-node: " << token_key.error << "\n";
    return 1;
  }
  make_store(opts, store_sound);
  return 0;
}

int identity_export(const AdminOptions& opts) {
  const auto read = read_identity(opts.data_dir);
  if (!read.files) {
    std::cerr << "pweb-node: " << read.error << "\n";
    return 1;
  }
  if (!read.files->token_key) {
    std::cerr << "pweb-node: " << (opts.data_dir / kTokenKeyFile).string()
              << " is absent (no device token was made here yet): the bundle carries no token "
                 "key\n";
  }
  std::cout << format_bundle(*read.files) << std::flush;
  return std::cout ? 0 : 1;
}

// A bundle is a few kB; more is not one.
constexpr std::size_t kMaxBundle = 256 * 1024;

int identity_import(const AdminOptions& opts) {
  std::string text;
  std::array<char, 4096> buf{};
  while (text.size() <= kMaxBundle && std::cin.read(buf.data(), buf.size()).gcount() > 0) {
    text.append(buf.data(), static_cast<std::size_t>(std::cin.gcount()));
  }
  if (text.size() > kMaxBundle) {
    std::cerr << "pweb-node: standard input is larger than an identity bundle; nothing written\n";
    return 1;
  }
  const auto parsed = parse_bundle(text);
  const auto problem = parsed.files ? identity_problem(*parsed.files) : std::nullopt;
  if (!parsed.files || problem) {
    std::cerr << "pweb-node: " << (parsed.files ? *problem : parsed.error) << "; nothing written\n";
    return 1;
  }
  // Checked before the identity is there: a data dir without one may lack its store.
  const bool store_sound = !registrar::store_damage(opts.data_dir);
  const auto done = write_identity(opts.data_dir, *parsed.files, opts.force);
  for (const auto& note : done.notes) std::cerr << "pweb-node: " << note << "\n";
  if (!done.error.empty()) {
    std::cerr << "pweb-node: " << done.error << "\n";
    return 1;
  }
  if (done.unchanged) {
    std::cout << opts.data_dir.string() << " holds this identity already; nothing changed\n";
    return 0;
  }
  make_store(opts, store_sound);
  std::cout << "imported the identity into " << opts.data_dir.string()
            << (parsed.files->label_cert ? " (with its label certificate)" : "")
            << (parsed.files->token_key ? " (with the token key)" : " (no token key)") << "\n";
  return 0;
}

}  // namespace

constexpr const char* kStoreHelp =
    "The store: sqlite (pweb.db in --data-dir) or postgresql://USER@HOST:PORT/DB, as the node's";

void add_admin_commands(CLI::App& app, AdminOptions& opts, int& exit_code) {
  auto* device = app.add_subcommand("device", "Manage devices in the store directly");
  device->require_subcommand(1);

  auto* import_cmd = device->add_subcommand(
      "import", "Add or replace devices from FILE (- = stdin): lines 'NAME [ADDR|-] [ADDR|-]'");
  import_cmd->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  import_cmd->add_option("--store", opts.store, kStoreHelp)->capture_default_str();
  import_cmd->add_option("file", opts.file, "Device file")->required();
  import_cmd->callback([&] { exit_code = device_import(opts); });

  auto* list = device->add_subcommand("list", "List devices: name ipv4 ipv6 updated");
  list->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  list->add_option("--store", opts.store, kStoreHelp)->capture_default_str();
  list->callback([&] { exit_code = device_list(opts); });

  auto* user = app.add_subcommand("user", "Manage user accounts in the store directly");
  user->require_subcommand(1);
  auto* add = user->add_subcommand("add", "Add a user; the password is read from stdin");
  add->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  add->add_option("--store", opts.store, kStoreHelp)->capture_default_str();
  add->add_option("name", opts.user, "User name (a label: a-z 0-9 -)")->required();
  add->add_flag("--password-stdin", opts.password_stdin, "Read the password from standard input");
  add->callback([&] { exit_code = user_add(opts); });
  auto* del = user->add_subcommand("del", "Delete a user");
  del->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  del->add_option("--store", opts.store, kStoreHelp)->capture_default_str();
  del->add_option("name", opts.user, "User name")->required();
  del->callback([&] { exit_code = user_del(opts); });
  auto* users = user->add_subcommand("list", "List users");
  users->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  users->add_option("--store", opts.store, kStoreHelp)->capture_default_str();
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

  auto* identity =
      app.add_subcommand("identity", "Share a label's identity between the nodes serving it");
  identity->require_subcommand(1);
  auto* id_new = identity->add_subcommand(
      "new", "Make the DHT identity and token key in --data-dir (kept if there)");
  id_new->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  id_new->add_option("--identity-bits", opts.identity_bits, "RSA size of the identity")
      ->check(CLI::Range(2048u, 8192u))
      ->capture_default_str();
  id_new->callback([&] { exit_code = identity_new(opts); });
  auto* id_export = identity->add_subcommand(
      "export", "Write the DHT identity and token key of --data-dir to stdout (secret)");
  id_export->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  id_export->callback([&] { exit_code = identity_export(opts); });
  auto* id_import = identity->add_subcommand(
      "import", "Install an identity bundle from stdin into --data-dir (checked first)");
  id_import->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  id_import->add_flag("--force", opts.force, "Replace a different identity in --data-dir");
  id_import->callback([&] { exit_code = identity_import(opts); });
}

}  // namespace pweb::node
