#pragma once
// The update loop of pweb-update: find the address, send an update when it
// changed, retry temporary failures with back-off, stop on a fatal answer or a
// stop signal. With `once`, one successful check ends the loop.
#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include "http_transport.hpp"
#include "pweb/registrar/names.hpp"
#include "pweb/registrar/update_policy.hpp"

namespace pweb::updater {

struct UpdaterConfig {
  std::string server;  // the --server URL as given (kept in the state)
  registrar::DeviceName device;
  registrar::update::AddressSource source;
  std::chrono::seconds interval{300};
  bool once = false;
  unsigned retries = 3;  // with `once`: attempts after the first
  registrar::update::Backoff backoff;
  std::optional<std::filesystem::path> state_file;
};

class Updater {
 public:
  Updater(UpdaterConfig cfg, const HttpTransport& http);

  // Runs until done; returns the process exit code.
  int run();

 private:
  struct Found {
    std::optional<std::string> address;
    registrar::update::Verdict verdict;  // why there is no address
  };
  Found find_address() const;
  // One check, and an update if the address changed.
  registrar::update::Verdict check();
  void remember(const registrar::update::UpdateState& state);
  int stopped(int signal) const;

  UpdaterConfig cfg_;
  const HttpTransport& http_;
  std::optional<registrar::update::UpdateState> last_;
  std::mt19937_64 rng_;
};

}  // namespace pweb::updater
