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
#include "pweb/registrar/follower.hpp"
#include "pweb/registrar/registrar.hpp"
#include "pweb/registrar/store.hpp"
#include "pweb/registrar/tokens.hpp"

namespace pweb::registrar {

// DynDNS2 answers, by the code that starts each line; "badrequest" is a 400
// explanation (malformed myip, ...), not a DynDNS2 code.
inline constexpr std::array<const char*, 10> kUpdateResults = {
    "good",   "nochg",   "badauth", "abuse", "notfqdn",
    "nohost", "numhost", "dnserr",  "911",   "badrequest"};
using UpdateCounts = std::array<std::uint64_t, kUpdateResults.size()>;

// Device token answers (pweb_registrar_token_auth_total): accepted; wrong token or
// device; right token refused (expired, outside its subnets); scope too narrow
// for the request; throttled.
inline constexpr std::array<const char*, 5> kTokenAuthResults = {"ok", "bad", "refused", "scope",
                                                                 "throttled"};
using TokenAuthCounts = std::array<std::uint64_t, kTokenAuthResults.size()>;

struct TokenRequest {
  TokenScope scope = TokenScope::update;
  std::vector<Subnet> allowed_subnets;
  std::int64_t expires = 0;  // unix seconds, 0 = never
};
enum class TokenStatus { created, no_device, limit, unavailable };
struct CreatedToken {
  TokenStatus status = TokenStatus::unavailable;
  TokenInfo info;
  std::string token;  // the secret, base64: shown once, kept only hashed and sealed
  std::string error;  // why unavailable
};
enum class RevokeStatus { revoked, not_found, unavailable };
struct TokenAuth {
  AuthResult result = AuthResult::bad;
  TokenInfo info;       // the token's, when result is ok
  std::string refusal;  // why a correct token was refused (expired, subnet)
};

class RegistrationService {
 public:
  // Opens two connections to `store` (open_store): one for reads, one for the
  // writer. The node key is kept in store.data_dir.
  RegistrationService(std::string label, const StoreLocation& store, SnapshotHolder& snapshots,
                      const std::vector<DeviceRecord>& initial, RecordLimits limits = {},
                      std::int64_t loaded_seq = 0);
  // `loaded_seq`: the store's last_seq() read before `initial` was loaded.
  ~RegistrationService() { stop(); }
  RegistrationService(const RegistrationService&) = delete;
  RegistrationService& operator=(const RegistrationService&) = delete;

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
  // Removing a device also removes its tokens (the store does; the token table follows).
  std::vector<ChangeResult> apply(std::vector<DeviceChange> changes);
  [[nodiscard]] std::optional<DeviceRecord> get(const std::string& name);
  [[nodiscard]] std::vector<ListedDevice> list(const std::string& after, std::int64_t since,
                                               std::size_t limit, bool with_removed = false);
  void apply_async(std::vector<DeviceChange> changes, Registrar::Done done) {
    registrar_.apply_async(std::move(changes), std::move(done));
  }
  [[nodiscard]] const RecordLimits& limits() const noexcept { return registrar_.limits(); }
  [[nodiscard]] RegistrarStats stats() const { return registrar_.stats(); }
  // Stops following other nodes' changes, then the writer.
  void stop();

  // Device tokens. `device` is a valid lowercase device name the caller owns.
  CreatedToken create_token(const std::string& device, const TokenRequest& request);
  [[nodiscard]] std::vector<TokenInfo> list_tokens(const std::string& device);
  RevokeStatus revoke_token(const std::string& device, const std::string& id);
  // A token as the DynDNS2 password with the device name as user name,
  // throttled as passwords are (per address and device). `now` defaults to the clock.
  TokenAuth authenticate_token(const std::string& device, std::string_view token,
                               const std::string& client,
                               std::optional<std::int64_t> now = std::nullopt);
  // /nic/update with an authenticated token: its device only (other host names
  // nohost), and only if its scope may set the device's A/AAAA (else badauth).
  NicUpdateAnswer nic_update_token(const TokenInfo& token, const NicUpdateRequest& req);
  [[nodiscard]] TokenAuthCounts token_auth_counts() const noexcept;
  // Every token with its secret, for the DNS threads (TSIG): no SQLite on their path.
  [[nodiscard]] const TokenHolder& tokens() const noexcept { return tokens_; }

 private:
  void rebuild_tokens(DeviceStore& store);
  NicUpdateAnswer count_answer(NicUpdateAnswer answer);  // one count per answer line

  std::string label_;
  // Reads never wait on the writer (SQLite WAL; PostgreSQL: its own connection).
  LockGuarded<std::unique_ptr<DeviceStore>> reader_;
  Accounts accounts_;
  Registrar registrar_;
  // A shared store: follows the label's other nodes (null for SQLite).
  std::unique_ptr<StoreFollower> follower_;
  DynDns2 dyndns_;
  std::array<metrics::SharedCounter, kUpdateResults.size()> update_counts_{};
  std::filesystem::path data_dir_;
  TokenSalt token_salt_{};
  std::optional<NodeKey> node_key_;  // read under reader_'s lock; made by the first token
  TokenHolder tokens_;
  std::array<metrics::SharedCounter, kTokenAuthResults.size()> token_auth_counts_{};
};

// Services as listed to users, "http:8080,ssh:22"; nullopt and a reason if malformed.
struct ServicesResult {
  std::optional<std::string> joined;
  std::string error;
};
ServicesResult validate_services(const std::vector<std::string>& services);
std::vector<std::string> split_services(const std::string& joined);

}  // namespace pweb::registrar
