#include "pweb/node/dnssec_admin.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "pweb/node/dnssec_keyfile.hpp"

namespace pweb::node {
namespace {

struct DnssecOptions {
  std::filesystem::path data_dir = "./data";
  std::string key_file;
  std::vector<std::string> suffix{"dht."};
  std::filesystem::path out;
};

int print_ds(const DnssecOptions& opts) {
  std::error_code ec;
  if (opts.key_file.empty() && !std::filesystem::exists(opts.data_dir / kDnssecKeyFile, ec)) {
    std::cerr << "pweb-node: made a new key " << (opts.data_dir / kDnssecKeyFile).string()
              << " (the node with --dnssec and this --data-dir signs with it)\n";
  }
  try {
    const auto key = load_dnssec_key(opts.data_dir, opts.key_file, true);
    for (const auto& zone : opts.suffix) {
      const std::string ds = key->ds_text(zone);
      if (ds.empty()) {
        std::cerr << "pweb-node: --suffix '" << zone << "' is not a valid zone name\n";
        return 1;
      }
      std::cout << ds << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "pweb-node: " << e.what() << "\n";
    return 1;
  }
  return std::cout.flush() ? 0 : 1;
}

int keygen(const DnssecOptions& opts) {
  if (auto err = write_new_dnssec_key(opts.out); !err.empty()) {
    std::cerr << "pweb-node: " << err << "\n";
    return 1;
  }
  std::cout << "wrote " << opts.out.string()
            << "; copy it to every node serving the suffixes and start them with --dnssec "
               "--dnssec-key FILE\n";
  return 0;
}

}  // namespace

void add_dnssec_commands(CLI::App& app, int& exit_code) {
  static DnssecOptions opts;  // outlives parsing: the callbacks read it
  opts = DnssecOptions{};     // defaults again for every App it is added to
  auto* dnssec = app.add_subcommand("dnssec", "DNSSEC keys for --dnssec");
  dnssec->require_subcommand(1);
  auto* ds = dnssec->add_subcommand(
      "ds",
      "Print the DS record (SHA-256) of each --suffix, to give to the parent zone; makes "
      "the data dir's key if absent");
  ds->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  ds->add_option("--dnssec-key", opts.key_file,
                 "The shared key file the nodes use (default: "
                 "dnssec.key in --data-dir)")
      ->check(CLI::ExistingFile);
  ds->add_option("--suffix", opts.suffix, "Zone (repeatable)")->capture_default_str();
  ds->callback([&] { exit_code = print_ds(opts); });
  auto* gen = dnssec->add_subcommand(
      "keygen", "Make a new ECDSA P-256 key (PEM, mode 0600) for --dnssec-key; never overwrites");
  gen->add_option("--out", opts.out, "Key file to create")->required();
  gen->callback([&] { exit_code = keygen(opts); });
}

}  // namespace pweb::node
