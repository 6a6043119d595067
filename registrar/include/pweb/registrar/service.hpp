#pragma once
// The registration side of a node as the HTTP API sees it: accounts, DynDNS2,
// device reads and changes. One object, injected into the REST routes.
#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pweb/lock_guarded.hpp"
#include "pweb/metrics.hpp"
#include "pweb/registrar/accounts.hpp"
#include "pweb/registrar/dyndns2.hpp"
#include "pweb/registrar/registrar.hpp"
#include "pweb/registrar/store.hpp"

namespace pweb::registrar {

// DynDNS2 answers, by the code that starts each line; "badrequest" is a 400
// explanation (malformed myip, ...), not a DynDNS2 code.
inline constexpr std::array<const char*, 10> kUpdateResults = {
    "good",   "nochg",   "badauth", "abuse", "notfqdn",
    "nohost", "numhost", "dnserr",  "911",   "badrequest"};
using UpdateCounts = std::array<std::uint64_t, kUpdateResults.size()>;

class RegistrationService {
 public:
  RegistrationService(std::string label, const std::filesystem::path& data_dir,
                      SnapshotHolder& snapshots, const std::vector<DeviceRecord>& initial,
                      RecordLimits limits = {});

  [[nodiscard]] const std::string& label() const noexcept { return label_; }
  AuthResult authenticate(const std::string& user, std::string_view password,
                          const std::string& client) {
    return accounts_.authenticate(user, password, client);
  }
  // Counts one answer per host name.
  NicUpdateAnswer nic_update(const std::string& user, const NicUpdateRequest& req);
  // An update refused before it was read: bad credentials (badauth) or throttled (abuse).
  void count_refused_update(AuthResult why) noexcept;
  [[nodiscard]] UpdateCounts update_counts() const noexcept;
  std::vector<ChangeResult> apply(std::vector<DeviceChange> changes) {
    return registrar_.apply(std::move(changes));
  }
  [[nodiscard]] std::optional<DeviceRecord> get(const std::string& name);
  [[nodiscard]] std::vector<ListedDevice> list(const std::string& after, std::int64_t since,
                                               std::size_t limit, bool with_removed = false);
  void apply_async(std::vector<DeviceChange> changes, Registrar::Done done) {
    registrar_.apply_async(std::move(changes), std::move(done));
  }
  [[nodiscard]] const RecordLimits& limits() const noexcept { return registrar_.limits(); }
  [[nodiscard]] RegistrarStats stats() const { return registrar_.stats(); }
  void stop() { registrar_.stop(); }

 private:
  std::string label_;
  LockGuarded<DeviceStore> reader_;  // reads never wait on the writer (WAL)
  Accounts accounts_;
  Registrar registrar_;
  DynDns2 dyndns_;
  std::array<metrics::SharedCounter, kUpdateResults.size()> update_counts_{};
};

// Services as listed to users, "http:8080,ssh:22"; nullopt and a reason if malformed.
struct ServicesResult {
  std::optional<std::string> joined;
  std::string error;
};
ServicesResult validate_services(const std::vector<std::string>& services);
std::vector<std::string> split_services(const std::string& joined);

}  // namespace pweb::registrar
