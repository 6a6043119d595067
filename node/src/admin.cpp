#include "pweb/node/admin.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>

#include "pweb/registrar/device_file.hpp"
#include "pweb/registrar/store.hpp"

namespace pweb::node {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
  registrar::DeviceStore store(opts.data_dir);
  store.upsert(parsed.records);
  std::cout << "imported " << parsed.records.size() << " devices into " << store.path().string()
            << "\n";
  return 0;
}

int device_list(const AdminOptions& opts) {
  registrar::DeviceStore store(opts.data_dir);
  for (const auto& d : store.load_all()) {
    std::cout << d.name << ' ' << (d.ipv4 ? registrar::format_ipv4(*d.ipv4) : "-") << ' '
              << (d.ipv6 ? registrar::format_ipv6(*d.ipv6) : "-") << ' ' << d.updated << '\n';
  }
  return 0;
}

}  // namespace

void add_admin_commands(CLI::App& app, AdminOptions& opts, int& exit_code) {
  auto* device = app.add_subcommand("device", "Manage devices in the store directly");
  device->require_subcommand(1);

  auto* import = device->add_subcommand(
      "import", "Add or replace devices from FILE (- = stdin): lines 'NAME [ADDR|-] [ADDR|-]'");
  import->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
  import->add_option("file", opts.file, "Device file")->required();
  import->callback([&] { exit_code = device_import(opts);
});

auto* list = device->add_subcommand("list", "List devices: name ipv4 ipv6 updated");
list->add_option("--data-dir", opts.data_dir, "Data directory")->capture_default_str();
list->callback([&] { exit_code = device_list(opts); });
}  // namespace pweb::node

}  // namespace pweb::node
